//! `rotaledger audit watch`: a monitor that keeps the last signed checkpoint it saw and, each
//! round, checks that the server's newest checkpoint is signed by the pinned key and extends
//! the saved one (a consistency proof), so a fork or a rollback is caught as it happens.
//!
//! `rotaledger witness run` is the same monitor with a witness key: it checks the checkpoint
//! the log offers its witnesses rather than the newest, and once that checkpoint passed and
//! is saved, cosigns it and hands the cosignature to the log (`AddCosignature`). It never
//! cosigns a checkpoint it has not saved as the last one that passed, so after any crash it
//! holds every checkpoint it cosigned or a later one, and cannot be led to cosign a fork of
//! it.
//!
//! The state file is a small JSON object (the pinned verifier key and the last checkpoint's
//! signed text), replaced atomically (temporary file, fsync, rename, directory fsync) after
//! every good round, so a crash never leaves a half-written state that would unpin the key
//! or forget how far the log had grown.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tonic::Request;

use super::client::{Audit, Connect, describe};
use super::{CliError, Outcome, audit};
use crate::merkle::{Checkpoint, Digest, SignedCheckpoint, VerifierKey, verify_consistency};
use crate::proto;

/// How long one call may take before the round gives up.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// What the watcher remembers between rounds and runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchState {
    /// The pinned verifier key (one line, as `audit public-key` prints it).
    pub verifier_key: String,
    /// The last checkpoint that passed, as signed text; `None` before the first round.
    pub checkpoint: Option<String>,
}

/// The options of `audit watch`.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Where the server is.
    pub connect: Connect,
    /// The state file.
    pub state: PathBuf,
    /// A verifier key given on the command line (file or line).
    pub key: Option<String>,
    /// Seconds between rounds.
    pub interval: u64,
    /// Stop after one good round.
    pub once: bool,
    /// Cosign each checkpoint that passes with this key (`rotaledger witness run`).
    pub witness: Option<crate::merkle::WitnessKey>,
    /// The log's other nodes (`--also`): a primary and its standbys under an election
    /// (docs/FAILOVER.md). When the server does not answer, the next is asked; when it is a
    /// mirror, the primary it names. Every checkpoint is still checked against the pinned
    /// key and the last one that passed, whichever node serves it.
    pub also: Vec<String>,
}

/// How one round ended.
enum Round {
    /// The new checkpoint extends the saved one (or is the first).
    Good(String),
    /// The log forked, rolled back, or the signature failed: the evidence, printed as is.
    Bad(String),
}

/// Why a round did not finish. Only the continuous mode tells the two apart: a server that
/// is restarting, unreachable or overloaded is waited for (the next round tries again), while
/// anything else (a refused token, a checkpoint that does not parse, the state file) stops
/// the watch with exit 2, as with `--once`.
enum Failure {
    /// The server could not be reached or did not answer in time.
    Unreachable(CliError),
    /// The log refused what the witness handed it (FAILED_PRECONDITION: not configured
    /// with this witness, or cosigning another checkpoint of the size); the next round
    /// tries again.
    Refused(CliError),
    /// The server is a mirror of the primary at this URL (FAILED_PRECONDITION, reason
    /// `MIRROR`): ask there.
    Moved(CliError, String),
    /// Anything else.
    Fatal(CliError),
}

impl From<CliError> for Failure {
    fn from(e: CliError) -> Self {
        Failure::Fatal(e)
    }
}

impl Failure {
    /// A failed call, classified by its status code.
    fn rpc(name: &str, s: &tonic::Status) -> Failure {
        let e = CliError(format!("{name}: {}", describe(s)));
        if s.code() == tonic::Code::FailedPrecondition {
            use tonic_types::StatusExt;
            if let Some(info) = s.get_details_error_info()
                && info.reason == "MIRROR"
                && let Some(primary) = info.metadata.get("primary")
            {
                return Failure::Moved(e, primary.clone());
            }
        }
        // A connection lost mid-call (the node killed, or restarting in another role)
        // comes back as `Unknown` carrying the transport's error, not the server's.
        if s.code() == tonic::Code::Unknown && std::error::Error::source(s).is_some() {
            return Failure::Unreachable(e);
        }
        match s.code() {
            tonic::Code::Unavailable
            | tonic::Code::DeadlineExceeded
            | tonic::Code::Cancelled
            | tonic::Code::ResourceExhausted
            | tonic::Code::Aborted => Failure::Unreachable(e),
            tonic::Code::FailedPrecondition => Failure::Refused(e),
            _ => Failure::Fatal(e),
        }
    }

