//! Signed checkpoints: the ledger's statement "my log of this origin has this size and this
//! root, as of this time", in the text form of C2SP `tlog-checkpoint` inside a C2SP
//! `signed-note`.
//!
//! ```text
//! <origin>\n
//! <size, decimal>\n
//! <root, base64 with padding>\n
//! time <YYYY-MM-DDTHH:MM:SSZ>\n
//! \n
//! — <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>\n
//! ```
//!
//! The signature covers the four body lines including the last newline, not the blank line.
//! The body MUST be in canonical form (no leading zeros, canonical base64, whole-second UTC
//! time): a parsed body re-serialises to exactly the bytes that were signed, so the
//! structured [`Checkpoint`] and the signed text cannot disagree.
//!
//! Verification follows C2SP signed-note and Go's `note.Open` (FORMAT.md §2.5): the whole
//! note must parse, so a malformed signature line rejects it whichever key the line names;
//! well-formed lines by other keys (a different name or key id) are ignored, since they may
//! be cosigners; the first line with the verifier's name and key id decides. All base64 is
//! canonical standard base64 ([`decode_base64`]); unlike Go's lenient decoder, non-zero
//! trailing bits are refused too.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, NaiveDateTime, Utc};

use super::hasher::Digest;
use super::key::{CheckpointKey, KeyError, VerifierKey, check_key_name, decode_base64};

/// A note larger than this is refused before parsing (a checkpoint is a few hundred bytes).
pub const MAX_NOTE_BYTES: usize = 64 * 1024;
/// At most this many signature lines (Go's `note` package uses the same bound).
pub const MAX_SIGNATURES: usize = 100;
/// A signature line starts with U+2014 EM DASH and a space (bytes `E2 80 94 20`).
pub const SIGNATURE_PREFIX: &str = "\u{2014} ";
/// The extension line carrying the checkpoint time starts with this.
pub const TIME_PREFIX: &str = "time ";
/// The time format: RFC 3339, UTC, whole seconds, `Z` suffix.
pub const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// Why a checkpoint could not be made, parsed or verified.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The text is larger than [`MAX_NOTE_BYTES`].
    #[error("checkpoint is {len} bytes, more than the maximum {max}")]
    TooLarge {
        /// Length of the text.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The bytes are not UTF-8 text.
    #[error("checkpoint is not valid UTF-8")]
    NotUtf8,
    /// There is no blank line between the body and the signatures.
    #[error("no blank line separates the checkpoint body from its signatures")]
    MissingSeparator,
    /// The body holds a control character other than newline.
    #[error("checkpoint body line {line} contains a control character")]
    ControlCharacter {
        /// 1-based body line.
        line: usize,
    },
    /// The body does not have exactly the four lines origin, size, root, time.
    #[error("checkpoint body has {found} lines; expected 4 (origin, size, root, time)")]
    BodyLines {
        /// Lines found.
        found: usize,
    },
    /// The origin line is empty or has surrounding whitespace.
    #[error("invalid origin {0:?}: it must be non-empty, without surrounding whitespace")]
    InvalidOrigin(String),
    /// The size line is not a canonical decimal u64.
    #[error("invalid size line {0:?}: expected a decimal number without sign or leading zeros")]
    InvalidSize(String),
    /// The root line is not canonical base64 of 32 bytes.
    #[error("invalid root line {0:?}: expected standard padded base64 of 32 bytes")]
    InvalidRoot(String),
    /// The time line is not `time YYYY-MM-DDTHH:MM:SSZ`.
    #[error("invalid time line {0:?}: expected \"time YYYY-MM-DDTHH:MM:SSZ\"")]
    InvalidTime(String),
    /// A time that the text format cannot carry (outside years 0000-9999).
    #[error("time {0} cannot be written as YYYY-MM-DDTHH:MM:SSZ")]
    TimeOutOfRange(String),
    /// There are no signature lines after the blank line.
    #[error("checkpoint has no signature lines")]
    NoSignatures,
    /// More signature lines than [`MAX_SIGNATURES`].
    #[error("checkpoint has more than {MAX_SIGNATURES} signature lines")]
    TooManySignatures,
    /// A signature line is not `— <name> <base64>`.
    #[error("signature line {line} is malformed: {reason}")]
    MalformedSignatureLine {
        /// 1-based signature line.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No signature line carries the verifier's name and key id.
    #[error("no signature by key {name} (key id {key_id}); signatures present: {present}")]
    NoSignatureFromKey {
        /// Verifier key name.
        name: String,
        /// Verifier key id, hex.
        key_id: String,
        /// The `name+keyid` of each signature present.
        present: String,
    },
    /// The signature by the verifier's key does not verify: the body or the signature was
    /// altered, or it was made by a different key of the same name and id.
    #[error(
        "the signature by key {name} (key id {key_id}) does not verify over the checkpoint body"
    )]
    BadSignature {
        /// Verifier key name.
        name: String,
        /// Verifier key id, hex.
        key_id: String,
    },
    /// A key problem while signing.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// What a checkpoint states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, e.g. `rotaledger.example.edu.cn/district-7`: a checkpoint is only
    /// meaningful for the log it names.
    pub origin: String,
    /// Number of entries (leaves).
    pub size: u64,
    /// Merkle root of the first `size` entries.
    pub root: Digest,
    /// When the ledger made the checkpoint, whole seconds UTC.
    pub time: DateTime<Utc>,
}

