//! `rotaledger.v1.Query`: the principals' projections (SPEC §4), answered as of a date, from
//! the committed state or "as recorded up to size N" (SPEC 4.6), with the log position.
//!
//! **Scope.** A principal sees a teacher whose home school or host school (the receiving
//! school of a dispatch served on the as-of date) is one of its schools, and a group one of
//! whose member schools is. A single teacher, school or group outside that scope is refused
//! with `PERMISSION_DENIED` (reason `OUT_OF_SCOPE`), and so is one that exists nowhere, with
//! the same message and details: scope is checked before existence, so a principal cannot
//! probe which ids exist elsewhere (only an admin is told `NOT_FOUND`);
//! lists are filtered: terms from or to the principal's schools, teams received by them or
//! with a visible member (a member is visible if its dispatch is from or to one of the
//! principal's schools, or its teacher is; the others are only counted, with their sending
//! schools), and a group summary shows only the member schools in scope, its
//! totals summed over those (how many were left out is said, not what they hold). The
//! district view lists every school of the ledger, so it is for admins only: a principal is
//! refused with `PERMISSION_DENIED` (reason `PERMISSION_DENIED`, as for a role without the
//! permission). Admins see everything; writers and auditors may not query at all
//! (`auth::Role::allows`).
//!
//! **Today.** Without an as-of date the answer is for today in China Standard Time (UTC+8,
//! no daylight saving), the calendar of the jurisdictions the ledger serves: an HR office in
//! Shanghai asking at 07:00 local time means that day, not yesterday in UTC.

use chrono::{FixedOffset, NaiveDate, Utc};
use tonic::{Request, Response, Status};

use super::auth::{Caller, Permission, Role};
use super::status::{invalid_argument, out_of_scope, permission_denied};
use super::{Shared, convert, query_convert as qc};
use crate::domain::fields;
use crate::domain::id::Id;
use crate::domain::teams::{TeamMember, TeamView};
use crate::domain::terms::TermQuery;
use crate::domain::vocab::SchoolYear;
use crate::ledger::{CertificateAnswer, Ledger, LedgerError, Reader, View};
use crate::proto;
use crate::proto::query_server::Query;

/// Offset of China Standard Time from UTC, in seconds.
const CST_OFFSET_SECS: i32 = 8 * 3600;

/// Today in China Standard Time (UTC+8).
pub fn today() -> NaiveDate {
    let now = Utc::now();
    FixedOffset::east_opt(CST_OFFSET_SECS)
        .map_or(now.date_naive(), |tz| now.with_timezone(&tz).date_naive())
}

/// The Query service.
pub struct QueryService {
    /// Ledger and access.
    shared: Shared,
}

impl QueryService {
    /// A service over `shared`.
    pub fn new(shared: Shared) -> QueryService {
        QueryService { shared }
    }
}

/// The state a question is answered from, and the date it is asked for.
struct At {
    /// The state at its log position.
    view: View,
    /// The as-of date.
    as_of: NaiveDate,
}

impl At {
    fn position(&self) -> Option<proto::Position> {
        Some(proto::Position {
            size: self.view.size(),
            head_hash: self.view.head_hash().to_vec(),
            as_of: qc::date(self.as_of),
        })
    }
}

/// Parses a `YYYY-MM-DD` request field with the ledger's one date parser, the one event
/// dates go through.
pub(crate) fn parse_date(field: &str, text: &str) -> Result<NaiveDate, Status> {
    fields::parse_date(text).map_err(|p| invalid_argument(field, &p))
}

/// Parses an id field (empty and malformed ids named by the field).
pub(crate) fn parse_id(field: &str, text: &str) -> Result<Id, Status> {
    Id::new(text).map_err(|e| invalid_argument(field, &e.to_string()))
}

/// Checks a school year is one the ledger can work with; returns it with its first day
/// (1 September, the day memberships and quota bases are taken on).
fn parse_year(year: i32) -> Result<(SchoolYear, NaiveDate), Status> {
    let y = SchoolYear(year);
    let (first, _) = crate::domain::query::year_bounds(y).map_err(|e| {
        invalid_argument(
            "school_year",
            &format!("{e}; give the first calendar year, e.g. 2025 for 2025/26"),
        )
    })?;
    Ok((y, first))
}

