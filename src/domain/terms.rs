//! Terms (SPEC 4.1), the three-year minimum (流动期限不少于3年, seed 001): per dispatch its
//! start, min_end, end and status as of a date; queries by teacher, school, group, status,
//! and "whose minimum term ends before D".

use chrono::NaiveDate;

use super::calendar::days_served;
use super::id::Id;
use super::state::{Dispatch, State};
use super::vocab::{DispatchKind, ReturnReason};

/// Where a term stands on a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TermStatus {
    /// Serving, before min_end.
    Serving,
    /// Serving, on or after min_end.
    ServingBeyondMinimum,
    /// Returned on or after min_end.
    Completed,
    /// Returned before min_end (recorded and reported, never dropped).
    ReturnedEarly,
}

impl TermStatus {
    /// The spelling used in answers.
    pub fn as_str(self) -> &'static str {
        match self {
            TermStatus::Serving => "serving",
            TermStatus::ServingBeyondMinimum => "serving_beyond_minimum",
            TermStatus::Completed => "completed",
            TermStatus::ReturnedEarly => "returned_early",
        }
    }
}

/// One dispatch's term as of a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The dispatch.
    pub dispatch: Id,
    /// The teacher.
    pub teacher: Id,
    /// Sending school.
    pub from_school: Id,
    /// Receiving school.
    pub to_school: Id,
    /// Kind.
    pub kind: DispatchKind,
    /// Team, if any.
    pub team: Option<Id>,
    /// Start.
    pub start_date: NaiveDate,
    /// Start plus `min_term_years` (policy in force on the start date), 29 Feb clamped.
    pub min_end: NaiveDate,
    /// Return date, if effective as of the date asked.
    pub end: Option<NaiveDate>,
    /// Why it ended, if it did.
    pub return_reason: Option<ReturnReason>,
    /// Status as of the date asked.
    pub status: TermStatus,
    /// For an early return: whether its reason is exempt (policy in force on the return date).
    pub exempt: bool,
    /// Days served as of the date asked.
    pub days_served: i64,
}

/// Which terms to list; every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TermQuery {
    /// Only this teacher's.
    pub teacher: Option<Id>,
    /// Only dispatches from or to this school.
    pub school: Option<Id>,
    /// Only dispatches from or to a member of this group (as of the date asked).
    pub group: Option<Id>,
    /// Only this status.
    pub status: Option<TermStatus>,
    /// Only terms still being served whose min_end is before this date.
    pub min_end_before: Option<NaiveDate>,
}

/// A dispatch's term as of `as_of`; `None` if it has not started by then.
pub fn term(state: &State, d: &Dispatch, as_of: NaiveDate) -> Option<Term> {
    if d.start_date > as_of {
        return None;
    }
    let min_end = state.min_end(d)?;
    let end = d.end_as_of(as_of);
    let ret = d.returned.as_ref().filter(|_| end.is_some());
    let status = match end {
        Some(e) if e >= min_end => TermStatus::Completed,
        Some(_) => TermStatus::ReturnedEarly,
        None if as_of < min_end => TermStatus::Serving,
        None => TermStatus::ServingBeyondMinimum,
    };
    let exempt = status == TermStatus::ReturnedEarly
        && ret.is_some_and(|r| state.policy_at(r.date).exempt(r.reason));
    Some(Term {
        dispatch: d.id.clone(),
        teacher: d.teacher.clone(),
        from_school: d.from_school.clone(),
        to_school: d.to_school.clone(),
        kind: d.kind,
        team: d.team.clone(),
        start_date: d.start_date,
        min_end,
        end,
        return_reason: ret.map(|r| r.reason),
        status,
        exempt,
        days_served: days_served(d.start_date, end, as_of),
    })
}

/// The terms matching `q` as of `as_of`, by start date then dispatch id.
pub fn terms(state: &State, q: &TermQuery, as_of: NaiveDate) -> Vec<Term> {
    let group = q.group.as_ref().map(|g| state.group(g));
    if let Some(None) = group {
        return Vec::new();
    }
    let candidates: Vec<&Dispatch> = match (&q.teacher, &q.school) {
        (Some(t), _) => state.dispatches_of(t),
        (None, Some(s)) => state.dispatches_at(s.as_str()).collect(),
        (None, None) => state.dispatches().collect(),
    };
    let mut out: Vec<Term> = candidates
        .into_iter()
        .filter(|d| {
            q.school
                .as_ref()
                .is_none_or(|s| d.from_school == *s || d.to_school == *s)
        })
        .filter(|d| {
            group.flatten().is_none_or(|g| {
                g.has_member(&d.from_school, as_of) || g.has_member(&d.to_school, as_of)
            })
        })
        .filter_map(|d| term(state, d, as_of))
        .filter(|t| q.status.is_none_or(|s| t.status == s))
        .filter(|t| {
            q.min_end_before
                .is_none_or(|before| t.end.is_none() && t.min_end < before)
        })
        .collect();
    out.sort_by(|a, b| (a.start_date, &a.dispatch).cmp(&(b.start_date, &b.dispatch)));
    out
}