    fn into_error(self) -> CliError {
        match self {
            Failure::Unreachable(e)
            | Failure::Refused(e)
            | Failure::Moved(e, _)
            | Failure::Fatal(e) => e,
        }
    }
}

fn call<T>(msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.set_timeout(CALL_TIMEOUT);
    r
}

/// Reads the state file; a missing file is a first run.
pub fn load_state(path: &Path) -> Result<Option<WatchState>, CliError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| CliError(format!("state file {}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError(format!("state file {}: {e}", path.display()))),
    }
}

/// Replaces the state file atomically: a reader (or a crash) sees the old state or the new
/// one, never a mix.
pub fn save_state(path: &Path, state: &WatchState) -> Result<(), CliError> {
    let mut text = serde_json::to_vec_pretty(state).map_err(CliError::ctx("encoding the state"))?;
    text.push(b'\n');
    Ok(crate::atomic::AtomicFile::write_all(path, &text)?)
}

/// `rotaledger audit watch`.
pub fn run(opts: WatchOptions) -> Result<Outcome, CliError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(CliError::ctx("starting the async runtime"))?;
    rt.block_on(watch(opts))
}

async fn watch(opts: WatchOptions) -> Result<Outcome, CliError> {
    let state = load_state(&opts.state)?;
    if opts.witness.is_some() {
        // A fork seen once stays seen: the witness does not go on until its operator has
        // looked at the evidence and moved it aside.
        if let Some(evidence) = recorded_evidence(&opts.state) {
            println!(
                "this witness found the log forked before: evidence in {}. It cosigns nothing \
                 more of this log until its operator has looked and moved the file aside \
                 (docs/WITNESSES.md)",
                evidence.display()
            );
            return Ok(Outcome::Problem);
        }
        if state.is_none() {
            eprintln!(
                "WARNING: no state file {}: starting a new one. A witness that has cosigned \
                 this log before must keep its state; starting over lets it cosign a history \
                 that forks from what it signed.",
                opts.state.display()
            );
        }
    }
    let given = opts.key.as_deref().map(audit::verifier_key).transpose()?;
    let mut terminate = signal_stream()?;
    // A server down when the watch starts is waited for too, unless --once.
    let mut client = loop {
        match opts.connect.audit().await {
            Ok(c) => break c,
            Err(e) if !opts.once => {
                eprintln!("{e}; trying again in {} s", opts.interval);
                if !wait_interval(opts.interval, &mut terminate).await {
                    return Ok(Outcome::Ok);
                }
            }
            Err(e) => return Err(e),
        }
    };
    let key: VerifierKey = match (&state, given) {
        (Some(s), given) => {
            let pinned: VerifierKey = s
                .verifier_key
                .parse()
                .map_err(CliError::ctx("the pinned key in the state file"))?;
            if let Some(g) = given
                && g.to_string() != pinned.to_string()
            {
                return Err(CliError(format!(
                    "--key {g} differs from the key pinned in {}: {pinned}; \
                     start a new state file to trust another key",
                    opts.state.display()
                )));
            }
            pinned
        }
        (None, Some(g)) => g,
        (None, None) => {
            let text = client
                .get_public_key(call(proto::GetPublicKeyRequest {}))
                .await
                .map_err(|s| CliError(format!("GetPublicKey: {}", describe(&s))))?
                .into_inner()
                .verifier_key;
            let k: VerifierKey = text
                .parse()
                .map_err(CliError::ctx("the server's public key"))?;
            eprintln!(
                "WARNING: no --key given and no state yet: trusting the key the server sent, \
                 {k}, pinning it in {} after the first good round. Check it against the key published out of band.",
                opts.state.display()
            );
            k
        }
    };
    // A first run pins the key with the first checkpoint that verifies under it, so a state
    // file never holds a key that nothing has been checked against.
    let mut state = state.unwrap_or_else(|| WatchState {
        verifier_key: key.to_string(),
        checkpoint: None,
    });
    let offered = opts.witness.is_some();
    // The last checkpoint the log said it keeps this witness's cosignature on, and the last
    // refusal printed (printed once, not every round).
    let mut handed: Option<String> = None;
    let mut refused: Option<String> = None;
    let mut nodes = Nodes::new(&opts);
    loop {
        match round(&mut client, &key, state.checkpoint.as_deref(), offered).await {
            Err(Failure::Unreachable(e)) if !opts.once => {
                // The channel reconnects by itself; the saved checkpoint is unchanged, so
                // the next good round is checked against the last one that passed. With
                // other nodes of the log (--also), the next one is asked.
                // Each node is asked once before the watch waits for the next round.
                match nodes.next() {
                    Some(to) if nodes.hop() => {
                        eprintln!("round failed, the server did not answer: {e}; asking {to}");
                        if let Ok(c) = nodes.connect(&opts, &to).await {
                            client = c;
                            continue;
                        }
                    }
                    _ => {
                        nodes.hops = 0;
                        eprintln!(
                            "round failed, the server did not answer: {e}; next round in {} s",
                            opts.interval
                        );
                    }
                }
            }
            Err(Failure::Moved(e, primary)) if !opts.once || nodes.moved < 3 => {
                // A mirror names its primary: ask there if it is one of the nodes this watch
                // was given (its token goes nowhere else); the key and the last checkpoint
                // still judge what it serves.
                nodes.moved += 1;
                if !nodes.all.contains(&primary) {
                    eprintln!(
                        "{e}; the primary it names, {primary}, is not among --server and --also: \
                         not asked (add it with --also); next round in {} s",
                        opts.interval
                    );
                } else if nodes.hop() {
                    eprintln!("{e}; asking the primary it names, {primary}");
                    match nodes.connect(&opts, &primary).await {
                        Ok(c) => {
                            client = c;
                            continue;
                        }
                        Err(e) => eprintln!("{e}; next round in {} s", opts.interval),
                    }
                } else {
                    nodes.hops = 0;
                    eprintln!("{e}; next round in {} s", opts.interval);
                }
            }
            Err(f) => return Err(f.into_error()),
            Ok(Round::Bad(evidence)) => {
                println!("{evidence}");
                if opts.witness.is_some() {
                    let file = evidence_file(&opts.state, &evidence)?;
                    eprintln!(
                        "the log showed a history inconsistent with the checkpoint this witness \
                         last cosigned; nothing of it was cosigned. Evidence kept in {}",
                        file.display()
                    );
                }
                return Ok(Outcome::Problem);
            }
            Ok(Round::Good(text)) => {
                nodes.moved = 0;
                nodes.hops = 0;
                let cp = SignedCheckpoint::parse(&text)
                    .map_err(CliError::ctx("the checkpoint"))?
                    .checkpoint;
                // Saved before it is reported: an `ok` line means the state file holds it.
                state.checkpoint = Some(text.clone());
                save_state(&opts.state, &state)?;
                println!("ok: size {} root {}", cp.size, hex::encode(cp.root));
                if let Some(w) = &opts.witness
                    && handed.as_deref() != Some(text.as_str())
                {
                    match cosign(&mut client, w, &text).await {
                        Ok(kept) => {
                            println!(
                                "cosigned: size {} root {}; the log keeps {} witness cosignatures on it",
                                cp.size,
                                hex::encode(cp.root),
                                kept.cosignatures
                            );
                            handed = Some(text);
                            refused = None;
                        }
                        Err(Failure::Unreachable(e)) if !opts.once => {
                            eprintln!(
                                "the cosignature was not handed over: {e}; next round in {} s",
                                opts.interval
                            );
                        }
                        Err(Failure::Refused(e)) if !opts.once => {
                            if refused.as_deref() != Some(e.0.as_str()) {
                                eprintln!("the log did not keep the cosignature: {e}");
                                refused = Some(e.0);
                            }
                        }
                        Err(f) => return Err(f.into_error()),
                    }
                }
            }
        }
        if opts.once {
            return Ok(Outcome::Ok);
        }
        if !wait_interval(opts.interval, &mut terminate).await {
            return Ok(Outcome::Ok);
        }
    }
}

