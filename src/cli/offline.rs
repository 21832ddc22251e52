//! Offline commands on a store no server holds, or on an export: `verify`, `export`.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use super::{CliError, Outcome, progress};
use crate::atomic::AtomicFile;
use crate::log::export::{export_store, verify_export};
use crate::log::verify::verify_store;
use crate::log::{Failure, Store, Verified};

/// Opens the store of a data directory no server holds (its lock proves it), or says why not.
pub(crate) fn open_store(dir: &Path) -> Result<Store, CliError> {
    if !dir.join("db").exists() {
        return Err(CliError(format!(
            "{} holds no rotaledger store (no `db` file)",
            dir.display()
        )));
    }
    Store::open(dir).map_err(|e| {
        CliError(format!(
            "cannot open the store in {}: {e} (is a server using it?)",
            dir.display()
        ))
    })
}

fn report(result: Result<Verified, Failure>, what: &str) -> Outcome {
    match result {
        Ok(v) => {
            println!(
                "verified: {what}: {} entries, head {}",
                v.checked,
                hex::encode(v.head.hash)
            );
            Outcome::Ok
        }
        Err(f) => {
            println!("BAD: {what}: first bad entry {}: {}", f.seq, f.problem);
            Outcome::Problem
        }
    }
}

/// `rotaledger verify --data DIR`.
pub fn verify_data(dir: &Path) -> Result<Outcome, CliError> {
    let store = open_store(dir)?;
    let head = store
        .stored_head()
        .map_err(CliError::ctx("reading the head"))?;
    let bar = progress::entries(head.size, "verifying");
    let result = verify_store(&store, &mut progress::ticker(&bar))
        .map_err(CliError::ctx("reading the store"))?;
    bar.finish_and_clear();
    Ok(report(result, &dir.display().to_string()))
}

/// `rotaledger verify --export FILE`.
pub fn verify_export_file(path: &Path) -> Result<Outcome, CliError> {
    let f = File::open(path).map_err(CliError::ctx(path.display()))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(len);
    let mut input = BufReader::new(bar.wrap_read(f));
    let result = verify_export(&mut input, &mut |_| {}, &mut |_| {})
        .map_err(CliError::ctx(path.display()))?;
    bar.finish_and_clear();
    Ok(report(result, &path.display().to_string()))
}

/// `rotaledger export --data DIR --out FILE`.
pub fn export(dir: &Path, out: &Path) -> Result<Outcome, CliError> {
    let store = open_store(dir)?;
    let head = store
        .check_head()
        .map_err(CliError::ctx("checking the head"))?;
    // Appears under the final name only when complete, so a half-written export is never
    // mistaken for a whole one.
    let mut w = AtomicFile::create(out)?;
    let bar = progress::entries(head.size, "exporting");
    export_store(&store, head, &mut w, &mut progress::ticker(&bar))
        .map_err(CliError::ctx("exporting"))?;
    w.commit()?;
    bar.finish_and_clear();
    eprintln!(
        "exported {} entries to {}, head {}",
        head.size,
        out.display(),
        hex::encode(head.hash)
    );
    Ok(Outcome::Ok)
}
