//! `rotaledger-bench state`: the resident memory of the domain state per entry, folded in
//! process from `rotaledger-bench rebuild`'s entries (no store, no server), next to the
//! entries' own JSON size and the size of the state's snapshot encoding measured in the same
//! run.
//!
//! The state is built by `State::apply_stored`, exactly as a replay builds it; its memory is
//! the growth of this process's resident set (`VmRSS`) while it is built, with the payloads
//! already in memory before the first reading. Only the state is counted: no sled cache, no
//! replay pipeline (what `rotaledger-bench rebuild`'s peak RSS includes).

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use rotaledger::cli::{CliError, Outcome};
use rotaledger::domain::{Meta, State};

use crate::rebuild::{first_entries, proc_status_kib};

/// Flags of `rotaledger-bench state`.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// Entries folded into the state.
    #[arg(long, default_value_t = 1_000_000)]
    pub entries: u64,
}

fn rss_bytes() -> u64 {
    proc_status_kib("/proc/self/status", "VmRSS").unwrap_or(0) * 1024
}

/// Runs the benchmark.
pub fn run(a: &StateArgs) -> Result<Outcome, CliError> {
    if a.entries == 0 {
        return Err(CliError("need --entries >= 1".into()));
    }
    let (payloads, next) = first_entries(a.entries);
    let json: usize = payloads.iter().map(String::len).sum();
    let actor: Arc<str> = Arc::from("bench");
    let t0 = chrono::DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default();
    let before = rss_bytes();
    let started = Instant::now();
    let mut state = State::new();
    for (seq, p) in payloads.iter().enumerate() {
        let seq = seq as u64;
        let meta = Meta {
            seq,
            hash: *blake3::hash(&seq.to_le_bytes()).as_bytes(),
            recorded_at: t0 + chrono::Duration::milliseconds(seq as i64),
            actor: actor.clone(),
        };
        state.apply_stored(meta, p);
    }
    let folded = started.elapsed();
    let grown = rss_bytes().saturating_sub(before);
    let encoded = rotaledger::snapshot::encode(&state)
        .map_err(CliError::ctx("encoding the state"))?
        .len();
    let n = a.entries as f64;
    println!(
        "state of {} entries ({} teachers), folded in {:.2} s",
        a.entries,
        next,
        folded.as_secs_f64()
    );
    println!(
        "  resident memory of the state   {:>8.1} MiB  {:>6.0} bytes per entry",
        grown as f64 / 1048576.0,
        grown as f64 / n
    );
    println!(
        "  the entries' JSON              {:>8.1} MiB  {:>6.0} bytes per entry",
        json as f64 / 1048576.0,
        json as f64 / n
    );
    println!(
        "  its snapshot encoding          {:>8.1} MiB  {:>6.0} bytes per entry",
        encoded as f64 / 1048576.0,
        encoded as f64 / n
    );
    std::hint::black_box(&state);
    Ok(Outcome::Ok)
}
