//! `rotaledger city ...`: the questions a city view answers (docs/CITY.md), printed per
//! district with the checkpoint each part was computed at, or as JSON with `--json`.

use clap::Subcommand;

use super::client::{Connect, call, status_err};
use super::query::{credit_lines, date_arg, eligibility_text, history_text, show, table, yes};
use super::{CliError, Outcome};
use crate::proto;

/// The `city` subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum CityCommand {
    /// List the logs the city view follows: address, origin, how the copy stands, size.
    Sources {
        #[command(flatten)]
        connect: Connect,
    },
    /// Print a teacher's history in every district's log that records them.
    History {
        #[command(flatten)]
        connect: Connect,
        /// The teacher id (the city's HR id, the same in every district).
        teacher: String,
        /// The date asked about (YYYY-MM-DD; default: today in China Standard Time, UTC+8).
        #[arg(long, value_parser = date_arg)]
        as_of: Option<String>,
    },
    /// Print a teacher's eligibility in each district and the credits summed over them.
    Eligibility {
        #[command(flatten)]
        connect: Connect,
        /// The teacher id (the city's HR id, the same in every district).
        teacher: String,
        /// The date asked about (YYYY-MM-DD; default: today in China Standard Time, UTC+8).
        #[arg(long, value_parser = date_arg)]
        as_of: Option<String>,
    },
}

/// Runs one City call and returns its answer, or the status described for a person.
fn ask<T, Fut>(
    c: &Connect,
    what: &str,
    f: impl FnOnce(crate::cli::client::City) -> Fut,
) -> Result<T, CliError>
where
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    super::client::runtime()?.block_on(async {
        let q = c.city().await?;
        Ok(f(q).await.map_err(status_err(what))?.into_inner())
    })
}

/// One part's heading: the log it comes from and the checkpoint it was computed at.
fn heading(s: &Option<proto::CitySource>) -> String {
    let Some(s) = s else {
        return String::new();
    };
    let status = s.mirror.as_ref().map_or("", |m| m.status.as_str());
    let size = s.checkpoint.as_ref().map_or(0, |c| c.size);
    let mut out = format!(
        "== {} ({}, {status}), checkpoint at {size}\n",
        s.origin, s.url
    );
    if let Some(m) = &s.mirror
        && !m.reason.is_empty()
    {
        out.push_str(&format!("   {}\n", m.reason));
    }
    out
}

/// The schools of other districts a part's dispatches go to, and whether their own logs
/// agree with this one about them.
fn cross_schools(schools: &[proto::CrossDistrictSchool]) -> String {
    let mut out = String::new();
    let word = |s: &str, rural: bool| {
        let s = if s.is_empty() { "not registered" } else { s };
        if rural {
            format!("{s}, rural")
        } else {
            s.to_owned()
        }
    };
    for c in schools {
        let there = if c.found {
            word(&c.standing_there, c.rural_there)
        } else {
            "unknown".to_owned()
        };
        out.push_str(&format!(
            "school of another district {} (dispatch {} from {}): {} here, {there} in its own log: {}\n",
            c.school,
            c.dispatch,
            c.start_date,
            word(&c.standing_here, c.rural_here),
            if c.agrees { "they agree" } else { "they disagree" }
        ));
    }
    out
}

impl CityCommand {
    /// Runs the subcommand.
    pub fn run(self) -> Result<Outcome, CliError> {
        match self {
            CityCommand::Sources { connect } => {
                let r = ask(&connect, "Sources", |mut c| async move {
                    c.sources(call(proto::CitySourcesRequest {})).await
                })?;
                show(&connect, &r, |r| {
                    let rows: Vec<Vec<String>> = r
                        .sources
                        .iter()
                        .map(|s| {
                            let m = s.mirror.clone().unwrap_or_default();
                            vec![
                                s.url.clone(),
                                s.origin.clone(),
                                m.status,
                                s.checkpoint.as_ref().map_or(0, |c| c.size).to_string(),
                                m.primary_size.to_string(),
                            ]
                        })
                        .collect();
                    table(&["URL", "ORIGIN", "STATUS", "SIZE", "PRIMARY_SIZE"], &rows)
                })
            }
            CityCommand::History {
                connect,
                teacher,
                as_of,
            } => {
                let req = proto::CityTeacherHistoryRequest {
                    teacher,
                    as_of: as_of.unwrap_or_default(),
                    with_proofs: false,
                };
                let r = ask(&connect, "TeacherHistory", |mut c| async move {
                    c.teacher_history(call(req)).await
                })?;
                show(&connect, &r, |r| {
                    let mut out = String::new();
                    for p in &r.parts {
                        out.push_str(&heading(&p.source));
                        if let Some(h) = &p.history {
                            out.push_str(&history_text(h));
                        }
                        out.push_str(&cross_schools(&p.schools));
                    }
                    out
                })
            }
            CityCommand::Eligibility {
                connect,
                teacher,
                as_of,
            } => {
                let req = proto::CityEligibilityRequest {
                    teacher,
                    as_of: as_of.unwrap_or_default(),
                };
                let r = ask(&connect, "Eligibility", |mut c| async move {
                    c.eligibility(call(req)).await
                })?;
                show(&connect, &r, |r| {
                    let mut out = String::new();
                    for p in &r.parts {
                        out.push_str(&heading(&p.source));
                        out.push_str(&format!("home {} since {}\n", p.home_school, p.home_since));
                        if let Some(e) = &p.eligibility {
                            out.push_str(&eligibility_text(e));
                        }
                        out.push_str(&cross_schools(&p.schools));
                    }
                    if let Some(c) = &r.combined {
                        out.push_str(&format!(
                            "== across the city (as of {}; requirements of {}, the home log)\n",
                            r.as_of, c.home_origin
                        ));
                        out.push_str(&format!(
                            "rotation credit: {} {}\n",
                            yes(c.rotation_met),
                            c.rotation_dispatches.join(" ")
                        ));
                        out.push_str(&credit_lines(&c.leadership, &c.senior_title));
                        out.push_str(&format!(
                            "returning-mentor credit: {}\n",
                            yes(c.returning_mentor_met)
                        ));
                        if !c.disputed.is_empty() {
                            out.push_str(&format!(
                                "counted, but the receiving school's own district disagrees: {}\n",
                                c.disputed.join(" ")
                            ));
                        }
                    }
                    out
                })
            }
        }
    }
}
