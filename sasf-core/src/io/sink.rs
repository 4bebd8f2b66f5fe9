//! Where a writer's bytes go: straight to the output, or through a thread that writes
//! them while the caller's thread reads and seals the next chunks.

use std::io::Write;

use crate::crypto::Tag;
use crate::format::PREFIX_LEN;

/// Where a writer's bytes go: straight to the output, or through a thread that
/// writes them while the caller's thread reads and seals the next chunks.
pub(crate) enum Sink<W> {
    Direct(W),
    Thread(OutThread<W>),
}

enum OutMsg {
    Raw(Vec<u8>),
    Chunk([u8; PREFIX_LEN], Vec<u8>, Tag),
    Flush(std::sync::mpsc::SyncSender<std::io::Result<()>>),
}

/// Small chunks are gathered into one message of about this many bytes, so that a
/// stream of tiny chunks does not pay a thread hand-over per chunk.
const GATHER_BYTES: usize = 256 * 1024;

pub(crate) struct OutThread<W> {
    /// Small chunks waiting to be sent as one message.
    gathered: Vec<u8>,
    flush_each_chunk: bool,
    tx: Option<std::sync::mpsc::SyncSender<OutMsg>>,
    handle: Option<std::thread::JoinHandle<(W, std::io::Result<()>)>>,
    /// Body buffers the thread has written, for reuse.
    free: std::sync::mpsc::Receiver<Vec<u8>>,
}

impl<W: Write + Send + 'static> OutThread<W> {
    pub(crate) fn spawn(mut out: W, flush_each_chunk: bool) -> OutThread<W> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<OutMsg>(4);
        let (free_tx, free) = std::sync::mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("sasf-output".into())
            .spawn(move || {
                let mut res = Ok(());
                for msg in rx {
                    match msg {
                        // Raw bytes are the header and gathered small chunks: a
                        // stream flushed chunk by chunk flushes them too.
                        OutMsg::Raw(b) => {
                            res = out.write_all(&b);
                            if res.is_ok() && flush_each_chunk {
                                res = out.flush();
                            }
                        }
                        OutMsg::Chunk(prefix, body, tag) => {
                            res = (|| {
                                out.write_all(&prefix)?;
                                out.write_all(&body)?;
                                out.write_all(tag.as_slice())?;
                                if flush_each_chunk {
                                    out.flush()?;
                                }
                                Ok(())
                            })();
                            let _ = free_tx.send(body);
                        }
                        OutMsg::Flush(reply) => {
                            res = out.flush();
                            let r = match &res {
                                Ok(()) => Ok(()),
                                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
                            };
                            let _ = reply.send(r);
                        }
                    }
                    if res.is_err() {
                        // Stop taking chunks: the writer's next send fails at once and
                        // reports this error, instead of sealing the rest of the input.
                        break;
                    }
                }
                (out, res)
            })
            .expect("spawning the output thread");
        OutThread {
            gathered: Vec::new(),
            flush_each_chunk,
            tx: Some(tx),
            handle: Some(handle),
            free,
        }
    }
}

impl<W> OutThread<W> {
    /// Sends the gathered small chunks, if any.
    fn send_gathered(&mut self) -> std::io::Result<()> {
        if self.gathered.is_empty() {
            return Ok(());
        }
        let b = std::mem::take(&mut self.gathered);
        self.send_now(OutMsg::Raw(b))
    }

    /// Sends `msg` after whatever was gathered before it.
    fn send(&mut self, msg: OutMsg) -> std::io::Result<()> {
        self.send_gathered()?;
        self.send_now(msg)
    }

    /// Queues a small chunk; sends the gathered chunks when there are enough of them
    /// (or at once, for a stream flushed chunk by chunk).
    fn gather(&mut self, prefix: &[u8; PREFIX_LEN], body: &[u8], tag: &Tag) -> std::io::Result<()> {
        self.gathered.extend_from_slice(prefix);
        self.gathered.extend_from_slice(body);
        self.gathered.extend_from_slice(tag.as_slice());
        if self.gathered.len() >= GATHER_BYTES || self.flush_each_chunk {
            self.send_gathered()?;
        }
        Ok(())
    }

