//! The rotation certificate (交流轮岗证明): a self-contained JSON file that anyone can check
//! offline against the ledger's public key: every entry about one teacher with its exact
//! stored bytes and an inclusion proof, one signed checkpoint those proofs lead to, and the
//! ledger's signed statement of what those entries add up to (the teacher's terms,
//! evaluations, promotions and promotion-credit eligibility as of a date).
//!
//! ```text
//! {
//!   "format": "rotaledger-certificate",
//!   "version": 1,
//!   "hash": "blake3",
//!   "checkpoint": "<the signed checkpoint note, as text>",
//!   "statement": "<compact JSON text: what the ledger states, signed>",
//!   "signature": "<base64(4-byte key id || 64-byte Ed25519 signature)>",
//!   "entries": [
//!     {"seq": 3, "prev_hash": "<hex>", "hash": "<hex>", "body": "<exact stored body>",
//!      "proof": ["<hex>", ...]},
//!     ...
//!   ]
//! }
//! ```
//!
//! **Contracts.**
//! - The statement signature MUST be over `"rotaledger certificate statement v1\0" ||
//!   statement bytes`: the zero byte is a control character no checkpoint body may hold,
//!   so no statement signature can ever pass for a checkpoint signature, nor the reverse.
//! - [`verify`] MUST refuse a certificate unless every entry's hash matches its bytes, every
//!   inclusion proof leads to the checkpoint's root, the checkpoint and the statement are
//!   signed by the key given, the statement names that checkpoint, every entry is about the
//!   teacher, and the entries are exactly the teacher's chain (`teacher_prev`, EVENTS.md)
//!   from the head the statement names back to its start: an entry removed, added or
//!   changed is refused, with the reason ([`Refusal`]) naming the entry.
//! - The certificate hash ([`Verified::hash`]) is `H(statement bytes)`: the statement names
//!   the checkpoint and the chain's head, so it identifies everything the file proves,
//!   whatever the file's whitespace.
//!
//! Byte-level description: `docs/FORMAT.md` §2.8. Verification is pure computation; the
//! ledger builds certificates (`ledger::certificate`), `rotaledger audit certificate` checks
//! them, [`text`] says what a verified one states in plain words.

pub mod text;

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::crypto::Profile;
use crate::log::entry::entry_hash;
use crate::merkle::key::decode_base64;
use crate::merkle::proof::MAX_INCLUSION_HASHES;
use crate::merkle::{
    Checkpoint, CheckpointError, CheckpointKey, ConsistencyProof, Digest, KeyError, ProofMismatch,
    SignedCheckpoint, TreeHasher, VerifierKey, VerifyError, verify_inclusion,
};

/// The `format` field of a certificate file.
pub const CERTIFICATE_FORMAT: &str = "rotaledger-certificate";
/// The `format` field of a statement.
pub const STATEMENT_FORMAT: &str = "rotaledger-certificate-statement";
/// The version this code writes and reads (file and statement).
pub const CERTIFICATE_VERSION: u32 = 1;
/// The `hash` field of a blake3 ledger's certificates: the entry hash and tree hash function
/// (a `gm` ledger's say `sm3`, [`Profile::hash_name`]).
pub const CERTIFICATE_HASH: &str = "blake3";
/// What the statement signature signs before the statement's bytes (36 bytes, ending in a
/// zero byte that no checkpoint body can hold).
pub const STATEMENT_PREFIX: &[u8] = b"rotaledger certificate statement v1\0";
/// A certificate larger than this is refused unread (a teacher's whole career is a few
/// hundred kilobytes).
pub const MAX_CERTIFICATE_BYTES: usize = 16 * 1024 * 1024;

/// One entry of a certificate: the stored entry and its inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertEntry {
    /// Its sequence number (leaf index).
    pub seq: u64,
    /// The previous entry's hash, hex.
    pub prev_hash: String,
    /// Its entry hash, hex.
    pub hash: String,
    /// The exact stored body (UTF-8 JSON text).
    pub body: String,
    /// The inclusion proof in the checkpoint's tree, deepest sibling first, hex.
    pub proof: Vec<String>,
}