/// Whether the caller may see a teacher as of a date: its home school, or the receiving school
/// of a dispatch it serves on that date, is in scope.
pub(crate) fn teacher_visible(
    caller: &Caller,
    view: &View,
    teacher: &str,
    as_of: NaiveDate,
) -> bool {
    caller.role == Role::Admin
        || caller.is_teacher(teacher)
        || view.teacher_in(teacher, as_of, &|s| caller.in_scope(s))
}

/// The questions a teacher's token may ask (about themself only): everything else is
/// `PERMISSION_DENIED`, as for a role without the permission.
const TEACHER_QUERIES: &[&str] = &[
    "teacher_history",
    "eligibility",
    "terms",
    "certificate",
    "names",
];

/// Whether the caller may see a team member by id: the dispatch is from or to one of its
/// schools (the rule of the `Terms` list, which shows that term anyway), or it sees the
/// teacher on the date (the rule for a single teacher).
fn member_visible(caller: &Caller, view: &View, m: &TeamMember, as_of: NaiveDate) -> bool {
    caller.role == Role::Admin || view.member_in(m, as_of, &|s| caller.in_scope(s))
}

/// A team as the caller may see it: the members it sees by id, the others only counted,
/// with their sending schools. The team's own figures (strength, status, coverage) stay
/// whole: they describe the team, and name no one.
fn team_in_scope(caller: &Caller, view: &View, t: &TeamView, as_of: NaiveDate) -> proto::Team {
    if caller.role == Role::Admin {
        return qc::team(t);
    }
    let (shown, hidden): (Vec<TeamMember>, Vec<TeamMember>) = t
        .members
        .iter()
        .cloned()
        .partition(|m| member_visible(caller, view, m, as_of));
    let schools = view.sending_schools(&hidden);
    let mut team = qc::team(&TeamView {
        members: shown,
        ..t.clone()
    });
    team.members_hidden = u32::try_from(hidden.len()).unwrap_or(u32::MAX);
    team.hidden_member_schools = schools.into_iter().collect();
    team
}

pub(crate) fn deny_teacher(caller: &Caller, teacher: &str) -> Status {
    if caller.role == Role::Teacher {
        // The same words for another teacher and for no teacher at all: no oracle.
        return out_of_scope(
            &caller.name,
            &format!("teacher {teacher}"),
            "a teacher's token shows only the teacher it was made for",
        );
    }
    out_of_scope(
        &caller.name,
        &format!("teacher {teacher}"),
        &format!(
            "neither the home school nor the host school is one of its schools ({})",
            caller.schools.join(", ")
        ),
    )
}

fn deny_school(caller: &Caller, school: &str) -> Status {
    out_of_scope(
        &caller.name,
        &format!("school {school}"),
        &format!(
            "it is not one of its schools ({})",
            caller.schools.join(", ")
        ),
    )
}

fn deny_group(caller: &Caller, group: &str) -> Status {
    out_of_scope(
        &caller.name,
        &format!("group {group}"),
        &format!(
            "none of its member schools is one of its schools ({})",
            caller.schools.join(", ")
        ),
    )
}

/// NOT_FOUND for a teacher, school or group a request names.
fn not_found(what: String) -> Status {
    LedgerError::NotFound(what).into()
}

/// Refuses a school outside the caller's scope. An unknown school is refused the same way
/// for a scoped caller, so that a principal cannot learn which ids exist elsewhere; only an
/// admin is told NOT_FOUND (by the projection).
fn check_school(caller: &Caller, school: &str) -> Result<(), Status> {
    if !caller.in_scope(school) {
        return Err(deny_school(caller, school));
    }
    Ok(())
}

/// Refuses a teacher outside the caller's scope. An unknown teacher is refused the same way
/// for a scoped caller (nothing about it is visible), so that a principal cannot learn which
/// ids exist elsewhere; only an admin is told NOT_FOUND (by the projection).
fn check_teacher(
    caller: &Caller,
    view: &View,
    teacher: &str,
    as_of: NaiveDate,
) -> Result<(), Status> {
    if !teacher_visible(caller, view, teacher, as_of) {
        return Err(deny_teacher(caller, teacher));
    }
    Ok(())
}