    fn send_now(&mut self, msg: OutMsg) -> std::io::Result<()> {
        let sent = self
            .tx
            .as_ref()
            .map(|tx| tx.send(msg).is_ok())
            .unwrap_or(false);
        if sent {
            Ok(())
        } else {
            // The thread stopped: it failed to write; its error is the one to report.
            Err(self
                .join()
                .err()
                .unwrap_or_else(|| std::io::Error::other("the output thread stopped")))
        }
    }

    fn join(&mut self) -> std::io::Result<W> {
        self.tx = None;
        match self.handle.take().map(|h| h.join()) {
            Some(Ok((w, Ok(())))) => Ok(w),
            Some(Ok((_, Err(e)))) => Err(e),
            Some(Err(_)) => Err(std::io::Error::other("the output thread panicked")),
            None => Err(std::io::Error::other("the output thread already stopped")),
        }
    }
}

impl<W> Drop for OutThread<W> {
    fn drop(&mut self) {
        // A writer dropped without `finish`: let the thread write what it has and
        // drop the output (for a temporary file, that removes it) before returning.
        let _ = self.send_gathered();
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl<W: Write> Sink<W> {
    pub(crate) fn raw(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Direct(w) => w.write_all(b),
            Sink::Thread(t) => t.send(OutMsg::Raw(b.to_vec())),
        }
    }

    /// Writes a sealed chunk whose body the caller keeps.
    pub(crate) fn put(
        &mut self,
        prefix: &[u8; PREFIX_LEN],
        body: &[u8],
        tag: &Tag,
        flush: bool,
    ) -> std::io::Result<()> {
        match self {
            Sink::Direct(w) => {
                w.write_all(prefix)?;
                w.write_all(body)?;
                w.write_all(tag.as_slice())?;
                if flush {
                    w.flush()?;
                }
                Ok(())
            }
            Sink::Thread(t) if body.len() < GATHER_BYTES / 4 => t.gather(prefix, body, tag),
            Sink::Thread(t) => t.send(OutMsg::Chunk(*prefix, body.to_vec(), *tag)),
        }
    }

    /// Writes a sealed chunk, handing over its body; returns a buffer to reuse.
    pub(crate) fn put_owned(
        &mut self,
        prefix: &[u8; PREFIX_LEN],
        body: Vec<u8>,
        tag: &Tag,
        flush: bool,
    ) -> std::io::Result<Option<Vec<u8>>> {
        match self {
            Sink::Direct(_) => {
                self.put(prefix, &body, tag, flush)?;
                Ok(Some(body))
            }
            Sink::Thread(t) if body.len() < GATHER_BYTES / 4 => {
                t.gather(prefix, &body, tag)?;
                Ok(Some(body))
            }
            Sink::Thread(t) => {
                t.send(OutMsg::Chunk(*prefix, body, *tag))?;
                Ok(t.free.try_recv().ok())
            }
        }
    }

    pub(crate) fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Direct(w) => w.flush(),
            Sink::Thread(t) => {
                let (reply, answer) = std::sync::mpsc::sync_channel(1);
                t.send(OutMsg::Flush(reply))?;
                // No answer: the thread stopped at an earlier write; its error is the
                // one to report (a closed pipe, say).
                answer.recv().unwrap_or_else(|_| {
                    Err(t
                        .join()
                        .err()
                        .unwrap_or_else(|| std::io::Error::other("the output thread stopped")))
                })
            }
        }
    }

    pub(crate) fn into_inner(self) -> std::io::Result<W> {
        match self {
            Sink::Direct(w) => Ok(w),
            Sink::Thread(mut t) => {
                t.send_gathered()?;
                t.join()
            }
        }
    }
}
