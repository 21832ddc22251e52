//! Sealing one personal field: XChaCha20-Poly1305 under the teacher's data key, with the
//! field's place as associated data, so a sealed value cannot be moved to another teacher or
//! field without failing to open (docs/FORMAT.md §1.12).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// Bytes of the random nonce at the start of a sealed value.
pub const NONCE_LEN: usize = 24;
/// Bytes of the authentication tag at its end.
pub const TAG_LEN: usize = 16;
/// Bytes of a data key.
pub const KEY_LEN: usize = 32;

/// A data key: 32 random bytes, one per teacher.
pub type DataKey = [u8; KEY_LEN];

/// Where a sealed field sits: what its associated data binds it to.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// The teacher whose key seals it.
    pub teacher: &'a str,
    /// The field (`name`, `reason_text`).
    pub field: &'a str,
}

impl Place<'_> {
    /// The associated data: a fixed label, then the teacher id and the field name, each ended
    /// by a zero byte. (Not the event type: a teacher's name is the same personal datum
    /// whether a registration or a profile update carried it.)
    pub fn aad(&self) -> Vec<u8> {
        let mut a = Vec::with_capacity(64);
        a.extend_from_slice(b"rotaledger personal field v1\0");
        for s in [self.teacher, self.field] {
            a.extend_from_slice(s.as_bytes());
            a.push(0);
        }
        a
    }
}

/// Why sealing or opening failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The operating system gave no randomness for the nonce.
    #[error("no randomness for a nonce: {0}")]
    Randomness(String),
    /// The value is too short to hold a nonce and a tag.
    #[error("a sealed value of {0} bytes is shorter than a nonce and a tag")]
    Short(usize),
    /// The tag did not verify: another key, another place, or changed bytes.
    #[error("the sealed value does not open with this key at this place")]
    Open,
    /// The opened bytes are not UTF-8 text.
    #[error("the opened value is not UTF-8 text")]
    NotText,
}

/// Seals `text` at `place` under `key`: nonce || ciphertext || tag.
pub fn seal(key: &DataKey, place: Place<'_>, text: &str) -> Result<Vec<u8>, SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| SealError::Randomness(e.to_string()))?;
    seal_with_nonce(key, place, text, &nonce)
}

/// [`seal`] with a given nonce (the tests' fixed vectors).
pub fn seal_with_nonce(
    key: &DataKey,
    place: Place<'_>,
    text: &str,
    nonce: &[u8; NONCE_LEN],
) -> Result<Vec<u8>, SealError> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let aad = place.aad();
    let ct = cipher
        .encrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: text.as_bytes(),
                aad: &aad,
            },
        )
        .map_err(|_| SealError::Open)?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a value [`seal`] made at `place` under `key`.
pub fn open(key: &DataKey, place: Place<'_>, sealed: &[u8]) -> Result<String, SealError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(SealError::Short(sealed.len()));
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let cipher = XChaCha20Poly1305::new(key.into());
    let aad = place.aad();
    let plain = cipher
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
        .map_err(|_| SealError::Open)?;
    String::from_utf8(plain).map_err(|_| SealError::NotText)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: DataKey = [7; 32];
    const PLACE: Place<'static> = Place {
        teacher: "T1",
        field: "name",
    };

    #[test]
    fn a_sealed_field_opens_only_with_its_key_at_its_place() {
        let s = seal(&KEY, PLACE, "王芳").unwrap();
        assert_eq!(s.len(), NONCE_LEN + "王芳".len() + TAG_LEN);
        assert_eq!(open(&KEY, PLACE, &s).unwrap(), "王芳");
        assert!(matches!(open(&[8; 32], PLACE, &s), Err(SealError::Open)));
        for other in [
            Place {
                teacher: "T2",
                ..PLACE
            },
            Place {
                field: "reason_text",
                ..PLACE
            },
        ] {
            assert!(matches!(open(&KEY, other, &s), Err(SealError::Open)));
        }
        let mut bent = s.clone();
        bent[NONCE_LEN] ^= 1;
        assert!(matches!(open(&KEY, PLACE, &bent), Err(SealError::Open)));
        assert!(matches!(
            open(&KEY, PLACE, &s[..30]),
            Err(SealError::Short(30))
        ));
    }

    #[test]
    fn every_seal_draws_a_new_nonce() {
        let a = seal(&KEY, PLACE, "王芳").unwrap();
        let b = seal(&KEY, PLACE, "王芳").unwrap();
        assert_ne!(a, b);
        assert!(!a.windows(6).any(|w| w == "王芳".as_bytes()));
    }
}
