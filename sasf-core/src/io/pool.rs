//! A small pool of worker threads that seal or open chunks, with results taken back
//! in submission order. Chunks are independent (`docs/FORMAT.md` §5), so this is all
//! the parallelism the format needs; the output is the same bytes as one thread makes.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

type Job = Box<dyn FnOnce() + Send>;

/// How many chunks may be in flight with `threads` workers and chunks of at most
/// `cap` bytes: enough to keep every worker busy, at most 32, and within 8 MiB of
/// buffers, or two chunks when the cap is larger than 4 MiB.
pub fn max_inflight(cap: u32, threads: usize) -> usize {
    let by_bytes = (8 * 1024 * 1024 / cap.max(1) as usize).max(2);
    by_bytes.min(4 * threads.max(1)).min(32)
}

/// Chunks go to the workers in batches of at least this many bytes (or
/// [`BATCH_CHUNKS`] chunks), so that tiny chunks (one frame each, say) do not pay a
/// thread hand-over each.
const BATCH_BYTES: usize = 256 * 1024;
/// Most chunks in one batch.
const BATCH_CHUNKS: usize = 256;
/// Batches whose chunks average fewer bytes than this are done on the calling thread:
/// the hand-over would cost more than the work.
const INLINE_BELOW: usize = 4096;

/// Whether a batch of `chunks` chunks holding `bytes` bytes is ready to go.
pub fn batch_is_full(bytes: usize, chunks: usize) -> bool {
    bytes >= BATCH_BYTES || chunks >= BATCH_CHUNKS
}

/// Worker threads running jobs; results come back through an [`Ordered`].
pub(crate) struct Workers {
    tx: Option<Sender<Job>>,
    handles: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts `n` workers.
    pub fn new(n: usize) -> Workers {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let handles = (0..n.max(1))
            .map(|i| {
                let rx = Arc::clone(&rx);
                std::thread::Builder::new()
                    .name(format!("sasf-worker-{i}"))
                    .spawn(move || loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            // A panicking job reports itself through its Reply; the
                            // worker lives on for the jobs after it.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            Err(_) => return,
                        }
                    })
                    .expect("spawning a worker thread")
            })
            .collect();
        Workers {
            tx: Some(tx),
            handles,
        }
    }

    /// Runs the job for a batch of `chunks` chunks holding `bytes` bytes: on a worker,
    /// or here when the chunks are too small to be worth handing over.
    pub fn run_batch(&self, bytes: usize, chunks: usize, job: impl FnOnce() + Send + 'static) {
        if bytes < INLINE_BELOW * chunks {
            job();
        } else {
            self.run(job);
        }
    }

    /// Runs `job` on some worker.
    pub fn run(&self, job: impl FnOnce() + Send + 'static) {
        if let Some(tx) = &self.tx {
            // Workers only stop when this pool is dropped, so the send cannot fail.
            let _ = tx.send(Box::new(job));
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.tx = None;
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// Collects results tagged with a sequence number and hands them out in order.
pub(crate) struct Ordered<T> {
    tx: Sender<(u64, Option<T>)>,
    rx: Receiver<(u64, Option<T>)>,
    stash: BTreeMap<u64, Option<T>>,
}

/// The way a job reports its result. Dropped unsent (the job panicked), it reports
/// that instead, so the thread waiting for the result panics rather than hangs.
pub(crate) struct Reply<T> {
    tx: Sender<(u64, Option<T>)>,
    seq: u64,
    sent: bool,
}

impl<T> Reply<T> {
    pub fn send(mut self, v: T) {
        self.sent = true;
        let _ = self.tx.send((self.seq, Some(v)));
    }
}

impl<T> Drop for Reply<T> {
    fn drop(&mut self) {
        if !self.sent {
            let _ = self.tx.send((self.seq, None));
        }
    }
}

impl<T: Send + 'static> Ordered<T> {
    pub fn new() -> Ordered<T> {
        let (tx, rx) = mpsc::channel();
        Ordered {
            tx,
            rx,
            stash: BTreeMap::new(),
        }
    }

    /// The reply for job `seq`.
    pub fn reply(&self, seq: u64) -> Reply<T> {
        Reply {
            tx: self.tx.clone(),
            seq,
            sent: false,
        }
    }

    /// Waits for the result of job `seq`.
    pub fn wait(&mut self, seq: u64) -> T {
        loop {
            if let Some(v) = self.stash.remove(&seq) {
                // A job panicking is a bug in this crate; carry it to the caller.
                return v.expect("a worker job panicked");
            }
            let (s, v) = self.rx.recv().expect("this Ordered holds a sender");
            self.stash.insert(s, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_submission_order() {
        let w = Workers::new(3);
        let mut o = Ordered::new();
        for i in 0..100u64 {
            let reply = o.reply(i);
            w.run(move || {
                std::thread::sleep(std::time::Duration::from_micros((100 - i) * 10));
                reply.send(i * i);
            });
        }
        for i in 0..100u64 {
            assert_eq!(o.wait(i), i * i);
        }
    }

    #[test]
    fn a_panicking_job_is_reported_not_waited_for_forever() {
        let w = Workers::new(1);
        let mut o: Ordered<u8> = Ordered::new();
        let reply = o.reply(0);
        w.run(move || {
            let _keep = reply;
            panic!("deliberate");
        });
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| o.wait(0)));
        assert!(r.is_err());
    }
}
