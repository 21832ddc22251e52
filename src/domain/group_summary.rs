//! Group summaries (SPEC 4.4): per district (学区) or education group (集团) and school year,
//! the quotas of its member schools, the teams received by them and the early returns
//! touching them, as of a date.
//!
//! Membership is taken on **1 September** of the year, like the quotas: a school that joins
//! mid-year counts from the next year, and one that leaves mid-year stays in this year's
//! summary.

use chrono::NaiveDate;

use super::calendar::add_years;
use super::id::Id;
use super::query::{QueryError, year_bounds};
use super::quota::{SchoolQuota, school_quota};
use super::state::{Dispatch, State};
use super::vocab::{GroupKind, ReturnReason, SchoolYear, Standing};

/// A member school and, if strong, its quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSchool {
    /// The school.
    pub school: Id,
    /// Its standing on 1 September (`None` if not registered then).
    pub standing: Option<Standing>,
    /// Whether it is the group's lead school (牵头校).
    pub lead: bool,
    /// Its quota, for a strong school.
    pub quota: Option<SchoolQuota>,
}

/// A team (组团流入) received by a member school, active during the year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamInYear {
    /// The team.
    pub team: Id,
    /// The receiving school.
    pub school: Id,
    /// The founders' start date.
    pub start_date: NaiveDate,
    /// Member dispatches.
    pub members: Vec<Id>,
    /// Members serving on the summary's `strength_date`.
    pub serving: u64,
}

/// A dispatch that ended before its minimum term, during the year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlyReturn {
    /// The dispatch.
    pub dispatch: Id,
    /// The teacher.
    pub teacher: Id,
    /// Sending school.
    pub from_school: Id,
    /// Receiving school.
    pub to_school: Id,
    /// First day.
    pub start_date: NaiveDate,
    /// The minimum end it fell short of.
    pub min_end: Option<NaiveDate>,
    /// First day back.
    pub return_date: NaiveDate,
    /// Why.
    pub reason: ReturnReason,
    /// Explanation, if any.
    pub reason_text: Option<String>,
    /// Whether the reason is in `early_return_exempt_reasons` (policy on the as-of date).
    pub exempt: bool,
    /// The team, if a team dispatch.
    pub team: Option<Id>,
}

/// A group's summary for one school year, as of a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    /// The group.
    pub group: Id,
    /// District or education group.
    pub kind: GroupKind,
    /// Its name.
    pub name: String,
    /// The school year.
    pub school_year: SchoolYear,
    /// The date asked about.
    pub as_of: NaiveDate,
    /// The day team strength is counted on: the as-of date, or the year's last day if earlier.
    pub strength_date: NaiveDate,
    /// Member schools on 1 September, by id.
    pub members: Vec<MemberSchool>,
    /// Teams received by member schools and active in the year, by id.
    pub teams: Vec<TeamInYear>,
    /// Early returns in the year (on or before the as-of date) of dispatches from or to a
    /// member school, by return date.
    pub early_returns: Vec<EarlyReturn>,
    /// Sum of the strong members' eligible teachers.
    pub eligible: u64,
    /// Sum of their outflow.
    pub outflow: u64,
    /// Sum of what they still miss.
    pub missing: u64,
}

/// The summary of `group` for `year` as of `as_of`.
pub fn group_summary(
    state: &State,
    group: &str,
    year: SchoolYear,
    as_of: NaiveDate,
) -> Result<GroupSummary, QueryError> {
    let (first, last) = year_bounds(year)?;
    let g = state
        .group(group)
        .ok_or_else(|| QueryError::UnknownGroup(group.to_string()))?;
    let member_ids = g.members_at(first);
    let mut members = Vec::new();
    for m in &member_ids {
        let standing = state.standing_at(m.as_str(), first);
        let quota = if standing == Some(Standing::Strong) {
            Some(school_quota(state, m.as_str(), year, as_of)?)
        } else {
            None
        };
        members.push(MemberSchool {
            school: m.clone(),
            standing,
            lead: *m == g.lead_school,
            quota,
        });
    }
    let is_member = |s: &Id| member_ids.contains(s);
    let until = as_of.min(last);

    let teams = state
        .teams()
        .filter(|t| is_member(&t.school) && t.start_date <= until)
        .filter_map(|t| {
            let dispatches: Vec<&Dispatch> = t
                .members
                .iter()
                .filter_map(|d| state.dispatch(d.as_str()))
                .collect();
            // Active in the year: some member served on a day of it up to `until`.
            let active = dispatches
                .iter()
                .any(|d| d.start_date <= until && d.end_as_of(until).is_none_or(|end| end > first));
            active.then(|| TeamInYear {
                team: t.id.clone(),
                school: t.school.clone(),
                start_date: t.start_date,
                members: t.members.iter().cloned().collect(),
                serving: dispatches.iter().filter(|d| d.serving_on(until)).count() as u64,
            })
        })
        .collect();

    let policy = state.policy_at(as_of);
    let mut early_returns: Vec<EarlyReturn> = state
        .dispatches()
        .filter(|d| is_member(&d.from_school) || is_member(&d.to_school))
        .filter_map(|d| {
            let r = d.returned.as_ref()?;
            if r.date < first || r.date > until {
                return None;
            }
            let min_end = add_years(d.start_date, state.policy_at(d.start_date).min_term_years);
            if min_end.is_some_and(|m| r.date >= m) {
                return None;
            }
            Some(EarlyReturn {
                dispatch: d.id.clone(),
                teacher: d.teacher.clone(),
                from_school: d.from_school.clone(),
                to_school: d.to_school.clone(),
                start_date: d.start_date,
                min_end,
                return_date: r.date,
                reason: r.reason,
                reason_text: r.reason_text.clone(),
                exempt: policy.exempt(r.reason),
                team: d.team.clone(),
            })
        })
        .collect();
    early_returns.sort_by(|a, b| (a.return_date, &a.dispatch).cmp(&(b.return_date, &b.dispatch)));

    let quotas = || members.iter().filter_map(|m| m.quota.as_ref());
    let eligible = quotas().map(|q| q.eligible.len() as u64).sum();
    let outflow = quotas().map(|q| q.outflow.len() as u64).sum();
    let missing = quotas().map(|q| q.missing).sum();
    Ok(GroupSummary {
        group: g.id.clone(),
        kind: g.kind,
        name: g.name.clone(),
        school_year: year,
        as_of,
        strength_date: until,
        members,
        teams,
        early_returns,
        eligible,
        outflow,
        missing,
    })
}
