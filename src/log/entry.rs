//! One log entry: its stored encoding and the hash that chains it to the one before.
//!
//! The byte layout is specified in `docs/FORMAT.md`; keep the two in step. What is hashed is
//! the *exact stored bytes* of the entry body, never a re-encoding, so a verifier in any
//! language needs no canonical-JSON rules: it hashes the bytes it was given.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A blake3 digest.
pub type Hash = [u8; 32];

/// The hash that the first entry names as its predecessor.
pub const GENESIS_HASH: Hash = [0u8; 32];

/// Domain separation for entry hashes, so an entry hash can never be confused with a Merkle
/// node or any other blake3 digest the ledger computes.
pub const ENTRY_HASH_DOMAIN: &[u8] = b"rotaledger.entry.v1\0";

/// Longest actor or request id accepted: they are identifiers, not documents.
pub const MAX_ID_LEN: usize = 128;

/// Length of the fixed prefix of a stored value: previous hash, then own hash.
const STORED_PREFIX: usize = 64;

/// The entry hash: `blake3(ENTRY_HASH_DOMAIN || seq_be64 || prev_hash || len_be64(body) || body)`.
pub fn entry_hash(seq: u64, prev_hash: &Hash, body: &[u8]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(ENTRY_HASH_DOMAIN);
    h.update(&seq.to_be_bytes());
    h.update(prev_hash);
    h.update(&(body.len() as u64).to_be_bytes());
    h.update(body);
    *h.finalize().as_bytes()
}

/// The JSON object stored as an entry's body. Field order is fixed by this struct.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body<'a> {
    /// Position in the log, from 0.
    pub seq: u64,
    /// Server clock (UTC) when the append that holds this entry was recorded.
    pub recorded_at: String,
    /// The authenticated principal that appended it.
    #[serde(borrow)]
    pub actor: std::borrow::Cow<'a, str>,
    /// The client's request id (idempotency key, scoped to the actor).
    #[serde(borrow)]
    pub request_id: std::borrow::Cow<'a, str>,
    /// The event, as JSON.
    #[serde(borrow)]
    pub payload: &'a RawValue,
}

/// An entry as read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position in the log, from 0.
    pub seq: u64,
    /// Hash of the entry before (all zero for the first).
    pub prev_hash: Hash,
    /// This entry's hash, as stored.
    pub hash: Hash,
    /// The exact stored body bytes (a JSON object, see [`Body`]).
    pub body: Vec<u8>,
}

/// Why stored bytes could not be read as an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The stored value is shorter than its fixed hash prefix.
    #[error("stored value is {0} bytes, shorter than the 64-byte hash prefix")]
    TooShort(usize),
    /// The body is not the JSON object the format requires.
    #[error("body is not a valid entry object: {0}")]
    BadBody(String),
    /// The recorded time is not an RFC 3339 UTC timestamp.
    #[error("recorded_at {0:?} is not an RFC 3339 UTC timestamp")]
    BadTime(String),
}

/// The fields of a body, owned, for callers that want more than the raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMeta {
    /// Position in the log.
    pub seq: u64,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Who appended it.
    pub actor: String,
    /// The client's request id.
    pub request_id: String,
    /// The payload JSON text, exactly as stored.
    pub payload: String,
}

impl Entry {
    /// Builds an entry from its parts, computing its hash.
    pub fn seal(seq: u64, prev_hash: Hash, body: Vec<u8>) -> Entry {
        let hash = entry_hash(seq, &prev_hash, &body);
        Entry {
            seq,
            prev_hash,
            hash,
            body,
        }
    }

    /// The value stored under this entry's key: `prev_hash || hash || body`.
    pub fn to_stored(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(STORED_PREFIX + self.body.len());
        v.extend_from_slice(&self.prev_hash);
        v.extend_from_slice(&self.hash);
        v.extend_from_slice(&self.body);
        v
    }

