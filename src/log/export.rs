//! The JSON Lines export: a header line, then one line per entry carrying the exact hashed
//! bytes, so an auditor can verify the chain offline with any JSON parser and the log's hash
//! (blake3, or SM3 for a `gm` ledger: the header's `crypto`).
//!
//! Format (see `docs/FORMAT.md`):
//! ```text
//! {"format":"rotaledger-export","version":1,"crypto":"blake3","size":N,"head_hash":"<hex>","root":"<hex>"}
//! {"seq":0,"prev_hash":"<hex>","hash":"<hex>","body":"<the stored body bytes as a JSON string>"}
//! ...
//! ```
//! The body is stored as UTF-8 JSON, so carrying it as a JSON string is exact: decoding the
//! string and encoding it as UTF-8 gives back the hashed bytes.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use super::entry::{Entry, Hash};
use super::store::{Head, Store, StoreError};
use super::verify::{Failure, Problem, Verified, Verifier};
use crate::crypto::Profile;

/// Name in the header's `format` field.
pub const EXPORT_FORMAT: &str = "rotaledger-export";
/// Version in the header's `version` field.
pub const EXPORT_VERSION: u32 = 1;

/// The first line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// Always [`EXPORT_VERSION`].
    pub version: u32,
    /// The log's crypto profile (`blake3`, `gm`); absent in exports made before there were
    /// profiles, which are blake3. Always written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crypto: Option<String>,
    /// Entries that follow.
    pub size: u64,
    /// Hash of the last one (hex; all zeros when empty).
    pub head_hash: String,
    /// Merkle root over the entry hashes (hex).
    pub root: String,
}

impl Header {
    /// The header of an export of `head` of a log of `profile`.
    pub fn new(profile: Profile, head: Head) -> Header {
        Header {
            format: EXPORT_FORMAT.into(),
            version: EXPORT_VERSION,
            crypto: Some(profile.name().into()),
            size: head.size,
            head_hash: hex::encode(head.hash),
            root: hex::encode(head.root),
        }
    }

    /// The export's crypto profile (blake3 when the header names none).
    pub fn profile(&self) -> Result<Profile, ExportError> {
        match &self.crypto {
            None => Ok(Profile::Blake3),
            Some(name) => name
                .parse()
                .map_err(|e: crate::crypto::UnknownProfile| ExportError::BadHeader(e.to_string())),
        }
    }
}

/// One entry line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// Sequence number.
    pub seq: u64,
    /// Previous entry's hash, hex.
    pub prev_hash: String,
    /// This entry's hash, hex.
    pub hash: String,
    /// The exact stored body.
    pub body: String,
}

impl Line {
    /// The line for an entry.
    pub fn of(e: &Entry) -> Result<Line, std::string::FromUtf8Error> {
        Ok(Line {
            seq: e.seq,
            prev_hash: hex::encode(e.prev_hash),
            hash: hex::encode(e.hash),
            body: String::from_utf8(e.body.clone())?,
        })
    }

    /// Back to an entry (hashes are not checked here).
    pub fn to_entry(&self) -> Result<Entry, String> {
        Ok(Entry {
            seq: self.seq,
            prev_hash: parse_hash("prev_hash", &self.prev_hash)?,
            hash: parse_hash("hash", &self.hash)?,
            body: self.body.as_bytes().to_vec(),
        })
    }
}

/// Parses a 64-digit hex hash.
pub fn parse_hash(field: &str, s: &str) -> Result<Hash, String> {
    let v = hex::decode(s).map_err(|e| format!("{field} is not hex: {e}"))?;
    v.try_into()
        .map_err(|v: Vec<u8>| format!("{field} is {} bytes, not 32", v.len()))
}

/// Why an export could not be written or read at all (as opposed to a bad entry in it).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading or writing the file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The header is missing or malformed.
    #[error("not a rotaledger export: {0}")]
    BadHeader(String),
}

/// Writes entries `0..head.size` of `store` (the head read once at the start, so the export is
/// a consistent snapshot even while appends continue) and returns that head.
pub fn export_store(
    store: &Store,
    head: Head,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<Head, ExportError> {
    let header = Header::new(store.profile(), head);
    serde_json::to_writer(&mut *out, &header).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    for item in store.raw_range(0, head.size) {
        let (seq, value) = item?;
        let entry = Entry::from_stored(seq, &value)
            .map_err(|e| StoreError::Corrupt(format!("entry {seq}: {e}")))?;
        let line = Line::of(&entry)
            .map_err(|_| StoreError::Corrupt(format!("entry {seq}: body is not UTF-8")))?;
        serde_json::to_writer(&mut *out, &line).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
        progress(seq + 1);
    }
    out.flush()?;
    Ok(head)
}

/// Reads an export's header.
pub fn read_header(input: &mut dyn BufRead) -> Result<Header, ExportError> {
    let mut first = String::new();
    if input.read_line(&mut first)? == 0 {
        return Err(ExportError::BadHeader("the file is empty".into()));
    }
    let h: Header = serde_json::from_str(first.trim_end())
        .map_err(|e| ExportError::BadHeader(e.to_string()))?;
    if h.format != EXPORT_FORMAT || h.version != EXPORT_VERSION {
        return Err(ExportError::BadHeader(format!(
            "format {:?} version {}, expected {EXPORT_FORMAT:?} version {EXPORT_VERSION}",
            h.format, h.version
        )));
    }
    Ok(h)
}

/// Reads the entries of an export one by one, calling `each` with every entry that verified.
/// Returns the verified head, or the first bad entry. An unreadable line counts as a bad entry
/// (a truncated export ends in one).
pub fn verify_export(
    input: &mut dyn BufRead,
    progress: &mut dyn FnMut(u64),
    each: &mut dyn FnMut(&Entry),
) -> Result<Result<Verified, Failure>, ExportError> {
    let header = read_header(input)?;
    let head_hash = parse_hash("head_hash", &header.head_hash).map_err(ExportError::BadHeader)?;
    let root = parse_hash("root", &header.root).map_err(ExportError::BadHeader)?;
    let mut v = Verifier::new(header.profile()?);
    let mut buf = String::new();
    loop {
        buf.clear();
        if input.read_line(&mut buf)? == 0 {
            break;
        }
        let position = v.head().size;
        let text = buf.strip_suffix('\n').unwrap_or(&buf);
        let entry = serde_json::from_str::<Line>(text)
            .map_err(|e| e.to_string())
            .and_then(|l| l.to_entry());
        let entry = match entry {
            Ok(e) => e,
            Err(why) => {
                return Ok(Err(Failure {
                    seq: position,
                    problem: Problem::Undecodable(format!("line {}: {why}", position + 2)),
                }));
            }
        };
        if let Err(f) = v.check(&entry) {
            return Ok(Err(f));
        }
        each(&entry);
        progress(entry.seq + 1);
    }
    Ok(v.finish(Some(Head {
        size: header.size,
        hash: head_hash,
        root,
    })))
}
