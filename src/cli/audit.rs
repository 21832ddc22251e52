//! `rotaledger audit ...`: the offline auditor, and the owner's side that produces what it
//! checks (checkpoints, the public key, proof files) from a store no server holds.
//!
//! The verifying commands need no store and no server: an auditor holding files answers
//! "is this entry in the log?" (`audit inclusion`), "did the log commit to exactly this
//! export?" (`audit export`) and "has history been rewritten since I last looked?"
//! (`audit consistency`). Every one of them checks the checkpoint signature first, because
//! a root is only worth the signature over it.
//!
//! Exit codes as `verify`: 0 verified, 1 a problem found (printed with the check that failed
//! and the values it compared), 2 could not run (a missing or malformed file, named with the
//! line where it broke). See `docs/AUDIT.md`.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use chrono::Utc;
use clap::Subcommand;

use super::{CliError, Outcome, progress};
use crate::atomic::AtomicFile;
use crate::crypto::Profile;
use crate::ledger::KEY_FILE;
use crate::log::export::{ExportError, parse_hash, read_header, verify_export};
use crate::log::{Entry, Store};
use crate::merkle::{
    Checkpoint, CheckpointKey, CompactRange, ConsistencyProof, Digest, InclusionProof, ProofFile,
    SignedCheckpoint, VerifierKey, WitnessVerifier, consistency_proof, inclusion_proof, root,
};

/// The `audit` subcommands.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Verify an export against a signed checkpoint: its hash chain, and that the Merkle root
    /// of its first `size` entries is the checkpoint's root.
    ///
    /// The export may be longer than the checkpoint (it was taken later). Exit 0 verified,
    /// 1 a problem found, 2 could not run.
    Export {
        /// The export file (`rotaledger export`).
        #[arg(long)]
        export: PathBuf,
        /// The signed checkpoint file.
        #[arg(long)]
        checkpoint: PathBuf,
        /// The ledger's public key: a file holding the one-line verifier key, or the line.
        #[arg(long)]
        key: String,
        #[command(flatten)]
        witnesses: WitnessPolicy,
    },
    /// Verify an inclusion proof: the entry is in the log the signed checkpoint commits to.
    Inclusion {
        /// The proof file (`rotaledger audit prove inclusion`).
        #[arg(long)]
        proof: PathBuf,
        /// The signed checkpoint file.
        #[arg(long)]
        checkpoint: PathBuf,
        /// The ledger's public key: a file holding the one-line verifier key, or the line.
        #[arg(long)]
        key: String,
        #[command(flatten)]
        witnesses: WitnessPolicy,
        /// The entry hash to check (64 hex digits), e.g. from a receipt.
        #[arg(long, conflicts_with = "export")]
        entry_hash: Option<String>,
        /// Take the entry from this export instead (the export's whole chain is verified).
        #[arg(long)]
        export: Option<PathBuf>,
    },
    /// Verify a consistency proof: the log at the new checkpoint extends the log at the old
    /// one (same origin, both signatures, no rollback, the proof).
    Consistency {
        /// The older signed checkpoint.
        #[arg(long)]
        old: PathBuf,
        /// The newer signed checkpoint.
        #[arg(long)]
        new: PathBuf,
        /// The proof file (`rotaledger audit prove consistency`).
        #[arg(long)]
        proof: PathBuf,
        /// The ledger's public key: a file holding the one-line verifier key, or the line.
        #[arg(long)]
        key: String,
        #[command(flatten)]
        witnesses: WitnessPolicy,
    },
    /// Verify a rotation certificate (交流轮岗证明, `rotaledger certificate`) and print what it
    /// states in plain words.
    ///
    /// Checks every entry's hash and inclusion proof against the certificate's checkpoint,
    /// the checkpoint's and the statement's signatures by KEY, that every entry is about the
    /// teacher and that they are all of the teacher's entries up to the checkpoint (the
    /// teacher's chain, from the head the statement names back to its start). With
    /// --checkpoint and --consistency, also that a later checkpoint extends the
    /// certificate's (its log was not forked). Exit 0 verified, 1 refused (the reason
    /// named), 2 could not run.
    Certificate {
        /// The certificate file.
        file: PathBuf,
        /// The ledger's public key: a file holding the one-line verifier key, or the line.
        #[arg(long)]
        key: String,
        #[command(flatten)]
        witnesses: WitnessPolicy,
        /// A later signed checkpoint of the same log (needs --consistency).
        #[arg(long, requires = "consistency")]
        checkpoint: Option<PathBuf>,
        /// The consistency proof from the certificate's checkpoint to --checkpoint
        /// (`rotaledger audit prove consistency --data DIR` or `--server URL`).
        #[arg(long, requires = "checkpoint")]
        consistency: Option<PathBuf>,
        /// The language of the summary: zh (中文) or en.
        #[arg(long, value_enum, default_value = "zh")]
        lang: TextLang,
    },
    /// Sign a checkpoint of a store no server holds, with its key (`<data>/checkpoint.key`).
    Checkpoint {
        /// Data directory of a store no server is using.
        #[arg(long)]
        data: PathBuf,
        /// Number of entries to cover (default: all).
        #[arg(long)]
        size: Option<u64>,
        /// Write the checkpoint here (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The log's origin line (default: the key's name, which the ledger sets to its
        /// origin when it generates the key).
        #[arg(long)]
        origin: Option<String>,
    },
    /// Print the one-line verifier key of a data directory's checkpoint key.
    PublicKey {
        /// Data directory holding `checkpoint.key`.
        #[arg(long)]
        data: PathBuf,
    },
    /// Watch a running server: each round, check that its newest signed checkpoint is signed
    /// by the pinned key and extends the last one seen (kept in --state).
    ///
    /// On the first run without --key the server's key is trusted and pinned in the state
    /// file (with a warning). Without --once, a server that cannot be reached is reported on
    /// stderr and tried again at the next round. Exit 1 with the evidence (both checkpoints,
    /// the proof, what failed) on a fork, a rollback or a bad signature; 2 if it could not
    /// run; 0 after one good round with --once, else on SIGINT/SIGTERM.
    Watch {
        #[command(flatten)]
        connect: super::client::Connect,
        /// The state file (created on the first run).
        #[arg(long)]
        state: PathBuf,
        /// The ledger's public key: a file holding the one-line verifier key, or the line.
        #[arg(long)]
        key: Option<String>,
        /// Seconds between rounds.
        #[arg(long, default_value_t = 60)]
        interval: u64,
        /// Stop after one good round.
        #[arg(long)]
        once: bool,
        /// Another node of the log (its standbys under an election, docs/FAILOVER.md): asked
        /// when --server does not answer. Repeat for each.
        #[arg(long, value_name = "URL")]
        also: Vec<String>,
    },
    /// Write a proof file from a store no server holds.
    Prove {
        #[command(subcommand)]
        what: ProveCommand,
    },
}

