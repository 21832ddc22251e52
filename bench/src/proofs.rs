//! `rotaledger-bench proofs`: what proofs, roots and checkpoints cost on a large store, next
//! to the floor of the same machine in the same run (one sled read, one blake3 of 64 bytes).
//!
//! The store is filled through the real [`Writer`] (pass-through sequencer, appends of
//! `batch` entries), so the Merkle nodes are exactly what the ledger writes. Every proof
//! measured is also checked, so a fast wrong answer cannot pass as a result.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use serde_json::value::RawValue;

use rotaledger::cli::{CliError, Outcome, progress};
use rotaledger::crypto::Profile;
use rotaledger::log::store::LOWEST_STORED_LEVEL;
use rotaledger::log::{AppendRequest, PassThrough, Store, Writer, fingerprint};
use rotaledger::merkle::{
    Checkpoint, CheckpointKey, NodeSource, SignedCheckpoint, consistency_proof, inclusion_proof,
    proof_to_bytes, root, verify_consistency, verify_inclusion,
};

/// A small deterministic PRNG (splitmix64): reproducible sample positions without a
/// dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `1..=n` (n >= 1); the modulo bias is negligible for n far below 2^64.
    fn upto(&mut self, n: u64) -> u64 {
        1 + self.next() % n
    }
}

/// Timings of one operation, in nanoseconds, plus the proof sizes seen (if any).
#[derive(Default)]
struct Series {
    nanos: Vec<u64>,
    bytes: Vec<usize>,
}

impl Series {
    fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let v = black_box(f());
        self.nanos
            .push(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
        v
    }

    fn row(&mut self, name: &str) -> String {
        self.nanos.sort_unstable();
        let n = self.nanos.len().max(1);
        let pct = |p: usize| {
            self.nanos
                .get((n * p / 100).min(n - 1))
                .copied()
                .unwrap_or(0)
        };
        let mean = self.nanos.iter().sum::<u64>() as f64 / n as f64;
        let us = |ns: f64| format!("{:.2}", ns / 1000.0);
        let bytes = if self.bytes.is_empty() {
            "-".to_string()
        } else {
            let mean = self.bytes.iter().sum::<usize>() as f64 / self.bytes.len() as f64;
            let max = self.bytes.iter().max().copied().unwrap_or(0);
            format!("{mean:.0} (max {max})")
        };
        format!(
            "| {name} | {} | {} | {} | {} | {bytes} |",
            self.nanos.len(),
            us(pct(50) as f64),
            us(pct(99) as f64),
            us(mean),
        )
    }
}

