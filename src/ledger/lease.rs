//! The fence of a primary elected through etcd (`serve --etcd`, docs/FAILOVER.md): the time
//! until which this node's lease on the leader key is known to hold.
//!
//! The coordinator (`crate::failover`) moves the time forward after every keep-alive etcd
//! answers, from the moment the keep-alive was *sent* plus the lease's time to live, less a
//! margin: etcd counts the lease from when it received the keep-alive, later, so the node
//! always stops before etcd can give the leader key to another. The ledger checks it before
//! an append is committed and again before it is acknowledged: a primary cut off from etcd
//! (or deposed) appends nothing more and acknowledges nothing more once its time is up, even
//! if nobody tells it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Milliseconds on a clock that keeps counting while the machine is suspended (Linux's
/// `CLOCK_BOOTTIME`): a primary whose host slept through its lease must find it lapsed on
/// waking, which the monotonic clock behind `Instant` would not show.
pub fn clock_ms() -> u64 {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_BOOTTIME exists on every Linux
        // this builds for.
        if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } == 0 {
            return ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000;
        }
    }
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
        + 1
}

/// Until when this node may act as the primary. Clones share one fence; a clone made for
/// one term ([`Lease::for_term`]) holds only while the fence holds for that very term, so a
/// run of the server as primary of an earlier term, still finishing, takes nothing under a
/// later one.
#[derive(Debug, Clone, Default)]
pub struct Lease(Arc<Inner>, Option<i64>);

#[derive(Debug, Default)]
struct Inner {
    /// [`clock_ms`] until which the lease holds; 0: not held.
    until_ms: AtomicU64,
    /// The leader key's create revision in etcd: the term this node is primary for.
    epoch: AtomicI64,
}

impl Lease {
    /// The same fence, holding only for term `epoch`.
    pub fn for_term(&self, epoch: i64) -> Lease {
        Lease(self.0.clone(), Some(epoch))
    }

    /// Holds the lease of term `epoch` until `until_ms` on [`clock_ms`] (never moved back
    /// within one term).
    pub fn hold_until(&self, until_ms: u64, epoch: i64) {
        let ms = until_ms.max(1);
        if self.0.epoch.swap(epoch, Ordering::AcqRel) == epoch {
            self.0.until_ms.fetch_max(ms, Ordering::AcqRel);
        } else {
            self.0.until_ms.store(ms, Ordering::Release);
        }
    }

    /// Lets the lease go at once (deposed, or shutting down).
    pub fn release(&self) {
        self.0.until_ms.store(0, Ordering::Release);
    }

    /// The term held, if the lease still holds now.
    pub fn held(&self) -> Option<i64> {
        let until = self.0.until_ms.load(Ordering::Acquire);
        let epoch = self.0.epoch.load(Ordering::Acquire);
        (until != 0 && clock_ms() < until && self.1.is_none_or(|t| t == epoch)).then_some(epoch)
    }

    /// The last term held (0: none yet).
    pub fn epoch(&self) -> i64 {
        self.0.epoch.load(Ordering::Acquire)
    }

    /// How long the lease still holds (zero: not held).
    pub fn remaining(&self) -> Duration {
        let until = self.0.until_ms.load(Ordering::Acquire);
        Duration::from_millis(until.saturating_sub(clock_ms()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_holds_until_its_time_and_not_after() {
        let now = clock_ms;
        let l = Lease::default();
        assert_eq!(l.held(), None, "a new fence holds nothing");
        l.hold_until(now() + 60_000, 7);
        assert_eq!(l.held(), Some(7));
        assert!(l.remaining() > Duration::from_secs(50));
        // Within a term the time only moves forward.
        l.hold_until(now() + 1000, 7);
        assert!(l.remaining() > Duration::from_secs(50));
        l.hold_until(now(), 8);
        assert_eq!(l.held(), None, "a new term starts from its own time");
        l.hold_until(now() + 60_000, 8);
        assert_eq!(l.held(), Some(8));
        let run = l.for_term(8);
        assert_eq!(run.held(), Some(8));
        l.hold_until(now() + 60_000, 9);
        assert_eq!(
            run.held(),
            None,
            "a run of term 8 takes nothing under term 9"
        );
        assert_eq!(l.held(), Some(9));
        l.release();
        assert_eq!(l.held(), None);
        assert_eq!(l.remaining(), Duration::ZERO);
    }
}
