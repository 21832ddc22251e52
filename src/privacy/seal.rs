//! Sealing one personal field: the profile's cipher (XChaCha20-Poly1305, or SM4-GCM in the
//! `gm` profile) under the teacher's data key, with the field's place as associated data, so a
//! sealed value cannot be moved to another teacher or field without failing to open
//! (docs/FORMAT.md §1.12).

use crate::crypto::{AEAD_TAG_LEN, Aead, Profile};

/// Bytes of the random nonce at the start of a sealed value, at most (XChaCha20-Poly1305's;
/// SM4-GCM's is 12, [`Aead::nonce_len`]).
pub const NONCE_LEN: usize = 24;
/// Bytes of the authentication tag at its end.
pub const TAG_LEN: usize = AEAD_TAG_LEN;
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

/// Seals `text` at `place` under `key` with the profile's cipher: nonce || ciphertext || tag.
pub fn seal(
    profile: Profile,
    key: &DataKey,
    place: Place<'_>,
    text: &str,
) -> Result<Vec<u8>, SealError> {
    let cipher = Aead::new(profile, key);
    let mut nonce = [0u8; NONCE_LEN];
    let nonce = &mut nonce[..cipher.nonce_len()];
    super::entropy::fill(nonce).map_err(|e| SealError::Randomness(e.to_string()))?;
    seal_with_nonce(&cipher, place, text, nonce)
}

/// [`seal`] with a given cipher and nonce (the tests' fixed vectors).
pub fn seal_with_nonce(
    cipher: &Aead,
    place: Place<'_>,
    text: &str,
    nonce: &[u8],
) -> Result<Vec<u8>, SealError> {
    let ct = cipher
        .encrypt(nonce, text.as_bytes(), &place.aad())
        .map_err(|_| SealError::Open)?;
    let mut out = Vec::with_capacity(nonce.len() + ct.len());
    out.extend_from_slice(nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a value [`seal`] made at `place` under `key` with the profile's cipher.
pub fn open(
    profile: Profile,
    key: &DataKey,
    place: Place<'_>,
    sealed: &[u8],
) -> Result<String, SealError> {
    let cipher = Aead::new(profile, key);
    let n = cipher.nonce_len();
    if sealed.len() < n + TAG_LEN {
        return Err(SealError::Short(sealed.len()));
    }
    let (nonce, ct) = sealed.split_at(n);
    let plain = cipher
        .decrypt(nonce, ct, &place.aad())
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
        for (profile, nonce) in [(Profile::Blake3, 24), (Profile::Gm, 12)] {
            sealed_field_checks(profile, nonce);
        }
    }

    fn sealed_field_checks(profile: Profile, nonce_len: usize) {
        let seal = |k: &DataKey, p: Place<'_>, t: &str| seal(profile, k, p, t);
        let open = |k: &DataKey, p: Place<'_>, s: &[u8]| open(profile, k, p, s);
        let s = seal(&KEY, PLACE, "王芳").unwrap();
        assert_eq!(s.len(), nonce_len + "王芳".len() + TAG_LEN);
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
        bent[nonce_len] ^= 1;
        assert!(matches!(open(&KEY, PLACE, &bent), Err(SealError::Open)));
        let short = nonce_len + TAG_LEN - 1;
        assert!(matches!(
            open(&KEY, PLACE, &s[..short]),
            Err(SealError::Short(n)) if n == short
        ));
        // A value sealed in the other profile does not open in this one.
        let other = match profile {
            Profile::Blake3 => Profile::Gm,
            Profile::Gm => Profile::Blake3,
        };
        assert!(super::open(other, &KEY, PLACE, &s).is_err());
    }

    #[test]
    fn every_seal_draws_a_new_nonce() {
        let a = seal(Profile::Gm, &KEY, PLACE, "王芳").unwrap();
        let b = seal(Profile::Gm, &KEY, PLACE, "王芳").unwrap();
        assert_ne!(a, b);
        assert!(!a.windows(6).any(|w| w == "王芳".as_bytes()));
    }
}
