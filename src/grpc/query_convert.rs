//! Domain projections to the Query service's proto messages, and the serde helpers that let
//! the CLI print those messages as JSON (hashes as hex, enums by name).
//!
//! Dates travel as `YYYY-MM-DD` text and vocabulary values as the spellings of
//! `docs/EVENTS.md`, so an answer reads the same way as the events it was folded from.

use chrono::NaiveDate;

use crate::domain::district::{DistrictGroup, DistrictSchool, QuotaStatus, YearOutflow};
use crate::domain::duty::{SchoolDuty, TeacherDuty};
use crate::domain::eligibility::{
    Eligibility, MentorCheck, MentorCredit, RotationCredit, ServiceCredit, TermCheck,
};
use crate::domain::group_summary::MemberSchool;
use crate::domain::history::{HistoryEntry, TeacherSummary};
use crate::domain::id::Id;
use crate::domain::owed::OwedEvaluation;
use crate::domain::quota::{NotEligible, SchoolQuota};
use crate::domain::teams::{TeamStatus, TeamView};
use crate::domain::terms::{Term, TermStatus};
use crate::domain::vocab::{Grade, SchoolYear};
use crate::proto;

/// A date as sent on the wire.
pub fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn opt_date(d: Option<NaiveDate>) -> Option<String> {
    d.map(date)
}

fn opt_id(i: &Option<Id>) -> Option<String> {
    i.as_ref().map(|i| i.to_string())
}

fn ids(v: &[Id]) -> Vec<String> {
    v.iter().map(|i| i.to_string()).collect()
}

/// A term status on the wire.
pub fn term_status(s: TermStatus) -> proto::TermStatus {
    match s {
        TermStatus::Serving => proto::TermStatus::Serving,
        TermStatus::ServingBeyondMinimum => proto::TermStatus::ServingBeyondMinimum,
        TermStatus::Completed => proto::TermStatus::Completed,
        TermStatus::ReturnedEarly => proto::TermStatus::ReturnedEarly,
    }
}

/// A term status from the wire (`None` for UNSPECIFIED or an unknown number).
pub fn term_status_filter(n: i32) -> Option<TermStatus> {
    match proto::TermStatus::try_from(n).ok()? {
        proto::TermStatus::Unspecified => None,
        proto::TermStatus::Serving => Some(TermStatus::Serving),
        proto::TermStatus::ServingBeyondMinimum => Some(TermStatus::ServingBeyondMinimum),
        proto::TermStatus::Completed => Some(TermStatus::Completed),
        proto::TermStatus::ReturnedEarly => Some(TermStatus::ReturnedEarly),
    }
}

/// A term status by the name the JSON answers use (`serving`, `returned_early`, ...).
pub fn term_status_by_name(name: &str) -> Option<proto::TermStatus> {
    Some(match name {
        "serving" => proto::TermStatus::Serving,
        "serving_beyond_minimum" => proto::TermStatus::ServingBeyondMinimum,
        "completed" => proto::TermStatus::Completed,
        "returned_early" => proto::TermStatus::ReturnedEarly,
        _ => return None,
    })
}

/// A term.
pub fn term(t: &Term) -> proto::Term {
    proto::Term {
        dispatch: t.dispatch.to_string(),
        teacher: t.teacher.to_string(),
        from_school: t.from_school.to_string(),
        to_school: t.to_school.to_string(),
        kind: t.kind.to_string(),
        team: opt_id(&t.team),
        start_date: date(t.start_date),
        min_end: date(t.min_end),
        end: opt_date(t.end),
        return_reason: t.return_reason.map(|r| r.to_string()),
        status: term_status(t.status) as i32,
        exempt: t.exempt,
        days_served: t.days_served,
    }
}

/// One history entry (its proof is added by the service when asked for).
pub fn history_entry(e: &HistoryEntry) -> proto::HistoryEntry {
    proto::HistoryEntry {
        seq: e.seq,
        recorded_at: e.recorded_at.to_rfc3339(),
        effective_date: opt_date(e.effective_date),
        actor: e.actor.to_string(),
        hash: e.hash.to_vec(),
        event_type: e.event_type.map(str::to_owned),
        event: e.event.clone(),
        teacher_prev: e.teacher_prev.map(|l| proto::TeacherLink {
            seq: l.seq,
            hash: l.hash.to_vec(),
        }),
        voided_by: e.voided_by,
        voids: e.voids,
        in_effect: e.in_effect,
        proof: None,
    }
}