/// The certificate file as it is written and read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// [`CERTIFICATE_FORMAT`].
    pub format: String,
    /// [`CERTIFICATE_VERSION`].
    pub version: u32,
    /// [`CERTIFICATE_HASH`].
    pub hash: String,
    /// The signed checkpoint (C2SP signed note), with the ledger's signature and any
    /// cosignatures.
    pub checkpoint: String,
    /// The statement: compact JSON text ([`Statement`]); its bytes are what is signed.
    pub statement: String,
    /// `base64(key id || signature)` over [`STATEMENT_PREFIX`] and the statement.
    pub signature: String,
    /// Every entry about the teacher up to the checkpoint, in log order.
    pub entries: Vec<CertEntry>,
}

/// The chain head a statement names: the latest entry about the teacher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    /// Its sequence number.
    pub seq: u64,
    /// Its entry hash, hex.
    pub hash: String,
}

/// What the ledger states, signed. Members in this order, compact JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// [`STATEMENT_FORMAT`].
    pub format: String,
    /// [`CERTIFICATE_VERSION`].
    pub version: u32,
    /// The checkpoint's origin.
    pub origin: String,
    /// The checkpoint's size.
    pub size: u64,
    /// The checkpoint's root, hex.
    pub root: String,
    /// The teacher.
    pub teacher: String,
    /// The date the summary answers for (YYYY-MM-DD).
    pub as_of: String,
    /// How many entries are about the teacher in the first `size` entries.
    pub entries: u64,
    /// The latest of them: the head of the teacher's chain.
    pub head: Head,
    /// The names of the schools the summary mentions, by id.
    pub schools: BTreeMap<String, String>,
    /// The ledger's answer for the teacher as of `as_of`: the `summary` object of the
    /// TeacherHistory answer in its JSON form (docs/HTTP.md). Its `name` is present only in a
    /// certificate made for the teacher themself.
    pub summary: Box<RawValue>,
}

/// Why a certificate is refused: what a checker reports as a problem found. Each names the
/// check ([`Refusal::code`]) and the entry or value that failed it.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Larger than [`MAX_CERTIFICATE_BYTES`].
    #[error("{len} bytes, more than a certificate can have ({MAX_CERTIFICATE_BYTES})")]
    TooLarge {
        /// The size.
        len: usize,
    },
    /// Not a certificate file: not JSON, a wrong field or value (serde's message names the
    /// line and column).
    #[error("not a well-formed certificate: {0}")]
    Malformed(String),
    /// The checkpoint does not parse, or is not signed by the key.
    #[error("the checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The statement signature is not by the key, or does not verify.
    #[error("the statement's signature: {0}")]
    StatementSignature(String),
    /// The statement does not parse.
    #[error("the statement is not well-formed: {0}")]
    StatementMalformed(String),
    /// The statement is about another checkpoint than the one in the file.
    #[error(
        "the statement is about another checkpoint: its {field} is {statement}, the checkpoint's {checkpoint}"
    )]
    OtherCheckpoint {
        /// `origin`, `size` or `root`.
        field: &'static str,
        /// The statement's value.
        statement: String,
        /// The checkpoint's.
        checkpoint: String,
    },
    /// An entry's bytes do not hash to its hash.
    #[error("entry {seq}: its bytes do not hash to its hash {stated} (they hash to {computed})")]
    EntryHash {
        /// The entry.
        seq: u64,
        /// The hash the file gives.
        stated: String,
        /// The hash of its bytes.
        computed: String,
    },
    /// An entry is not a well-formed entry (hex, body JSON, its body's `seq`).
    #[error("entry {seq}: {problem}")]
    EntryMalformed {
        /// The entry.
        seq: u64,
        /// What is wrong.
        problem: String,
    },
    /// Entries out of order, repeated, or beyond the checkpoint.
    #[error("entry {seq}: {problem}")]
    Order {
        /// The entry.
        seq: u64,
        /// What is wrong.
        problem: String,
    },
    /// An entry's inclusion proof does not lead to the checkpoint's root.
    #[error(
        "entry {seq}: its inclusion proof does not lead to the checkpoint's root (size {size}): {error}"
    )]
    Inclusion {
        /// The entry.
        seq: u64,
        /// The checkpoint's size.
        size: u64,
        /// Why.
        error: VerifyError,
    },
    /// An entry names another teacher.
    #[error("entry {seq} is about teacher {found}, not {teacher}")]
    ForeignEntry {
        /// The entry.
        seq: u64,
        /// The teacher it names.
        found: String,
        /// The certificate's teacher.
        teacher: String,
    },
    /// An entry is not about any teacher (no `teacher_prev` link).
    #[error("entry {seq} is not about a teacher (it has no teacher_prev link)")]
    NotAboutTeacher {
        /// The entry.
        seq: u64,
    },
    /// The teacher's chain does not link: an entry was removed, added or replaced.
    #[error(
        "the teacher's chain is broken at entry {seq}: its teacher_prev is {found}, the entry before it in the certificate is {expected}"
    )]
    Chain {
        /// The entry whose link fails.
        seq: u64,
        /// What its link names.
        found: String,
        /// What it should name.
        expected: String,
    },
    /// The last entry is not the head the statement names, or the count differs.
    #[error("the certificate's entries end at {found}, the statement names the head {expected}")]
    Head {
        /// The last entry (seq:hash) and count in the file.
        found: String,
        /// What the statement names.
        expected: String,
    },
    /// The summary does not read, or names a dispatch with no entry in the certificate.
    #[error("the statement's summary: {0}")]
    Summary(String),
    /// A later checkpoint does not extend the certificate's (checked with `--consistency`).
    #[error("the later checkpoint: {0}")]
    Consistency(String),
}

