//! Witness cosignatures (C2SP `tlog-cosignature`, version 1, Ed25519): a witness's statement
//! "as of this time, the largest tree of this log I have seen, and checked consistent with
//! every one I saw before, is this checkpoint". A log that collects cosignatures from
//! witnesses run by other offices cannot show one history to some readers and another to
//! others without a witness signing both, which it never does (FORMAT.md §2.9).
//!
//! A cosignature is one more signature line of the checkpoint's note:
//!
//! ```text
//! — <witness name> base64(key id || be64(timestamp) || Ed25519 signature)
//! ```
//!
//! - key id: `SHA-256(name || "\n" || 0x04 || 32-byte public key)[..4]`;
//! - signed message: `cosignature/v1\n`, `time <timestamp>\n` (POSIX seconds, decimal, no
//!   leading zero), then the checkpoint's whole body (its four lines, with the time line);
//! - witness verifier key: `<name>+<key id hex>+<base64(0x04 || public key)>`;
//! - witness key file: `PRIVATE+KEY+<name>+<key id hex>+<base64(0x04 || 32-byte seed)>`, the
//!   same file rules as the checkpoint key (owner-only, never overwritten, durable).
//!
//! Cosignatures are Ed25519 in both crypto profiles: C2SP defines no SM2 cosignature, and a
//! witness's key is its own, not the log's.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::Digest as _;

use super::checkpoint::{Checkpoint, NoteSignature, SignedCheckpoint};
use super::key::{
    KeyError, check_key_name, load_private_text, parse_key_text, parse_private_text, private_text,
    save_private_text,
};

/// The signed-note type byte of a C2SP cosignature/v1 (Ed25519) key.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// The first line of every cosigned message: domain separation from checkpoint signatures.
pub const COSIGNATURE_HEADER: &str = "cosignature/v1\n";

/// Bytes after the key id in a cosignature line: the timestamp and the signature.
pub const COSIGNATURE_LEN: usize = 8 + 64;

/// The largest timestamp a cosignature may carry (C2SP: at most 2^63 - 1).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// Why a cosignature, or a quorum of them, does not hold.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CosignatureError {
    /// The witness's line is there but is not a cosignature/v1 of 72 bytes.
    #[error(
        "the cosignature by witness {name} is {len} bytes after its key id; a cosignature/v1 is {COSIGNATURE_LEN}"
    )]
    Length {
        /// The witness's name.
        name: String,
        /// The bytes found.
        len: usize,
    },
    /// The timestamp is above 2^63 - 1.
    #[error("the cosignature by witness {name} has timestamp {timestamp}, above 2^63-1")]
    Timestamp {
        /// The witness's name.
        name: String,
        /// The timestamp found.
        timestamp: u64,
    },
    /// The signature does not verify over the cosigned message.
    #[error("the cosignature by witness {name} (key id {key_id}) does not verify")]
    BadSignature {
        /// The witness's name.
        name: String,
        /// The witness's key id, hex.
        key_id: String,
    },
    /// Fewer valid cosignatures by the named witnesses than required.
    #[error(
        "{found} of the {named} named witnesses cosigned this checkpoint ({who}); {required} required"
    )]
    Quorum {
        /// Distinct named witnesses with a valid cosignature.
        found: usize,
        /// How many witnesses were named.
        named: usize,
        /// How many are required.
        required: usize,
        /// Each named witness and what was found for it.
        who: String,
    },
}

/// A witness's signing key.
#[derive(Clone)]
pub struct WitnessKey {
    name: String,
    signing: SigningKey,
}

impl fmt::Debug for WitnessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WitnessKey")
            .field("name", &self.name)
            .field("key_id", &hex::encode(self.key_id()))
            .finish_non_exhaustive()
    }
}

/// The cosignature key id: `SHA-256(name || "\n" || 0x04 || public key)[..4]`.
pub fn cosigner_key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut h = sha2::Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_COSIGNATURE_V1]);
    h.update(public_key);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// The message a witness signs over `body` (a checkpoint's body, its final newline included)
/// at `timestamp`.
pub fn cosigned_message(body: &str, timestamp: u64) -> Vec<u8> {
    format!("{COSIGNATURE_HEADER}time {timestamp}\n{body}").into_bytes()
}

