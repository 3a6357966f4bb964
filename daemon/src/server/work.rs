//! Bounds on the daemon's heavy work: how much memory calls may hold at once, and
//! stopping work whose caller has gone or whose deadline has passed.
//!
//! Every call that paints or decodes a canvas (Render, Continue, MagicBrush,
//! UploadSnapshot) is first admitted by a [`Budget`] of working memory, sized from the
//! canvas before anything is allocated. Calls that do not fit wait their turn, in
//! order, until their deadline; when too many already wait, or a single call needs
//! more than the whole budget, they get `RESOURCE_EXHAUSTED` with a retry hint. Inside
//! the work, a [`Stop`] is asked between ops.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;

/// Bytes of working memory per canvas pixel, by kind of call (measured: the f32 canvas is
/// 16 B/px; Render adds RGBA8 and the PNG; Continue's painters keep a few more canvases).
pub const RENDER_BYTES_PER_PIXEL: u64 = 24;
pub const CONTINUE_BYTES_PER_PIXEL: u64 = 64;
pub const MAGIC_BYTES_PER_PIXEL: u64 = 24;
pub const SNAPSHOT_BYTES_PER_PIXEL: u64 = 24;

/// Calls allowed to wait for memory at once; more are refused.
pub const MAX_WAITING: usize = 64;

pub struct Budget {
    permits: Arc<Semaphore>,
    total_mib: u32,
    waiting: AtomicUsize,
}

/// Clears a waiting slot however the wait ends (admitted, refused, or the caller went).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn refused(message: String) -> Status {
    let mut status = Status::resource_exhausted(message);
    // gRPC's standard retry hint is in a Status detail; a plain header is easier to read.
    status.metadata_mut().insert("retry-after-ms", "1000".parse().expect("digits"));
    status
}

impl Budget {
    pub fn new(total_mib: u32) -> Budget {
        Budget {
            permits: Arc::new(Semaphore::new(total_mib as usize)),
            total_mib,
            waiting: AtomicUsize::new(0),
        }
    }

    /// Waits (in order of arrival) until `bytes` of working memory are free; the memory
    /// is the caller's until the permit is dropped. `what` names the call in errors.
    pub async fn admit(
        &self,
        what: &str,
        bytes: u64,
        deadline: Option<Instant>,
    ) -> Result<OwnedSemaphorePermit, Status> {
        let mib = bytes.div_ceil(1 << 20).max(1);
        if mib > u64::from(self.total_mib) {
            return Err(refused(format!(
                "{what}: needs about {mib} MiB of working memory, more than the daemon's budget of {} MiB (server.max_work_mib)",
                self.total_mib
            )));
        }
        if let Ok(permit) = self.permits.clone().try_acquire_many_owned(mib as u32) {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= MAX_WAITING {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(refused(format!(
                "{what}: the daemon is busy ({MAX_WAITING} calls waiting): retry later"
            )));
        }
        let _slot = Waiting(&self.waiting);
        let acquire = self.permits.clone().acquire_many_owned(mib as u32);
        let permit = match deadline {
            None => acquire.await,
            Some(d) => match tokio::time::timeout_at(d.into(), acquire).await {
                Ok(p) => p,
                Err(_) => {
                    return Err(Status::deadline_exceeded(format!(
                        "{what}: deadline passed while waiting for memory"
                    )));
                }
            },
        };
        Ok(permit.expect("the semaphore is never closed"))
    }
}

/// Tells long work to stop: its caller went away, or its deadline passed.
#[derive(Clone)]
pub struct Stop {
    deadline: Option<Instant>,
    gone: Arc<AtomicBool>,
}

/// Marks the call gone when dropped: tonic drops a handler's future when its client
/// cancels or disconnects, and work started for it should end too.
pub struct CallGuard(Arc<AtomicBool>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Stop {
    /// A stop for a call with this deadline, and the guard to keep in the call's future.
    pub fn new(deadline: Option<Instant>) -> (Stop, CallGuard) {
        let gone = Arc::new(AtomicBool::new(false));
        (Stop { deadline, gone: gone.clone() }, CallGuard(gone))
    }

    pub fn now(&self) -> bool {
        self.gone.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// The status for work that stopped.
    pub fn status(&self, what: &str) -> Status {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Status::deadline_exceeded(format!("deadline passed while {what}"))
        } else {
            Status::cancelled(format!("the call was cancelled while {what}"))
        }
    }
}

/// The client's deadline (`grpc-timeout` metadata: digits and a unit, H M S m u n), a
/// little early: tonic itself ends the call at the exact deadline with CANCELLED, and
/// the client should hear DEADLINE_EXCEEDED from us first.
pub fn deadline<T>(request: &tonic::Request<T>) -> Option<Instant> {
    let raw = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = raw.split_at(raw.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    let d = match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    };
    let margin = (d / 20).min(Duration::from_millis(50));
    Instant::now().checked_add(d - margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_wait_their_turn_and_oversized_ones_are_refused() {
        let budget = Budget::new(100);
        let big = budget.admit("render", 80 << 20, None).await.unwrap();
        // Does not fit now: waits, and gives up at its deadline.
        let soon = Instant::now() + Duration::from_millis(50);
        let e = budget.admit("render", 40 << 20, Some(soon)).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::DeadlineExceeded, "{e:?}");
        // Fits once the first is done.
        drop(big);
        let _fits =
            budget.admit("render", 40 << 20, Some(Instant::now() + Duration::from_millis(50))).await.unwrap();
        let e = budget.admit("render", 200 << 20, None).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::ResourceExhausted);
        assert!(e.message().contains("max_work_mib") && e.metadata().get("retry-after-ms").is_some());
    }

    #[test]
    fn a_stop_fires_at_the_deadline_or_when_the_call_is_dropped() {
        let (stop, guard) = Stop::new(None);
        assert!(!stop.now());
        drop(guard);
        assert!(stop.now());
        assert_eq!(stop.status("rendering").code(), tonic::Code::Cancelled);
        let (stop, _guard) = Stop::new(Some(Instant::now()));
        assert!(stop.now());
        assert_eq!(stop.status("rendering").code(), tonic::Code::DeadlineExceeded);
    }
}
