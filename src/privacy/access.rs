//! The access record: who was shown which personal fields of which teachers, when, and
//! through which door. Append-only and hash-chained like the log, but a file of its own
//! (`<data>/access-record.jsonl`, docs/FORMAT.md §1.14): reading is not a fact of rotation,
//! and the record must keep growing after a teacher's data is erased.
//!
//! Each line is one JSON object; its `hash` is the profile's key derivation (blake3's
//! derive-key mode, or HMAC-SM3 in the `gm` profile) with context `rotaledger access record
//! v1` over the previous line's hash (32 zero bytes for the first) and the line's text up to,
//! not including, `,"hash":`. A reveal is recorded and synced
//! before the answer that reveals leaves the server.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::crypto::Profile;

/// The access record's file name in the data directory.
pub const ACCESS_FILE: &str = "access-record.jsonl";

/// One reveal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// Position in the record, from 0.
    pub seq: u64,
    /// When (server clock, UTC, RFC 3339).
    pub time: String,
    /// The caller (the token's name, or `offline` for a command on the data directory).
    pub actor: String,
    /// The caller's role.
    pub role: String,
    /// The door: `grpc TeacherHistory`, `console /teachers/..`, `export --reveal`, ...
    pub via: String,
    /// The teachers whose fields were shown.
    pub teachers: Vec<String>,
    /// The fields shown (`name`, `reason_text`).
    pub fields: Vec<String>,
}

/// A line as stored: the reveal and its chain.
#[derive(Serialize, Deserialize)]
struct Line {
    #[serde(flatten)]
    access: Access,
    prev: String,
    hash: String,
}

/// Why the access record could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// A file operation failed.
    #[error("access record {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A line does not parse or does not chain.
    #[error("access record {path} is damaged at line {line}: {problem}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// Line number (1-based).
        line: u64,
        /// What is wrong.
        problem: String,
    },
}

fn link(profile: Profile, prev: &[u8; 32], text: &str) -> [u8; 32] {
    let mut m = Vec::with_capacity(32 + text.len());
    m.extend_from_slice(prev);
    m.extend_from_slice(text.as_bytes());
    profile.derive_key("rotaledger access record v1", &m)
}

/// The text the hash covers: the line up to `,"hash":`.
fn body(access: &Access, prev: &[u8; 32]) -> String {
    let mut v = serde_json::to_string(access).unwrap_or_default();
    v.pop();
    format!("{v},\"prev\":\"{}\"", hex::encode(prev))
}

struct Tail {
    file: File,
    next: u64,
    prev: [u8; 32],
}

/// The open access record.
pub struct AccessRecord {
    path: PathBuf,
    profile: Profile,
    tail: Mutex<Tail>,
}

impl std::fmt::Debug for AccessRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccessRecord({})", self.path.display())
    }
}

/// Reads and checks every line of the record at `path`; returns the reveals, the last hash
/// and the length of the whole lines (a last line without its newline was cut by a crash
/// before its answer was given).
pub fn read(path: &Path, profile: Profile) -> Result<(Vec<Access>, [u8; 32], u64), AccessError> {
    let io = |source| AccessError::Io {
        path: path.to_owned(),
        source,
    };
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), [0; 32], 0)),
        Err(e) => return Err(io(e)),
    };
    let mut r = BufReader::new(f);
    let mut out = Vec::new();
    let mut prev = [0u8; 32];
    let mut whole = 0u64;
    let mut buf = String::new();
    loop {
        buf.clear();
        let n = r.read_line(&mut buf).map_err(io)?;
        if n == 0 || !buf.ends_with('\n') {
            break;
        }
        let line_no = out.len() as u64 + 1;
        let damaged = |problem: String| AccessError::Damaged {
            path: path.to_owned(),
            line: line_no,
            problem,
        };
        let l: Line = serde_json::from_str(buf.trim_end()).map_err(|e| damaged(e.to_string()))?;
        if l.access.seq != out.len() as u64 {
            return Err(damaged(format!(
                "seq {} where {} was due",
                l.access.seq,
                out.len()
            )));
        }
        if l.prev != hex::encode(prev) {
            return Err(damaged("prev is not the hash of the line before".into()));
        }
        let h = link(profile, &prev, &body(&l.access, &prev));
        if l.hash != hex::encode(h) {
            return Err(damaged("hash does not match the line".into()));
        }
        prev = h;
        whole += n as u64;
        out.push(l.access);
    }
    Ok((out, prev, whole))
}