impl WitnessKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Randomness(e.to_string()))?;
        let key = Self::from_seed(name, &seed);
        seed.fill(0);
        key
    }

    /// The key with this 32-byte Ed25519 seed (deterministic: for tests and examples).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, KeyError> {
        check_key_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            signing: SigningKey::from_bytes(seed),
        })
    }

    /// The witness's name (in its signature lines).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cosignature key id.
    pub fn key_id(&self) -> [u8; 4] {
        cosigner_key_id(&self.name, self.signing.verifying_key().as_bytes())
    }

    /// The public half, for the logs and readers that trust this witness.
    pub fn verifier(&self) -> WitnessVerifier {
        WitnessVerifier {
            name: self.name.clone(),
            key_id: self.key_id(),
            key: self.signing.verifying_key(),
        }
    }

    /// A cosignature of `checkpoint` made at `timestamp` (POSIX seconds).
    pub fn cosign(
        &self,
        checkpoint: &Checkpoint,
        timestamp: u64,
    ) -> Result<NoteSignature, KeyError> {
        if timestamp > MAX_TIMESTAMP {
            return Err(KeyError::Signing(format!(
                "timestamp {timestamp} is above 2^63-1"
            )));
        }
        let message = cosigned_message(&checkpoint.body(), timestamp);
        let sig: Signature = self
            .signing
            .try_sign(&message)
            .map_err(|e| KeyError::Signing(e.to_string()))?;
        let mut bytes = Vec::with_capacity(COSIGNATURE_LEN);
        bytes.extend_from_slice(&timestamp.to_be_bytes());
        bytes.extend_from_slice(&sig.to_bytes());
        Ok(NoteSignature {
            key_name: self.name.clone(),
            key_id: self.key_id(),
            signature: bytes,
        })
    }

    /// Writes the key to a new owner-only file; never over an existing one.
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        let mut typed = Vec::with_capacity(33);
        typed.push(ALG_COSIGNATURE_V1);
        typed.extend_from_slice(self.signing.as_bytes());
        let text = private_text(&self.name, self.key_id(), &typed);
        typed.fill(0);
        save_private_text(path, &text)
    }

    /// Reads a key file written by [`WitnessKey::save`] (refused if group or others can
    /// access it).
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = load_private_text(path)?;
        let (name, id, _, mut secret) = parse_private_text(&text, &[ALG_COSIGNATURE_V1])
            .map_err(|e| witness_alg(e, "key file"))?;
        let key = match <[u8; 32]>::try_from(secret.as_slice()) {
            Ok(mut s) => {
                let key = Self::from_seed(&name, &s);
                s.fill(0);
                key
            }
            Err(_) => Err(KeyError::MalformedPrivateKey(
                "a witness key is 32 bytes after the type byte",
            )),
        };
        secret.fill(0);
        let key = key?;
        if key.key_id() != id {
            return Err(KeyError::KeyIdMismatch {
                stated: hex::encode(id),
                computed: hex::encode(key.key_id()),
            });
        }
        Ok(key)
    }
}

/// The timestamp a cosignature line states (its first 8 bytes after the key id, big-endian),
/// unverified: `None` for a line too short to hold one.
pub fn stated_timestamp(sig: &NoteSignature) -> Option<u64> {
    let bytes: [u8; 8] = sig.signature.get(..8)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// A checkpoint key given where a witness key belongs (or the reverse) is the likely mistake
/// behind a wrong type byte: say so.
fn witness_alg(e: KeyError, what: &'static str) -> KeyError {
    match e {
        KeyError::UnsupportedAlgorithm(alg) => KeyError::MalformedVerifierKey(match (alg, what) {
            (0x01 | 0xff, "key file") => {
                "this is a checkpoint key (type 0x01 or 0xff); a witness key has type 0x04"
            }
            (0x01 | 0xff, _) => {
                "this is a log's verifier key (type 0x01 or 0xff); a witness key has type 0x04"
            }
            _ => "a witness key has type 0x04 (C2SP cosignature/v1)",
        }),
        other => other,
    }
}

/// The public key of a witness, as one line: `<name>+<keyid hex>+<base64(0x04 || key)>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessVerifier {
    name: String,
    key_id: [u8; 4],
    key: VerifyingKey,
}

impl WitnessVerifier {
    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cosignature key id.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// This witness's cosignature on `cp`: `None` if no line carries its name and key id,
    /// else the first such line's verdict (C2SP: later ones are not looked at), with the
    /// timestamp it states.
    pub fn check(&self, cp: &SignedCheckpoint) -> Option<Result<u64, CosignatureError>> {
        let sig = cp
            .signatures
            .iter()
            .find(|s| s.key_name == self.name && s.key_id == self.key_id)?;
        Some(self.verify(&cp.checkpoint, sig))
    }