/// Which witnesses must have cosigned the checkpoint an audit relies on.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct WitnessPolicy {
    /// A witness whose cosignature counts: a file holding its verifier key line, or the line
    /// (docs/WITNESSES.md). Repeat for each. With none, no cosignature is required.
    #[arg(long = "witness-key", value_name = "KEY")]
    pub witness_keys: Vec<String>,
    /// How many of the named witnesses must have cosigned the checkpoint (default: all).
    #[arg(long, value_name = "K", requires = "witness_keys")]
    pub witnesses: Option<usize>,
}

impl WitnessPolicy {
    /// Checks the policy on a checkpoint whose log signature verified, printing the verdict:
    /// false (a problem found, printed) when fewer than K named witnesses cosigned it.
    pub(crate) fn check(&self, cp: &SignedCheckpoint, what: &str) -> Result<bool, CliError> {
        Ok(match self.verdict(cp)? {
            None => true,
            Some(Ok(said)) => {
                println!("{what}: {said}");
                true
            }
            Some(Err(e)) => {
                println!("BAD: {what}: {e}");
                false
            }
        })
    }

    /// The policy's verdict on `cp`, in words: `None` when no witness is named.
    pub(crate) fn verdict(
        &self,
        cp: &SignedCheckpoint,
    ) -> Result<Option<Result<String, String>>, CliError> {
        if self.witness_keys.is_empty() {
            return Ok(None);
        }
        let named = self
            .witness_keys
            .iter()
            .map(|k| witness_key(k))
            .collect::<Result<Vec<_>, _>>()?;
        let required = self.witnesses.unwrap_or(named.len());
        if required > named.len() {
            return Err(CliError(format!(
                "--witnesses {required}: only {} witnesses are named with --witness-key",
                named.len()
            )));
        }
        Ok(Some(
            crate::merkle::require_cosignatures(cp, &named, required)
                .map(|who| {
                    format!(
                        "cosigned by {} of the {} named witnesses ({}), {required} required",
                        who.len(),
                        named.len(),
                        who.join(", ")
                    )
                })
                .map_err(|e| e.to_string()),
        ))
    }
}