/// Refuses a district or group with no member school in the caller's scope on `date`. An
/// unknown group is refused the same way for a scoped caller (the same message and details:
/// nothing in them depends on the group being real), so that a principal cannot learn which
/// groups exist; only an admin is told NOT_FOUND.
fn check_group(caller: &Caller, view: &View, group: &str, date: NaiveDate) -> Result<(), Status> {
    if caller.role == Role::Admin {
        return Ok(());
    }
    if !view.group_in(group, date, &|s| caller.in_scope(s)) {
        return Err(deny_group(caller, group));
    }
    Ok(())
}

/// What the console's lists ask: the names of some teachers as of a date.
#[derive(Debug, Clone)]
pub struct NamesRequest {
    /// The teacher ids.
    pub teachers: Vec<String>,
    /// As of (YYYY-MM-DD; empty: today).
    pub as_of: String,
    /// As recorded up to this size.
    pub recorded_up_to: Option<u64>,
}

/// A name as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShownName {
    /// The name.
    Text(String),
    /// The teacher's personal data was erased.
    Erased,
}

impl QueryService {
    /// The names of the teachers of `request` that the caller may see (others are left
    /// out, as a teacher's page would refuse them), with one access record for all of them:
    /// the console's lists, which would otherwise ask TeacherHistory once per row.
    pub async fn names(
        &self,
        request: Request<NamesRequest>,
    ) -> Result<Response<std::collections::HashMap<String, ShownName>>, Status> {
        self.answer(
            "names",
            request,
            |r| (r.as_of.clone(), r.recorded_up_to),
            |caller, ledger, at, req| {
                let mut out = std::collections::HashMap::new();
                let mut sealed = Vec::new();
                for t in &req.teachers {
                    if out.contains_key(t) || !teacher_visible(caller, &at.view, t, at.as_of) {
                        continue;
                    }
                    match at.view.teacher_name(t, at.as_of) {
                        Some((_, Some(_))) => {
                            out.insert(t.clone(), ShownName::Erased);
                        }
                        Some((Some(name), None)) => sealed.push((t.clone(), name)),
                        _ => {}
                    }
                }
                let fields: Vec<_> = sealed
                    .iter()
                    .map(|(t, n)| (t.as_str(), "name", n))
                    .collect();
                let shown = ledger.reveal(
                    Reader {
                        actor: &caller.name,
                        role: caller.role.as_str(),
                        via: caller.door,
                    },
                    &fields,
                )?;
                for ((t, _), s) in sealed.iter().zip(shown) {
                    out.insert(t.clone(), s.map_or(ShownName::Erased, ShownName::Text));
                }
                Ok(out)
            },
        )
        .await
    }

    /// Authorizes the call, parses the as-of date, and runs `f` on the state asked for on a
    /// blocking thread (a `recorded_up_to` answer replays a prefix of the log).
    async fn answer<Req, T>(
        &self,
        kind: &'static str,
        request: Request<Req>,
        as_of: impl FnOnce(&Req) -> (String, Option<u64>),
        f: impl FnOnce(&Caller, &Ledger, At, Req) -> Result<T, Status> + Send + 'static,
    ) -> Result<Response<T>, Status>
    where
        Req: Send + 'static,
        T: Send + 'static,
    {
        let started = std::time::Instant::now();
        let answer = self.answer_uncounted(kind, request, as_of, f).await;
        self.shared.ledger.metrics().query(kind, started.elapsed());
        answer
    }