/// A teacher's summary, without the name: a personal field, opened (and its reveal recorded)
/// by the service that answers (`QueryService::teacher_history`).
pub fn teacher_summary(s: &TeacherSummary) -> proto::TeacherSummary {
    proto::TeacherSummary {
        name: None,
        personal_data_erased_on: s.erased.map(|e| date(e.date)),
        personal_data_erased_by: s.erased.map(|e| e.seq),
        home_school: opt_id(&s.home_school),
        home_since: opt_date(s.home_since),
        posted_at: opt_id(&s.posted_at),
        serving_dispatch: opt_id(&s.serving_dispatch),
        title: s.title.map(|t| t.to_string()),
        key_level: s.key_level.map(|k| k.to_string()),
        dispatches: s.dispatches.iter().map(term).collect(),
        evaluations: s
            .evaluations
            .iter()
            .map(|e| proto::Evaluation {
                dispatch: e.dispatch.to_string(),
                school: e.school.to_string(),
                school_year: e.school_year.0,
                grade: e.grade.to_string(),
                date: date(e.date),
                seq: e.seq,
            })
            .collect(),
        promotions: s
            .promotions
            .iter()
            .map(|p| proto::Promotion {
                seq: p.seq,
                kind: p.kind.to_string(),
                to: p.to.clone(),
                date: date(p.date),
                rotation_credit: p.rotation_credit,
            })
            .collect(),
        credits: Some(eligibility(&s.credits)),
    }
}

fn year_grade(&(y, g): &(SchoolYear, Grade)) -> proto::YearGrade {
    proto::YearGrade {
        school_year: y.0,
        grade: g.to_string(),
    }
}

fn term_check(c: &TermCheck) -> proto::TermCheck {
    proto::TermCheck {
        dispatch: c.dispatch.to_string(),
        kind: c.kind.to_string(),
        to_school: c.to_school.to_string(),
        start_date: date(c.start_date),
        min_end: opt_date(c.min_end),
        end: opt_date(c.end),
        days_served: c.days_served,
        reached_min_end: c.reached_min_end,
        returned_early: c.returned_early,
        grades: c.grades.iter().map(year_grade).collect(),
        qualifies: c.qualifies,
    }
}

fn rotation(r: &RotationCredit) -> proto::RotationCredit {
    proto::RotationCredit {
        met: r.met,
        min_grade: r.min_grade.to_string(),
        dispatches: r.dispatches.iter().map(term_check).collect(),
    }
}

fn service(s: &ServiceCredit) -> proto::ServiceCredit {
    service_credit(
        s.met,
        (s.days_served, s.days_required, s.days_missing),
        s.counted.iter().map(|(d, n)| (d.to_string(), *n)),
    )
}

/// A credit measured in days as sent on the wire: whether met, (served, required, missing),
/// and the dispatches counted with their days.
pub fn service_credit(
    met: bool,
    (days_served, days_required, days_missing): (i64, i64, i64),
    counted: impl IntoIterator<Item = (String, i64)>,
) -> proto::ServiceCredit {
    proto::ServiceCredit {
        met,
        days_served,
        days_required,
        days_missing,
        counted: counted
            .into_iter()
            .map(|(dispatch, days)| proto::DispatchDays { dispatch, days })
            .collect(),
    }
}

fn mentor_check(m: &MentorCheck) -> proto::MentorCheck {
    proto::MentorCheck {
        dispatch: m.dispatch.to_string(),
        ended: m.ended,
        latest: m.latest.as_ref().map(year_grade),
        qualifies: m.qualifies,
    }
}

fn mentor(m: &MentorCredit) -> proto::MentorCredit {
    proto::MentorCredit {
        met: m.met,
        min_grade: m.min_grade.to_string(),
        dispatches: m.dispatches.iter().map(mentor_check).collect(),
    }
}

/// A teacher's eligibility with its reasons.
pub fn eligibility(e: &Eligibility) -> proto::Eligibility {
    proto::Eligibility {
        teacher: e.teacher.to_string(),
        as_of: date(e.as_of),
        rotation: Some(rotation(&e.rotation)),
        leadership: Some(service(&e.leadership)),
        returning_mentor: Some(mentor(&e.returning_mentor)),
        senior_title: Some(service(&e.senior_title)),
    }
}