/// The language `audit certificate` speaks.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum TextLang {
    /// 简体中文.
    Zh,
    /// English.
    En,
}

/// `audit prove ...`.
#[derive(Subcommand, Debug)]
pub enum ProveCommand {
    /// Inclusion proof of entry `seq` in the log of `size` entries.
    Inclusion {
        #[command(flatten)]
        from: ProofSource,
        /// The entry's sequence number.
        #[arg(long)]
        seq: u64,
        /// The log size the proof leads to (a checkpoint's size; default: all entries).
        #[arg(long)]
        size: Option<u64>,
        /// Write the proof here (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Consistency proof from the log of `old` entries to the log of `new` entries.
    Consistency {
        #[command(flatten)]
        from: ProofSource,
        /// The older size.
        #[arg(long)]
        old: u64,
        /// The newer size (default: all entries).
        #[arg(long)]
        new: Option<u64>,
        /// Write the proof here (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Where `audit prove` takes the proof from: a store, or a running server.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub struct ProofSource {
    /// Data directory of a store no server is using.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Or the server at URL (its token from ROTALEDGER_TOKEN or ROTALEDGER_TOKEN_FILE, its CA
    /// from ROTALEDGER_TLS_CA): the proof it answers, written as a proof file. The audit
    /// commands check it as any other, so the server need not be trusted.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
}

impl ProofSource {
    fn connect(server: String) -> super::client::Connect {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        super::client::Connect {
            server,
            token: var("ROTALEDGER_TOKEN").and_then(|v| v.into_string().ok()),
            token_file: var("ROTALEDGER_TOKEN_FILE").map(PathBuf::from),
            tls_ca: var("ROTALEDGER_TLS_CA").map(PathBuf::from),
            json: false,
        }
    }
}

/// Runs one `audit` subcommand.
pub fn run(cmd: AuditCommand) -> Result<Outcome, CliError> {
    match cmd {
        AuditCommand::Export {
            export,
            checkpoint,
            key,
            witnesses,
        } => audit_export(&export, &checkpoint, &key, &witnesses),
        AuditCommand::Inclusion {
            proof,
            checkpoint,
            key,
            witnesses,
            entry_hash,
            export,
        } => audit_inclusion(
            &proof,
            &checkpoint,
            &key,
            &witnesses,
            entry_hash.as_deref(),
            export.as_deref(),
        ),
        AuditCommand::Consistency {
            old,
            new,
            proof,
            key,
            witnesses,
        } => audit_consistency(&old, &new, &proof, &key, &witnesses),
        AuditCommand::Certificate {
            file,
            key,
            witnesses,
            checkpoint,
            consistency,
            lang,
        } => audit_certificate(
            &file,
            &key,
            &witnesses,
            checkpoint.as_deref(),
            consistency.as_deref(),
            lang,
        ),
        AuditCommand::Checkpoint {
            data,
            size,
            out,
            origin,
        } => make_checkpoint(&data, size, out.as_deref(), origin.as_deref()),
        AuditCommand::PublicKey { data } => {
            let key = load_key(&data)?;
            println!("{}", key.verifier());
            Ok(Outcome::Ok)
        }
        AuditCommand::Watch {
            connect,
            state,
            key,
            interval,
            once,
            also,
        } => super::watch::run(super::watch::WatchOptions {
            connect,
            state,
            key,
            interval,
            once,
            witness: None,
            also,
        }),
        AuditCommand::Prove { what } => match what {
            ProveCommand::Inclusion {
                from,
                seq,
                size,
                out,
            } => match (from.data, from.server) {
                (Some(data), _) => prove_inclusion(&data, seq, size, out.as_deref()),
                (None, Some(url)) => {
                    prove_remote(ProofSource::connect(url), Ask::Inclusion { seq, size }, out)
                }
                (None, None) => Err(CliError("give --data DIR or --server URL".into())),
            },
            ProveCommand::Consistency {
                from,
                old,
                new,
                out,
            } => match (from.data, from.server) {
                (Some(data), _) => prove_consistency(&data, old, new, out.as_deref()),
                (None, Some(url)) => prove_remote(
                    ProofSource::connect(url),
                    Ask::Consistency { old, new },
                    out,
                ),
                (None, None) => Err(CliError("give --data DIR or --server URL".into())),
            },
        },
    }
}

// ---------------------------------------------------------------------------------------
// Reading the auditor's files. Every failure here is "could not run" (exit 2) and names the
// file; a file that reads but says the wrong thing is a problem found (exit 1) instead.

/// Reads a whole small file, refusing anything larger than `max` bytes unread.
fn read_small(path: &Path, what: &str, max: u64) -> Result<Vec<u8>, CliError> {
    let f = File::open(path).map_err(|e| CliError(format!("{what} {}: {e}", path.display())))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > max {
        return Err(CliError(format!(
            "{what} {}: {len} bytes is too large to be a {what}",
            path.display()
        )));
    }
    let mut bytes = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CliError(format!("{what} {}: {e}", path.display())))?;
    Ok(bytes)
}

/// The verifier key: the argument is a file holding the one-line key, or the key itself.
pub(super) fn verifier_key(arg: &str) -> Result<VerifierKey, CliError> {
    key_line(arg, "--key")
}

/// A witness's verifier key: a file holding the one-line key, or the key itself.
pub(crate) fn witness_key(arg: &str) -> Result<WitnessVerifier, CliError> {
    key_line(arg, "--witness-key")
}

/// A one-line key of type `K`: the argument is a file holding the line, or the line itself.
fn key_line<K>(arg: &str, flag: &str) -> Result<K, CliError>
where
    K: std::str::FromStr,
    K::Err: std::fmt::Display,
{
    let path = Path::new(arg);
    if path.exists() {
        let bytes = read_small(path, "key file", 4096)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| CliError(format!("key file {arg}: not UTF-8 text")))?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let line = lines
            .next()
            .ok_or_else(|| CliError(format!("key file {arg}: empty")))?;
        if lines.next().is_some() {
            return Err(CliError(format!(
                "key file {arg}: expected one line (name+keyid+base64), found more"
            )));
        }
        return line
            .trim()
            .parse()
            .map_err(|e| CliError(format!("key file {arg}, line 1: {e}")));
    }
    if arg.contains('+') {
        return arg
            .parse()
            .map_err(|e| CliError(format!("{flag} {arg:?}: {e}")));
    }
    Err(CliError(format!(
        "key file {arg}: no such file (give a file holding the verifier key, or the key line itself)"
    )))
}

