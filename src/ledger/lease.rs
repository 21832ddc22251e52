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
use std::time::{Duration, Instant};

/// Until when this node may act as the primary. Clones share one fence.
#[derive(Debug, Clone)]
pub struct Lease(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// The origin of `until_ms` (an `Instant` has no integer form of its own).
    base: Instant,
    /// Milliseconds after `base` until which the lease holds; 0: not held.
    until_ms: AtomicU64,
    /// The leader key's create revision in etcd: the term this node is primary for.
    epoch: AtomicI64,
}

impl Default for Lease {
    fn default() -> Self {
        Lease(Arc::new(Inner {
            base: Instant::now(),
            until_ms: AtomicU64::new(0),
            epoch: AtomicI64::new(0),
        }))
    }
}

impl Lease {
    /// Holds the lease of term `epoch` until `until` (never moved back within one term).
    pub fn hold_until(&self, until: Instant, epoch: i64) {
        let ms = until.saturating_duration_since(self.0.base).as_millis() as u64;
        let ms = ms.max(1);
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
        let now = self.0.base.elapsed().as_millis() as u64;
        (until != 0 && now < until).then(|| self.0.epoch.load(Ordering::Acquire))
    }

    /// How long the lease still holds (zero: not held).
    pub fn remaining(&self) -> Duration {
        let until = self.0.until_ms.load(Ordering::Acquire);
        Duration::from_millis(until.saturating_sub(self.0.base.elapsed().as_millis() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_holds_until_its_time_and_not_after() {
        let l = Lease::default();
        assert_eq!(l.held(), None, "a new fence holds nothing");
        l.hold_until(Instant::now() + Duration::from_secs(60), 7);
        assert_eq!(l.held(), Some(7));
        assert!(l.remaining() > Duration::from_secs(50));
        // Within a term the time only moves forward.
        l.hold_until(Instant::now() + Duration::from_secs(1), 7);
        assert!(l.remaining() > Duration::from_secs(50));
        l.hold_until(Instant::now(), 8);
        assert_eq!(l.held(), None, "a new term starts from its own time");
        l.hold_until(Instant::now() + Duration::from_secs(60), 8);
        assert_eq!(l.held(), Some(8));
        l.release();
        assert_eq!(l.held(), None);
        assert_eq!(l.remaining(), Duration::ZERO);
    }
}