    /// Verifies one cosignature line of this witness over `checkpoint`.
    pub fn verify(
        &self,
        checkpoint: &Checkpoint,
        sig: &NoteSignature,
    ) -> Result<u64, CosignatureError> {
        if sig.signature.len() != COSIGNATURE_LEN {
            return Err(CosignatureError::Length {
                name: self.name.clone(),
                len: sig.signature.len(),
            });
        }
        // The length was checked above: both parts are there.
        let timestamp = stated_timestamp(sig).unwrap_or(u64::MAX);
        let signature = sig.signature.get(8..).unwrap_or_default();
        if timestamp > MAX_TIMESTAMP {
            return Err(CosignatureError::Timestamp {
                name: self.name.clone(),
                timestamp,
            });
        }
        let message = cosigned_message(&checkpoint.body(), timestamp);
        let ok = Signature::from_slice(signature)
            .is_ok_and(|s| self.key.verify_strict(&message, &s).is_ok());
        if !ok {
            return Err(CosignatureError::BadSignature {
                name: self.name.clone(),
                key_id: hex::encode(self.key_id),
            });
        }
        Ok(timestamp)
    }
}

impl fmt::Display for WitnessVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = Vec::with_capacity(33);
        bytes.push(ALG_COSIGNATURE_V1);
        bytes.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            BASE64.encode(bytes)
        )
    }
}

impl FromStr for WitnessVerifier {
    type Err = KeyError;

    /// Parses the one-line form; the key id must match the name and key.
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let (name, id, _, public) = parse_key_text(
            s.trim_end_matches('\n'),
            &[ALG_COSIGNATURE_V1],
            KeyError::MalformedVerifierKey,
        )
        .map_err(|e| witness_alg(e, "verifier key"))?;
        let public: [u8; 32] = public.as_slice().try_into().map_err(|_| {
            KeyError::MalformedVerifierKey("a witness key is 32 bytes after the type byte")
        })?;
        let key =
            VerifyingKey::from_bytes(&public).map_err(|_| KeyError::InvalidPublicKey("Ed25519"))?;
        let computed = cosigner_key_id(&name, &public);
        if computed != id {
            return Err(KeyError::KeyIdMismatch {
                stated: hex::encode(id),
                computed: hex::encode(computed),
            });
        }
        Ok(Self {
            name,
            key_id: id,
            key,
        })
    }
}

/// The witnesses among `named` whose cosignature on `cp` verifies, each once (a witness named
/// twice, or with two lines, counts once), in the order named.
pub fn cosigners<'a>(
    cp: &SignedCheckpoint,
    named: &'a [WitnessVerifier],
) -> Vec<&'a WitnessVerifier> {
    let mut seen = HashSet::new();
    named
        .iter()
        .filter(|w| seen.insert((w.name.clone(), w.key_id)))
        .filter(|w| matches!(w.check(cp), Some(Ok(_))))
        .collect()
}