impl Refusal {
    /// A short name of the check that failed, stable for scripts and tests.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::TooLarge { .. } | Refusal::Malformed(_) => "malformed",
            Refusal::Checkpoint(_) => "checkpoint-signature",
            Refusal::StatementSignature(_) => "statement-signature",
            Refusal::StatementMalformed(_) => "statement-malformed",
            Refusal::OtherCheckpoint { .. } => "other-checkpoint",
            Refusal::EntryHash { .. } => "entry-hash",
            Refusal::EntryMalformed { .. } => "entry-malformed",
            Refusal::Order { .. } => "entry-order",
            Refusal::Inclusion { .. } => "inclusion",
            Refusal::ForeignEntry { .. } | Refusal::NotAboutTeacher { .. } => "foreign-entry",
            Refusal::Chain { .. } => "chain",
            Refusal::Head { .. } => "head",
            Refusal::Summary(_) => "summary",
            Refusal::Consistency(_) => "consistency",
        }
    }
}

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Signing failed.
    #[error("signing the statement: {0}")]
    Key(#[from] KeyError),
    /// Serialising failed.
    #[error("writing the statement: {0}")]
    Json(#[from] serde_json::Error),
}

/// One verified entry, its body read.
#[derive(Debug, Clone)]
pub struct VerifiedEntry {
    /// Sequence number.
    pub seq: u64,
    /// Entry hash.
    pub hash: Digest,
    /// Server time of the append (`recorded_at` of the body).
    pub recorded_at: String,
    /// The payload.
    pub payload: serde_json::Value,
}

impl VerifiedEntry {
    /// The event type.
    pub fn event_type(&self) -> &str {
        self.payload
            .get("type")
            .and_then(|v| v.as_str())
            .unwrap_or("")
    }

    /// A string field of the payload.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.payload.get(name).and_then(|v| v.as_str())
    }
}

/// What a verified certificate proves.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The checkpoint, its signature verified.
    pub checkpoint: Checkpoint,
    /// The statement, its signature verified.
    pub statement: Statement,
    /// The summary, read.
    pub summary: text::Summary,
    /// The teacher's entries, in log order, each in the checkpoint's tree.
    pub entries: Vec<VerifiedEntry>,
    /// The certificate hash: `H(statement bytes)`.
    pub hash: Digest,
}

/// The bytes the statement signature covers.
pub fn signed_bytes(statement: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(STATEMENT_PREFIX.len() + statement.len());
    m.extend_from_slice(STATEMENT_PREFIX);
    m.extend_from_slice(statement.as_bytes());
    m
}