/// The nodes of the log a watch may ask: `--server` and `--also`.
struct Nodes {
    all: Vec<String>,
    at: usize,
    /// Redirections followed in a row (a `--once` run follows a few, not a loop).
    moved: u32,
    /// Nodes asked since the last wait: after as many as there are nodes (and one more, for
    /// a redirection), the watch waits for its next round.
    hops: usize,
}

impl Nodes {
    fn new(opts: &WatchOptions) -> Nodes {
        let mut all = vec![opts.connect.server.clone()];
        all.extend(
            opts.also
                .iter()
                .filter(|u| **u != opts.connect.server)
                .cloned(),
        );
        Nodes {
            all,
            at: 0,
            moved: 0,
            hops: 0,
        }
    }

    /// Counts one more node asked in this round; false once every node has been.
    fn hop(&mut self) -> bool {
        self.hops += 1;
        self.hops <= self.all.len()
    }

    /// The next node to ask after one that did not answer (`None`: no other).
    fn next(&mut self) -> Option<String> {
        if self.all.len() < 2 {
            return None;
        }
        self.at = (self.at + 1) % self.all.len();
        self.all.get(self.at).cloned()
    }

    /// A client of `server`, with the token and CA of `--server`.
    async fn connect(
        &mut self,
        opts: &WatchOptions,
        server: &str,
    ) -> Result<crate::cli::client::Audit, CliError> {
        if let Some(i) = self.all.iter().position(|u| u == server) {
            self.at = i;
        }
        let connect = Connect {
            server: server.to_owned(),
            ..opts.connect.clone()
        };
        connect.audit().await
    }
}