impl AccessRecord {
    /// Opens (or creates) the record, checking every line; a damaged record is refused.
    pub fn open(path: &Path, profile: Profile) -> Result<AccessRecord, AccessError> {
        let io = |source| AccessError::Io {
            path: path.to_owned(),
            source,
        };
        let (lines, prev, whole) = read(path, profile)?;
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        {
            // It names who read whom: as private as the key store.
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(path).map_err(io)?;
        if file.metadata().map_err(io)?.len() != whole {
            tracing::warn!(path = %path.display(), "the access record ends in a line cut by a crash; removing it");
            file.set_len(whole).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        Ok(AccessRecord {
            path: path.to_owned(),
            profile,
            tail: Mutex::new(Tail {
                file,
                next: lines.len() as u64,
                prev,
            }),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records a reveal and syncs it. `teachers` and `fields` should not be empty.
    pub fn record(
        &self,
        actor: &str,
        role: &str,
        via: &str,
        teachers: Vec<String>,
        fields: Vec<String>,
        at: DateTime<Utc>,
    ) -> Result<u64, AccessError> {
        let mut t = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        let access = Access {
            seq: t.next,
            time: at.to_rfc3339_opts(SecondsFormat::Millis, true),
            actor: actor.to_owned(),
            role: role.to_owned(),
            via: via.to_owned(),
            teachers,
            fields,
        };
        let text = body(&access, &t.prev);
        let h = link(self.profile, &t.prev, &text);
        let line = format!("{text},\"hash\":\"{}\"}}\n", hex::encode(h));
        let io = |source| AccessError::Io {
            path: self.path.clone(),
            source,
        };
        t.file.write_all(line.as_bytes()).map_err(io)?;
        t.file.sync_data().map_err(io)?;
        t.prev = h;
        t.next += 1;
        Ok(access.seq)
    }

    /// Every reveal so far, checked.
    pub fn all(&self) -> Result<Vec<Access>, AccessError> {
        let _t = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        read(&self.path, self.profile).map(|(v, _, _)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reveals_chain_and_a_changed_line_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(ACCESS_FILE);
        let r = AccessRecord::open(&p, Profile::Blake3).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let now = Utc::now();
        r.record(
            "alice",
            "admin",
            "grpc TeacherHistory",
            vec!["T1".into()],
            vec!["name".into()],
            now,
        )
        .unwrap();
        r.record(
            "bob",
            "principal",
            "console",
            vec!["T1".into(), "T2".into()],
            vec!["name".into()],
            now,
        )
        .unwrap();
        drop(r);
        let r = AccessRecord::open(&p, Profile::Blake3).unwrap();
        let all = r.all().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].actor, "bob");
        assert_eq!(all[1].teachers, ["T1", "T2"]);
        r.record(
            "carol",
            "admin",
            "x",
            vec!["T3".into()],
            vec!["name".into()],
            now,
        )
        .unwrap();
        drop(r);
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, text.replacen("bob", "eve", 1)).unwrap();
        let e = AccessRecord::open(&p, Profile::Blake3).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        // A line cut by a crash is removed; the ones before stay.
        std::fs::write(&p, format!("{text}{{\"seq\":3,")).unwrap();
        let r = AccessRecord::open(&p, Profile::Blake3).unwrap();
        assert_eq!(r.all().unwrap().len(), 3);
    }
}