/// Reads and parses a signed checkpoint (syntax only; the signature is checked separately
/// so that a bad signature is reported as a problem, not as an unreadable file).
fn read_checkpoint(path: &Path) -> Result<SignedCheckpoint, CliError> {
    let bytes = read_small(
        path,
        "checkpoint",
        crate::merkle::checkpoint::MAX_NOTE_BYTES as u64,
    )?;
    SignedCheckpoint::parse_bytes(&bytes)
        .map_err(|e| CliError(format!("checkpoint {}: {e}", path.display())))
}

/// Checks a checkpoint's signature; on failure prints the evidence and returns `None`.
fn signed<'a>(cp: &'a SignedCheckpoint, key: &VerifierKey, path: &Path) -> Option<&'a Checkpoint> {
    match cp.verify(key) {
        Ok(c) => {
            println!(
                "checkpoint {}: signature by {key_name} verified: origin {:?}, size {}, root {}, time {}",
                path.display(),
                c.origin,
                c.size,
                hex::encode(c.root),
                c.time.format(crate::merkle::checkpoint::TIME_FORMAT),
                key_name = key.name(),
            );
            Some(c)
        }
        Err(e) => {
            println!("BAD: checkpoint signature: {}: {e}", path.display());
            None
        }
    }
}

fn read_proof(path: &Path) -> Result<ProofFile, CliError> {
    let bytes = read_small(
        path,
        "proof file",
        crate::merkle::proof_file::MAX_PROOF_FILE_BYTES as u64,
    )?;
    ProofFile::parse(&bytes).map_err(|e| CliError(format!("proof file {}: {e}", path.display())))
}

/// A proof file's hash must be the log's that the key signs for (blake3 for an Ed25519 key,
/// SM3 for an SM2 key): otherwise the two are of different logs, and nothing can be checked.
fn same_profile(proof: Profile, key: &VerifierKey, path: &Path) -> Result<(), CliError> {
    if proof == key.profile() {
        return Ok(());
    }
    Err(CliError(format!(
        "proof file {}: its hash is {:?}, but the key {} signs for a {} ledger (hash {:?})",
        path.display(),
        proof.hash_name(),
        key.name(),
        key.profile(),
        key.profile().hash_name()
    )))
}

fn inclusion_file(path: &Path) -> Result<InclusionProof, CliError> {
    match read_proof(path)? {
        ProofFile::Inclusion(p) => Ok(p),
        other => Err(CliError(format!(
            "proof file {}: its kind is {:?}, expected \"inclusion\"",
            path.display(),
            other.kind()
        ))),
    }
}

