//! `rotaledger token new|hash`: make tokens and the hashes the access file stores.

use std::io::Read;

use clap::Subcommand;

use super::{CliError, Outcome};
use crate::grpc::auth::{Role, hash_token, new_token};

/// `rotaledger token ...`.
#[derive(Subcommand, Debug, Clone)]
pub enum TokenCommand {
    /// Make a new random token and print it with the `[[token]]` entry for the access file.
    ///
    /// The token is shown once; the access file keeps only its hash.
    ///
    /// With `--role teacher --teachers-from FILE`, one token per teacher id of the file (one
    /// id a line; blank lines and `#` comments skipped), named `teacher-<id>`: first the
    /// `name token` lines to hand out, then the access-file entries.
    New {
        /// The name recorded as the actor of this token's appends (with --teachers-from:
        /// `teacher-<id>`).
        #[arg(long, required_unless_present = "teachers_from")]
        name: Option<String>,
        /// writer, auditor, principal, teacher, mirror or admin.
        #[arg(long)]
        role: Role,
        /// For principals: a school in scope (repeat for several).
        #[arg(long = "school")]
        schools: Vec<String>,
        /// For a teacher: their teacher id (the token shows only their own record).
        #[arg(long, conflicts_with = "teachers_from")]
        teacher: Option<String>,
        /// For teachers, in bulk: a file of teacher ids, one a line (e.g. from a roster).
        #[arg(long, value_name = "FILE", conflicts_with = "name")]
        teachers_from: Option<std::path::PathBuf>,
    },
    /// Print the hash of a token (given as an argument, or read from stdin).
    Hash {
        /// The token; read from stdin if absent (keeps it out of the shell history).
        token: Option<String>,
    },
}

fn entry(name: &str, role: Role, schools: &[String], teacher: Option<&str>, hash: &str) -> String {
    let mut s = format!(
        "[[token]]\nname = {}\nrole = \"{}\"\n",
        toml_str(name),
        role.as_str()
    );
    if !schools.is_empty() {
        let list: Vec<String> = schools.iter().map(|s| toml_str(s)).collect();
        s.push_str(&format!("schools = [{}]\n", list.join(", ")));
    }
    if let Some(t) = teacher {
        s.push_str(&format!("teacher = {}\n", toml_str(t)));
    }
    s.push_str(&format!("hash = \"{hash}\"\n"));
    s
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    // JSON string escapes are valid TOML basic-string escapes.
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Runs a token command.
pub fn run(cmd: TokenCommand) -> Result<Outcome, CliError> {
    match cmd {
        TokenCommand::New {
            name,
            role,
            schools,
            teacher,
            teachers_from,
        } => {
            if role == Role::Principal && schools.is_empty() {
                return Err(CliError("a principal needs at least one --school".into()));
            }
            if role != Role::Teacher && (teacher.is_some() || teachers_from.is_some()) {
                return Err(CliError(
                    "--teacher and --teachers-from are for --role teacher".into(),
                ));
            }
            if role == Role::Teacher && !schools.is_empty() {
                return Err(CliError(
                    "a teacher sees only their own record; --school is for principals".into(),
                ));
            }
            if let Some(file) = teachers_from {
                let text = std::fs::read_to_string(&file)
                    .map_err(CliError::ctx(format!("reading {}", file.display())))?;
                let made = bulk_teachers(&text)?;
                println!("# name token (hand each teacher their own; shown once)");
                for (name, token, _) in &made {
                    println!("{name} {token}");
                }
                println!();
                println!("# Add to the access file (chmod 600), then restart the server:");
                for (_, _, e) in &made {
                    print!("{e}");
                }
                return Ok(Outcome::Ok);
            }
            let name = name.unwrap_or_default();
            crate::log::entry::check_id("name", &name).map_err(CliError)?;
            if role == Role::Teacher && teacher.is_none() {
                return Err(CliError("a teacher's token needs --teacher <id>".into()));
            }
            if let Some(t) = &teacher {
                crate::log::entry::check_id("teacher", t).map_err(CliError)?;
            }
            let token = new_token().map_err(CliError::ctx("reading OS randomness"))?;
            let hash = hash_token(&token).to_hex();
            println!("token: {token}");
            println!();
            println!("# Add to the access file (chmod 600), then restart the server:");
            print!(
                "{}",
                entry(&name, role, &schools, teacher.as_deref(), &hash)
            );
        }
        TokenCommand::Hash { token } => {
            let token = match token {
                Some(t) => t,
                None => {
                    let mut s = String::new();
                    std::io::stdin()
                        .read_to_string(&mut s)
                        .map_err(CliError::ctx("reading the token from stdin"))?;
                    s
                }
            };
            let token = token.trim();
            if token.is_empty() {
                return Err(CliError("no token given".into()));
            }
            println!("{}", hash_token(token).to_hex());
        }
    }
    Ok(Outcome::Ok)
}

/// One teacher token per id of `roster` (one a line; blank lines and `#` comments
/// skipped): `(name, token, access-file entry)`, named `teacher-<id>`.
fn bulk_teachers(roster: &str) -> Result<Vec<(String, String, String)>, CliError> {
    let mut made: Vec<(String, String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in roster.lines().enumerate() {
        let id = line.split('#').next().unwrap_or_default().trim();
        if id.is_empty() {
            continue;
        }
        crate::log::entry::check_id("teacher", id)
            .map_err(|e| CliError(format!("line {}: {e}", i + 1)))?;
        if !seen.insert(id.to_owned()) {
            return Err(CliError(format!(
                "line {}: teacher {id} appears twice",
                i + 1
            )));
        }
        let name = format!("teacher-{id}");
        let token = new_token().map_err(CliError::ctx("reading OS randomness"))?;
        let e = entry(
            &name,
            Role::Teacher,
            &[],
            Some(id),
            &hash_token(&token).to_hex(),
        );
        made.push((name, token, e));
    }
    if made.is_empty() {
        return Err(CliError("the roster names no teacher".into()));
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::auth::Access;

    #[test]
    fn printed_entry_parses_as_an_access_file() {
        let e = entry(
            "p \"1\"",
            Role::Principal,
            &["S0001".into()],
            None,
            &hash_token("t").to_hex(),
        );
        let access = Access::parse(&e).unwrap();
        assert!(!access.is_open());
    }

    #[test]
    fn a_roster_makes_one_teacher_token_each_and_the_entries_parse() {
        let made = bulk_teachers("# 七宝三小\nT001\n\nT002  # 王老师\n").unwrap();
        assert_eq!(made.len(), 2);
        assert_eq!(made[1].0, "teacher-T002");
        assert!(made[1].2.contains("teacher = \"T002\""));
        let all: String = made.iter().map(|m| m.2.as_str()).collect();
        assert!(!Access::parse(&all).unwrap().is_open());
        assert!(bulk_teachers("T001\nT001\n").is_err());
        assert!(bulk_teachers("# nobody\n").is_err());
    }
}