/// Fills `store` (through a writer) up to `entries` entries, in appends of `batch`; returns
/// how many entries this call appended.
fn fill(store: Arc<Store>, entries: u64, batch: u64) -> Result<u64, CliError> {
    let head = store
        .check_head()
        .map_err(CliError::ctx("checking the bench store"))?;
    if head.size >= entries {
        return Ok(0);
    }
    let writer = Writer::start(store, head, PassThrough).map_err(CliError::ctx("writer"))?;
    let bar = progress::entries(entries, "filling");
    bar.set_position(head.size);
    let mut next = head.size;
    let result = (|| {
        while next < entries {
            let n = batch.min(entries - next);
            let payloads = (next..next + n)
                .map(|i| {
                    RawValue::from_string(format!(
                        r#"{{"type":"bench_entry","n":{i},"school":"school-{}","teacher":"t-{:07}"}}"#,
                        i % 97,
                        i
                    ))
                    .map_err(|e| CliError(format!("payload: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let req = AppendRequest {
                actor: "bench".into(),
                request_id: format!("fill-{next}"),
                fingerprint: fingerprint(payloads.iter().map(|p| p.get().as_bytes())),
                expected_size: Some(next),
                input: payloads,
            };
            let out = writer
                .append_blocking(req)
                .map_err(|e| CliError(format!("append at {next}: {e}")))?;
            next = out.head.size;
            bar.set_position(next);
        }
        Ok(next - head.size)
    })();
    writer.shutdown();
    bar.finish_and_clear();
    result
}

/// `rotaledger-bench proofs`.
///
/// With `dir`, the store there is used (and filled up to `entries` if shorter), so repeated
/// runs need not refill; without it, a temporary store is filled and removed.
pub fn run(
    entries: u64,
    samples: usize,
    batch: u64,
    dir: Option<&Path>,
) -> Result<Outcome, CliError> {
    // 16 entries: the floor reads a stored node, and the lowest stored level is 4.
    if entries < 16 || samples == 0 || batch == 0 {
        return Err(CliError(
            "need --entries >= 16, --samples >= 1 and --batch >= 1".into(),
        ));
    }
    let tmp;
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            tmp = tempfile_dir()?;
            tmp.join("store")
        }
    };
    let store = Arc::new(Store::open(&dir).map_err(CliError::ctx(dir.display()))?);
    let started = Instant::now();
    let appended = fill(store.clone(), entries, batch)?;
    let fill_secs = started.elapsed().as_secs_f64();
    let head = store
        .check_head()
        .map_err(CliError::ctx("checking the filled store"))?;
    let n = head.size;
    eprintln!("store of {n} entries ready in {fill_secs:.1} s; measuring {samples} samples each");

    // The store's crypto profile (a new store takes ROTALEDGER_CRYPTO, else blake3).
    let h = store.profile();
    let mut rng = SplitMix(0x726f_7461_6c65_6467);
    let mut get = Series::default();
    let mut hash64 = Series::default();
    let mut root_at = Series::default();
    let mut inc_gen = Series::default();
    let mut inc_ver = Series::default();
    let mut con_gen = Series::default();
    let mut con_ver = Series::default();
    let mut sign = Series::default();
    let mut verify = Series::default();
    let mut open = Series::default();

    let key = match h {
        Profile::Blake3 => {
            CheckpointKey::from_seed("rotaledger.bench", blake3::hash(b"bench key").as_bytes())
        }
        Profile::Gm => CheckpointKey::from_sm2_secret("rotaledger.bench", &h.hash(b"bench key")),
    }
    .map_err(CliError::ctx("key"))?;
    let verifier = key.verifier();
    let bar = progress::entries(samples as u64, "measuring");
    for i in 0..samples {
        // Floor: one stored node by key (the lowest level the store keeps, FORMAT.md §2.7),
        // one blake3 over 64 bytes (an interior node's input).
        let stored = rng.upto(n >> LOWEST_STORED_LEVEL) - 1;
        get.time(|| store.node(LOWEST_STORED_LEVEL, stored))
            .map_err(CliError::ctx("sled get"))?;
        let block = [i as u8; 64];
        hash64.time(|| h.hash(&block));

        // Inclusion: a random size, a random entry below it.
        let size = rng.upto(n);
        let seq = rng.upto(size) - 1;
        let r = root_at
            .time(|| root(&h, size, store.as_ref()))
            .map_err(|e| CliError(format!("root at {size}: {e}")))?;
        let proof = inc_gen
            .time(|| inclusion_proof(&h, seq, size, store.as_ref()))
            .map_err(|e| CliError(format!("inclusion proof ({seq}, {size}): {e}")))?;
        inc_gen.bytes.push(proof_to_bytes(&proof).len());
        let leaf_hash = store.node(0, seq).map_err(CliError::ctx("leaf"))?;
        inc_ver
            .time(|| verify_inclusion(&h, seq, size, &leaf_hash, &proof, &r))
            .map_err(|e| {
                CliError(format!(
                    "inclusion proof ({seq}, {size}) does not verify: {e}"
                ))
            })?;

        // Consistency: two random sizes.
        let (a, b) = (rng.upto(n), rng.upto(n));
        let (old, new) = (a.min(b), a.max(b));
        let proof = con_gen
            .time(|| consistency_proof(&h, old, new, store.as_ref()))
            .map_err(|e| CliError(format!("consistency proof ({old}, {new}): {e}")))?;
        con_gen.bytes.push(proof_to_bytes(&proof).len());
        let old_root = root(&h, old, store.as_ref()).map_err(|e| CliError(e.to_string()))?;
        let new_root = root(&h, new, store.as_ref()).map_err(|e| CliError(e.to_string()))?;
        con_ver
            .time(|| verify_consistency(&h, old, new, &old_root, &new_root, &proof))
            .map_err(|e| {
                CliError(format!(
                    "consistency proof ({old}, {new}) does not verify: {e}"
                ))
            })?;

        // Checkpoints: sign over the random size's root, verify the signature, and the
        // auditor's whole path from text (parse + verify).
        let cp = Checkpoint::new("rotaledger.bench/district", size, r, Utc::now())
            .map_err(CliError::ctx("checkpoint"))?;
        let signed = sign
            .time(|| cp.sign(&key))
            .map_err(CliError::ctx("signing"))?;
        verify
            .time(|| signed.verify(&verifier).map(|_| ()))
            .map_err(CliError::ctx("verifying"))?;
        let text = signed.to_text();
        verify.bytes.push(text.len());
        open.time(|| SignedCheckpoint::parse(&text).and_then(|s| s.verify(&verifier).map(|_| ())))
            .map_err(CliError::ctx("parsing and verifying"))?;
        if i % 256 == 0 {
            bar.set_position(i as u64);
        }
    }
    bar.finish_and_clear();

    if appended > 0 {
        println!(
            "Store: {n} entries; {appended} appended in {fill_secs:.1} s through the writer (appends of {batch}, {:.0} entries/s); sled cache warm.",
            appended as f64 / fill_secs.max(1e-9)
        );
    } else {
        println!("Store: {n} entries, reused as it was (nothing appended); sled cache warm.");
    }
    println!(
        "Crypto profile: {h} (hash {}, checkpoint signatures {}).",
        h.hash_name(),
        match h {
            Profile::Blake3 => "Ed25519",
            Profile::Gm => "SM2",
        }
    );
    println!(
        "Random positions: size uniform in 1..={n}, entry uniform below it; consistency between two uniform sizes."
    );
    println!();
    println!("| operation | samples | p50 µs | p99 µs | mean µs | bytes |");
    println!("| --- | ---: | ---: | ---: | ---: | --- |");
    for (name, s) in [
        ("floor: sled `get` of one stored node", &mut get),
        ("floor: H of 64 bytes", &mut hash64),
        ("root at a past size", &mut root_at),
        ("inclusion proof: generate", &mut inc_gen),
        ("inclusion proof: verify", &mut inc_ver),
        ("consistency proof: generate", &mut con_gen),
        ("consistency proof: verify", &mut con_ver),
        ("checkpoint: sign", &mut sign),
        ("checkpoint: verify signature", &mut verify),
        ("checkpoint: parse + verify text", &mut open),
    ] {
        println!("{}", s.row(name));
    }
    Ok(Outcome::Ok)
}

/// A temporary directory removed when the process ends normally (the bench store can be
/// hundreds of megabytes).
fn tempfile_dir() -> Result<TempDir, CliError> {
    let base = std::env::temp_dir().join(format!(
        "rotaledger-bench-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    std::fs::create_dir_all(&base).map_err(CliError::ctx(base.display()))?;
    Ok(TempDir(base))
}

/// Removes its directory on drop.
struct TempDir(std::path::PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