    /// [`QueryService::answer`] before it is timed.
    async fn answer_uncounted<Req, T>(
        &self,
        kind: &'static str,
        request: Request<Req>,
        as_of: impl FnOnce(&Req) -> (String, Option<u64>),
        f: impl FnOnce(&Caller, &Ledger, At, Req) -> Result<T, Status> + Send + 'static,
    ) -> Result<Response<T>, Status>
    where
        Req: Send + 'static,
        T: Send + 'static,
    {
        let caller = self.shared.authorize(&request, Permission::Query)?;
        if caller.role == Role::Teacher && !TEACHER_QUERIES.contains(&kind) {
            return Err(permission_denied(
                &caller.name,
                caller.role.as_str(),
                "ask this (a teacher's token asks only about the teacher: history, eligibility, terms, certificate)",
            ));
        }
        let req = request.into_inner();
        let (date, recorded_up_to) = as_of(&req);
        let as_of = match date.as_str() {
            "" => today(),
            d => parse_date("as_of", d)?,
        };
        let ledger = self.shared.ledger.clone();
        tokio::task::spawn_blocking(move || {
            let view = ledger.view(recorded_up_to).map_err(|e| match e {
                LedgerError::OutOfRange(m) => invalid_argument("recorded_up_to", &m),
                e => Status::from(e),
            })?;
            f(&caller, &ledger, At { view, as_of }, req)
        })
        .await
        .map_err(|e| Status::internal(format!("query task failed: {e}")))?
        .map(Response::new)
    }
}

#[tonic::async_trait]
impl Query for QueryService {
    async fn teacher_history(
        &self,
        request: Request<proto::TeacherHistoryRequest>,
    ) -> Result<Response<proto::TeacherHistoryResponse>, Status> {
        // A checkpoint goes with the answer: over what the mirrors hold (sync.rs).
        if request.get_ref().with_proofs {
            self.shared.ledger.wait_readable().await;
        }
        self.answer(
            "teacher_history",
            request,
            |r| (r.as_of.clone(), r.recorded_up_to),
            |caller, ledger, at, req| {
                let teacher = parse_id("teacher", &req.teacher)?;
                let s = &at.view;
                check_teacher(caller, s, &teacher, at.as_of)?;
                let h = s.teacher_history(&teacher, at.as_of)?;
                let mut entries: Vec<proto::HistoryEntry> =
                    h.entries.iter().map(qc::history_entry).collect();
                let mut checkpoint = None;
                if req.with_proofs {
                    let size = at.view.size();
                    ledger.check_readable(size)?;
                    checkpoint = Some(convert::checkpoint(&ledger.checkpoint_at(size)?));
                    for (e, d) in entries.iter_mut().zip(&h.entries) {
                        let hashes = ledger.inclusion_proof(d.seq, size)?;
                        e.proof = Some(convert::inclusion(d.seq, size, &d.hash, &hashes));
                    }
                }
                let mut summary = h.summary.as_ref().map(qc::teacher_summary);
                if let (Some(out), Some(s)) = (summary.as_mut(), h.summary.as_ref())
                    && s.erased.is_none()
                    && let Some(name) = &s.name
                {
                    out.name = ledger
                        .reveal(
                            Reader {
                                actor: &caller.name,
                                role: caller.role.as_str(),
                                via: caller.door,
                            },
                            &[(h.teacher.as_str(), "name", name)],
                        )?
                        .pop()
                        .flatten();
                }
                Ok(proto::TeacherHistoryResponse {
                    position: at.position(),
                    teacher: h.teacher.to_string(),
                    entries,
                    summary,
                    checkpoint,
                })
            },
        )
        .await
    }

    async fn eligibility(
        &self,
        request: Request<proto::EligibilityRequest>,
    ) -> Result<Response<proto::EligibilityResponse>, Status> {
        self.answer(
            "eligibility",
            request,
            |r| (r.as_of.clone(), r.recorded_up_to),
            |caller, _, at, req| {
                let teacher = parse_id("teacher", &req.teacher)?;
                let s = &at.view;
                check_teacher(caller, s, &teacher, at.as_of)?;
                let e = s.eligibility(&teacher, at.as_of)?;
                Ok(proto::EligibilityResponse {
                    position: at.position(),
                    eligibility: Some(qc::eligibility(&e)),
                })
            },
        )
        .await
    }

