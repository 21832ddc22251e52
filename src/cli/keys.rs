//! `rotaledger keys rotate` and `rotaledger export --reveal`: the personal-data keys of a data
//! directory no server holds (docs/PRIVACY.md).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::offline::open_store;
use super::{CliError, Outcome, master_source};
use crate::atomic::AtomicFile;
use crate::domain::Event;
use crate::privacy::{Privacy, Revealed};

/// The personal-data keys.
#[derive(Subcommand, Debug, Clone)]
pub enum KeysCommand {
    /// Re-wrap every personal-data key under a new master key (offline: stop the server).
    ///
    /// The log is not touched: only <data>/data-keys is written anew (through a temporary
    /// file and a rename). Without --new-master-key, and with the key kept in the data
    /// directory, a new random key replaces <data>/master.key. After an erasure, rotating and
    /// destroying the old master key also kills any copy of an erased key left in old backups
    /// or freed disk blocks. Exit 0 rotated, 2 could not run.
    Rotate {
        /// Data directory (no server may be using it).
        #[arg(long, default_value = "rotaledger-data")]
        data: PathBuf,
        /// The current master key file (default: <data>/master.key, or the key itself in
        /// ROTALEDGER_MASTER_KEY).
        #[arg(long, env = "ROTALEDGER_MASTER_KEY_FILE", value_name = "FILE")]
        master_key: Option<PathBuf>,
        /// The new master key file (64 hex digits), made by the operator. Start the server
        /// with `--master-key` this file afterwards.
        #[arg(long, value_name = "FILE")]
        new_master_key: Option<PathBuf>,
    },
    /// Make the keys every node of an elected group shares (docs/FAILOVER.md): a checkpoint
    /// signing key and a master key, each in a new file readable by its owner only. Give
    /// every node the same two files (`serve --checkpoint-key --master-key`). Refuses to
    /// overwrite a file. Exit 0 made, 2 could not.
    NewShared {
        /// The checkpoint signing key file to make.
        #[arg(long, value_name = "FILE")]
        checkpoint_key: PathBuf,
        /// The master key file to make (64 hex digits).
        #[arg(long, value_name = "FILE")]
        master_key: PathBuf,
        /// The log's name in checkpoints, as the nodes' --origin.
        #[arg(long, default_value = "rotaledger")]
        origin: String,
        /// The crypto profile of the log (blake3 or gm), as the nodes' --crypto; default
        /// $ROTALEDGER_CRYPTO, else blake3.
        #[arg(long, value_enum)]
        crypto: Option<crate::crypto::Profile>,
    },
}

impl KeysCommand {
    /// Runs the command.
    pub fn run(self) -> Result<Outcome, CliError> {
        match self {
            KeysCommand::Rotate {
                data,
                master_key,
                new_master_key,
            } => {
                // The store's lock proves no server holds the directory.
                let _store = open_store(&data)?;
                let (n, at) = crate::privacy::rotate_master(
                    &data,
                    &master_source(master_key.as_deref()),
                    new_master_key.as_deref(),
                )
                .map_err(|e| CliError(e.to_string()))?;
                println!(
                    "re-wrapped {n} data keys under the master key {}; keep it as safe as the old one and destroy the old one",
                    at.display()
                );
                Ok(Outcome::Ok)
            }
            KeysCommand::NewShared {
                checkpoint_key,
                master_key,
                origin,
                crypto,
            } => {
                for p in [&checkpoint_key, &master_key] {
                    if p.exists() {
                        return Err(CliError(format!(
                            "{} exists already: not overwritten",
                            p.display()
                        )));
                    }
                }
                let crypto = crate::crypto::Profile::for_new_store(crypto)
                    .map_err(|e| CliError(e.to_string()))?;
                let key = crate::merkle::CheckpointKey::generate_for(
                    crypto,
                    &crypto.checkpoint_origin(&origin),
                )
                .and_then(|k| k.save(&checkpoint_key).map(|_| k))
                .map_err(|e| CliError(format!("{}: {e}", checkpoint_key.display())))?;
                crate::privacy::MasterKey::create(&master_key)
                    .map_err(|e| CliError(format!("{}: {e}", master_key.display())))?;
                println!("checkpoint key {}", checkpoint_key.display());
                println!("verifier key {}", key.verifier());
                println!("master key {}", master_key.display());
                Ok(Outcome::Ok)
            }
        }
    }
}

