//! Backup and restore: `export --server` (a consistent snapshot of a live server's log) and
//! `import` (a fresh store from an export). See `docs/RELIABILITY.md`.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;

use super::client::{Connect, describe, to_entry};
use super::{CliError, Outcome, progress};
use crate::atomic::AtomicFile;
use crate::log::export::{Header, Line, read_header};
use crate::log::import::{ImportError, check_empty, import_export};
use crate::log::{Head, Store, Verifier};
use crate::proto;

/// `rotaledger export --server URL --out FILE`.
///
/// Reads the head once, then streams entries `0..size` and checks each as it arrives (hash,
/// link, Merkle root at the end against the head), so the file is a consistent snapshot even
/// while appends continue. Written as `<OUT>.partial`, fsynced, then renamed.
pub fn export_remote(c: &Connect, out: &Path) -> Result<Outcome, CliError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::ctx("starting the async runtime"))?;
    rt.block_on(async {
        let (h, profile) = c.head_and_profile().await?;
        let hash32 = |b: &[u8], what: &str| -> Result<[u8; 32], CliError> {
            b.try_into()
                .map_err(|_| CliError(format!("the server's head {what} is not 32 bytes")))
        };
        let head = Head {
            size: h.size,
            hash: hash32(&h.hash, "hash")?,
            root: hash32(&h.root, "root")?,
        };
        let mut w = AtomicFile::create(out)?;
        let tmp = w.tmp().to_path_buf();
        let header = Header::new(profile, head);
        let io = |e: std::io::Error| CliError(format!("writing {}: {e}", tmp.display()));
        serde_json::to_writer(&mut w, &header).map_err(|e| io(e.into()))?;
        w.write_all(b"\n").map_err(io)?;
        let bar = progress::entries(head.size, "exporting");
        let mut tick = progress::ticker(&bar);
        let mut v = Verifier::new(profile);
        if head.size > 0 {
            let mut audit = c.audit().await?;
            let mut stream = audit
                .read_entries(proto::ReadEntriesRequest {
                    from_seq: 0,
                    to_seq: Some(head.size),
                })
                .await
                .map_err(|s| CliError(format!("ReadEntries: {}", describe(&s))))?
                .into_inner();
            while let Some(msg) = stream
                .message()
                .await
                .map_err(|s| CliError(format!("ReadEntries: {}", describe(&s))))?
            {
                let e = msg
                    .entry
                    .ok_or_else(|| CliError("the server sent a message without an entry".into()))?;
                let entry = to_entry(e)?;
                if let Err(f) = v.check(&entry) {
                    w.abandon();
                    println!(
                        "BAD: {}: first bad entry {}: {}",
                        c.server, f.seq, f.problem
                    );
                    return Ok(Outcome::Problem);
                }
                let line = Line::of(&entry)
                    .map_err(|_| CliError(format!("entry {}: body is not UTF-8", entry.seq)))?;
                serde_json::to_writer(&mut w, &line).map_err(|e| io(e.into()))?;
                w.write_all(b"\n").map_err(io)?;
                tick(entry.seq + 1);
            }
        }
        if let Err(f) = v.finish(Some(head)) {
            w.abandon();
            println!(
                "BAD: {}: first bad entry {}: {}",
                c.server, f.seq, f.problem
            );
            return Ok(Outcome::Problem);
        }
        w.commit()?;
        bar.finish_and_clear();
        eprintln!(
            "exported {} entries from {} to {}, head {}, root {}",
            head.size,
            c.server,
            out.display(),
            hex::encode(head.hash),
            hex::encode(head.root)
        );
        Ok(Outcome::Ok)
    })
}

/// `rotaledger import --export FILE --data DIR`.
pub fn import(export: &Path, data: &Path, keys: Option<&Path>) -> Result<Outcome, CliError> {
    let target = data.join(crate::privacy::KEY_STORE_FILE);
    if keys.is_some() && target.exists() {
        return Err(CliError(format!(
            "{} already exists: import into a new data directory",
            target.display()
        )));
    }
    let len = std::fs::metadata(export)
        .map_err(CliError::ctx(export.display()))?
        .len();
    // The header gives the crypto profile of the store to make, and the entry count for the
    // writing pass's bar.
    let header = {
        let f = File::open(export).map_err(CliError::ctx(export.display()))?;
        read_header(&mut BufReader::new(f))
            .map_err(|e| CliError(format!("{}: {e}", export.display())))?
    };
    let size = header.size;
    let profile = header
        .profile()
        .map_err(|e| CliError(format!("{}: {e}", export.display())))?;
    // A key store of the other profile could never open this log's seals: refuse it first.
    if let Some(k) = keys {
        let head: Vec<u8> = std::fs::File::open(k)
            .and_then(|f| {
                use std::io::Read as _;
                let mut h = Vec::new();
                f.take(crate::privacy::keystore::RECORD as u64)
                    .read_to_end(&mut h)
                    .map(|_| h)
            })
            .map_err(CliError::ctx(k.display()))?;
        let found = crate::privacy::keystore::header_profile(&head);
        if found != Some(profile) {
            return Err(CliError(format!(
                "{}: not a key store of a {profile} ledger ({}): give the key store backed up with this export",
                k.display(),
                found.map_or("no key store header".into(), |p| format!(
                    "its header names {p}"
                ))
            )));
        }
    }
    // Refuse a non-empty store before touching the directory.
    let store = Store::open_with(data, Some(profile)).map_err(|e| {
        CliError(format!(
            "cannot open the store in {}: {e} (is a server using it?)",
            data.display()
        ))
    })?;
    check_empty(&store).map_err(|e| CliError(format!("{}: {e}", data.display())))?;
    let vbar = progress::bytes(len, "verifying");
    let wbar = progress::entries(size, "importing");
    wbar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    let mut pass = 0;
    let mut open = || -> std::io::Result<Box<dyn std::io::BufRead>> {
        pass += 1;
        let f = File::open(export)?;
        if pass == 1 {
            Ok(Box::new(BufReader::new(vbar.wrap_read(f))))
        } else {
            vbar.finish_and_clear();
            wbar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            Ok(Box::new(BufReader::new(f)))
        }
    };
    let mut written = progress::ticker(&wbar);
    let result = import_export(
        &mut open,
        &store,
        &crate::ledger::fingerprint_form,
        &mut |_| {},
        &mut written,
    );
    wbar.finish_and_clear();
    match result {
        Ok(Ok(done)) => {
            eprintln!(
                "imported {} entries ({} appends) from {} into {}",
                done.head.size,
                done.requests,
                export.display(),
                data.display()
            );
            if let Some(k) = keys {
                let bytes = std::fs::read(k).map_err(CliError::ctx(k.display()))?;
                crate::atomic::AtomicFile::write_all(&target, &bytes)?;
                eprintln!(
                    "copied the key store {} to {}",
                    k.display(),
                    target.display()
                );
            }
            println!(
                "imported: {}: {} entries, head {}, root {}",
                data.display(),
                done.head.size,
                hex::encode(done.head.hash),
                hex::encode(done.head.root)
            );
            Ok(Outcome::Ok)
        }
        Ok(Err(f)) => {
            println!(
                "BAD: {}: first bad entry {}: {}; nothing imported",
                export.display(),
                f.seq,
                f.problem
            );
            Ok(Outcome::Problem)
        }
        Err(e @ ImportError::Changed(_)) => Err(CliError(e.to_string())),
        Err(e) => Err(CliError(format!("{}: {e}", export.display()))),
    }
}
