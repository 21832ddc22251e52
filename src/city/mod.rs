//! A city view (`serve --follow URL1 --follow URL2 ...`, docs/CITY.md): one server that
//! follows several jurisdictions' ledgers and answers for a teacher across all of them.
//!
//! Each followed log is a mirror of its own (`crate::mirror`), in a data directory of its own
//! under `<data>/sources/`: copied and verified entry by entry against its primary's signed
//! checkpoints before anything of it is answered, and flagged stale or forked as a mirror
//! would be. The city view adds no facts of its own and judges nothing again: a part of an
//! answer is what that log's own Query service would answer, with the log's origin and its
//! signed checkpoint at the size the part was computed at, so every part can be checked
//! against the district's key. What it adds is the one question over all of them, and the
//! credits summed over the districts (`combine`).
//!
//! **Ids.** A teacher is asked for by the city's HR id, the same in every district's log; any
//! other id (school, dispatch, team, group) belongs to one log and is written `id@origin` where
//! logs meet (a combined credit, a principal's scope in the city view's access file).

pub mod combine;
pub mod serve;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use tonic::{Request, Status};

use crate::domain::vocab::Vocabulary as _;
use crate::grpc::auth::{Access, Caller, Permission, Role};
use crate::grpc::convert;
use crate::grpc::query_convert as qc;
use crate::grpc::query_service::{deny_teacher, parse_date, parse_id, teacher_visible, today};
use crate::ledger::{Ledger, LedgerError, View};
use crate::mirror::FollowConfig;
use crate::proto;

/// Where a city view keeps its copies: one data directory per followed log.
pub const SOURCES_DIR: &str = "sources";

/// One followed log.
pub struct Source {
    /// The primary's address, as followed.
    pub url: String,
    /// The copy.
    pub ledger: Arc<Ledger>,
    /// How it is followed.
    pub follow: FollowConfig,
}

/// The data directory of the copy of the log at `url`: `<data>/sources/<url's host and
/// port, other characters as '_'>`, so the same address always finds its copy again.
pub fn source_dir(data: &Path, url: &str) -> PathBuf {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let name: String = rest
        .trim_end_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    data.join(SOURCES_DIR).join(name)
}

/// The logs a city view follows, and the access file its callers are checked against.
pub struct City {
    sources: Vec<Source>,
    access: Arc<Access>,
}

/// The origin of a copy at `size` (one of its committed sizes): the first line of its
/// checkpoint there; empty for an empty copy.
fn origin_at(ledger: &Ledger, size: u64) -> Result<String, LedgerError> {
    if size == 0 {
        return Ok(String::new());
    }
    Ok(ledger.checkpoint_at(size)?.checkpoint.origin)
}

/// The caller as one log sees it. A principal's schools are written `school@origin` in the
/// city view's access file: those of this log with the suffix taken off, and those of other
/// logs as they are written (a log names a school of another district by that qualified id,
/// and its own scope rules then show the teachers it sends there). An unqualified school
/// names no log's school.
fn caller_in(caller: &Caller, origin: &str) -> Caller {
    let suffix = format!("@{origin}");
    Caller {
        schools: caller
            .schools
            .iter()
            .filter_map(|s| match s.strip_suffix(&suffix) {
                Some(own) => Some(own.to_owned()),
                None => s.contains('@').then(|| s.clone()),
            })
            .collect(),
        ..caller.clone()
    }
}

impl City {
    /// A city view over `sources` (at least one), its callers checked against `access`.
    pub fn new(sources: Vec<Source>, access: Arc<Access>) -> City {
        City { sources, access }
    }

    /// The followed logs.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// How one log stands, with its checkpoint at `size` (the latest when `None`).
    fn source(
        &self,
        s: &Source,
        origin: &str,
        size: Option<u64>,
    ) -> Result<proto::CitySource, Status> {
        let checkpoint = match size {
            _ if s.ledger.head().size == 0 => None,
            Some(n) => Some(convert::checkpoint(&s.ledger.checkpoint_at(n)?)),
            None => Some(convert::checkpoint(&s.ledger.latest_checkpoint()?)),
        };
        Ok(proto::CitySource {
            url: s.url.clone(),
            origin: origin.to_owned(),
            mirror: s.ledger.mirror().map(convert::mirror_state),
            checkpoint,
        })
    }