/// Waits `secs` seconds between rounds; false if SIGINT or SIGTERM came first.
async fn wait_interval(secs: u64, terminate: &mut tokio::sync::mpsc::Receiver<()>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(secs)) => true,
        _ = terminate.recv() => false,
    }
}

/// A channel that yields once SIGINT or SIGTERM arrives.
fn signal_stream() -> Result<tokio::sync::mpsc::Receiver<()>, CliError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).map_err(CliError::ctx("SIGINT"))?;
    let mut term = signal(SignalKind::terminate()).map_err(CliError::ctx("SIGTERM"))?;
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        let _ = tx.send(()).await;
    });
    Ok(rx)
}

fn evidence(what: &str, old: &str, new: &str, proof: &[Digest], why: &str) -> String {
    let proof: Vec<String> = proof.iter().map(hex::encode).collect();
    format!(
        "{what}: {why}\n--- saved checkpoint ---\n{old}--- new checkpoint ---\n{new}--- consistency proof ({} hashes) ---\n{}",
        proof.len(),
        proof.join("\n")
    )
}

/// Cosigns `text` (a checkpoint that passed and is saved) and hands it to the log.
async fn cosign(
    client: &mut Audit,
    key: &crate::merkle::WitnessKey,
    text: &str,
) -> Result<proto::AddCosignatureResponse, Failure> {
    let signed = SignedCheckpoint::parse(text).map_err(CliError::ctx("the checkpoint"))?;
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    let line = key
        .cosign(&signed.checkpoint, now)
        .map_err(CliError::ctx("cosigning"))?
        .line();
    let note = format!("{text}{line}\n");
    Ok(client
        .add_cosignature(call(proto::AddCosignatureRequest { checkpoint: note }))
        .await
        .map_err(|s| Failure::rpc("AddCosignature", &s))?
        .into_inner())
}

