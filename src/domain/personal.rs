//! Personal fields (docs/PRIVACY.md): a teacher's name and the free text of a return reason.
//!
//! As an HR system sends them they are plain text; as the ledger stores them (event version 2,
//! docs/FORMAT.md §1.12) they are sealed: `{"sealed":"<base64 of nonce, ciphertext, tag>"}`,
//! under a key the domain never sees. The domain keeps either form as it came and never looks
//! inside: no rule and no projection depends on a personal field, which is why erasing one
//! (destroying its key) changes no answer but the field itself.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which fields of which events are personal: (event type, field).
pub const PERSONAL_FIELDS: [(&str, &str); 3] = [
    ("teacher_registered", "name"),
    ("teacher_profile_updated", "name"),
    ("teacher_returned", "reason_text"),
];

/// A personal field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Personal {
    /// As sent (and as stored in version-1 entries written before sealing existed).
    Plain(String),
    /// Sealed by the ledger: nonce || ciphertext || tag.
    Sealed(Arc<[u8]>),
}

impl Personal {
    /// The plain text, if this is plain.
    pub fn plain(&self) -> Option<&str> {
        match self {
            Personal::Plain(s) => Some(s),
            Personal::Sealed(_) => None,
        }
    }

    /// Whether this is sealed.
    pub fn is_sealed(&self) -> bool {
        matches!(self, Personal::Sealed(_))
    }

    /// The sealed value as it is written in JSON: standard base64 with padding.
    pub fn sealed_text(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    /// Reads the base64 of a sealed value.
    pub fn from_sealed_text(text: &str) -> Result<Personal, String> {
        let b = STANDARD
            .decode(text)
            .map_err(|e| format!("is not base64: {e}"))?;
        // The shortest seal: SM4-GCM's 12-byte nonce and 16-byte tag around an empty text
        // (XChaCha20-Poly1305's are 24 + 16); which cipher sealed it is the key store's to know.
        if b.len() < MIN_SEALED {
            return Err(format!(
                "holds {} bytes, fewer than a nonce and a tag ({MIN_SEALED})",
                b.len()
            ));
        }
        Ok(Personal::Sealed(b.into()))
    }
}

/// Bytes of the shortest sealed value of either crypto profile (docs/FORMAT.md §1.12, §3.2).
pub const MIN_SEALED: usize = 12 + 16;

/// The binary (snapshot) form.
#[derive(Serialize, Deserialize)]
enum Binary {
    Plain(String),
    Sealed(Vec<u8>),
}

/// The JSON forms.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Json {
    Plain(String),
    Sealed { sealed: String },
}

impl Serialize for Personal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            match self {
                Personal::Plain(t) => s.serialize_str(t),
                Personal::Sealed(b) => Json::Sealed {
                    sealed: Personal::sealed_text(b),
                }
                .serialize(s),
            }
        } else {
            match self {
                Personal::Plain(t) => Binary::Plain(t.clone()).serialize(s),
                Personal::Sealed(b) => Binary::Sealed(b.to_vec()).serialize(s),
            }
        }
    }
}

impl<'de> Deserialize<'de> for Personal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            match Json::deserialize(d)? {
                Json::Plain(t) => Ok(Personal::Plain(t)),
                Json::Sealed { sealed } => {
                    Personal::from_sealed_text(&sealed).map_err(serde::de::Error::custom)
                }
            }
        } else {
            Ok(match Binary::deserialize(d)? {
                Binary::Plain(t) => Personal::Plain(t),
                Binary::Sealed(b) => Personal::Sealed(b.into()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_round_trip_in_json_and_in_the_snapshot_form() {
        for p in [
            Personal::Plain("王芳".into()),
            Personal::Sealed(vec![9u8; 45].into()),
        ] {
            let j = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<Personal>(&j).unwrap(), p);
            let b = postcard::to_stdvec(&p).unwrap();
            assert_eq!(postcard::from_bytes::<Personal>(&b).unwrap(), p);
        }
        assert_eq!(
            serde_json::to_string(&Personal::Sealed(vec![0u8; 40].into())).unwrap(),
            format!("{{\"sealed\":\"{}\"}}", STANDARD.encode([0u8; 40]))
        );
        assert!(Personal::from_sealed_text("QUJD").is_err());
    }
}