    /// Each log's state now and its origin at that state's size, refused when two logs show
    /// the same origin (their ids could not be kept apart).
    fn states(&self) -> Result<(Vec<View>, Vec<String>), Status> {
        let mut views = Vec::with_capacity(self.sources.len());
        let mut origins: Vec<String> = Vec::with_capacity(self.sources.len());
        for s in &self.sources {
            s.ledger.check_integrity()?;
            let view = s.ledger.view(None)?;
            let origin = origin_at(&s.ledger, view.size())?;
            if let Some(j) = origins
                .iter()
                .position(|p| !origin.is_empty() && *p == origin)
            {
                return Err(crate::grpc::status::same_origin(
                    &origin,
                    &self.sources[j].url,
                    &s.url,
                ));
            }
            views.push(view);
            origins.push(origin);
        }
        Ok((views, origins))
    }

    /// `City.Sources` (not for a teacher's token: it shows every district's address and how
    /// its copy stands).
    pub fn list<T>(&self, request: &Request<T>) -> Result<proto::CitySourcesResponse, Status> {
        crate::grpc::wire::reached(request);
        let caller = self.access.authorize(request, Permission::Query)?;
        if caller.role == Role::Teacher {
            return Err(crate::grpc::status::permission_denied(
                &caller.name,
                caller.role.as_str(),
                "list the followed logs (a teacher's token asks only about the teacher)",
            ));
        }
        let origins = self
            .sources
            .iter()
            .map(|s| origin_at(&s.ledger, s.ledger.head().size))
            .collect::<Result<Vec<_>, _>>()?;
        let sources = self
            .sources
            .iter()
            .zip(&origins)
            .map(|(s, o)| self.source(s, o, None))
            .collect::<Result<_, _>>()?;
        Ok(proto::CitySourcesResponse { sources })
    }

