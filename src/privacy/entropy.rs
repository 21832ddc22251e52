//! Random bytes for data keys and nonces, drawn from the operating system a block at a time.
//!
//! Why: a teacher's registration takes a data key, a nonce to wrap it and a nonce per sealed
//! field (about 80 bytes in three draws). One `getrandom` system call per draw was 6 % of the
//! writer thread's time under batched registrations. The bytes handed out are still the
//! operating system's own, unchanged: one call fills a block of [`BLOCK`] bytes, each byte is
//! handed out once, and it is zeroed in the block as it is, so none is given twice, and none
//! handed out stays behind in the block.
//!
//! What the block holds not yet handed out is drawn ahead of time: a copy of the process made
//! without `exec` (a fork) or a virtual machine's snapshot restored twice would hand the same
//! bytes to both copies, where a direct system call would have been reseeded. The ledger
//! forks nowhere; a deployment that clones running machines should know it.

use std::sync::Mutex;

/// Bytes drawn from the operating system per call.
const BLOCK: usize = 4096;

struct Pool {
    bytes: [u8; BLOCK],
    /// Bytes of `bytes` already handed out (and zeroed).
    used: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    bytes: [0; BLOCK],
    used: BLOCK,
});

/// Fills `out` with random bytes from the operating system. A request larger than a quarter
/// of a block goes to the operating system directly.
pub fn fill(out: &mut [u8]) -> Result<(), getrandom::Error> {
    if out.len() > BLOCK / 4 {
        return getrandom::fill(out);
    }
    // The pool is consistent at every point a panic could leave it: a poisoned lock is usable.
    let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
    if BLOCK - pool.used < out.len() {
        getrandom::fill(&mut pool.bytes)?;
        pool.used = 0;
    }
    let at = pool.used;
    let taken = &mut pool.bytes[at..at + out.len()];
    out.copy_from_slice(taken);
    taken.fill(0);
    pool.used += out.len();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_differ_and_the_pool_keeps_nothing_handed_out() {
        let mut seen = std::collections::HashSet::new();
        // Several blocks' worth, in the sizes the ledger draws (keys, both nonces) and one
        // larger than the pool serves.
        for i in 0..600 {
            let mut b = vec![0u8; [32, 24, 12, 2000][i % 4]];
            fill(&mut b).unwrap();
            // A byte handed out before is zero in the pool: a draw that overlapped an earlier
            // one would hold a run of zeros (eight random zero bytes in a row: 2^-64).
            assert!(
                b.windows(8).all(|w| w.iter().any(|&x| x != 0)),
                "draw {i} holds eight zero bytes in a row"
            );
            assert!(seen.insert(b), "draw {i} repeats an earlier one");
        }
        let pool = POOL.lock().unwrap();
        assert!(
            pool.bytes[..pool.used].iter().all(|&x| x == 0),
            "bytes handed out are zeroed in the pool"
        );
    }
}