fn consistency_file(path: &Path) -> Result<ConsistencyProof, CliError> {
    match read_proof(path)? {
        ProofFile::Consistency(p) => Ok(p),
        other => Err(CliError(format!(
            "proof file {}: its kind is {:?}, expected \"consistency\"",
            path.display(),
            other.kind()
        ))),
    }
}

// ---------------------------------------------------------------------------------------
// The auditor's commands.

/// `audit export`: the export's chain verifies, and its first `size` entries have the root
/// the checkpoint signs.
fn audit_export(
    export: &Path,
    checkpoint: &Path,
    key: &str,
    witnesses: &WitnessPolicy,
) -> Result<Outcome, CliError> {
    let key = verifier_key(key)?;
    let signed_cp = read_checkpoint(checkpoint)?;
    let f =
        File::open(export).map_err(|e| CliError(format!("export {}: {e}", export.display())))?;
    // The export's profile (its header) must be the key's: else they are of two logs.
    let named = File::open(export)
        .map_err(ExportError::from)
        .and_then(|f| read_header(&mut BufReader::new(f)))
        .and_then(|h| h.profile());
    if let Ok(p) = named
        && p != key.profile()
    {
        return Err(CliError(format!(
            "export {}: its header names a {p} log, but the key {} signs for a {} ledger",
            export.display(),
            key.name(),
            key.profile()
        )));
    }
    let Some(cp) = signed(&signed_cp, &key, checkpoint) else {
        return Ok(Outcome::Problem);
    };
    if !witnesses.check(&signed_cp, &format!("checkpoint {}", checkpoint.display()))? {
        return Ok(Outcome::Problem);
    }
    let bar = progress::bytes(
        f.metadata().map(|m| m.len()).unwrap_or(0),
        "verifying export",
    );
    let mut input = BufReader::new(bar.wrap_read(f));
    // The tree over the first `cp.size` entries; its root is taken when it reaches that size.
    let mut tree = CompactRange::new(key.profile());
    let mut at_size = (cp.size == 0).then(|| tree.root());
    let result = verify_export(&mut input, &mut |_| {}, &mut |e: &Entry| {
        // The chain verifier refuses a log of 2^64 entries first, so `append` cannot fail.
        if tree.size() < cp.size && tree.append(&e.hash).is_ok() && tree.size() == cp.size {
            at_size = Some(tree.root());
        }
    })
    .map_err(|e| CliError(format!("export {}: {e}", export.display())))?;
    bar.finish_and_clear();
    let verified = match result {
        Ok(v) => v,
        Err(f) => {
            println!(
                "BAD: export chain: {}: first bad entry {}: {}",
                export.display(),
                f.seq,
                f.problem
            );
            return Ok(Outcome::Problem);
        }
    };
    println!(
        "export {}: chain verified: {} entries, head {}, root {}",
        export.display(),
        verified.checked,
        hex::encode(verified.head.hash),
        hex::encode(verified.head.root)
    );
    let Some(computed) = at_size else {
        println!(
            "BAD: export length: the checkpoint covers {} entries, the export holds only {}",
            cp.size, verified.checked
        );
        return Ok(Outcome::Problem);
    };
    if computed != cp.root {
        println!(
            "BAD: root at size {}: the checkpoint signs {}, the export's first {} entries give {}",
            cp.size,
            hex::encode(cp.root),
            cp.size,
            hex::encode(computed)
        );
        return Ok(Outcome::Problem);
    }
    println!(
        "verified: the export's first {} entries have the checkpoint's root {}",
        cp.size,
        hex::encode(cp.root)
    );
    Ok(Outcome::Ok)
}

/// The hash of entry `seq` of an export, after verifying the export's whole chain; or, as
/// `Err`, the problem found in it.
fn entry_from_export(path: &Path, seq: u64) -> Result<Result<Digest, String>, CliError> {
    let f = File::open(path).map_err(|e| CliError(format!("export {}: {e}", path.display())))?;
    let bar = progress::bytes(f.metadata().map(|m| m.len()).unwrap_or(0), "reading export");
    let mut input = BufReader::new(bar.wrap_read(f));
    let mut found = None;
    let result = verify_export(&mut input, &mut |_| {}, &mut |e: &Entry| {
        if e.seq == seq {
            found = Some(e.hash);
        }
    })
    .map_err(|e| CliError(format!("export {}: {e}", path.display())))?;
    bar.finish_and_clear();
    match (result, found) {
        (Ok(_), Some(h)) => Ok(Ok(h)),
        (Ok(_), None) => Ok(Err(format!(
            "the export {} has no entry {seq}",
            path.display()
        ))),
        (Err(f), _) => Ok(Err(format!(
            "export chain: {}: first bad entry {}: {}",
            path.display(),
            f.seq,
            f.problem
        ))),
    }
}