    /// Runs `part` on every log that records the teacher and shows them to the caller, with
    /// that log's view and origin; a part that has nothing to say (`None`) is left out.
    fn each_part<T>(
        &self,
        caller: &Caller,
        teacher: &str,
        as_of: NaiveDate,
        mut part: impl FnMut(&Source, &str, &View, &Logs<'_>) -> Result<Option<T>, Status>,
    ) -> Result<Vec<T>, Status> {
        let (views, origins) = self.states()?;
        let logs = Logs {
            sources: &self.sources,
            origins: &origins,
            views: &views,
        };
        let mut parts = Vec::new();
        let mut recorded = false;
        for ((s, origin), view) in self.sources.iter().zip(&origins).zip(&views) {
            if !view.has_teacher(teacher) {
                continue;
            }
            recorded = true;
            let here = caller_in(caller, origin);
            if !teacher_visible(&here, view, teacher, as_of) {
                continue;
            }
            if let Some(p) = part(s, origin, view, &logs)? {
                parts.push(p);
            }
        }
        if parts.is_empty() {
            // As the Query service: an admin is told the teacher is unknown; anyone else gets
            // the same refusal whether or not some district records the teacher.
            if caller.role == Role::Admin {
                return Err(Status::from(LedgerError::NotFound(if recorded {
                    format!("no followed log holds a standing registration of teacher {teacher}")
                } else {
                    format!(
                        "teacher {teacher} is in none of the {} followed logs",
                        self.sources.len()
                    )
                })));
            }
            return Err(deny_teacher(caller, teacher));
        }
        Ok(parts)
    }

    /// `City.TeacherHistory`.
    pub fn teacher_history(
        &self,
        request: Request<proto::CityTeacherHistoryRequest>,
    ) -> Result<proto::CityTeacherHistoryResponse, Status> {
        crate::grpc::wire::reached(&request);
        let caller = self.access.authorize(&request, Permission::Query)?;
        let req = request.into_inner();
        let teacher = parse_id("teacher", &req.teacher)?;
        let as_of = as_of(&req.as_of)?;
        let parts = self.each_part(&caller, &teacher, as_of, |s, origin, view, logs| {
            let h = view.teacher_history(&teacher, as_of)?;
            let schools = logs.cross_schools(origin, view, h.summary.as_ref());
            let size = view.size();
            let mut entries: Vec<proto::HistoryEntry> =
                h.entries.iter().map(qc::history_entry).collect();
            if req.with_proofs {
                for (e, d) in entries.iter_mut().zip(&h.entries) {
                    let hashes = s.ledger.inclusion_proof(d.seq, size)?;
                    e.proof = Some(convert::inclusion(d.seq, size, &d.hash, &hashes));
                }
            }
            let source = self.source(s, origin, Some(size))?;
            Ok(Some(proto::CityHistoryPart {
                history: Some(proto::TeacherHistoryResponse {
                    position: Some(position(view, as_of)),
                    teacher: h.teacher.to_string(),
                    entries,
                    // Names are personal fields: their keys stay with each district, so a
                    // copy reveals none (docs/PRIVACY.md).
                    summary: h.summary.as_ref().map(|s| proto::TeacherSummary {
                        name: None,
                        ..qc::teacher_summary(s)
                    }),
                    checkpoint: source.checkpoint.clone(),
                }),
                source: Some(source),
                schools,
            }))
        })?;
        Ok(proto::CityTeacherHistoryResponse {
            teacher: teacher.to_string(),
            parts,
        })
    }

    /// `City.Eligibility`.
    pub fn eligibility(
        &self,
        request: Request<proto::CityEligibilityRequest>,
    ) -> Result<proto::CityEligibilityResponse, Status> {
        crate::grpc::wire::reached(&request);
        let caller = self.access.authorize(&request, Permission::Query)?;
        let req = request.into_inner();
        let teacher = parse_id("teacher", &req.teacher)?;
        let as_of = as_of(&req.as_of)?;
        let judged = self.each_part(&caller, &teacher, as_of, |s, origin, view, logs| {
            // A log that holds only a voided registration of the teacher judges nothing.
            let e = match view.eligibility(&teacher, as_of) {
                Err(LedgerError::NotFound(_)) => return Ok(None),
                e => e?,
            };
            let summary = view.teacher_history(&teacher, as_of)?.summary;
            let schools = logs.cross_schools(origin, view, summary.as_ref());
            let home = summary.and_then(|h| h.home_school.zip(h.home_since));
            let source = self.source(s, origin, Some(view.size()))?;
            Ok(Some(Judged {
                origin: origin.to_owned(),
                home,
                eligibility: e,
                source,
                position: position(view, as_of),
                schools,
            }))
        })?;
        let parts: Vec<combine::Part<'_>> = judged
            .iter()
            .map(|j| combine::Part {
                origin: &j.origin,
                home_since: j.home.as_ref().map(|(_, since)| *since),
                eligibility: &j.eligibility,
            })
            .collect();
        let combined = combine::combine(&parts).map(|c| {
            let mut credits = city_credits(&c);
            credits.disputed = disputed(&judged, &c);
            credits
        });
        Ok(proto::CityEligibilityResponse {
            teacher: teacher.to_string(),
            as_of: qc::date(as_of),
            combined,
            parts: judged
                .into_iter()
                .map(|j| proto::CityEligibilityPart {
                    source: Some(j.source),
                    home_school: j
                        .home
                        .as_ref()
                        .map(|(s, _)| s.to_string())
                        .unwrap_or_default(),
                    home_since: j.home.map(|(_, d)| qc::date(d)).unwrap_or_default(),
                    eligibility: Some(proto::EligibilityResponse {
                        position: Some(j.position),
                        eligibility: Some(qc::eligibility(&j.eligibility)),
                    }),
                    schools: j.schools,
                })
                .collect(),
        })
    }
}

/// One log's judgement of the teacher, on its way into an answer.
struct Judged {
    origin: String,
    home: Option<(crate::domain::id::Id, NaiveDate)>,
    eligibility: crate::domain::eligibility::Eligibility,
    source: proto::CitySource,
    position: proto::Position,
    schools: Vec<proto::CrossDistrictSchool>,
}

/// Every followed log's origin and state, as one question sees them.
struct Logs<'a> {
    sources: &'a [Source],
    origins: &'a [String],
    views: &'a [View],
}

