//! Access control: bearer tokens from a TOML access file, mapped to roles (SPEC §7).
//!
//! **Contracts.**
//! - The access file MUST hold only blake3 hashes of tokens, never tokens; a token is checked
//!   by hashing it and comparing the hash with every configured hash in constant time.
//! - The access file MUST NOT be readable by group or others: a loose file is refused at load.
//! - Without an access file every caller is `admin` named `local`; the server allows that only
//!   on a loopback address (see `server`).
//!
//! Each RPC names the [`Permission`] it needs; the roles map to permissions in one table
//! ([`Role::allows`]), so a new service (the principals' queries) adds a permission and a
//! scope check, not a new mechanism.

use std::path::Path;

use serde::Deserialize;
use tonic::metadata::MetadataMap;
use tonic::{Request, Status};

use super::status::{permission_denied, unauthenticated};

/// The actor name recorded for appends when the server runs without an access file.
pub const LOCAL_ACTOR: &str = "local";

/// Prefix of tokens made by [`new_token`], so a leaked one is recognisable in a scan.
pub const TOKEN_PREFIX: &str = "rlt_";

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// HR systems: append events.
    Writer,
    /// Auditors: read the raw log, proofs, checkpoints, verification.
    Auditor,
    /// Principals and bureau staff: queries, scoped to a list of schools.
    Principal,
    /// A teacher: their own history, eligibility, terms and certificate (PIPL Arts. 44-45),
    /// nothing about anyone else.
    Teacher,
    /// A mirror (`serve --follow`): read the log as an auditor does, and report what it holds
    /// durably (`serve --sync-mirrors` counts only such reports).
    Mirror,
    /// Everything.
    Admin,
}

impl Role {
    /// The role's name as written in the access file.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Writer => "writer",
            Role::Auditor => "auditor",
            Role::Principal => "principal",
            Role::Teacher => "teacher",
            Role::Mirror => "mirror",
            Role::Admin => "admin",
        }
    }

    /// The access table: which role may do what.
    pub fn allows(self, p: Permission) -> bool {
        match (self, p) {
            (Role::Admin, _) => true,
            // The head is public knowledge among authenticated callers: every role can ask.
            (_, Permission::ReadHead) => true,
            (Role::Writer, Permission::Append) => true,
            (Role::Auditor, Permission::Audit) => true,
            (Role::Mirror, Permission::Audit | Permission::Replicate) => true,
            (Role::Principal, Permission::Query) => true,
            // Only the teacher's own questions: the Query service narrows it further.
            (Role::Teacher, Permission::Query) => true,
            _ => false,
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "writer" => Ok(Role::Writer),
            "auditor" => Ok(Role::Auditor),
            "principal" => Ok(Role::Principal),
            "teacher" => Ok(Role::Teacher),
            "mirror" => Ok(Role::Mirror),
            "admin" => Ok(Role::Admin),
            _ => Err(format!(
                "unknown role {s:?} (writer, auditor, principal, teacher, mirror, admin)"
            )),
        }
    }
}

/// What an RPC needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// `Ledger.Append`.
    Append,
    /// `Ledger.GetHead`.
    ReadHead,
    /// Every `Audit` RPC.
    Audit,
    /// The principals' queries (scoped by [`Caller::in_scope`]).
    Query,
    /// `Audit.ReportReplicated`: a mirror confirming what it holds.
    Replicate,
}

impl Permission {
    /// How the permission reads in an error message ("may not ...").
    fn describe(self) -> &'static str {
        match self {
            Permission::Append => "append events (needs writer)",
            Permission::ReadHead => "read the head",
            Permission::Audit => "use the Audit service (needs auditor)",
            Permission::Query => "run queries (needs principal)",
            Permission::Replicate => "report as a mirror (needs mirror)",
        }
    }
}

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's configured name: the actor recorded in appended entries.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// For principals: the schools whose teachers they may see.
    pub schools: Vec<String>,
    /// For teachers: the one teacher id they may see (their own).
    pub teacher: Option<String>,
    /// The door the request came through (`grpc`, `http`, `console`), for the access record.
    pub door: &'static str,
}

