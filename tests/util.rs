//! Helpers shared by the integration tests.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rotaledger::log::{
    AppendError, AppendOutcome, AppendRequest, PassThrough, Store, Writer, fingerprint,
};
use serde_json::value::RawValue;

/// Runs `open` again while it fails on sled's file lock, for at most 10 s.
///
/// sled 0.34 releases a dropped database's lock only when its deferred (epoch-based) garbage
/// is collected, which can be a moment after the `Db` was dropped; a test that closes a store
/// and reopens it at once (in this process or in a child) can meet the lock still held.
pub fn retry_while_locked<T, E: std::fmt::Display>(
    mut open: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match open() {
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Opens a store, waiting out a lock still held by a store just dropped (see above).
pub fn open_store(dir: &Path) -> Store {
    retry_while_locked(|| Store::open(dir)).expect("open store")
}

/// Opens a store and starts a pass-through writer on it.
pub fn open_log(dir: &Path) -> Writer<PassThrough> {
    let store = Arc::new(open_store(dir));
    let head = store.check_head().expect("head check");
    Writer::start(store, head, PassThrough).expect("start writer")
}

/// JSON payloads from strings.
pub fn payloads(items: &[String]) -> Vec<Box<RawValue>> {
    items
        .iter()
        .map(|s| RawValue::from_string(s.clone()).expect("valid json"))
        .collect()
}

/// A request for `items` as `actor`/`request_id`.
pub fn request(
    actor: &str,
    request_id: &str,
    items: &[String],
) -> AppendRequest<Vec<Box<RawValue>>> {
    let p = payloads(items);
    AppendRequest {
        actor: actor.into(),
        request_id: request_id.into(),
        fingerprint: fingerprint(p.iter().map(|r| r.get().as_bytes())),
        expected_size: None,
        input: p,
    }
}

/// Appends and waits (blocking).
pub fn append(
    w: &Writer<PassThrough>,
    request_id: &str,
    items: &[String],
) -> Result<AppendOutcome, AppendError<std::convert::Infallible>> {
    w.append_blocking(request("tester", request_id, items))
}

/// Fills a fresh log with `n` single-entry appends and closes it.
pub fn fill(dir: &Path, n: u64) {
    let w = open_log(dir);
    for i in 0..n {
        append(&w, &format!("r{i}"), &[format!(r#"{{"n":{i}}}"#)]).expect("append");
    }
    w.shutdown();
}

/// The path of the built binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rotaledger")
}
