//! One log entry: its stored encoding and the hash that chains it to the one before.
//!
//! The byte layout is specified in `docs/FORMAT.md`; keep the two in step. What is hashed is
//! the *exact stored bytes* of the entry body, never a re-encoding, so a verifier in any
//! language needs no canonical-JSON rules: it hashes the bytes it was given.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::crypto::Profile;

/// A digest of the log's hash `H` (blake3, or SM3 in the `gm` profile): 32 bytes.
pub type Hash = [u8; 32];

/// The hash that the first entry names as its predecessor.
pub const GENESIS_HASH: Hash = [0u8; 32];

/// Domain separation for entry hashes, so an entry hash can never be confused with a Merkle
/// node or any other digest the ledger computes.
pub const ENTRY_HASH_DOMAIN: &[u8] = b"rotaledger.entry.v1\0";

/// Longest actor or request id accepted: they are identifiers, not documents.
pub const MAX_ID_LEN: usize = 128;

/// Length of the fixed prefix of a stored value: previous hash, then own hash.
const STORED_PREFIX: usize = 64;

/// The entry hash: `H(ENTRY_HASH_DOMAIN || seq_be64 || prev_hash || len_be64(body) || body)`,
/// `H` the profile's hash.
pub fn entry_hash(profile: Profile, seq: u64, prev_hash: &Hash, body: &[u8]) -> Hash {
    if profile != Profile::Blake3 {
        let mut h = profile.hasher();
        h.update(ENTRY_HASH_DOMAIN)
            .update(&seq.to_be_bytes())
            .update(prev_hash)
            .update(&(body.len() as u64).to_be_bytes())
            .update(body);
        return h.finalize();
    }
    // Most entries fit one blake3 chunk (1 KiB): assemble them on the stack and hash them in
    // one call, which skips the incremental hasher's set-up (a tenth of a verification).
    const HEADER: usize = ENTRY_HASH_DOMAIN.len() + 8 + 32 + 8;
    const CHUNK: usize = 1024;
    if body.len() <= CHUNK - HEADER {
        let mut buf = [0u8; CHUNK];
        buf[..ENTRY_HASH_DOMAIN.len()].copy_from_slice(ENTRY_HASH_DOMAIN);
        let mut at = ENTRY_HASH_DOMAIN.len();
        for part in [
            &seq.to_be_bytes()[..],
            prev_hash,
            &(body.len() as u64).to_be_bytes(),
            body,
        ] {
            buf[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        return *blake3::hash(&buf[..at]).as_bytes();
    }
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

/// An entry borrowed from its stored value: the same fields as [`Entry`] without copying the
/// body out of the store's buffer. Reading a log (verification, replay on open) touches every
/// entry once, so the copy would be pure overhead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// Position in the log, from 0.
    pub seq: u64,
    /// Hash of the entry before (all zero for the first).
    pub prev_hash: &'a Hash,
    /// This entry's hash, as stored.
    pub hash: &'a Hash,
    /// The exact stored body bytes (a JSON object, see [`Body`]).
    pub body: &'a [u8],
}

impl<'a> EntryRef<'a> {
    /// Splits a stored value into an entry view, like [`Entry::from_stored`] without the copy.
    pub fn from_stored(seq: u64, value: &'a [u8]) -> Result<EntryRef<'a>, DecodeError> {
        let (Some(prev_hash), Some(hash), Some(body)) = (
            value.first_chunk::<32>(),
            value.get(32..).and_then(|v| v.first_chunk::<32>()),
            value.get(STORED_PREFIX..),
        ) else {
            return Err(DecodeError::TooShort(value.len()));
        };
        Ok(EntryRef {
            seq,
            prev_hash,
            hash,
            body,
        })
    }

    /// The hash recomputed from the stored parts.
    pub fn computed_hash(&self, profile: Profile) -> Hash {
        entry_hash(profile, self.seq, self.prev_hash, self.body)
    }

    /// Parses the body, borrowing its strings (see [`BodyRef::parse`]).
    pub fn body(&self) -> Result<BodyRef<'a>, DecodeError> {
        BodyRef::parse(self.body)
    }

    /// An owned copy.
    pub fn to_entry(&self) -> Entry {
        Entry {
            seq: self.seq,
            prev_hash: *self.prev_hash,
            hash: *self.hash,
            body: self.body.to_vec(),
        }
    }
}

/// The fields of a body, borrowed from its bytes where they need no unescaping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyRef<'a> {
    /// Position in the log.
    pub seq: u64,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Who appended it.
    pub actor: Cow<'a, str>,
    /// The client's request id.
    pub request_id: Cow<'a, str>,
    /// The payload JSON text, exactly as stored.
    pub payload: &'a str,
}

impl<'a> BodyRef<'a> {
    /// Parses a body: a JSON object with exactly the members of [`Body`], in any order
    /// (`docs/FORMAT.md` §1.8 step 3), `recorded_at` an RFC 3339 time.
    pub fn parse(body: &'a [u8]) -> Result<BodyRef<'a>, DecodeError> {
        BodyRef::parse_with(body, is_one_json_value)
    }

    /// [`BodyRef::parse`], letting the caller validate the payload: `payload_ok` gets the
    /// payload's text as the body frames it and must return true only if that text is exactly
    /// one JSON value (e.g. because it decoded it, so the replay parses each payload once).
    /// When it returns false the body goes through the general parser, which decides.
    ///
    /// Bodies the ledger wrote take a fast path: the members in their written order, no
    /// whitespace, no escapes in the strings, the time in the one form `format_time`
    /// writes. Anything else (still valid, or not) goes through `serde_json` with the
    /// general RFC 3339 parser, so the result and the errors are those of the general
    /// parser alone; the fast path only ever accepts what it accepts, with the same values.
    pub fn parse_with(
        body: &'a [u8],
        payload_ok: impl FnOnce(&'a str) -> bool,
    ) -> Result<BodyRef<'a>, DecodeError> {
        if let Some(b) = canonical_body(body)
            && payload_ok(b.payload)
        {
            return Ok(b);
        }
        let b: Body<'a> =
            serde_json::from_slice(body).map_err(|e| DecodeError::BadBody(e.to_string()))?;
        let recorded_at = parse_time(&b.recorded_at)
            .ok_or_else(|| DecodeError::BadTime(b.recorded_at.clone()))?;
        Ok(BodyRef {
            seq: b.seq,
            recorded_at,
            actor: b.actor,
            request_id: b.request_id,
            payload: b.payload.get(),
        })
    }

    /// An owned copy.
    pub fn into_meta(self) -> EntryMeta {
        EntryMeta {
            seq: self.seq,
            recorded_at: self.recorded_at,
            actor: self.actor.into_owned(),
            request_id: self.request_id.into_owned(),
            payload: self.payload.to_owned(),
        }
    }
}

/// Whether `s` is exactly one JSON value (surrounding whitespace allowed).
pub fn is_one_json_value(s: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok()
}

/// The body exactly as [`encode_body`] writes it, with no escapes in `recorded_at`, `actor`
/// and `request_id` and the time as [`format_time`] writes it; `None` for anything else.
/// The payload is framed (it starts and ends with a non-blank byte and the body ends right
/// after it) but not validated: that is the caller's part of [`BodyRef::parse_with`].
fn canonical_body(body: &[u8]) -> Option<BodyRef<'_>> {
    // The general parser rejects invalid UTF-8 anywhere in a body (every byte outside its
    // strings is ASCII), so checking the whole body once equals checking each string.
    let text = std::str::from_utf8(body).ok()?;
    let rest = text.strip_prefix("{\"seq\":")?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (num, rest) = rest.split_at(digits);
    // One `0`, or no leading zero; at most u64::MAX (serde_json's rules for a u64).
    if num.is_empty() || (num.len() > 1 && num.starts_with('0')) {
        return None;
    }
    let seq = num.parse::<u64>().ok()?;
    let rest = rest.strip_prefix(",\"recorded_at\":\"")?;
    let (time, rest) = plain_string(rest)?;
    let recorded_at = canonical_time(time.as_bytes())?;
    let rest = rest.strip_prefix(",\"actor\":\"")?;
    let (actor, rest) = plain_string(rest)?;
    let rest = rest.strip_prefix(",\"request_id\":\"")?;
    let (request_id, rest) = plain_string(rest)?;
    let payload = rest.strip_prefix(",\"payload\":")?.strip_suffix('}')?;
    let blank = |b: Option<&u8>| b.is_none_or(|c| matches!(*c, b' ' | b'\t' | b'\n' | b'\r'));
    if blank(payload.as_bytes().first()) || blank(payload.as_bytes().last()) {
        return None;
    }
    Some(BodyRef {
        seq,
        recorded_at,
        actor: Cow::Borrowed(actor),
        request_id: Cow::Borrowed(request_id),
        payload,
    })
}

/// A JSON string's contents up to its closing quote, and what follows the quote; `None` if it
/// holds an escape or a control byte (the general parser unescapes or rejects those).
fn plain_string(s: &str) -> Option<(&str, &str)> {
    let end = s
        .bytes()
        .position(|b| b == b'"' || b == b'\\' || b < 0x20)?;
    (s.as_bytes()[end] == b'"').then(|| (&s[..end], &s[end + 1..]))
}

/// Parses a recorded time: the form [`format_time`] writes by a fast exact parser, anything
/// else by the general RFC 3339 parser.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    canonical_time(s.as_bytes()).or_else(|| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` exactly (27 bytes), a real date and time without a leap
/// second; else `None` (the general parser then decides).
fn canonical_time(b: &[u8]) -> Option<DateTime<Utc>> {
    if b.len() != 27
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[26] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)?;
    let time =
        NaiveTime::from_hms_micro_opt(num(11..13)?, num(14..16)?, num(17..19)?, num(20..26)?)?;
    Some(date.and_time(time).and_utc())
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
    pub fn seal(profile: Profile, seq: u64, prev_hash: Hash, body: Vec<u8>) -> Entry {
        let hash = entry_hash(profile, seq, &prev_hash, &body);
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
    pub fn computed_hash(&self, profile: Profile) -> Hash {
        entry_hash(profile, self.seq, &self.prev_hash, &self.body)
    }

    /// Parses the body.
    pub fn meta(&self) -> Result<EntryMeta, DecodeError> {
        BodyRef::parse(&self.body).map(BodyRef::into_meta)
    }

    /// A borrowed view of this entry.
    pub fn view(&self) -> EntryRef<'_> {
        EntryRef {
            seq: self.seq,
            prev_hash: &self.prev_hash,
            hash: &self.hash,
            body: &self.body,
        }
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
        let e = Entry::seal(Profile::Blake3, 0, GENESIS_HASH, body);
        let back = Entry::from_stored(0, &e.to_stored()).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.computed_hash(Profile::Blake3), e.hash);
        let m = back.meta().unwrap();
        assert_eq!(
            (m.seq, m.actor.as_str(), m.request_id.as_str()),
            (0, "hr", "r1")
        );
        assert_eq!(m.payload, r#"{"a":1}"#);
    }

    #[test]
    fn the_one_call_hash_equals_the_incremental_one() {
        let incremental = |seq: u64, prev: &Hash, body: &[u8]| {
            let mut h = blake3::Hasher::new();
            h.update(ENTRY_HASH_DOMAIN);
            h.update(&seq.to_be_bytes());
            h.update(prev);
            h.update(&(body.len() as u64).to_be_bytes());
            h.update(body);
            *h.finalize().as_bytes()
        };
        let body: Vec<u8> = (0..1200u32).map(|i| (i * 7) as u8).collect();
        for len in (0..1200).filter(|n| n % 7 == 0 || (950..=960).contains(n)) {
            let prev = [len as u8; 32];
            assert_eq!(
                entry_hash(Profile::Blake3, len as u64, &prev, &body[..len]),
                incremental(len as u64, &prev, &body[..len]),
                "{len}"
            );
        }
    }

    #[test]
    fn hash_covers_seq_prev_and_every_body_byte() {
        for p in Profile::ALL {
            let body = b"{\"x\":1}".to_vec();
            let h = entry_hash(p, 3, &GENESIS_HASH, &body);
            assert_ne!(h, entry_hash(p, 4, &GENESIS_HASH, &body));
            assert_ne!(h, entry_hash(p, 3, &[1u8; 32], &body));
            for i in 0..body.len() {
                let mut b = body.clone();
                b[i] ^= 1;
                assert_ne!(h, entry_hash(p, 3, &GENESIS_HASH, &b), "byte {i}");
            }
        }
        let body = b"{}";
        assert_ne!(
            entry_hash(Profile::Blake3, 0, &GENESIS_HASH, body),
            entry_hash(Profile::Gm, 0, &GENESIS_HASH, body)
        );
    }

    /// The gm entry hash is SM3 of the same preimage (checked with SM3 of the concatenation).
    #[test]
    fn the_gm_entry_hash_is_sm3_of_the_preimage() {
        let body = br#"{"seq":2}"#;
        let prev = [5u8; 32];
        let pre = [
            ENTRY_HASH_DOMAIN,
            &2u64.to_be_bytes()[..],
            &prev,
            &(body.len() as u64).to_be_bytes(),
            body,
        ]
        .concat();
        assert_eq!(
            entry_hash(Profile::Gm, 2, &prev, body),
            Profile::Gm.hash(&pre)
        );
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

    /// The general parser alone (the fast path is skipped when the payload check says no).
    fn general(body: &[u8]) -> Result<BodyRef<'_>, DecodeError> {
        BodyRef::parse_with(body, |_| false)
    }

    /// Parses `body` both ways; returns whether the fast path took it.
    fn both_ways(body: &[u8]) -> bool {
        let fast = canonical_body(body).filter(|b| is_one_json_value(b.payload));
        if let Some(f) = &fast {
            assert_eq!(
                Ok(f),
                general(body).as_ref(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(
            BodyRef::parse(body),
            general(body),
            "{}",
            String::from_utf8_lossy(body)
        );
        fast.is_some()
    }

    const T: &str = "2026-11-26T09:30:00.250000Z";

    #[test]
    fn bodies_the_ledger_writes_take_the_fast_path() {
        for (actor, request_id, payload) in [
            ("hr", "r1", r#"{"a":1}"#),
            ("教师", "请求-1", r#"{"text":"交流 \"3年\"\n"}"#),
            ("a/b\u{7f}", "r", "[1,2]"),
            ("hr", "r", "null"),
            ("hr", "r", r#""s""#),
        ] {
            let body = encode_body(u64::MAX, T, actor, request_id, &raw(payload));
            assert!(both_ways(&body), "{}", String::from_utf8_lossy(&body));
            let b = BodyRef::parse(&body).unwrap();
            assert_eq!(
                (b.actor.as_ref(), b.request_id.as_ref(), b.payload),
                (actor, request_id, payload)
            );
            assert!(matches!(b.actor, Cow::Borrowed(_)));
        }
    }

    #[test]
    fn unusual_bodies_go_to_the_general_parser_with_the_same_answer() {
        let ok = |s: &str| {
            assert!(!both_ways(s.as_bytes()), "{s}");
            assert!(BodyRef::parse(s.as_bytes()).is_ok(), "{s}");
        };
        // Valid, but not as the ledger writes them.
        ok(&format!(
            r#"{{"seq":1,"recorded_at":"{T}","actor":"a\"b","request_id":"r","payload":1}}"#
        ));
        ok(&format!(
            r#"{{"seq":1,"recorded_at":"{T}","actor":"\u0041","request_id":"r","payload":1}}"#
        ));
        ok(&format!(
            r#"{{"recorded_at":"{T}","seq":1,"actor":"a","request_id":"r","payload":1}}"#
        ));
        ok(&format!(
            r#"{{"seq":1,"recorded_at":"{T}","actor":"a","request_id":"r","payload": 1 }}"#
        ));
        ok(&format!(
            r#"{{"seq":1,"recorded_at":"{T}","actor":"a","request_id":"r","payload":1}} "#
        ));
        ok(
            r#"{"seq":1,"recorded_at":"2026-11-26T17:30:00.25+08:00","actor":"a","request_id":"r","payload":1}"#,
        );
        ok(
            r#"{"seq":1,"recorded_at":"2026-11-26t09:30:00Z","actor":"a","request_id":"r","payload":1}"#,
        );
        ok(
            r#"{"seq":1,"recorded_at":"2016-12-31T23:59:60.000000Z","actor":"a","request_id":"r","payload":1}"#,
        );
        let bad = |s: &str, want: fn(&DecodeError) -> bool| {
            assert!(!both_ways(s.as_bytes()), "{s}");
            let e = BodyRef::parse(s.as_bytes()).unwrap_err();
            assert!(want(&e), "{s}: {e:?}");
        };
        let body = |p: &str| {
            format!(r#"{{"seq":1,"recorded_at":"{T}","actor":"a","request_id":"r","payload":{p}}}"#)
        };
        let is_body = |e: &DecodeError| matches!(e, DecodeError::BadBody(_));
        let is_time = |e: &DecodeError| matches!(e, DecodeError::BadTime(_));
        bad(&body("{"), is_body);
        bad(&body(r#"1,"x":2"#), is_body);
        bad(&body(r#"1},{"#), is_body);
        bad(&body(""), is_body);
        bad(&body(r#"{"a":1},"payload":2"#), is_body);
        bad(
            &format!(
                r#"{{"seq":01,"recorded_at":"{T}","actor":"a","request_id":"r","payload":1}}"#
            ),
            is_body,
        );
        bad(
            &format!(
                r#"{{"seq":18446744073709551616,"recorded_at":"{T}","actor":"a","request_id":"r","payload":1}}"#
            ),
            is_body,
        );
        bad(
            &format!(
                "{{\"seq\":1,\"recorded_at\":\"{T}\",\"actor\":\"a\u{1}\",\"request_id\":\"r\",\"payload\":1}}"
            ),
            is_body,
        );
        bad(
            &format!(
                r#"{{"seq":1,"recorded_at":"{T}","actor":"a","request_id":"r","payload":1,"x":1}}"#
            ),
            is_body,
        );
        bad(
            r#"{"seq":1,"recorded_at":"2026-02-30T09:30:00.250000Z","actor":"a","request_id":"r","payload":1}"#,
            is_time,
        );
        bad(
            r#"{"seq":1,"recorded_at":"yesterday","actor":"a","request_id":"r","payload":1}"#,
            is_time,
        );
        // Invalid UTF-8, in a string and in the payload.
        for target in [b'b', b'x'] {
            let mut b = encode_body(1, T, "ab", "r", &raw(r#""xy""#));
            let at = b.iter().position(|&c| c == target).unwrap();
            b[at] = 0xff;
            assert!(!both_ways(&b));
            assert!(BodyRef::parse(&b).is_err());
        }
    }

    #[test]
    fn the_fast_time_parser_agrees_with_the_general_one() {
        let general = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        };
        let mut taken = 0;
        for date in [
            "2026-11-26",
            "2024-02-29",
            "2023-02-29",
            "0000-01-01",
            "9999-12-31",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "2026-1a-01",
        ] {
            for time in [
                "00:00:00", "23:59:59", "23:59:60", "24:00:00", "12:60:00", "12:00:61", "1:00:00",
            ] {
                for frac in [
                    ".000000", ".999999", ".123456", ".12345", ".1234567", "", ".00000a",
                ] {
                    for zone in ["Z", "z", "+00:00", "+08:00", ""] {
                        let s = format!("{date}T{time}{frac}{zone}");
                        let fast = canonical_time(s.as_bytes());
                        if fast.is_some() {
                            taken += 1;
                            assert_eq!(fast, general(&s), "{s}");
                        }
                        assert_eq!(parse_time(&s), general(&s), "{s}");
                    }
                }
            }
        }
        // Valid dates x valid times (no leap second) x six-digit fractions, with `Z`.
        assert_eq!(taken, 4 * 2 * 3);
        let now = format_time(Utc::now());
        assert_eq!(canonical_time(now.as_bytes()), general(&now));
    }

    #[test]
    fn a_view_reads_what_the_owned_entry_reads() {
        let e = Entry::seal(
            Profile::Blake3,
            5,
            [7u8; 32],
            encode_body(5, T, "hr", "r1", &raw("{}")),
        );
        let stored = e.to_stored();
        let v = EntryRef::from_stored(5, &stored).unwrap();
        assert_eq!(v, e.view());
        assert_eq!(v.to_entry(), e);
        assert_eq!(v.computed_hash(Profile::Blake3), e.hash);
        assert_eq!(v.body().unwrap().into_meta(), e.meta().unwrap());
        assert_eq!(
            EntryRef::from_stored(0, &stored[..63]),
            Err(DecodeError::TooShort(63))
        );
        assert!(EntryRef::from_stored(0, &stored[..64]).is_ok());
    }
}