/// A team.
pub fn team(t: &TeamView) -> proto::Team {
    let (status, since) = match t.status {
        TeamStatus::Complete => (proto::TeamStatus::Complete, None),
        TeamStatus::BelowMinimum { since } => (proto::TeamStatus::BelowMinimum, Some(since)),
        TeamStatus::Finished { since } => (proto::TeamStatus::Finished, Some(since)),
        TeamStatus::Completed { since } => (proto::TeamStatus::Completed, Some(since)),
    };
    proto::Team {
        team: t.team.to_string(),
        school: t.school.to_string(),
        start_date: date(t.start_date),
        min_team_size: t.min_team_size,
        members: t
            .members
            .iter()
            .map(|m| proto::TeamMember {
                dispatch: m.dispatch.to_string(),
                teacher: m.teacher.to_string(),
                subject: opt_id(&m.subject),
                start_date: date(m.start_date),
                end: opt_date(m.end),
                returned_early: m.returned_early,
                serving: m.serving,
            })
            .collect(),
        strength: t.strength,
        status: status as i32,
        status_since: opt_date(since),
        coverage: t.coverage.as_ref().map(|c| proto::Coverage {
            scored: ids(&c.scored),
            covered: ids(&c.covered),
            missing: ids(&c.missing),
        }),
        strength_history: t
            .strength_history
            .iter()
            .map(|(d, n)| proto::StrengthChange {
                date: date(*d),
                strength: *n,
            })
            .collect(),
        // Every member is shown; a scoped caller's view is cut down by the query service.
        members_hidden: 0,
        hidden_member_schools: Vec::new(),
    }
}

/// A school's quota position.
pub fn quota(q: &SchoolQuota) -> proto::SchoolQuota {
    use proto::not_eligible::Reason;
    proto::SchoolQuota {
        school: q.school.to_string(),
        school_year: q.school_year.0,
        as_of: date(q.as_of),
        reference_date: date(q.reference_date),
        min_outflow_ratio: q.min_outflow_ratio.to_string(),
        min_key_teacher_share: q.min_key_teacher_share.to_string(),
        key_share_basis: q.key_share_basis.to_string(),
        key_teacher_outflow_threshold: q.key_teacher_outflow_threshold.to_string(),
        quota_duty: q.quota_duty.to_string(),
        standing: q.standing.to_string(),
        rural: q.rural,
        eligible: ids(&q.eligible),
        not_eligible: q
            .not_eligible
            .iter()
            .map(|(t, why)| proto::NotEligible {
                teacher: t.to_string(),
                reason: Some(match why {
                    NotEligible::TenureShort(d) => {
                        Reason::TenureReachedOn(opt_date(*d).unwrap_or_default())
                    }
                    NotEligible::OnDispatch(d) => Reason::OnDispatch(d.to_string()),
                    NotEligible::RetirementExempt(r) => Reason::RetirementExempt(date(*r)),
                }),
            })
            .collect(),
        outflow: q
            .outflow
            .iter()
            .map(|o| proto::Outflow {
                dispatch: o.dispatch.to_string(),
                teacher: o.teacher.to_string(),
                to_school: o.to_school.to_string(),
                start_date: date(o.start_date),
                key_level: o.key_level.to_string(),
                key: o.key,
            })
            .collect(),
        required: q.required,
        missing: q.missing,
        outflow_met: q.outflow_met,
        key_outflow: q.key_outflow,
        key_basis: q.key_basis,
        key_required: q.key_required,
        key_share_met: q.key_share_met,
        school_teachers: q.school_teachers,
        district_key_teachers: q.district_key_teachers,
        key_teacher_outflow_flag: q.key_teacher_outflow_flag,
    }
}

/// A member school of a group.
pub fn member(m: &MemberSchool) -> proto::MemberSchool {
    proto::MemberSchool {
        school: m.school.to_string(),
        standing: m.standing.map(|s| s.to_string()),
        lead: m.lead,
        quota: m.quota.as_ref().map(quota),
    }
}

fn teacher_duty(t: &TeacherDuty) -> proto::TeacherDuty {
    proto::TeacherDuty {
        teacher: t.teacher.to_string(),
        home_school: t.home_school.to_string(),
        employed_since: date(t.employed_since),
        tenure_reached_on: opt_date(t.tenure_reached_on),
        tenure_met: t.tenure_met,
        on_dispatch: opt_id(&t.on_dispatch),
        retirement_date: opt_date(t.retirement_date),
        exempt: t.exempt,
        title: t.title.to_string(),
        intermediate_since: opt_date(t.intermediate_since),
        intermediate_since_known: t.intermediate_since_known,
        intermediate_limit_on: opt_date(t.intermediate_limit_on),
        meets_conditions: t.meets_conditions,
        due_to_rotate: t.due_to_rotate,
    }
}

/// A school's rotation duty list (the position is filled in by the service).
pub fn duty(d: &SchoolDuty) -> proto::RotationDutyResponse {
    proto::RotationDutyResponse {
        position: None,
        school: d.school.to_string(),
        eligible_tenure_years: d.eligible_tenure_years,
        exempt_years_before_retirement: d.exempt_years_before_retirement,
        intermediate_title_max_years: d.intermediate_title_max_years,
        teachers: d.teachers.iter().map(teacher_duty).collect(),
        meeting_conditions: ids(&d.meeting_conditions),
        due_to_rotate: ids(&d.due_to_rotate),
    }
}