/// `rotaledger export --data DIR --reveal FILE --basis TEXT [--teacher T]...`: the plain
/// personal fields, one JSON line each (`seq`, `teacher`, `field`, `value` or `"erased":true`),
/// for a lawful request; recorded in the access record as `export --reveal`.
pub fn reveal(
    dir: &Path,
    out: &Path,
    basis: &str,
    teachers: &[String],
    master_key: Option<&Path>,
) -> Result<Outcome, CliError> {
    let store = open_store(dir)?;
    let privacy = Privacy::open_with(
        dir,
        &master_source(master_key),
        false,
        Some(store.profile()),
    )
    .map_err(|e| CliError(e.to_string()))?;
    let head = store
        .check_head()
        .map_err(CliError::ctx("checking the head"))?;
    let mut dispatch_teacher: HashMap<String, String> = HashMap::new();
    let mut lines = Vec::new();
    let mut shown: Vec<String> = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    for seq in 0..head.size {
        let Some(entry) = store
            .entry(seq)
            .map_err(CliError::ctx("reading the store"))?
        else {
            continue;
        };
        let Ok(meta) = entry.meta() else { continue };
        let Ok((event, _)) = Event::decode_stored(&meta.payload) else {
            continue;
        };
        if let Event::TeacherDispatched(d) = &event {
            dispatch_teacher.insert(d.dispatch.to_string(), d.teacher.to_string());
        }
        let teacher = match &event {
            Event::TeacherReturned(r) => dispatch_teacher.get(r.dispatch.as_str()).cloned(),
            Event::TeacherRegistered(e) => Some(e.teacher.to_string()),
            Event::TeacherProfileUpdated(e) => Some(e.teacher.to_string()),
            _ => None,
        };
        let Some(teacher) = teacher else { continue };
        if !teachers.is_empty() && !teachers.contains(&teacher) {
            continue;
        }
        for (field, value) in event.personal() {
            let line = match privacy.reveal(&teacher, field, value) {
                Ok(Revealed::Text(t)) => {
                    if !shown.contains(&teacher) {
                        shown.push(teacher.clone());
                    }
                    if !fields.iter().any(|f| f == field) {
                        fields.push(field.to_owned());
                    }
                    serde_json::json!({"seq": seq, "teacher": teacher, "field": field, "value": t})
                }
                Ok(Revealed::Erased) => {
                    serde_json::json!({"seq": seq, "teacher": teacher, "field": field, "erased": true})
                }
                Err(e) => {
                    return Err(CliError(format!(
                        "entry {seq}: the {field} of {teacher} does not open with its data key: {e}"
                    )));
                }
            };
            lines.push(line.to_string());
        }
    }
    // Recorded before the file appears: a reveal that cannot be recorded does not happen.
    if !shown.is_empty() {
        let actor = std::env::var("USER").unwrap_or_else(|_| "offline".into());
        privacy
            .access
            .record(
                &format!("offline:{actor}"),
                "admin",
                &format!("export --reveal ({basis})"),
                shown,
                fields,
                chrono::Utc::now(),
            )
            .map_err(|e| CliError(e.to_string()))?;
    }
    let mut f = AtomicFile::create(out)?;
    for l in &lines {
        writeln!(f, "{l}").map_err(CliError::ctx(out.display()))?;
    }
    f.commit()?;
    eprintln!(
        "wrote {} personal fields to {}; the reveal is recorded in {}",
        lines.len(),
        out.display(),
        privacy.access.path().display()
    );
    Ok(Outcome::Ok)
}
