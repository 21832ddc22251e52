//! Tokens for `serve --demo`: without them the demo would run open (every caller the local
//! admin), and nobody could try the console as a principal, the person it is mostly for. On
//! first start the demo makes an admin token (bureau staff), a principal token for the
//! demo's first strong school and a teacher token for a teacher with the longest rotation
//! (their own record and certificate), keeps them in its data directory (`demo-tokens.txt`,
//! and `demo-access.toml` with their hashes, both readable by the owner only), and prints
//! them on every start. An access file given with `--config` is used instead.

use std::path::{Path, PathBuf};

use super::CliError;
use crate::domain::vocab::Standing;
use crate::grpc::auth::{Access, hash_token, new_token};
use crate::ledger::Ledger;

/// The file holding the demo's tokens in clear (demo data only).
pub const TOKENS_FILE: &str = "demo-tokens.txt";
/// The demo's access file.
pub const ACCESS_FILE: &str = "demo-access.toml";

/// One demo token, as printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoToken {
    /// `admin`, `principal` or `teacher`.
    pub role: String,
    /// The principal's school, the teacher's id (empty for the admin).
    pub school: String,
    /// The token.
    pub token: String,
}

impl DemoToken {
    fn line(&self) -> String {
        format!("{} {} {}", self.role, self.school_or_dash(), self.token)
    }