    async fn terms(
        &self,
        request: Request<proto::TermsRequest>,
    ) -> Result<Response<proto::TermsResponse>, Status> {
        self.answer(
            "terms",
            request,
            |r| (r.as_of.clone(), r.recorded_up_to),
            |caller, _, at, req| {
                let s = &at.view;
                let teacher = req
                    .teacher
                    .as_deref()
                    .map(|t| parse_id("teacher", t))
                    .transpose()?;
                let school = req
                    .school
                    .as_deref()
                    .map(|t| parse_id("school", t))
                    .transpose()?;
                let group = req
                    .group
                    .as_deref()
                    .map(|t| parse_id("group", t))
                    .transpose()?;
                // A filter naming nothing known is a mistake worth saying, not an empty list.
                // Scope first: a scoped caller learns nothing of ids outside it.
                if let Some(t) = &teacher {
                    check_teacher(caller, s, t, at.as_of)?;
                    if !s.has_teacher(t) {
                        return Err(not_found(format!("no teacher {t} is registered")));
                    }
                }
                if let Some(sc) = &school {
                    check_school(caller, sc)?;
                    if !s.has_school(sc) {
                        return Err(not_found(format!("no school {sc} is registered")));
                    }
                }
                if let Some(g) = &group {
                    check_group(caller, s, g, at.as_of)?;
                    if !s.has_group(g) {
                        return Err(not_found(format!("no district or group {g} is formed")));
                    }
                }
                let status = match req.status {
                    0 => None,
                    n => Some(qc::term_status_filter(n).ok_or_else(|| {
                        invalid_argument("status", &format!("{n} is not a TermStatus"))
                    })?),
                };
                let q = TermQuery {
                    teacher,
                    school,
                    group,
                    status,
                    min_end_before: req
                        .ends_before
                        .as_deref()
                        .map(|d| parse_date("ends_before", d))
                        .transpose()?,
                };
                let terms = s
                    .terms(&q, at.as_of)
                    .iter()
                    .filter(|t| {
                        caller.in_scope(&t.from_school)
                            || caller.in_scope(&t.to_school)
                            || caller.is_teacher(&t.teacher)
                    })
                    .map(qc::term)
                    .collect();
                Ok(proto::TermsResponse {
                    position: at.position(),
                    terms,
                })
            },
        )
        .await
    }

    async fn teams(
        &self,
        request: Request<proto::TeamsRequest>,
    ) -> Result<Response<proto::TeamsResponse>, Status> {
        self.answer(
            "teams",
            request,
            |r| (r.as_of.clone(), r.recorded_up_to),
            |caller, _, at, req| {
                let s = &at.view;
                let school = req
                    .school
                    .as_deref()
                    .map(|t| parse_id("school", t))
                    .transpose()?;
                if let Some(sc) = &school {
                    check_school(caller, sc)?;
                    if !s.has_school(sc) {
                        return Err(not_found(format!("no school {sc} is registered")));
                    }
                }
                let teams = s
                    .teams(at.as_of)
                    .iter()
                    .filter(|t| school.as_ref().is_none_or(|sc| &t.school == sc))
                    .filter(|t| {
                        caller.in_scope(&t.school)
                            || t.members
                                .iter()
                                .any(|m| member_visible(caller, s, m, at.as_of))
                    })
                    .map(|t| team_in_scope(caller, s, t, at.as_of))
                    .collect();
                Ok(proto::TeamsResponse {
                    position: at.position(),
                    teams,
                })
            },
        )
        .await
    }

    async fn school_quota(
        &self,
        request: Request<proto::SchoolQuotaRequest>,
    ) -> Result<Response<proto::SchoolQuotaResponse>, Status> {
        self.answer(
            "school_quota",
            request,
            |r| (r.as_of.clone(), r.recorded_up_to),
            |caller, _, at, req| {
                let school = parse_id("school", &req.school)?;
                let (year, _) = parse_year(req.school_year)?;
                let s = &at.view;
                check_school(caller, &school)?;
                let q = s.school_quota(&school, year, at.as_of)?;
                Ok(proto::SchoolQuotaResponse {
                    position: at.position(),
                    quota: Some(qc::quota(&q)),
                })
            },
        )
        .await
    }