    /// Splits a stored value back into an entry. Does not check the hash: that is
    /// verification's job, which must report *what* is wrong rather than fail to read.
    pub fn from_stored(seq: u64, value: &[u8]) -> Result<Entry, DecodeError> {
        if value.len() < STORED_PREFIX {
            return Err(DecodeError::TooShort(value.len()));
        }
        let mut prev_hash = [0u8; 32];
        prev_hash.copy_from_slice(&value[..32]);
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&value[32..64]);
        Ok(Entry {
            seq,
            prev_hash,
            hash,
            body: value[STORED_PREFIX..].to_vec(),
        })
    }

    /// The hash recomputed from the stored parts.
    pub fn computed_hash(&self) -> Hash {
        entry_hash(self.seq, &self.prev_hash, &self.body)
    }

    /// Parses the body.
    pub fn meta(&self) -> Result<EntryMeta, DecodeError> {
        let body: Body<'_> =
            serde_json::from_slice(&self.body).map_err(|e| DecodeError::BadBody(e.to_string()))?;
        let recorded_at = DateTime::parse_from_rfc3339(&body.recorded_at)
            .map_err(|_| DecodeError::BadTime(body.recorded_at.clone()))?
            .with_timezone(&Utc);
        Ok(EntryMeta {
            seq: body.seq,
            recorded_at,
            actor: body.actor.into_owned(),
            request_id: body.request_id.into_owned(),
            payload: body.payload.get().to_owned(),
        })
    }
}

/// Formats a recorded time the one way the log stores it (microseconds, `Z`).
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Encodes a body. `payload` must already be valid JSON text.
pub fn encode_body(
    seq: u64,
    recorded_at: &str,
    actor: &str,
    request_id: &str,
    payload: &RawValue,
) -> Vec<u8> {
    let body = Body {
        seq,
        recorded_at: recorded_at.to_owned(),
        actor: actor.into(),
        request_id: request_id.into(),
        payload,
    };
    // Serialising a struct of strings, an integer and a RawValue into a Vec cannot fail.
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Checks an actor or request id: non-empty, at most [`MAX_ID_LEN`] bytes, no control
/// characters (they would make logs and exports ambiguous to read).
pub fn check_id(what: &'static str, s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if s.len() > MAX_ID_LEN {
        return Err(format!(
            "{what} is {} bytes, longer than {MAX_ID_LEN}",
            s.len()
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(format!("{what} contains a control character"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn stored_round_trip_and_hash() {
        let body = encode_body(
            0,
            "2026-01-01T00:00:00.000000Z",
            "hr",
            "r1",
            &raw(r#"{"a":1}"#),
        );
        let e = Entry::seal(0, GENESIS_HASH, body);
        let back = Entry::from_stored(0, &e.to_stored()).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.computed_hash(), e.hash);
        let m = back.meta().unwrap();
        assert_eq!(
            (m.seq, m.actor.as_str(), m.request_id.as_str()),
            (0, "hr", "r1")
        );
        assert_eq!(m.payload, r#"{"a":1}"#);
    }

    #[test]
    fn hash_covers_seq_prev_and_every_body_byte() {
        let body = b"{\"x\":1}".to_vec();
        let h = entry_hash(3, &GENESIS_HASH, &body);
        assert_ne!(h, entry_hash(4, &GENESIS_HASH, &body));
        assert_ne!(h, entry_hash(3, &[1u8; 32], &body));
        for i in 0..body.len() {
            let mut b = body.clone();
            b[i] ^= 1;
            assert_ne!(h, entry_hash(3, &GENESIS_HASH, &b), "byte {i}");
        }
    }

    #[test]
    fn body_encoding_is_escaped_json() {
        let body = encode_body(7, "t", "a\"b", "教师", &raw("[1,2]"));
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"seq":7,"recorded_at":"t","actor":"a\"b","request_id":"教师","payload":[1,2]}"#
        );
    }

    #[test]
    fn ids_are_checked() {
        assert!(check_id("actor", "hr-1").is_ok());
        assert!(check_id("actor", "").is_err());
        assert!(check_id("actor", "a\nb").is_err());
        assert!(check_id("actor", &"x".repeat(129)).is_err());
        assert!(check_id("actor", &"x".repeat(128)).is_ok());
    }

    #[test]
    fn short_values_do_not_decode() {
        assert_eq!(
            Entry::from_stored(0, &[0u8; 63]),
            Err(DecodeError::TooShort(63))
        );
    }
}