/// An evidence file a witness wrote next to `state` before, if any.
fn recorded_evidence(state: &Path) -> Option<PathBuf> {
    let mut prefix = state.file_name()?.to_os_string();
    prefix.push(".fork-evidence-");
    let prefix = prefix.to_str()?.to_owned();
    let dir = match state.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .find(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .map(|e| e.path())
}

/// Writes the evidence of a bad round next to the state file, as
/// `<state>.fork-evidence-<UTC time>.txt`, durably.
fn evidence_file(state: &Path, evidence: &str) -> Result<PathBuf, CliError> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let mut name = state.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".fork-evidence-{stamp}.txt"));
    let path = state.with_file_name(name);
    crate::atomic::AtomicFile::write_all(&path, format!("{evidence}\n").as_bytes())?;
    Ok(path)
}

async fn round(
    client: &mut Audit,
    key: &VerifierKey,
    saved: Option<&str>,
    offered: bool,
) -> Result<Round, Failure> {
    let which = proto::GetCheckpointRequest {
        for_witness: offered,
        ..Default::default()
    };
    let cp = client
        .get_checkpoint(call(which))
        .await
        .map_err(|s| Failure::rpc("GetCheckpoint", &s))?
        .into_inner()
        .checkpoint
        .unwrap_or_default();
    let signed = SignedCheckpoint::parse(&cp.text).map_err(CliError::ctx("the checkpoint"))?;
    let new: Checkpoint = match signed.verify(key) {
        Ok(c) => c.clone(),
        Err(e) => {
            return Ok(Round::Bad(format!(
                "BAD SIGNATURE: the newest checkpoint does not verify with the pinned key {key}: {e}\n--- new checkpoint ---\n{}",
                cp.text
            )));
        }
    };
    let Some(saved) = saved else {
        return Ok(Round::Good(cp.text));
    };
    let old_signed =
        SignedCheckpoint::parse(saved).map_err(CliError::ctx("the saved checkpoint"))?;
    let old = old_signed.checkpoint.clone();
    if old.origin != new.origin {
        return Ok(Round::Bad(evidence(
            "ORIGIN CHANGED",
            saved,
            &cp.text,
            &[],
            &format!(
                "the saved checkpoint is of {:?}, the new one of {:?}",
                old.origin, new.origin
            ),
        )));
    }
    if new.size < old.size {
        return Ok(Round::Bad(evidence(
            "ROLLBACK",
            saved,
            &cp.text,
            &[],
            &format!("the log shrank from {} to {} entries", old.size, new.size),
        )));
    }
    if new.size == old.size {
        if new.root != old.root {
            return Ok(Round::Bad(evidence(
                "FORK",
                saved,
                &cp.text,
                &[],
                &format!(
                    "two different roots for size {}: saved {}, new {}",
                    old.size,
                    hex::encode(old.root),
                    hex::encode(new.root)
                ),
            )));
        }
        return Ok(Round::Good(cp.text));
    }
    let resp = client
        .get_consistency_proof(call(proto::GetConsistencyProofRequest {
            old_size: old.size,
            new_size: Some(new.size),
        }))
        .await
        .map_err(|s| Failure::rpc("GetConsistencyProof", &s))?
        .into_inner();
    let mut proof: Vec<Digest> = Vec::with_capacity(resp.hashes.len());
    for h in &resp.hashes {
        match <Digest>::try_from(h.as_slice()) {
            Ok(d) => proof.push(d),
            Err(_) => {
                return Ok(Round::Bad(evidence(
                    "FORK",
                    saved,
                    &cp.text,
                    &proof,
                    &format!("the server sent a proof hash of {} bytes", h.len()),
                )));
            }
        }
    }
    if let Err(e) = verify_consistency(
        &key.profile(),
        old.size,
        new.size,
        &old.root,
        &new.root,
        &proof,
    ) {
        return Ok(Round::Bad(evidence(
            "FORK",
            saved,
            &cp.text,
            &proof,
            &format!(
                "the consistency proof from size {} to size {} does not verify: {e}",
                old.size, new.size
            ),
        )));
    }
    Ok(Round::Good(cp.text))
}