/// Serializes bytes (hashes) as lowercase hex in JSON.
pub fn hex_bytes<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(b))
}

/// Serializes a list of hashes as lowercase hex strings in JSON.
pub fn hex_list<S: serde::Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(hex::encode))
}

/// Serializes an entry's stored body (UTF-8 JSON by construction, FORMAT.md §1.2) as a string,
/// so a JSON reader sees the exact bytes that were hashed; anything else as hex.
pub fn body_text<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    match std::str::from_utf8(b) {
        Ok(text) => s.serialize_str(text),
        Err(_) => s.serialize_str(&hex::encode(b)),
    }
}

/// Serializes a `TermStatus` field by the domain's spelling (`serving`, `returned_early`, ...).
pub fn term_status_name<S: serde::Serializer>(n: &i32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(term_status_filter(*n).map_or("unspecified", TermStatus::as_str))
}

/// Serializes a `TeamStatus` field by name (`complete`, `below_minimum`, `finished`,
/// `completed`).
pub fn team_status_name<S: serde::Serializer>(n: &i32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match proto::TeamStatus::try_from(*n) {
        Ok(proto::TeamStatus::Complete) => "complete",
        Ok(proto::TeamStatus::BelowMinimum) => "below_minimum",
        Ok(proto::TeamStatus::Finished) => "finished",
        Ok(proto::TeamStatus::Completed) => "completed",
        _ => "unspecified",
    })
}

/// A school of the district view.
pub fn district_school(s: &DistrictSchool) -> proto::DistrictSchool {
    let status = match s.status {
        QuotaStatus::NoDuty => proto::QuotaStatus::NoDuty,
        QuotaStatus::Met => proto::QuotaStatus::Met,
        QuotaStatus::Due => proto::QuotaStatus::Due,
        QuotaStatus::Short => proto::QuotaStatus::Short,
    };
    let q = s.quota.as_ref();
    proto::DistrictSchool {
        school: s.school.to_string(),
        name: s.name.clone(),
        standing: s.standing.to_string(),
        rural: s.rural,
        groups: ids(&s.groups),
        status: status as i32,
        eligible: q.map_or(0, |q| q.eligible.len() as u64),
        required: q.map_or(0, |q| q.required),
        outflow: q.map_or(0, |q| q.outflow.len() as u64),
        missing: q.map_or(0, |q| q.missing),
        key_outflow: q.map_or(0, |q| q.key_outflow),
        key_required: q.map_or(0, |q| q.key_required),
        key_share_met: q.is_some_and(|q| q.key_share_met),
    }
}

/// A district or group of the district view.
pub fn district_group(g: &DistrictGroup) -> proto::DistrictGroup {
    proto::DistrictGroup {
        group: g.group.to_string(),
        kind: g.kind.to_string(),
        name: g.name.clone(),
        lead_school: g.lead_school.to_string(),
        members: ids(&g.members),
        eligible: g.eligible,
        required: g.required,
        outflow: g.outflow,
        missing: g.missing,
        schools_short: g.schools_short,
    }
}

/// One year of the outflow series.
pub fn year_outflow(y: &YearOutflow) -> proto::YearOutflow {
    proto::YearOutflow {
        school_year: y.school_year.0,
        outflow: y.outflow,
        key_outflow: y.key_outflow,
        required: y.required,
    }
}

/// An evaluation owed by a receiving school.
pub fn owed(o: &OwedEvaluation) -> proto::OwedEvaluation {
    proto::OwedEvaluation {
        dispatch: o.dispatch.to_string(),
        teacher: o.teacher.to_string(),
        kind: o.kind.to_string(),
        from_school: o.from_school.to_string(),
        start_date: date(o.start_date),
        end: opt_date(o.end),
        school_year: o.school_year.0,
        year_ended_on: date(o.year_ended_on),
    }
}

/// Serializes a `QuotaStatus` field by name (`no_duty`, `met`, `due`, `short`).
pub fn quota_status_name<S: serde::Serializer>(n: &i32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match proto::QuotaStatus::try_from(*n) {
        Ok(proto::QuotaStatus::NoDuty) => "no_duty",
        Ok(proto::QuotaStatus::Met) => "met",
        Ok(proto::QuotaStatus::Due) => "due",
        Ok(proto::QuotaStatus::Short) => "short",
        _ => "unspecified",
    })
}