    fn school_or_dash(&self) -> &str {
        if self.school.is_empty() {
            "-"
        } else {
            &self.school
        }
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(CliError::ctx(format!("writing {}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(CliError::ctx(format!("restricting {}", path.display())))?;
    }
    Ok(())
}

fn read_tokens(path: &Path) -> Option<Vec<DemoToken>> {
    let text = std::fs::read_to_string(path).ok()?;
    let tokens: Vec<DemoToken> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (role, school, token) = (w.next()?, w.next()?, w.next()?);
            Some(DemoToken {
                role: role.to_owned(),
                school: if school == "-" {
                    String::new()
                } else {
                    school.to_owned()
                },
                token: token.to_owned(),
            })
        })
        .collect();
    (!tokens.is_empty()).then_some(tokens)
}

/// The access file text for `tokens`.
fn access_text(tokens: &[DemoToken]) -> String {
    tokens
        .iter()
        .map(|t| {
            let schools = match (t.role.as_str(), t.school.is_empty()) {
                (_, true) => String::new(),
                ("teacher", false) => format!("teacher = \"{}\"\n", t.school),
                _ => format!("schools = [\"{}\"]\n", t.school),
            };
            format!(
                "[[token]]\nname = \"demo-{}\"\nrole = \"{}\"\n{schools}hash = \"{}\"\n\n",
                t.role,
                t.role,
                hash_token(&t.token).to_hex()
            )
        })
        .collect()
}

/// The school whose principal the demo signs in: the strong school with the most teachers
/// due to rotate today (China Standard Time), so that a principal trying the console finds a
/// list to read and download; the first strong school if none has anyone due, the first
/// school if none is strong.
fn principal_school(ledger: &Ledger) -> Option<String> {
    let today = crate::grpc::query_service::today();
    let view = ledger.view(None).ok()?;
    let strong: Vec<String> = ledger
        .query(|s| {
            s.schools()
                .filter(|sc| sc.standing.latest() == Some(&Standing::Strong))
                .map(|sc| sc.id.to_string())
                .collect::<Vec<_>>()
        })
        .value;
    let busiest = strong
        .iter()
        .map(|id| {
            let due = view
                .school_duty(id, today)
                .map_or(0, |d| d.due_to_rotate.len());
            (due, id)
        })
        // The most due; among equals the first (max_by_key keeps the last, so compare the
        // position too).
        .enumerate()
        .max_by_key(|(i, (due, _))| (*due, std::cmp::Reverse(*i)))
        .filter(|(_, (due, _))| *due > 0)
        .map(|(_, (_, id))| id.clone());
    busiest.or_else(|| strong.first().cloned()).or_else(|| {
        ledger
            .query(|s| s.schools().next().map(|sc| sc.id.to_string()))
            .value
    })
}

/// The teacher whose token the demo makes: the one of the earliest dispatch (so the longest
/// rotation, and a certificate with terms and evaluations to show); ties by dispatch id.
fn demo_teacher(ledger: &Ledger) -> Option<String> {
    ledger
        .query(|s| {
            s.dispatches()
                .min_by(|a, b| (a.start_date, &a.id).cmp(&(b.start_date, &b.id)))
                .map(|d| d.teacher.to_string())
        })
        .value
}

/// The demo's access and its tokens: those kept in `data` from an earlier start, else new
/// ones (an admin, and the principal of the first strong school of the loaded district).
pub fn demo_access(data: &Path, ledger: &Ledger) -> Result<(Access, Vec<DemoToken>), CliError> {
    let tokens_path: PathBuf = data.join(TOKENS_FILE);
    let access_path: PathBuf = data.join(ACCESS_FILE);
    let mut tokens = match read_tokens(&tokens_path) {
        Some(t) => t,
        None => {
            let school = principal_school(ledger);
            let school =
                school.ok_or_else(|| CliError("the demo district has no school".into()))?;
            let mut tokens = Vec::new();
            for (role, school) in [("admin", String::new()), ("principal", school)] {
                tokens.push(DemoToken {
                    role: role.to_owned(),
                    school,
                    token: new_token().map_err(CliError::ctx("reading OS randomness"))?,
                });
            }
            let text = format!(
                "# rotaledger serve --demo: sign-in tokens of the demo district (role, school, token)\n{}\n",
                tokens
                    .iter()
                    .map(DemoToken::line)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            write_private(&tokens_path, &text)?;
            tokens
        }
    };
    // A teacher's token, also for a data directory made before teachers had tokens.
    if !tokens.iter().any(|t| t.role == "teacher")
        && let Some(teacher) = demo_teacher(ledger)
    {
        tokens.push(DemoToken {
            role: "teacher".into(),
            school: teacher,
            token: new_token().map_err(CliError::ctx("reading OS randomness"))?,
        });
        let text = format!(
            "# rotaledger serve --demo: sign-in tokens of the demo district (role, school or teacher, token)\n{}\n",
            tokens
                .iter()
                .map(DemoToken::line)
                .collect::<Vec<_>>()
                .join("\n")
        );
        write_private(&tokens_path, &text)?;
    }
    write_private(&access_path, &access_text(&tokens))?;
    let access = Access::load(&access_path).map_err(|e| CliError(e.to_string()))?;
    Ok((access, tokens))
}

/// The lines `serve --demo` prints so a person can sign in.
pub fn announce(tokens: &[DemoToken], data: &Path) -> Vec<String> {
    let mut out = vec![format!(
        "demo sign-in tokens (kept in {}):",
        data.join(TOKENS_FILE).display()
    )];
    // The principal's line last: what a script waiting for the demo looks for.
    let mut ordered: Vec<&DemoToken> = tokens.iter().collect();
    ordered.sort_by_key(|t| t.role == "principal");
    for t in ordered {
        out.push(match t.role.as_str() {
            "admin" => format!("  admin (bureau staff, /district): {}", t.token),
            "teacher" => format!(
                "  teacher {} (their own record and certificate): {}",
                t.school, t.token
            ),
            _ => format!("  principal of school {}: {}", t.school, t.token),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_text_parses_and_the_tokens_file_reads_back() {
        let tokens = vec![
            DemoToken {
                role: "admin".into(),
                school: String::new(),
                token: "rl_a".into(),
            },
            DemoToken {
                role: "principal".into(),
                school: "S0001".into(),
                token: "rl_b".into(),
            },
            DemoToken {
                role: "teacher".into(),
                school: "T0001".into(),
                token: "rl_c".into(),
            },
        ];
        assert!(access_text(&tokens).contains("teacher = \"T0001\""));
        let lines = announce(&tokens, Path::new("/d"));
        assert!(lines.last().unwrap().contains("principal of school S0001"));
        assert!(lines.iter().any(|l| l.contains("teacher T0001")));
        let access = Access::parse(&access_text(&tokens)).unwrap();
        assert!(!access.is_open());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(TOKENS_FILE);
        let text = format!(
            "# comment\n{}\n",
            tokens
                .iter()
                .map(DemoToken::line)
                .collect::<Vec<_>>()
                .join("\n")
        );
        write_private(&p, &text).unwrap();
        assert_eq!(read_tokens(&p), Some(tokens));
    }
}