/// `audit inclusion`.
fn audit_inclusion(
    proof: &Path,
    checkpoint: &Path,
    key: &str,
    witnesses: &WitnessPolicy,
    entry_hash: Option<&str>,
    export: Option<&Path>,
) -> Result<Outcome, CliError> {
    let key = verifier_key(key)?;
    let signed_cp = read_checkpoint(checkpoint)?;
    let p = inclusion_file(proof)?;
    same_profile(p.profile, &key, proof)?;
    let given = match (entry_hash, export) {
        (Some(h), _) => Some(parse_hash("--entry-hash", h).map_err(CliError)?),
        (None, Some(path)) => match entry_from_export(path, p.index)? {
            Ok(h) => Some(h),
            Err(why) => {
                println!("BAD: {why}");
                return Ok(Outcome::Problem);
            }
        },
        (None, None) => None,
    };
    let Some(cp) = signed(&signed_cp, &key, checkpoint) else {
        return Ok(Outcome::Problem);
    };
    if !witnesses.check(&signed_cp, &format!("checkpoint {}", checkpoint.display()))? {
        return Ok(Outcome::Problem);
    }
    let entry = given.unwrap_or(p.entry_hash);
    match p.verify(&entry, cp) {
        Ok(()) => {
            println!(
                "verified: entry {} with hash {} is in the log {:?} of {} entries (root {}), proof of {} hashes",
                p.index,
                hex::encode(entry),
                cp.origin,
                cp.size,
                hex::encode(cp.root),
                p.proof.len()
            );
            if given.is_none() {
                println!(
                    "note: the entry hash was taken from the proof file; give --entry-hash or --export to check an entry you hold"
                );
            }
            Ok(Outcome::Ok)
        }
        Err(e) => {
            println!("BAD: inclusion of entry {}: {e}", p.index);
            Ok(Outcome::Problem)
        }
    }
}

/// `audit consistency`.
fn audit_consistency(
    old: &Path,
    new: &Path,
    proof: &Path,
    key: &str,
    witnesses: &WitnessPolicy,
) -> Result<Outcome, CliError> {
    let key = verifier_key(key)?;
    let old_signed = read_checkpoint(old)?;
    let new_signed = read_checkpoint(new)?;
    let p = consistency_file(proof)?;
    same_profile(p.profile, &key, proof)?;
    let (Some(o), Some(n)) = (
        signed(&old_signed, &key, old),
        signed(&new_signed, &key, new),
    ) else {
        return Ok(Outcome::Problem);
    };
    if !witnesses.check(&new_signed, &format!("checkpoint {}", new.display()))? {
        return Ok(Outcome::Problem);
    }
    match p.verify(o, n) {
        Ok(()) => {
            println!(
                "verified: the log {:?} of {} entries (root {}) extends the log of {} entries (root {}), proof of {} hashes",
                n.origin,
                n.size,
                hex::encode(n.root),
                o.size,
                hex::encode(o.root),
                p.proof.len()
            );
            Ok(Outcome::Ok)
        }
        Err(e) => {
            println!(
                "BAD: consistency from {} to {} entries: {e}",
                o.size, n.size
            );
            Ok(Outcome::Problem)
        }
    }
}

