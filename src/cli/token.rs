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
    New {
        /// The name recorded as the actor of this token's appends.
        #[arg(long)]
        name: String,
        /// writer, auditor, principal or admin.
        #[arg(long)]
        role: Role,
        /// For principals: a school in scope (repeat for several).
        #[arg(long = "school")]
        schools: Vec<String>,
    },
    /// Print the hash of a token (given as an argument, or read from stdin).
    Hash {
        /// The token; read from stdin if absent (keeps it out of the shell history).
        token: Option<String>,
    },
}

fn entry(name: &str, role: Role, schools: &[String], hash: &str) -> String {
    let mut s = format!(
        "[[token]]\nname = {}\nrole = \"{}\"\n",
        toml_str(name),
        role.as_str()
    );
    if !schools.is_empty() {
        let list: Vec<String> = schools.iter().map(|s| toml_str(s)).collect();
        s.push_str(&format!("schools = [{}]\n", list.join(", ")));
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
        } => {
            crate::log::entry::check_id("name", &name).map_err(CliError)?;
            if role == Role::Principal && schools.is_empty() {
                return Err(CliError("a principal needs at least one --school".into()));
            }
            let token = new_token().map_err(CliError::ctx("reading OS randomness"))?;
            let hash = hash_token(&token).to_hex();
            println!("token: {token}");
            println!();
            println!("# Add to the access file (chmod 600), then restart the server:");
            print!("{}", entry(&name, role, &schools, &hash));
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
            &hash_token("t").to_hex(),
        );
        let access = Access::parse(&e).unwrap();
        assert!(!access.is_open());
    }
}