/// The certificate hash of a statement: `H(statement)` with the log's hash.
pub fn certificate_hash(profile: Profile, statement: &str) -> Digest {
    profile.hash(statement.as_bytes())
}

impl Certificate {
    /// A certificate of `statement` (serialised here), signed with `key`.
    pub fn sign(
        key: &CheckpointKey,
        checkpoint: &SignedCheckpoint,
        statement: &Statement,
        entries: Vec<CertEntry>,
    ) -> Result<Certificate, BuildError> {
        let text = serde_json::to_string(statement)?;
        let sig = key.sign_bytes(&signed_bytes(&text))?;
        let mut b = Vec::with_capacity(68);
        b.extend_from_slice(&key.key_id());
        b.extend_from_slice(&sig);
        Ok(Certificate {
            format: CERTIFICATE_FORMAT.into(),
            version: CERTIFICATE_VERSION,
            hash: key.profile().hash_name().into(),
            checkpoint: checkpoint.to_text(),
            statement: text,
            signature: BASE64.encode(b),
            entries,
        })
    }

    /// The file text: pretty-printed JSON (two-space indent) and a final newline.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let mut s = serde_json::to_string_pretty(self)?;
        s.push('\n');
        Ok(s)
    }

    /// Parses a file of a log of `profile` (shape only; [`verify`] checks it).
    pub fn parse(bytes: &[u8], profile: Profile) -> Result<Certificate, Refusal> {
        if bytes.len() > MAX_CERTIFICATE_BYTES {
            return Err(Refusal::TooLarge { len: bytes.len() });
        }
        let c: Certificate =
            serde_json::from_slice(bytes).map_err(|e| Refusal::Malformed(e.to_string()))?;
        for (field, value, expected) in [
            ("format", c.format.as_str(), CERTIFICATE_FORMAT),
            ("hash", c.hash.as_str(), profile.hash_name()),
        ] {
            if value != expected {
                return Err(Refusal::Malformed(format!(
                    "{field} is {value:?}, expected {expected:?}"
                )));
            }
        }
        if c.version != CERTIFICATE_VERSION {
            return Err(Refusal::Malformed(format!(
                "version {} is not supported (this program reads version {CERTIFICATE_VERSION})",
                c.version
            )));
        }
        Ok(c)
    }
}

/// 64 lower-case hex digits, or `None`.
fn hex32(s: &str) -> Option<Digest> {
    let canonical = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    canonical
        .then(|| hex::decode(s).ok()?.try_into().ok())
        .flatten()
}

/// The `teacher_prev` link of a payload: `Ok(None)` for `null`, `Err(())` when absent or
/// malformed.
fn teacher_prev(payload: &serde_json::Value) -> Result<Option<(u64, String)>, String> {
    match payload.get("teacher_prev") {
        None => Err("no teacher_prev link".into()),
        Some(serde_json::Value::Null) => Ok(None),
        Some(v) => {
            let seq = v.get("seq").and_then(|s| s.as_u64());
            let hash = v.get("hash").and_then(|s| s.as_str());
            match (seq, hash) {
                (Some(seq), Some(h)) if hex32(h).is_some() => Ok(Some((seq, h.to_owned()))),
                _ => Err(format!(
                    "teacher_prev {v} is not {{\"seq\":N,\"hash\":\"<hex>\"}}"
                )),
            }
        }
    }
}

