//! A synthetic jurisdiction shaped like the Minhang district (闵行区) and years of rotation
//! activity that follow the Shanghai 2023 policy, written as append requests (JSON Lines).
//!
//! `rotaledger generate` calls [`generate`] with a writer; this module does no other I/O.
//! The shape comes from the seeds: `seeds/000_*` (Minhang: 402 schools, 15,000+ teachers,
//! 12 districts 学区 and 8 education groups 集团) and `seeds/001_*` (Shanghai 2023: strong
//! schools send at least 20% of the teachers meeting rotation conditions each year, key
//! teachers at least 30% of them, for at least 3 years, to weak schools in teams of at least
//! 3; the receiving school evaluates). `docs/GENERATE.md` documents the output and the shape.
//!
//! **Contract:** every event written MUST be accepted by the ledger's rules when the lines
//! are appended in order to an empty ledger (entry sequence numbers named by voids count
//! from 0 in that ledger). The output is a function of the [`Config`] alone.
//!
//! Memory is bounded by the registry: a few dozen bytes per teacher and per school, plus
//! one batch of lines; events are written as they are made.

mod district;
mod events;
mod rng;
mod years;

use std::io::Write;

pub use rng::Rng;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Config {
    /// Teachers registered at the start (Minhang: 15,000).
    pub teachers: u32,
    /// School years of activity after the registry.
    pub years: u32,
    /// The seed of every random choice.
    pub seed: u64,
    /// The first school year (`2023`: the Shanghai plan's first year).
    pub first_year: i32,
    /// Registry facts, returns, evaluations and promotions per append (team dispatches are
    /// always one append per team).
    pub batch: usize,
    /// The language of school, group and teacher names. Every other byte, and every random
    /// choice, is the same in both.
    pub names: Names,
}

/// The language of generated names: Chinese by default, as a real bureau's data has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Names {
    /// 闵行区七宝第三小学, 王建国.
    #[default]
    #[value(name = "zh", alias = "chinese")]
    Chinese,
    /// Minhang Qibao No.3 Primary School, Wang Jianguo.
    #[value(name = "en", alias = "english")]
    English,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            teachers: 15_000,
            years: 5,
            seed: 1,
            first_year: 2023,
            batch: 500,
            names: Names::Chinese,
        }
    }
}

/// Why nothing (more) could be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The configuration is out of range; nothing was written.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The writer failed; the output is incomplete.
    #[error("writing the output: {0}")]
    Io(#[from] std::io::Error),
}

/// Counts of one school year's activity.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct YearStats {
    /// The school year (`2024` is 2024-09-01 .. 2025-08-31).
    pub school_year: i32,
    /// Teachers meeting rotation conditions at strong schools on 1 September.
    pub eligible_at_strong: u64,
    /// Sum over strong schools of ceil(20% of eligible).
    pub quota: u64,
    /// Rotation dispatches out of strong schools.
    pub rotation_dispatches: u64,
    /// Of which key teachers.
    pub key_teacher_dispatches: u64,
    /// Of which in teams (组团流入).
    pub team_dispatches: u64,
    /// Teams formed.
    pub teams: u64,
    /// Strong schools that sent fewer than their quota.
    pub schools_below_quota: u64,
    /// Support dispatches (支教) to rural schools.
    pub support_dispatches: u64,
    /// Training placements (挂职锻炼) of weak schools' teachers at strong schools.
    pub training_dispatches: u64,
    /// Returns at or after the end of the minimum term.
    pub returns_completed: u64,
    /// Early returns.
    pub early_returns: u64,
    /// Evaluations recorded (including mistaken ones later voided).
    pub evaluations: u64,
    /// Promotions claiming rotation or leadership credit.
    pub promotions_with_credit: u64,
    /// Promotions without credit.
    pub promotions_without_credit: u64,
    /// Voids (each followed by the corrected entry).
    pub voids: u64,
    /// Profile updates (key-teacher level, subject).
    pub profile_updates: u64,
    /// Transfers (调动).
    pub transfers: u64,
    /// Standing changes (a weak school improved, an ordinary one recognised as strong).
    pub standing_changes: u64,
    /// Schools joining an education group.
    pub group_joins: u64,
}

/// What was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Schools by standing at registration: strong, ordinary, weak.
    pub schools_by_standing: [u64; 3],
    /// Schools by stage, in the order of `Stage::ALL`.
    pub schools_by_stage: Vec<(String, u64)>,
    /// Rural schools.
    pub rural_schools: u64,
    /// Districts (学区).
    pub districts: u64,
    /// Education groups (集团).
    pub education_groups: u64,
    /// Teachers registered.
    pub teachers: u64,
    /// Of which key teachers (骨干教师, any level).
    pub key_teachers: u64,
    /// Per school year.
    pub years: Vec<YearStats>,
    /// Lines (append requests) written.
    pub lines: u64,
    /// Events written.
    pub events: u64,
}

/// Writes the district and `config.years` school years of activity to `out`, one append
/// request per line; returns what was generated.
pub fn generate<W: Write>(config: &Config, out: &mut W) -> Result<Stats, GenerateError> {
    if config.teachers < 10 || config.teachers > 50_000_000 {
        return Err(GenerateError::Config(format!(
            "teachers must be between 10 and 50000000, not {}",
            config.teachers
        )));
    }
    if config.years > 60 {
        return Err(GenerateError::Config(format!(
            "years must be at most 60, not {}",
            config.years
        )));
    }
    if !(1960..=2900).contains(&config.first_year) {
        return Err(GenerateError::Config(format!(
            "the first year must be between 1960 and 2900, not {}",
            config.first_year
        )));
    }
    if config.batch == 0 || config.batch > 1000 {
        return Err(GenerateError::Config(format!(
            "a batch holds 1 to 1000 events (the ledger's default limit), not {}",
            config.batch
        )));
    }
    let mut out = Out::new(out, config.seed, config.batch);
    let mut sim = district::register(config, &mut out)?;
    for y in 0..config.years {
        let year = config.first_year + y as i32;
        let stats = sim.school_year(year, &mut out)?;
        sim.stats.years.push(stats);
    }
    out.flush()?;
    let mut stats = sim.stats;
    stats.lines = out.lines;
    stats.events = out.next_seq;
    Ok(stats)
}