/// Checks that at least `required` of the `named` witnesses cosigned `cp` (the log's own
/// signature is checked separately, [`SignedCheckpoint::verify`]). On success, the names of
/// the witnesses that did.
pub fn require_cosignatures(
    cp: &SignedCheckpoint,
    named: &[WitnessVerifier],
    required: usize,
) -> Result<Vec<String>, CosignatureError> {
    let found = cosigners(cp, named);
    if found.len() >= required {
        return Ok(found.iter().map(|w| w.name.clone()).collect());
    }
    let mut seen = HashSet::new();
    let who = named
        .iter()
        .filter(|w| seen.insert((w.name.clone(), w.key_id)))
        .map(|w| match w.check(cp) {
            None => format!("{}: none", w.name),
            Some(Ok(_)) => format!("{}: valid", w.name),
            Some(Err(e)) => format!("{}: {e}", w.name),
        })
        .collect::<Vec<_>>()
        .join("; ");
    Err(CosignatureError::Quorum {
        found: found.len(),
        named: seen.len(),
        required,
        who,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::CheckpointKey;
    use chrono::TimeZone as _;

    fn log_key() -> CheckpointKey {
        CheckpointKey::from_seed(
            "rotaledger.example",
            blake3::hash(b"rotaledger example key").as_bytes(),
        )
        .unwrap()
    }

    fn witness(n: u8) -> WitnessKey {
        WitnessKey::from_seed(&format!("witness.example/w{n}"), &[n; 32]).unwrap()
    }

    fn signed() -> SignedCheckpoint {
        let time = chrono::Utc
            .with_ymd_and_hms(2026, 11, 22, 10, 0, 0)
            .unwrap();
        let root = *blake3::hash(b"root").as_bytes();
        Checkpoint::new("rotaledger.example/district-7", 3, root, time)
            .unwrap()
            .sign(&log_key())
            .unwrap()
    }

    /// FORMAT.md §2.9's worked example: the §2.6 checkpoint cosigned by the example witness
    /// (seed `blake3("rotaledger example witness")`) at 1796000000. Ed25519 is deterministic,
    /// so the line is byte-exact.
    #[test]
    fn the_format_documents_worked_example() {
        let witness = WitnessKey::from_seed(
            "witness.example/w1",
            blake3::hash(b"rotaledger example witness").as_bytes(),
        )
        .unwrap();
        let text = "rotaledger.example/district-7\n3\n5aCyDVKl85tHnrJ4DoHYCDjbbECsR85CEZPQjuWwyD4=\ntime 2026-11-22T10:00:00Z\n\n\u{2014} rotaledger.example E42j6d4poKmUxTf9x97x/NEI3ktWKkbuz82mrKomW613YQ2wE++gSU5KLjnEOD6D02z/PRI+uafT+PSLwUfMJUzWHQo=\n";
        let mut cp = SignedCheckpoint::parse(text).unwrap();
        cp.verify(&log_key().verifier()).unwrap();
        let line = witness.cosign(&cp.checkpoint, 1_796_000_000).unwrap();
        cp.signatures.push(line.clone());
        let doc = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/FORMAT.md"),
        )
        .unwrap();
        let vkey = witness.verifier().to_string();
        assert!(
            doc.contains(&vkey),
            "FORMAT.md §2.9 shows the witness key {vkey}"
        );
        assert!(
            doc.contains(&line.line()),
            "FORMAT.md §2.9 shows the line {}",
            line.line()
        );
        assert_eq!(witness.verifier().check(&cp), Some(Ok(1_796_000_000)));
    }

    #[test]
    fn the_signed_message_is_header_time_and_the_whole_body() {
        let cp = signed();
        let m = cosigned_message(&cp.checkpoint.body(), 1_679_315_147);
        let text = String::from_utf8(m).unwrap();
        assert_eq!(
            text,
            format!("cosignature/v1\ntime 1679315147\n{}", cp.checkpoint.body())
        );
        assert!(text.ends_with("time 2026-11-22T10:00:00Z\n"));
    }

    #[test]
    fn a_cosignature_round_trips_through_the_note_text_and_verifies() {
        let mut cp = signed();
        let w = witness(1);
        cp.signatures
            .push(w.cosign(&cp.checkpoint, 1_764_000_000).unwrap());
        let text = cp.to_text();
        let parsed = SignedCheckpoint::parse(&text).unwrap();
        // The log's signature still verifies with the cosignature line present.
        parsed.verify(&log_key().verifier()).unwrap();
        assert_eq!(w.verifier().check(&parsed), Some(Ok(1_764_000_000)));
        // The line decodes to key id || be64 timestamp || signature: 76 bytes.
        let line = text.lines().last().unwrap();
        let b64 = line.rsplit(' ').next().unwrap();
        let bytes = BASE64.decode(b64).unwrap();
        assert_eq!(bytes.len(), 4 + COSIGNATURE_LEN);
        assert_eq!(&bytes[..4], &w.key_id());
        assert_eq!(&bytes[4..12], &1_764_000_000u64.to_be_bytes());
    }

    #[test]
    fn a_changed_body_or_timestamp_or_key_fails() {
        let mut cp = signed();
        let w = witness(1);
        let sig = w.cosign(&cp.checkpoint, 100).unwrap();
        // Another size under the same cosignature.
        let mut other = cp.checkpoint.clone();
        other.size = 4;
        assert!(matches!(
            w.verifier().verify(&other, &sig),
            Err(CosignatureError::BadSignature { .. })
        ));
        // The timestamp changed.
        let mut moved = sig.clone();
        moved.signature[7] ^= 1;
        assert!(w.verifier().verify(&cp.checkpoint, &moved).is_err());
        // Too short.
        let mut short = sig.clone();
        short.signature.truncate(64);
        assert!(matches!(
            w.verifier().verify(&cp.checkpoint, &short),
            Err(CosignatureError::Length { len: 64, .. })
        ));
        // A timestamp above 2^63-1 is refused, signed or not.
        assert!(w.cosign(&cp.checkpoint, MAX_TIMESTAMP + 1).is_err());
        let mut high = sig.clone();
        high.signature[0] = 0x80;
        assert!(matches!(
            w.verifier().verify(&cp.checkpoint, &high),
            Err(CosignatureError::Timestamp { .. })
        ));
        // Witness 2's key does not verify witness 1's line (its id differs: not looked at).
        cp.signatures.push(sig);
        assert_eq!(witness(2).verifier().check(&cp), None);
    }

    #[test]
    fn the_first_line_of_a_witness_decides() {
        let mut cp = signed();
        let w = witness(1);
        let mut bad = w.cosign(&cp.checkpoint, 5).unwrap();
        bad.signature[20] ^= 1;
        cp.signatures.push(bad);
        cp.signatures.push(w.cosign(&cp.checkpoint, 6).unwrap());
        assert!(matches!(
            w.verifier().check(&cp),
            Some(Err(CosignatureError::BadSignature { .. }))
        ));
    }

    #[test]
    fn a_quorum_counts_distinct_named_witnesses_with_valid_cosignatures() {
        let mut cp = signed();
        let (w1, w2, w3) = (witness(1), witness(2), witness(3));
        let named = [w1.verifier(), w2.verifier(), w3.verifier(), w1.verifier()];
        assert!(matches!(
            require_cosignatures(&cp, &named, 1),
            Err(CosignatureError::Quorum {
                found: 0,
                named: 3,
                ..
            })
        ));
        cp.signatures.push(w1.cosign(&cp.checkpoint, 1).unwrap());
        cp.signatures.push(w1.cosign(&cp.checkpoint, 2).unwrap());
        // An unnamed witness's valid cosignature does not count.
        cp.signatures
            .push(witness(9).cosign(&cp.checkpoint, 1).unwrap());
        assert_eq!(
            require_cosignatures(&cp, &named, 1).unwrap(),
            ["witness.example/w1"]
        );
        let e = require_cosignatures(&cp, &named, 2).unwrap_err();
        assert!(matches!(
            e,
            CosignatureError::Quorum {
                found: 1,
                named: 3,
                required: 2,
                ..
            }
        ));
        assert!(e.to_string().contains("witness.example/w2: none"), "{e}");
        cp.signatures.push(w3.cosign(&cp.checkpoint, 1).unwrap());
        assert_eq!(
            require_cosignatures(&cp, &named, 2).unwrap(),
            ["witness.example/w1", "witness.example/w3"]
        );
        // Zero required always holds.
        assert!(require_cosignatures(&signed(), &named, 0).is_ok());
    }

    #[test]
    fn verifier_keys_and_key_files_round_trip_and_refuse_the_wrong_type() {
        let w = witness(1);
        let line = w.verifier().to_string();
        assert!(line.starts_with("witness.example/w1+"));
        let back: WitnessVerifier = line.parse().unwrap();
        assert_eq!(back, w.verifier());
        // The base64 starts with the type byte 0x04.
        let b64 = line.splitn(3, '+').nth(2).unwrap();
        assert_eq!(BASE64.decode(b64).unwrap()[0], ALG_COSIGNATURE_V1);
        // A log's verifier key is not a witness key, and the error says so.
        let e = log_key()
            .verifier()
            .to_string()
            .parse::<WitnessVerifier>()
            .unwrap_err();
        assert!(e.to_string().contains("type 0x04"), "{e}");
        // A wrong key id.
        let mut wrong = line.clone();
        let id_at = "witness.example/w1+".len();
        let flipped = if &wrong[id_at..id_at + 1] == "0" {
            "1"
        } else {
            "0"
        };
        wrong.replace_range(id_at..id_at + 1, flipped);
        assert!(matches!(
            wrong.parse::<WitnessVerifier>(),
            Err(KeyError::KeyIdMismatch { .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("witness.key");
        w.save(&path).unwrap();
        assert!(matches!(w.save(&path), Err(KeyError::AlreadyExists(_))));
        let loaded = WitnessKey::load(&path).unwrap();
        assert_eq!(loaded.verifier(), w.verifier());
        // A checkpoint key file is refused as a witness key.
        let cp_path = dir.path().join("checkpoint.key");
        log_key().save(&cp_path).unwrap();
        let e = WitnessKey::load(&cp_path).unwrap_err();
        assert!(e.to_string().contains("checkpoint key"), "{e}");
    }
}
