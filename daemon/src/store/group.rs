//! Group commit: batches that arrive while another commit is being flushed wait,
//! and the next writer commits all of them in one transaction — one flush to
//! disk for many batches, each still acknowledged only once it is on disk.
//!
//! No thread of its own: the first caller to find nobody writing becomes the
//! writer for everything queued at that moment, then hands the results out.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};

pub struct Group<J, R> {
    state: Mutex<State<J, R>>,
    done: Condvar,
}

struct State<J, R> {
    queue: Vec<(u64, J)>,
    results: HashMap<u64, R>,
    next_ticket: u64,
    writing: bool,
}

/// Marks the writer gone even if `write` panics, so that the callers waiting on it
/// wake (and learn their batch was [`lost`](Group::run)) instead of waiting forever.
struct Writing<'a, J, R>(&'a Group<J, R>);

impl<J, R> Drop for Writing<'_, J, R> {
    fn drop(&mut self) {
        self.0.lock().writing = false;
        self.0.done.notify_all();
    }
}

impl<J, R> Default for Group<J, R> {
    fn default() -> Self {
        Group {
            state: Mutex::new(State {
                queue: Vec::new(),
                results: HashMap::new(),
                next_ticket: 0,
                writing: false,
            }),
            done: Condvar::new(),
        }
    }
}

impl<J, R> Group<J, R> {
    fn lock(&self) -> MutexGuard<'_, State<J, R>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `job` and returns its result once written: by this caller (then `write`
    /// gets every job queued so far, in the order they came, and returns one result
    /// each) or by another caller's `write`. `lost` is the result of a job whose
    /// writer panicked.
    pub fn run(&self, job: J, write: impl FnOnce(Vec<J>) -> Vec<R>, lost: impl FnOnce() -> R) -> R {
        // Once this caller has written, its own job was among those written.
        let mut write = Some(write);
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.queue.push((ticket, job));
        loop {
            if let Some(result) = state.results.remove(&ticket) {
                return result;
            }
            if !state.writing {
                if !state.queue.iter().any(|(t, _)| *t == ticket) {
                    // Taken by a writer that panicked before it could answer.
                    return lost();
                }
                state.writing = true;
                let (tickets, jobs): (Vec<u64>, Vec<J>) =
                    std::mem::take(&mut state.queue).into_iter().unzip();
                drop(state);
                let writing = Writing(self);
                let results = (write.take().expect("a caller writes once"))(jobs);
                assert_eq!(results.len(), tickets.len(), "one result per job");
                self.lock().results.extend(tickets.into_iter().zip(results));
                drop(writing);
                state = self.lock();
                continue;
            }
            state = self.done.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn concurrent_jobs_are_written_together_and_each_gets_its_own_result() {
        let group = Arc::new(Group::<u32, u32>::default());
        let writes = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..16u32)
            .map(|i| {
                let (group, writes) = (group.clone(), writes.clone());
                std::thread::spawn(move || {
                    group.run(
                        i,
                        |jobs| {
                            writes.fetch_add(1, Ordering::SeqCst);
                            // A slow flush: the others queue up behind it.
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            jobs.iter().map(|j| j * 10).collect()
                        },
                        || unreachable!(),
                    )
                })
            })
            .collect();
        let results: Vec<u32> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(results, (0..16).map(|i| i * 10).collect::<Vec<_>>());
        let writes = writes.load(Ordering::SeqCst);
        assert!(writes < 16, "16 jobs in {writes} writes");
    }

    #[test]
    fn a_writer_that_panics_loses_its_jobs_and_the_next_one_writes() {
        let group = Group::<u32, Result<u32, &str>>::default();
        let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            group.run(1, |_| panic!("disk on fire"), || Err("lost"))
        }));
        assert!(crashed.is_err());
        assert_eq!(group.run(2, |jobs| jobs.into_iter().map(Ok).collect(), || Err("lost")), Ok(2));
    }
}