fn audit_certificate(
    file: &Path,
    key: &str,
    witnesses: &WitnessPolicy,
    later: Option<&Path>,
    consistency: Option<&Path>,
    lang: TextLang,
) -> Result<Outcome, CliError> {
    use crate::certificate::{self, MAX_CERTIFICATE_BYTES, Refusal};
    use crate::http::console::messages::Lang;
    let lang = match lang {
        TextLang::Zh => Lang::Zh,
        TextLang::En => Lang::En,
    };
    let key = verifier_key(key)?;
    let bytes = read_small(file, "certificate", MAX_CERTIFICATE_BYTES as u64)?;
    let later = match (later, consistency) {
        (Some(cp), Some(proof)) => {
            let p = consistency_file(proof)?;
            same_profile(p.profile, &key, proof)?;
            Some((read_checkpoint(cp)?, p))
        }
        _ => None,
    };
    let refuse = |e: Refusal| {
        let head = match lang {
            Lang::Zh => "证明无效 REFUSED",
            Lang::En => "REFUSED",
        };
        println!("{head} ({}): certificate {}: {e}", e.code(), file.display());
        Ok(Outcome::Problem)
    };
    let v = match certificate::verify(&bytes, &key) {
        Ok(v) => v,
        Err(e) => return refuse(e),
    };
    print!("{}", certificate::text::render(&v, lang));
    // The witnesses' cosignatures are required on the checkpoint the verdict rests on: the
    // later one when given, else the certificate's own.
    let relied_on = match &later {
        Some((newer, _)) => newer.clone(),
        None => certificate_checkpoint(&bytes)?,
    };
    if !witnesses.check(&relied_on, "the checkpoint relied on")? {
        return Ok(Outcome::Problem);
    }
    if let Some((newer, proof)) = later {
        match certificate::verify_later(&v, &newer, &proof, &key) {
            Ok(n) => println!(
                "{} {} (root {}): {}",
                match lang {
                    Lang::Zh => "一致性已验证：较新的检查点",
                    Lang::En => "consistency verified: the later checkpoint of",
                },
                n.size,
                hex::encode(n.root),
                match lang {
                    Lang::Zh => "延续本证明的检查点，账本未分叉。",
                    Lang::En => "extends the certificate's checkpoint; the log was not forked.",
                }
            ),
            Err(e) => return refuse(e),
        }
    }
    Ok(Outcome::Ok)
}

/// The signed checkpoint inside a certificate (its `checkpoint` field, FORMAT.md §2.8), which
/// [`crate::certificate::verify`] has already checked.
fn certificate_checkpoint(bytes: &[u8]) -> Result<SignedCheckpoint, CliError> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(CliError::ctx("the certificate"))?;
    let text = v
        .get("checkpoint")
        .and_then(|c| c.as_str())
        .ok_or_else(|| CliError("the certificate has no checkpoint text".into()))?;
    SignedCheckpoint::parse(text).map_err(CliError::ctx("the certificate's checkpoint"))
}

// ---------------------------------------------------------------------------------------
// The owner's side: checkpoints and proofs from a store no server holds.

/// Opens a store for reading and checks its head (O(log n)); the server must not hold it.
fn open_store(dir: &Path) -> Result<(Store, u64), CliError> {
    if !dir.join("db").exists() {
        return Err(CliError(format!(
            "{} holds no rotaledger store (no `db` file)",
            dir.display()
        )));
    }
    let store = Store::open(dir).map_err(|e| {
        CliError(format!(
            "cannot open the store in {}: {e} (is a server using it?)",
            dir.display()
        ))
    })?;
    let head = store
        .check_head()
        .map_err(|e| CliError(format!("the store in {}: {e}", dir.display())))?;
    Ok((store, head.size))
}

fn load_key(dir: &Path) -> Result<CheckpointKey, CliError> {
    let path = dir.join(KEY_FILE);
    CheckpointKey::load(&path).map_err(|e| CliError(format!("checkpoint key: {e}")))
}

/// Writes `text` to `out` (whole, under a temporary name first) or to standard output.
fn emit(text: &str, out: Option<&Path>, what: &str) -> Result<(), CliError> {
    let Some(out) = out else {
        let mut stdout = std::io::stdout().lock();
        return stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(CliError::ctx("standard output"));
    };
    AtomicFile::write_all(out, text.as_bytes())?;
    eprintln!("wrote {what} to {}", out.display());
    Ok(())
}

fn size_or_head(size: Option<u64>, head: u64, what: &str) -> Result<u64, CliError> {
    let size = size.unwrap_or(head);
    if size > head {
        return Err(CliError(format!(
            "{what} {size} is beyond the log's {head} entries"
        )));
    }
    Ok(size)
}

/// `audit checkpoint`.
fn make_checkpoint(
    data: &Path,
    size: Option<u64>,
    out: Option<&Path>,
    origin: Option<&str>,
) -> Result<Outcome, CliError> {
    let key = load_key(data)?;
    let (store, head) = open_store(data)?;
    let size = size_or_head(size, head, "size")?;
    if key.profile() != store.profile() {
        return Err(CliError(format!(
            "the key in {} signs for a {} ledger; the store holds a {} one",
            data.display(),
            key.profile(),
            store.profile()
        )));
    }
    let r = root(&store.profile(), size, &store).map_err(CliError::ctx("computing the root"))?;
    // A gm ledger's checkpoints name their profile in the origin (FORMAT.md §3.1).
    let origin = store
        .profile()
        .checkpoint_origin(origin.unwrap_or(key.name()));
    let cp = Checkpoint::new(&origin, size, r, Utc::now())
        .and_then(|c| c.sign(&key))
        .map_err(CliError::ctx("signing the checkpoint"))?;
    emit(&cp.to_text(), out, "the checkpoint")?;
    Ok(Outcome::Ok)
}