    async fn group_summary(
        &self,
        request: Request<proto::GroupSummaryRequest>,
    ) -> Result<Response<proto::GroupSummaryResponse>, Status> {
        self.answer(
            "group_summary",
            request,
            |r| (r.as_of.clone(), r.recorded_up_to),
            |caller, _, at, req| {
                let group = parse_id("group", &req.group)?;
                let (year, first_day) = parse_year(req.school_year)?;
                let s = &at.view;
                // Members are taken on 1 September, as the summary takes them.
                check_group(caller, s, &group, first_day)?;
                let g = s.group_summary(&group, year, at.as_of)?;
                let members: Vec<_> = g
                    .members
                    .iter()
                    .filter(|m| caller.in_scope(&m.school))
                    .collect();
                let quotas = || members.iter().filter_map(|m| m.quota.as_ref());
                let summary = proto::GroupSummary {
                    group: g.group.to_string(),
                    kind: g.kind.to_string(),
                    name: g.name.clone(),
                    school_year: g.school_year.0,
                    as_of: qc::date(g.as_of),
                    strength_date: qc::date(g.strength_date),
                    members: members.iter().map(|m| qc::member(m)).collect(),
                    teams: g
                        .teams
                        .iter()
                        .filter(|t| caller.in_scope(&t.school))
                        .map(|t| team_in_scope(caller, s, t, at.as_of))
                        .collect(),
                    early_returns: g
                        .early_returns
                        .iter()
                        .filter(|t| {
                            caller.in_scope(&t.from_school) || caller.in_scope(&t.to_school)
                        })
                        .map(qc::term)
                        .collect(),
                    eligible: quotas().map(|q| q.eligible.len() as u64).sum(),
                    outflow: quotas().map(|q| q.outflow.len() as u64).sum(),
                    missing: quotas().map(|q| q.missing).sum(),
                    members_hidden: (g.members.len() - members.len()) as u32,
                };
                Ok(proto::GroupSummaryResponse {
                    position: at.position(),
                    summary: Some(summary),
                })
            },
        )
        .await
    }

    async fn rotation_duty(
        &self,
        request: Request<proto::RotationDutyRequest>,
    ) -> Result<Response<proto::RotationDutyResponse>, Status> {
        self.answer(
            "rotation_duty",
            request,
            |r| (r.as_of.clone(), r.recorded_up_to),
            |caller, _, at, req| {
                let school = parse_id("school", &req.school)?;
                let s = &at.view;
                check_school(caller, &school)?;
                let d = s.school_duty(&school, at.as_of)?;
                let mut r = qc::duty(&d);
                r.position = at.position();
                Ok(r)
            },
        )
        .await
    }

    async fn access_record(
        &self,
        request: Request<proto::AccessRecordRequest>,
    ) -> Result<Response<proto::AccessRecordResponse>, Status> {
        self.answer(
            "access_record",
            request,
            |_| (String::new(), None),
            |caller, ledger, _, req| {
                if caller.role != Role::Admin {
                    return Err(permission_denied(
                        &caller.name,
                        caller.role.as_str(),
                        "read the access record (admins only)",
                    ));
                }
                let all = ledger.access_record()?;
                let total = all.len() as u64;
                let limit = match req.limit {
                    0 => 1000,
                    n => n.min(10_000) as usize,
                };
                let accesses = all
                    .into_iter()
                    .filter(|a| a.seq >= req.from)
                    .filter(|a| req.teacher.is_empty() || a.teachers.contains(&req.teacher))
                    .take(limit)
                    .map(|a| proto::Access {
                        seq: a.seq,
                        time: a.time,
                        actor: a.actor,
                        role: a.role,
                        via: a.via,
                        teachers: a.teachers,
                        fields: a.fields,
                    })
                    .collect();
                Ok(proto::AccessRecordResponse { accesses, total })
            },
        )
        .await
    }