impl Checkpoint {
    /// A checkpoint; the time is truncated to whole seconds (what the text carries).
    pub fn new(
        origin: &str,
        size: u64,
        root: Digest,
        time: DateTime<Utc>,
    ) -> Result<Self, CheckpointError> {
        check_origin(origin)?;
        let time = DateTime::<Utc>::from_timestamp(time.timestamp(), 0)
            .ok_or_else(|| CheckpointError::TimeOutOfRange(time.to_rfc3339()))?;
        let formatted = time.format(TIME_FORMAT).to_string();
        if parse_time(&formatted) != Some(time) {
            return Err(CheckpointError::TimeOutOfRange(time.to_rfc3339()));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            time,
        })
    }

    /// The signed text: four lines, each ending in a newline.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n{TIME_PREFIX}{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root),
            self.time.format(TIME_FORMAT)
        )
    }

    /// Parses a body (the text before the blank line, with its final newline).
    pub fn parse_body(body: &str) -> Result<Self, CheckpointError> {
        let Some(content) = body.strip_suffix('\n') else {
            return Err(CheckpointError::BodyLines {
                found: body.split('\n').count(),
            });
        };
        let lines: Vec<&str> = content.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            if line.chars().any(char::is_control) {
                return Err(CheckpointError::ControlCharacter { line: i + 1 });
            }
        }
        let [origin, size, root, time] = lines[..] else {
            return Err(CheckpointError::BodyLines { found: lines.len() });
        };
        check_origin(origin)?;
        let size = parse_size(size).ok_or_else(|| CheckpointError::InvalidSize(size.to_owned()))?;
        let root = parse_root(root).ok_or_else(|| CheckpointError::InvalidRoot(root.to_owned()))?;
        let time = time
            .strip_prefix(TIME_PREFIX)
            .and_then(parse_time)
            .ok_or_else(|| CheckpointError::InvalidTime(time.to_owned()))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            time,
        })
    }

    /// Signs the body with `key`.
    ///
    /// The fields are public, so a checkpoint built without [`Checkpoint::new`] is checked
    /// here: the ledger MUST NOT sign a text that verifiers cannot parse back to it.
    pub fn sign(&self, key: &CheckpointKey) -> Result<SignedCheckpoint, CheckpointError> {
        let body = self.body();
        if Checkpoint::parse_body(&body)? != *self {
            return Err(CheckpointError::TimeOutOfRange(format!(
                "{} (sub-second times cannot be signed; use Checkpoint::new)",
                self.time.to_rfc3339()
            )));
        }
        let signature = key.sign_bytes(body.as_bytes())?;
        Ok(SignedCheckpoint {
            checkpoint: self.clone(),
            signatures: vec![NoteSignature {
                key_name: key.name().to_owned(),
                key_id: key.key_id(),
                signature: signature.to_vec(),
            }],
        })
    }
}

/// Origin: non-empty, no surrounding whitespace (control characters are refused earlier).
fn check_origin(origin: &str) -> Result<(), CheckpointError> {
    if origin.is_empty() || origin.trim() != origin || origin.chars().any(char::is_control) {
        return Err(CheckpointError::InvalidOrigin(origin.to_owned()));
    }
    Ok(())
}