/// `audit prove inclusion`.
fn prove_inclusion(
    data: &Path,
    seq: u64,
    size: Option<u64>,
    out: Option<&Path>,
) -> Result<Outcome, CliError> {
    let (store, head) = open_store(data)?;
    let size = size_or_head(size, head, "size")?;
    if seq >= size {
        return Err(CliError(format!(
            "no entry {seq} in a log of {size} entries"
        )));
    }
    let entry = store
        .entry(seq)
        .map_err(CliError::ctx(format!("reading entry {seq}")))?
        .ok_or_else(|| CliError(format!("entry {seq} is missing from the store")))?;
    let proof = inclusion_proof(&store.profile(), seq, size, &store)
        .map_err(CliError::ctx("computing the proof"))?;
    let file = ProofFile::Inclusion(InclusionProof {
        profile: store.profile(),
        index: seq,
        size,
        entry_hash: entry.hash,
        proof,
    });
    emit(&file.to_json(), out, "the inclusion proof")?;
    Ok(Outcome::Ok)
}

/// `audit prove consistency`.
fn prove_consistency(
    data: &Path,
    old: u64,
    new: Option<u64>,
    out: Option<&Path>,
) -> Result<Outcome, CliError> {
    let (store, head) = open_store(data)?;
    let new = size_or_head(new, head, "new size")?;
    if old > new {
        return Err(CliError(format!(
            "old size {old} is larger than new size {new}"
        )));
    }
    let proof = consistency_proof(&store.profile(), old, new, &store)
        .map_err(CliError::ctx("computing the proof"))?;
    let file = ProofFile::Consistency(ConsistencyProof {
        profile: store.profile(),
        old_size: old,
        new_size: new,
        proof,
    });
    emit(&file.to_json(), out, "the consistency proof")?;
    Ok(Outcome::Ok)
}

/// The proof `audit prove --server` asks for.
enum Ask {
    Inclusion { seq: u64, size: Option<u64> },
    Consistency { old: u64, new: Option<u64> },
}

/// `audit prove ... --server URL`: the server's proof, as a proof file.
fn prove_remote(
    c: super::client::Connect,
    ask: Ask,
    out: Option<PathBuf>,
) -> Result<Outcome, CliError> {
    use super::client::status_err;
    let digests = |hashes: Vec<Vec<u8>>| -> Result<Vec<Digest>, CliError> {
        hashes
            .into_iter()
            .map(|h| {
                <Digest>::try_from(h.as_slice()).map_err(|_| {
                    CliError(format!("the server sent a proof hash of {} bytes", h.len()))
                })
            })
            .collect()
    };
    let file = super::client::runtime()?.block_on(async {
        let (_, profile) = c.head_and_profile().await?;
        let mut audit = c.audit().await?;
        Ok::<_, CliError>(match ask {
            Ask::Inclusion { seq, size } => {
                let p = audit
                    .get_inclusion_proof(crate::proto::GetInclusionProofRequest { seq, size })
                    .await
                    .map_err(status_err("GetInclusionProof"))?
                    .into_inner()
                    .proof
                    .unwrap_or_default();
                ProofFile::Inclusion(InclusionProof {
                    profile,
                    index: p.seq,
                    size: p.size,
                    entry_hash: <Digest>::try_from(p.entry_hash.as_slice()).map_err(|_| {
                        CliError("the server sent an entry hash that is not 32 bytes".into())
                    })?,
                    proof: digests(p.hashes)?,
                })
            }
            Ask::Consistency { old, new } => {
                let p = audit
                    .get_consistency_proof(crate::proto::GetConsistencyProofRequest {
                        old_size: old,
                        new_size: new,
                    })
                    .await
                    .map_err(status_err("GetConsistencyProof"))?
                    .into_inner();
                ProofFile::Consistency(ConsistencyProof {
                    profile,
                    old_size: p.old_size,
                    new_size: p.new_size,
                    proof: digests(p.hashes)?,
                })
            }
        })
    })?;
    emit(&file.to_json(), out.as_deref(), "the proof")?;
    Ok(Outcome::Ok)
}