impl Logs<'_> {
    /// The schools of other logs that the dispatches of `summary` (in the log `origin`, whose
    /// state is `here`) go to, each checked against its own log on the dispatch's start date.
    fn cross_schools(
        &self,
        origin: &str,
        here: &View,
        summary: Option<&crate::domain::history::TeacherSummary>,
    ) -> Vec<proto::CrossDistrictSchool> {
        let Some(summary) = summary else {
            return Vec::new();
        };
        let word = |s: Option<crate::domain::vocab::Standing>| {
            s.map(|s| s.as_str().to_owned()).unwrap_or_default()
        };
        let mut out = Vec::new();
        for t in &summary.dispatches {
            let Some((i, id)) = self.origins.iter().enumerate().find_map(|(i, o)| {
                (!o.is_empty() && o != origin)
                    .then(|| t.to_school.strip_suffix(&format!("@{o}")))
                    .flatten()
                    .map(|id| (i, id))
            }) else {
                continue;
            };
            let (standing_here, rural_here) = here
                .school_at(&t.to_school, t.start_date)
                .unwrap_or((None, false));
            let view_there = &self.views[i];
            let there = view_there.school_at(id, t.start_date);
            // The checkpoint of the other log that the facts taken from it rest on.
            let checkpoint_there = self.sources[i]
                .ledger
                .checkpoint_at(view_there.size())
                .ok()
                .map(|c| convert::checkpoint(&c));
            let (standing_there, rural_there) = there.unwrap_or((None, false));
            out.push(proto::CrossDistrictSchool {
                dispatch: t.dispatch.to_string(),
                start_date: qc::date(t.start_date),
                school: t.to_school.to_string(),
                origin: self.origins[i].clone(),
                found: there.is_some(),
                standing_here: word(standing_here),
                rural_here,
                standing_there: word(standing_there),
                rural_there,
                agrees: there.is_some()
                    && standing_here == standing_there
                    && rural_here == rural_there,
                checkpoint_there,
            });
        }
        out
    }
}

/// The as-of date of a request: today (UTC+8) when empty.
fn as_of(text: &str) -> Result<NaiveDate, Status> {
    match text {
        "" => Ok(today()),
        d => parse_date("as_of", d),
    }
}

/// Where a part was computed.
fn position(view: &View, as_of: NaiveDate) -> proto::Position {
    proto::Position {
        size: view.size(),
        head_hash: view.head_hash().to_vec(),
        as_of: qc::date(as_of),
    }
}

fn summed(s: &combine::Summed) -> proto::ServiceCredit {
    qc::service_credit(
        s.met,
        (s.days_served, s.days_required, s.days_missing),
        s.counted.iter().cloned(),
    )
}

/// The counted dispatches (`id@origin`) whose receiving school's own log disagrees with the
/// log that counted them.
fn disputed(judged: &[Judged], c: &combine::CityCredits) -> Vec<String> {
    let counted: std::collections::BTreeSet<&str> = c
        .leadership
        .counted
        .iter()
        .chain(&c.senior_title.counted)
        .map(|(d, _)| d.as_str())
        .chain(c.rotation_dispatches.iter().map(String::as_str))
        .collect();
    judged
        .iter()
        .flat_map(|j| {
            j.schools
                .iter()
                .filter(|s| !s.agrees)
                .map(|s| combine::qualified(&s.dispatch, &j.origin))
        })
        .filter(|d| counted.contains(d.as_str()))
        .collect()
}

fn city_credits(c: &combine::CityCredits) -> proto::CityCredits {
    proto::CityCredits {
        home_origin: c.home_origin.clone(),
        rotation_met: c.rotation_met,
        rotation_dispatches: c.rotation_dispatches.clone(),
        leadership: Some(summed(&c.leadership)),
        returning_mentor_met: c.returning_mentor_met,
        senior_title: Some(summed(&c.senior_title)),
        disputed: Vec::new(),
    }
}