/// A canonical decimal u64: digits only, no leading zero except "0" itself.
fn parse_size(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

/// Canonical padded standard base64 of exactly 32 bytes.
fn parse_root(s: &str) -> Option<Digest> {
    decode_base64(s)?.try_into().ok()
}

/// `YYYY-MM-DDTHH:MM:SSZ`, and only its canonical spelling.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    // chrono would read and write years past 9999 as "+10000": not the four-digit form.
    if s.len() != "YYYY-MM-DDTHH:MM:SSZ".len() {
        return None;
    }
    let time = NaiveDateTime::parse_from_str(s, TIME_FORMAT)
        .ok()?
        .and_utc();
    (time.format(TIME_FORMAT).to_string() == s).then_some(time)
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The signer's key name.
    pub key_name: String,
    /// The signer's key id.
    pub key_id: [u8; 4],
    /// The signature bytes (64 for Ed25519; other signers' types may differ).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The line, without its newline: `— <name> <base64(key id || signature)>`.
    pub fn line(&self) -> String {
        let mut bytes = Vec::with_capacity(4 + self.signature.len());
        bytes.extend_from_slice(&self.key_id);
        bytes.extend_from_slice(&self.signature);
        format!(
            "{SIGNATURE_PREFIX}{} {}",
            self.key_name,
            BASE64.encode(bytes)
        )
    }

    /// Parses one line (without its newline); `line` is its 1-based number for errors.
    fn parse(text: &str, line: usize) -> Result<Self, CheckpointError> {
        let bad = |reason| CheckpointError::MalformedSignatureLine { line, reason };
        let rest = text
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(bad("it does not start with an em dash and a space"))?;
        let (name, b64) = rest.split_once(' ').ok_or(bad(
            "expected a key name and a signature separated by a space",
        ))?;
        check_key_name(name).map_err(|_| bad("invalid key name"))?;
        let bytes = decode_base64(b64).ok_or(bad("signature is not canonical standard base64"))?;
        if bytes.len() < 5 {
            return Err(bad("signature is shorter than a key id and one byte"));
        }
        let (id, signature) = bytes.split_at(4);
        Ok(Self {
            key_name: name.to_owned(),
            key_id: [id[0], id[1], id[2], id[3]],
            signature: signature.to_vec(),
        })
    }
}

/// A checkpoint with its signature lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// What is stated.
    pub checkpoint: Checkpoint,
    /// Who signed it (unverified until [`SignedCheckpoint::verify`]).
    pub signatures: Vec<NoteSignature>,
}

impl SignedCheckpoint {
    /// The note text: body, blank line, one line per signature.
    pub fn to_text(&self) -> String {
        let mut text = self.checkpoint.body();
        text.push('\n');
        for sig in &self.signatures {
            text.push_str(&sig.line());
            text.push('\n');
        }
        text
    }

    /// Parses bytes that should be a signed checkpoint (see [`SignedCheckpoint::parse`]).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, CheckpointError> {
        if bytes.len() > MAX_NOTE_BYTES {
            return Err(CheckpointError::TooLarge {
                len: bytes.len(),
                max: MAX_NOTE_BYTES,
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|_| CheckpointError::NotUtf8)?;
        Self::parse(text)
    }

    /// Parses a signed checkpoint. This checks the syntax only: call
    /// [`SignedCheckpoint::verify`] before trusting anything in it.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        if text.len() > MAX_NOTE_BYTES {
            return Err(CheckpointError::TooLarge {
                len: text.len(),
                max: MAX_NOTE_BYTES,
            });
        }
        // As in signed-note: the last blank line separates the body from the signatures.
        let split = text
            .rfind("\n\n")
            .ok_or(CheckpointError::MissingSeparator)?;
        let checkpoint = Checkpoint::parse_body(&text[..=split])?;
        let sigs = &text[split + 2..];
        if sigs.is_empty() {
            return Err(CheckpointError::NoSignatures);
        }
        let lines: Vec<&str> = sigs.split('\n').collect();
        // A final newline leaves one empty string at the end; anything else is unterminated.
        let Some((last, lines)) = lines.split_last() else {
            return Err(CheckpointError::NoSignatures);
        };
        if !last.is_empty() {
            return Err(CheckpointError::MalformedSignatureLine {
                line: lines.len() + 1,
                reason: "the last signature line does not end with a newline",
            });
        }
        if lines.len() > MAX_SIGNATURES {
            return Err(CheckpointError::TooManySignatures);
        }
        let signatures = lines
            .iter()
            .enumerate()
            .map(|(i, line)| NoteSignature::parse(line, i + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            checkpoint,
            signatures,
        })
    }

    /// Checks the signature by `key`: the first signature line with its name and key id
    /// MUST verify over the body; lines by other keys are ignored.
    pub fn verify(&self, key: &VerifierKey) -> Result<&Checkpoint, CheckpointError> {
        let key_id = hex::encode(key.key_id());
        let Some(sig) = self
            .signatures
            .iter()
            .find(|s| s.key_name == key.name() && s.key_id == key.key_id())
        else {
            let present = self
                .signatures
                .iter()
                .map(|s| format!("{}+{}", s.key_name, hex::encode(s.key_id)))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(CheckpointError::NoSignatureFromKey {
                name: key.name().to_owned(),
                key_id,
                present,
            });
        };
        if !key.verify_bytes(self.checkpoint.body().as_bytes(), &sig.signature) {
            return Err(CheckpointError::BadSignature {
                name: key.name().to_owned(),
                key_id,
            });
        }
        Ok(&self.checkpoint)
    }
}

/// Parses `text` and verifies it against `key`: the one call an auditor needs.
pub fn open(text: &str, key: &VerifierKey) -> Result<Checkpoint, CheckpointError> {
    SignedCheckpoint::parse(text)?.verify(key).cloned()
}