/// Verifies a certificate against the ledger's key: see the module's contracts.
pub fn verify(bytes: &[u8], key: &VerifierKey) -> Result<Verified, Refusal> {
    // The key's type names the log's profile: its hash must be the certificate's.
    let profile = key.profile();
    let cert = Certificate::parse(bytes, profile)?;
    // 1. The checkpoint, signed by the key.
    let checkpoint = SignedCheckpoint::parse(&cert.checkpoint)?
        .verify(key)?
        .clone();

    // 2. The statement, signed by the same key.
    let sig = decode_base64(&cert.signature)
        .filter(|b| b.len() == 68)
        .ok_or_else(|| {
            Refusal::StatementSignature(
                "not canonical base64 of a 4-byte key id and a 64-byte signature".into(),
            )
        })?;
    let (id, sig) = sig.split_at(4);
    if id != key.key_id() {
        return Err(Refusal::StatementSignature(format!(
            "made by the key with id {}, not by {} (key id {})",
            hex::encode(id),
            key.name(),
            hex::encode(key.key_id())
        )));
    }
    if !key.verify_bytes(&signed_bytes(&cert.statement), sig) {
        return Err(Refusal::StatementSignature(format!(
            "it does not verify with {} over the statement: the statement or the signature was altered",
            key.name()
        )));
    }
    let statement: Statement = serde_json::from_str(&cert.statement)
        .map_err(|e| Refusal::StatementMalformed(e.to_string()))?;
    if statement.format != STATEMENT_FORMAT || statement.version != CERTIFICATE_VERSION {
        return Err(Refusal::StatementMalformed(format!(
            "format {:?} version {} (expected {STATEMENT_FORMAT:?} version {CERTIFICATE_VERSION})",
            statement.format, statement.version
        )));
    }

    // 3. The statement is about this checkpoint.
    let root = hex::encode(checkpoint.root);
    for (field, s, c) in [
        (
            "origin",
            statement.origin.clone(),
            checkpoint.origin.clone(),
        ),
        (
            "size",
            statement.size.to_string(),
            checkpoint.size.to_string(),
        ),
        ("root", statement.root.clone(), root),
    ] {
        if s != c {
            return Err(Refusal::OtherCheckpoint {
                field,
                statement: s,
                checkpoint: c,
            });
        }
    }

    // 4. Each entry: its hash, its body, its proof, its teacher.
    let teacher = statement.teacher.as_str();
    let mut entries: Vec<VerifiedEntry> = Vec::with_capacity(cert.entries.len());
    let mut dispatches: Vec<String> = Vec::new();
    // The chain link the next entry must carry: `null` for the first.
    let mut expected: Option<(u64, String)> = None;
    for e in &cert.entries {
        let seq = e.seq;
        let bad = |problem: String| Refusal::EntryMalformed { seq, problem };
        if let Some(last) = entries.last()
            && seq <= last.seq
        {
            return Err(Refusal::Order {
                seq,
                problem: format!(
                    "it comes after entry {} (entries must be in log order)",
                    last.seq
                ),
            });
        }
        if seq >= checkpoint.size {
            return Err(Refusal::Order {
                seq,
                problem: format!("beyond the checkpoint's {} entries", checkpoint.size),
            });
        }
        let prev = hex32(&e.prev_hash)
            .ok_or_else(|| bad("prev_hash is not 64 lower-case hex digits".into()))?;
        let stated =
            hex32(&e.hash).ok_or_else(|| bad("hash is not 64 lower-case hex digits".into()))?;
        let computed = entry_hash(profile, seq, &prev, e.body.as_bytes());
        if computed != stated {
            return Err(Refusal::EntryHash {
                seq,
                stated: e.hash.clone(),
                computed: hex::encode(computed),
            });
        }
        if e.proof.len() > MAX_INCLUSION_HASHES {
            return Err(bad(format!("its proof has {} hashes", e.proof.len())));
        }
        let proof = e
            .proof
            .iter()
            .map(|h| hex32(h).ok_or_else(|| bad(format!("proof hash {h:?} is not 64 hex digits"))))
            .collect::<Result<Vec<Digest>, _>>()?;
        verify_inclusion(
            &profile,
            seq,
            checkpoint.size,
            &profile.hash_leaf(&computed),
            &proof,
            &checkpoint.root,
        )
        .map_err(|error| Refusal::Inclusion {
            seq,
            size: checkpoint.size,
            error,
        })?;
        // The body: `seq` where it is, a payload.
        let body: serde_json::Value =
            serde_json::from_str(&e.body).map_err(|x| bad(format!("its body is not JSON: {x}")))?;
        if body.get("seq").and_then(|s| s.as_u64()) != Some(seq) {
            return Err(bad("its body's seq is not its sequence number".into()));
        }
        let payload = body
            .get("payload")
            .cloned()
            .ok_or_else(|| bad("its body has no payload".into()))?;
        let recorded_at = body
            .get("recorded_at")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        let v = VerifiedEntry {
            seq,
            hash: computed,
            recorded_at,
            payload,
        };
        // Another teacher named is the clearest reason; then the chain (a gap shows there);
        // then the dispatch a return or evaluation names.
        names_teacher(&v, teacher)?;
        let found = teacher_prev(&v.payload).map_err(|_| Refusal::NotAboutTeacher { seq })?;
        if found != expected {
            let show = |l: &Option<(u64, String)>| match l {
                None => "null (the first entry about the teacher)".to_owned(),
                Some((s, h)) => format!("entry {s} ({h})"),
            };
            return Err(Refusal::Chain {
                seq,
                found: show(&found),
                expected: show(&expected),
            });
        }
        expected = Some((seq, hex::encode(computed)));
        of_teachers_dispatch(&v, teacher, &dispatches)?;
        if v.event_type() == "teacher_dispatched"
            && let Some(d) = v.field("dispatch")
        {
            dispatches.push(d.to_owned());
        }
        entries.push(v);
    }

    // 5. The chain ends at the head the statement names.
    let found = entries
        .last()
        .map(|v| (v.seq, hex::encode(v.hash)))
        .unwrap_or((0, "none".into()));
    if found.0 != statement.head.seq
        || found.1 != statement.head.hash
        || entries.len() as u64 != statement.entries
    {
        return Err(Refusal::Head {
            found: format!("entry {} ({}), {} entries", found.0, found.1, entries.len()),
            expected: format!(
                "entry {} ({}), {} entries",
                statement.head.seq, statement.head.hash, statement.entries
            ),
        });
    }

    // 6. The summary reads, and speaks of these entries' dispatches only.
    // `null`: the teacher's registration was voided, so there is nothing to sum up.
    let summary: text::Summary = match statement.summary.get() {
        "null" => text::Summary::default(),
        s => serde_json::from_str(s).map_err(|e| Refusal::Summary(e.to_string()))?,
    };
    for d in &summary.dispatches {
        if !dispatches.contains(&d.dispatch) {
            return Err(Refusal::Summary(format!(
                "it names dispatch {}, which no entry of the certificate records",
                d.dispatch
            )));
        }
    }
    Ok(Verified {
        hash: certificate_hash(profile, &cert.statement),
        checkpoint,
        statement,
        summary,
        entries,
    })
}