    async fn district(
        &self,
        request: Request<proto::DistrictRequest>,
    ) -> Result<Response<proto::DistrictResponse>, Status> {
        self.answer(
            "district",
            request,
            |r| (r.as_of.clone(), r.recorded_up_to),
            |caller, _, at, req| {
                if caller.role != Role::Admin {
                    return Err(permission_denied(
                        &caller.name,
                        caller.role.as_str(),
                        "see the district view (it lists every school; admins only)",
                    ));
                }
                let (year, _) = parse_year(req.school_year)?;
                let v = at.view.district(year, at.as_of)?;
                Ok(proto::DistrictResponse {
                    position: at.position(),
                    school_year: v.school_year.0,
                    strength_date: qc::date(v.strength_date),
                    schools: v.schools.iter().map(qc::district_school).collect(),
                    groups: v.groups.iter().map(qc::district_group).collect(),
                    outflow_by_year: v.outflow_by_year.iter().map(qc::year_outflow).collect(),
                    teams_below_strength: v.teams_below_strength.iter().map(qc::team).collect(),
                })
            },
        )
        .await
    }

    async fn evaluations_owed(
        &self,
        request: Request<proto::EvaluationsOwedRequest>,
    ) -> Result<Response<proto::EvaluationsOwedResponse>, Status> {
        self.answer(
            "evaluations_owed",
            request,
            |r| (r.as_of.clone(), r.recorded_up_to),
            |caller, _, at, req| {
                let school = parse_id("school", &req.school)?;
                check_school(caller, &school)?;
                let owed = at.view.evaluations_owed(&school, at.as_of)?;
                Ok(proto::EvaluationsOwedResponse {
                    position: at.position(),
                    school: school.to_string(),
                    owed: owed.iter().map(qc::owed).collect(),
                })
            },
        )
        .await
    }
    async fn certificate(
        &self,
        request: Request<proto::CertificateRequest>,
    ) -> Result<Response<proto::CertificateResponse>, Status> {
        // A checkpoint goes with the answer: over what the mirrors hold (sync.rs).
        self.shared.ledger.wait_readable().await;
        self.answer(
            "certificate",
            request,
            |r| (r.as_of.clone(), None),
            |caller, ledger, at, req| {
                let teacher = parse_id("teacher", &req.teacher)?;
                let s = &at.view;
                check_teacher(caller, s, &teacher, at.as_of)?;
                let h = s.teacher_history(&teacher, at.as_of)?;
                let mut summary = h.summary.as_ref().map(qc::teacher_summary);
                // The name only for the teacher themself: nobody else is given it in a file
                // that travels.
                if caller.is_teacher(&teacher)
                    && let (Some(out), Some(sm)) = (summary.as_mut(), h.summary.as_ref())
                    && sm.erased.is_none()
                    && let Some(name) = &sm.name
                {
                    let via = match caller.door {
                        "console" => "console certificate",
                        "http" => "http certificate",
                        _ => "grpc certificate",
                    };
                    out.name = ledger
                        .reveal(
                            Reader {
                                actor: &caller.name,
                                role: caller.role.as_str(),
                                via,
                            },
                            &[(h.teacher.as_str(), "name", name)],
                        )?
                        .pop()
                        .flatten();
                }
                let mut schools = std::collections::BTreeMap::new();
                if let Some(sm) = &summary {
                    let ids = sm
                        .home_school
                        .iter()
                        .chain(sm.posted_at.iter())
                        .chain(
                            sm.dispatches
                                .iter()
                                .flat_map(|d| [&d.from_school, &d.to_school]),
                        )
                        .chain(sm.evaluations.iter().map(|e| &e.school));
                    for id in ids {
                        if let Some(name) = s.school_name(id) {
                            schools.insert(id.clone(), name);
                        }
                    }
                }
                let summary = serde_json::to_string(&summary)
                    .map_err(|e| Status::internal(format!("writing the summary: {e}")))?;
                let cert = ledger.certificate(
                    s,
                    &teacher,
                    at.as_of,
                    CertificateAnswer { summary, schools },
                )?;
                let text = cert
                    .to_json()
                    .map_err(|e| Status::internal(format!("writing the certificate: {e}")))?;
                Ok(proto::CertificateResponse {
                    position: at.position(),
                    certificate: text,
                    certificate_hash: crate::certificate::certificate_hash(
                        ledger.profile(),
                        &cert.statement,
                    )
                    .to_vec(),
                })
            },
        )
        .await
    }
}