/// The door a request came through when the server's own HTTP face made it (a request
/// extension, which a remote client cannot set): the access record names it.
#[derive(Debug, Clone, Copy)]
pub struct Door(pub &'static str);

impl Caller {
    /// Whether a school is within the caller's scope (admins see everything; a teacher no
    /// school).
    pub fn in_scope(&self, school: &str) -> bool {
        self.role == Role::Admin || self.schools.iter().any(|s| s == school)
    }

    /// For a teacher's token: whether `teacher` is the one it is for.
    pub fn is_teacher(&self, teacher: &str) -> bool {
        self.role == Role::Teacher && self.teacher.as_deref() == Some(teacher)
    }
}

/// Why an access file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// It could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// Group or others may read it.
    #[error("{path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}`")]
    LoosePermissions {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// It is not valid TOML of the expected shape.
    #[error("the access file {path} is invalid: {problem}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
}

/// One `[[token]]` of the access file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    /// The name recorded as the actor of this token's appends.
    name: String,
    /// What the token may do.
    role: Role,
    /// For principals: their schools.
    #[serde(default)]
    schools: Vec<String>,
    /// For teachers: their teacher id.
    #[serde(default)]
    teacher: Option<String>,
    /// blake3 of the token, 64 hex digits.
    hash: String,
}

/// The access file's shape.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessFile {
    #[serde(default)]
    token: Vec<TokenEntry>,
}

/// A configured token: its hash and who it is (built by [`Access::load`]).
#[derive(Debug, Clone)]
pub struct KnownToken {
    /// blake3 of the token.
    hash: blake3::Hash,
    /// Who presents it.
    caller: Caller,
}

/// How callers are authenticated.
#[derive(Debug, Clone)]
pub enum Access {
    /// No access file: every caller is admin `local` (loopback only).
    Open,
    /// Bearer tokens from an access file.
    Tokens(Vec<KnownToken>),
}

impl Access {
    /// Loads an access file, refusing it if group or others can read it.
    pub fn load(path: &Path) -> Result<Access, AccessError> {
        let p = path.display().to_string();
        check_private(path)?;
        let text = std::fs::read_to_string(path).map_err(|error| AccessError::Read {
            path: p.clone(),
            error,
        })?;
        Access::parse(&text).map_err(|problem| AccessError::Invalid { path: p, problem })
    }

    /// Parses access file text.
    pub fn parse(text: &str) -> Result<Access, String> {
        let file: AccessFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut known = Vec::with_capacity(file.token.len());
        for (i, t) in file.token.into_iter().enumerate() {
            crate::log::entry::check_id("token name", &t.name)
                .map_err(|e| format!("token {i}: {e}"))?;
            let hash = blake3::Hash::from_hex(t.hash.trim()).map_err(|_| {
                format!(
                    "token {:?}: hash must be 64 hex digits (make one with `rotaledger token hash`)",
                    t.name
                )
            })?;
            if known.iter().any(|k: &KnownToken| k.caller.name == t.name) {
                return Err(format!("token name {:?} appears twice", t.name));
            }
            if t.role == Role::Principal && t.schools.is_empty() {
                return Err(format!(
                    "token {:?}: a principal needs `schools = [...]`",
                    t.name
                ));
            }
            match (t.role, &t.teacher) {
                (Role::Teacher, None) => {
                    return Err(format!(
                        "token {:?}: a teacher needs `teacher = \"<teacher id>\"`",
                        t.name
                    ));
                }
                (Role::Teacher, Some(id)) => {
                    crate::log::entry::check_id("teacher", id)
                        .map_err(|e| format!("token {:?}: {e}", t.name))?;
                    if !t.schools.is_empty() {
                        return Err(format!(
                            "token {:?}: a teacher sees only their own record; `schools` is for principals",
                            t.name
                        ));
                    }
                }
                (_, Some(_)) => {
                    return Err(format!(
                        "token {:?}: `teacher` is only for role = \"teacher\"",
                        t.name
                    ));
                }
                (_, None) => {}
            }
            known.push(KnownToken {
                hash,
                caller: Caller {
                    name: t.name,
                    role: t.role,
                    schools: t.schools,
                    teacher: t.teacher,
                    door: "grpc",
                },
            });
        }
        if known.is_empty() {
            return Err("no [[token]] entries: nobody could connect".into());
        }
        Ok(Access::Tokens(known))
    }

    /// Whether callers are authenticated at all.
    pub fn is_open(&self) -> bool {
        matches!(self, Access::Open)
    }

    /// Authenticates the caller of a request and checks it may do `need`.
    pub fn authorize<T>(&self, req: &Request<T>, need: Permission) -> Result<Caller, Status> {
        let mut caller = self.authenticate(req.metadata())?;
        caller.door = req.extensions().get::<Door>().map_or("grpc", |d| d.0);
        if caller.role.allows(need) {
            Ok(caller)
        } else {
            Err(permission_denied(
                &caller.name,
                caller.role.as_str(),
                need.describe(),
            ))
        }
    }