/// Checks an entry that names a teacher names `teacher` (EVENTS.md, "Which entries are about
/// a teacher").
fn names_teacher(v: &VerifiedEntry, teacher: &str) -> Result<(), Refusal> {
    if let Some(t) = v.field("teacher")
        && t != teacher
    {
        return Err(Refusal::ForeignEntry {
            seq: v.seq,
            found: t.to_owned(),
            teacher: teacher.to_owned(),
        });
    }
    Ok(())
}

/// Checks a return or an evaluation names a dispatch of the teacher recorded earlier in the
/// certificate. A void is about the teacher of what it voids, which the chain shows.
fn of_teachers_dispatch(
    v: &VerifiedEntry,
    teacher: &str,
    dispatches: &[String],
) -> Result<(), Refusal> {
    if matches!(v.event_type(), "teacher_returned" | "teacher_evaluated")
        && let Some(d) = v.field("dispatch")
        && !dispatches.iter().any(|x| x == d)
    {
        return Err(Refusal::ForeignEntry {
            seq: v.seq,
            found: format!("of dispatch {d}"),
            teacher: teacher.to_owned(),
        });
    }
    Ok(())
}

/// Checks that `newer` (signed by `key`) extends the certificate's checkpoint by `proof`: a
/// committee holding a later checkpoint learns the certificate's log was not forked.
pub fn verify_later(
    verified: &Verified,
    newer: &SignedCheckpoint,
    proof: &ConsistencyProof,
    key: &VerifierKey,
) -> Result<Checkpoint, Refusal> {
    let new = newer
        .verify(key)
        .map_err(|e| Refusal::Consistency(e.to_string()))?
        .clone();
    proof
        .verify(&verified.checkpoint, &new)
        .map_err(|e: ProofMismatch| Refusal::Consistency(e.to_string()))?;
    Ok(new)
}

#[cfg(test)]
mod tests;
