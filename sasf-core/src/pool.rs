//! A small pool of worker threads that seal or open chunks, with results taken back
//! in submission order. Chunks are independent (`docs/FORMAT.md` §5), so this is all
//! the parallelism the format needs; the output is the same bytes as one thread makes.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

type Job = Box<dyn FnOnce() + Send>;

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
                            Ok(job) => job(),
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
    tx: Sender<(u64, T)>,
    rx: Receiver<(u64, T)>,
    stash: BTreeMap<u64, T>,
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

    /// A sender for a job to report its result with.
    pub fn sender(&self) -> Sender<(u64, T)> {
        self.tx.clone()
    }

    /// Waits for the result of job `seq`.
    pub fn wait(&mut self, seq: u64) -> T {
        loop {
            if let Some(v) = self.stash.remove(&seq) {
                return v;
            }
            // `self.tx` is alive, so recv only fails if a job panicked; a job that
            // panicked is a bug, and re-raising it here is the honest outcome.
            let (s, v) = self.rx.recv().expect("a worker job panicked");
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
            let tx = o.sender();
            w.run(move || {
                std::thread::sleep(std::time::Duration::from_micros((100 - i) * 10));
                let _ = tx.send((i, i * i));
            });
        }
        for i in 0..100u64 {
            assert_eq!(o.wait(i), i * i);
        }
    }
}