/// The line writer: batches events into append requests and numbers the entries they will
/// become in an empty ledger.
pub(crate) struct Out<'w, W: Write> {
    /// Where lines go.
    w: &'w mut W,
    /// In every request id.
    seed: u64,
    /// Lines written so far (the `<n>` of the next request id).
    lines: u64,
    /// The entry sequence number the next event will get.
    next_seq: u64,
    /// Events waiting for a batched line.
    batch: Vec<String>,
    /// Most events per batched line.
    batch_size: usize,
}

impl<'w, W: Write> Out<'w, W> {
    fn new(w: &'w mut W, seed: u64, batch_size: usize) -> Self {
        Out {
            w,
            seed,
            lines: 0,
            next_seq: 0,
            batch: Vec::with_capacity(batch_size),
            batch_size,
        }
    }

    /// Adds `event` to the current batch; returns its future sequence number.
    pub(crate) fn push(&mut self, event: String) -> Result<u64, GenerateError> {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.batch.push(event);
        if self.batch.len() >= self.batch_size {
            self.flush()?;
        }
        Ok(seq)
    }

    /// Writes `events` as one append of their own (after any pending batch); returns the
    /// sequence number of the first.
    pub(crate) fn line(&mut self, events: Vec<String>) -> Result<u64, GenerateError> {
        self.flush()?;
        let first = self.next_seq;
        self.next_seq += events.len() as u64;
        self.write(&events)?;
        Ok(first)
    }

    /// Writes the pending batch, if any.
    pub(crate) fn flush(&mut self) -> Result<(), GenerateError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.write(&batch)?;
        self.batch = batch;
        self.batch.clear();
        Ok(())
    }

    fn write(&mut self, events: &[String]) -> Result<(), GenerateError> {
        write!(
            self.w,
            r#"{{"request_id":"gen-{}-{}","events":["#,
            self.seed, self.lines
        )?;
        for (i, e) in events.iter().enumerate() {
            if i > 0 {
                self.w.write_all(b",")?;
            }
            self.w.write_all(e.as_bytes())?;
        }
        self.w.write_all(b"]}\n")?;
        self.lines += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Config, GenerateError, generate};
    use crate::domain::Event;

    fn lines(config: &Config) -> (Vec<serde_json::Value>, super::Stats) {
        let mut out = Vec::new();
        let stats = generate(config, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (lines, stats)
    }

    #[test]
    fn lines_are_numbered_requests_of_decodable_events() {
        let config = Config {
            teachers: 400,
            years: 4,
            seed: 11,
            batch: 50,
            ..Config::default()
        };
        let (lines, stats) = lines(&config);
        assert_eq!(lines.len() as u64, stats.lines);
        let mut events = 0u64;
        let mut teams = 0u64;
        for (n, line) in lines.iter().enumerate() {
            assert_eq!(line["request_id"], format!("gen-11-{n}"));
            let list = line["events"].as_array().unwrap();
            assert!(!list.is_empty() && list.len() <= 50, "line {n}");
            let decoded: Vec<Event> = list
                .iter()
                .map(|e| Event::decode(&e.to_string()).unwrap())
                .collect();
            // A team is one append of 3 to 5 dispatches to one school, nothing else.
            let team_members = list.iter().filter(|e| e.get("team").is_some()).count();
            if team_members > 0 {
                teams += 1;
                assert_eq!(team_members, list.len(), "line {n}");
                assert!((3..=5).contains(&team_members), "line {n}");
                let to: std::collections::BTreeSet<_> =
                    list.iter().map(|e| e["to_school"].to_string()).collect();
                assert_eq!(to.len(), 1, "line {n}");
            }
            events += decoded.len() as u64;
        }
        assert_eq!(events, stats.events);
        assert_eq!(teams, stats.years.iter().map(|y| y.teams).sum::<u64>());
        assert!(teams > 0);
    }

    #[test]
    fn district_scales_with_teachers() {
        let (_, small) = lines(&Config {
            teachers: 15_000,
            years: 0,
            ..Config::default()
        });
        assert_eq!(small.schools_by_standing.iter().sum::<u64>(), 402);
        assert_eq!((small.districts, small.education_groups), (12, 8));
        assert_eq!(small.teachers, 15_000);
        let (_, big) = lines(&Config {
            teachers: 30_000,
            years: 0,
            ..Config::default()
        });
        assert_eq!(big.schools_by_standing.iter().sum::<u64>(), 804);
        assert_eq!((big.districts, big.education_groups), (24, 16));
    }

    #[test]
    fn out_of_range_configurations_write_nothing() {
        for config in [
            Config {
                teachers: 5,
                ..Config::default()
            },
            Config {
                years: 61,
                ..Config::default()
            },
            Config {
                batch: 1001,
                ..Config::default()
            },
        ] {
            let mut out = Vec::new();
            let e = generate(&config, &mut out).unwrap_err();
            assert!(matches!(e, GenerateError::Config(_)), "{e}");
            assert!(out.is_empty());
        }
    }
}