    fn authenticate(&self, md: &MetadataMap) -> Result<Caller, Status> {
        let known = match self {
            Access::Open => {
                return Ok(Caller {
                    name: LOCAL_ACTOR.into(),
                    role: Role::Admin,
                    schools: Vec::new(),
                    teacher: None,
                    door: "grpc",
                });
            }
            Access::Tokens(k) => k,
        };
        let value = md
            .get("authorization")
            .ok_or_else(|| unauthenticated("no authorization header"))?;
        let value = value
            .to_str()
            .map_err(|_| unauthenticated("the authorization header is not text"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| unauthenticated("the authorization header is not `Bearer <token>`"))?
            .trim();
        let presented = hash_token(token);
        // Compare against every entry, without stopping at a match, so the time taken does not
        // say which entry matched; blake3::Hash equality is itself constant-time.
        let mut found: Option<&Caller> = None;
        for k in known {
            if k.hash == presented {
                found = Some(&k.caller);
            }
        }
        found
            .cloned()
            .ok_or_else(|| unauthenticated("unknown token"))
    }
}

/// The hash stored in the access file for `token`.
pub fn hash_token(token: &str) -> blake3::Hash {
    blake3::hash(token.as_bytes())
}

/// A new random token (256 bits from the OS).
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

/// Refuses a file that group or others may read or write (tokens' hashes still let an
/// attacker test guesses offline, and a writable file lets anyone grant themselves admin).
pub fn check_private(path: &Path) -> Result<(), AccessError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|error| AccessError::Read {
            path: path.display().to_string(),
            error,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(AccessError::LoosePermissions {
                path: path.display().to_string(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(extra: &str) -> Result<Access, String> {
        let h = hash_token("secret-w");
        Access::parse(&format!(
            "[[token]]\nname = \"hr\"\nrole = \"writer\"\nhash = \"{h}\"\n{extra}"
        ))
    }

    #[test]
    fn table() {
        use Permission::*;
        let cases = [
            (Role::Writer, [true, true, false, false]),
            (Role::Auditor, [false, true, true, false]),
            (Role::Principal, [false, true, false, true]),
            (Role::Teacher, [false, true, false, true]),
            (Role::Admin, [true, true, true, true]),
            (Role::Mirror, [false, true, true, false]),
        ];
        for (role, expected) in cases {
            let got = [Append, ReadHead, Audit, Query].map(|p| role.allows(p));
            assert_eq!(
                role.allows(Replicate),
                matches!(role, Role::Admin | Role::Mirror)
            );
            assert_eq!(got, expected, "{role:?}");
        }
    }

    #[test]
    fn parse_errors_say_what() {
        assert!(access("").is_ok());
        let e = access("[[token]]\nname = \"hr\"\nrole = \"admin\"\nhash = \"00\"\n").unwrap_err();
        assert!(e.contains("64 hex digits"), "{e}");
        let h = hash_token("x");
        let e = access(&format!(
            "[[token]]\nname = \"hr\"\nrole = \"admin\"\nhash = \"{h}\"\n"
        ))
        .unwrap_err();
        assert!(e.contains("appears twice"), "{e}");
        let e = access(&format!(
            "[[token]]\nname = \"p\"\nrole = \"principal\"\nhash = \"{h}\"\n"
        ))
        .unwrap_err();
        assert!(e.contains("schools"), "{e}");
        let e = access(&format!(
            "[[token]]\nname = \"p\"\nrole = \"boss\"\nhash = \"{h}\"\n"
        ))
        .unwrap_err();
        assert!(e.contains("boss"), "{e}");
        let e = access(&format!(
            "[[token]]\nname = \"t\"\nrole = \"teacher\"\nhash = \"{h}\"\n"
        ))
        .unwrap_err();
        assert!(e.contains("a teacher needs"), "{e}");
        let e = access(&format!(
            "[[token]]\nname = \"t\"\nrole = \"principal\"\nschools = [\"S1\"]\nteacher = \"T1\"\nhash = \"{h}\"\n"
        ))
        .unwrap_err();
        assert!(e.contains("only for role"), "{e}");
        let e = access(&format!(
            "[[token]]\nname = \"t\"\nrole = \"teacher\"\nteacher = \"T1\"\nschools = [\"S1\"]\nhash = \"{h}\"\n"
        ))
        .unwrap_err();
        assert!(e.contains("only their own"), "{e}");
        assert!(
            access(&format!(
                "[[token]]\nname = \"t\"\nrole = \"teacher\"\nteacher = \"T1\"\nhash = \"{h}\"\n"
            ))
            .is_ok()
        );
        let e = Access::parse("").unwrap_err();
        assert!(e.contains("no [[token]]"), "{e}");
    }

    #[test]
    fn tokens_are_distinct_and_prefixed() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64);
    }
}
