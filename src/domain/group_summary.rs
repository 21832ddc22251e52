//! Group summaries (SPEC 4.4): per district (学区) or education group (集团) and school year,
//! the quotas of its member schools, the teams received by them and the early returns
//! touching them, as of a date.
//!
//! Membership is taken on **1 September** of the year, like the quotas: a school that joins
//! mid-year counts from the next year, and one that leaves mid-year stays in this year's
//! summary.

use chrono::NaiveDate;

use super::id::Id;
use super::query::{QueryError, year_bounds};
use super::quota::{SchoolQuota, carries_quota, school_quota};
use super::state::State;
use super::teams::{TeamView, team};
use super::terms::{Term, TermStatus, term};
use super::vocab::{GroupKind, SchoolYear, Standing};

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
    /// Teams received by member schools and active in the year (a member serving on some
    /// day of it), as of `strength_date`, by id (SPEC 4.2).
    pub teams: Vec<TeamView>,
    /// Terms returned early during the year (on or before `strength_date`), of dispatches
    /// from or to a member school, by return date (SPEC 4.1).
    pub early_returns: Vec<Term>,
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
        let rural = state.school(m.as_str()).is_some_and(|s| s.rural);
        let quota = if carries_quota(state.policy_at(first).quota_duty, standing, rural) {
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
        .filter(|t| is_member(&t.school))
        .filter_map(|t| team(state, &t.id, until))
        .filter(|v| {
            v.members
                .iter()
                .any(|m| m.end.is_none_or(|end| end > first))
        })
        .collect();

    // The members' own dispatches (from or to one of them), each once.
    let mut seen = std::collections::BTreeSet::new();
    let mut early_returns: Vec<Term> = member_ids
        .iter()
        .flat_map(|m| state.dispatches_at(m.as_str()))
        .filter(|d| seen.insert(d.id.clone()))
        .filter_map(|d| term(state, d, until))
        .filter(|t| t.status == TermStatus::ReturnedEarly && t.end.is_some_and(|e| e >= first))
        .collect();
    early_returns.sort_by(|a, b| (a.end, &a.dispatch).cmp(&(b.end, &b.dispatch)));

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

#[cfg(test)]
mod tests {
    use super::super::projkit::accepted;
    use super::super::testkit::*;
    use super::*;

    /// District G1 (S1, S2 strong; W1, W2 weak) in 2024/25: W3 joins and S2 leaves on
    /// 2025-01-01; a team of three from S1 to W1; early returns inside and outside the group.
    fn district() -> State {
        accepted(vec![
            {
                let mut w = world();
                w.push(teacher("V", "R1"));
                w
            },
            vec![
                dispatch("D5", "T5", "S1", "W2", "2021-09-01"),
                ret("D5", "2024-10-01", "term_completed"),
            ],
            vec![
                dispatch_kind("D1", "T1", "S1", "W1", "2024-09-01", "rotation", Some("TM")),
                dispatch_kind("D2", "T2", "S1", "W1", "2024-09-01", "rotation", Some("TM")),
                dispatch_kind("D3", "T3", "S1", "W1", "2024-09-01", "rotation", Some("TM")),
                dispatch("D4", "T4", "S1", "W3", "2024-09-01"),
                dispatch("DV", "V", "R1", "W3", "2024-09-01"),
            ],
            vec![
                membership("G1", "W3", "joined", "2025-01-01"),
                membership("G1", "S2", "left", "2025-01-01"),
                ret("DV", "2025-02-01", "family_hardship"),
                ret("D1", "2025-03-01", "health"),
                ret("D4", "2025-03-01", "family_hardship"),
            ],
        ])
    }

    fn ids<'a>(v: impl IntoIterator<Item = &'a Id>) -> Vec<String> {
        v.into_iter().map(|i| i.to_string()).collect()
    }

    #[test]
    fn members_quotas_teams_and_early_returns_of_a_year() {
        let s = district();
        let g = group_summary(&s, "G1", SchoolYear(2024), d("2025-08-31")).unwrap();
        assert_eq!(
            ids(g.members.iter().map(|m| &m.school)),
            ["S1", "S2", "W1", "W2"],
            "membership on 1 September: S2 left mid-year and stays, W3 joined and waits"
        );
        let s1 = g.members[0].quota.as_ref().unwrap();
        assert!(g.members[0].lead);
        assert_eq!(
            ids(&s1.eligible),
            ["T1", "T2", "T3", "T4", "T6"],
            "T5 away on 31 August"
        );
        assert_eq!((s1.outflow.len(), s1.required, s1.missing), (4, 1, 0));
        assert_eq!(g.members[1].quota.as_ref().unwrap().eligible.len(), 0);
        assert!(g.members[2].quota.is_none() && g.members[2].standing == Some(Standing::Weak));
        assert_eq!((g.eligible, g.outflow, g.missing), (5, 4, 0));

        assert_eq!(ids(g.teams.iter().map(|t| &t.team)), ["TM"]);
        assert_eq!((g.teams[0].members.len(), g.teams[0].strength), (3, 2));
        assert_eq!(
            g.teams[0].status,
            crate::domain::teams::TeamStatus::BelowMinimum {
                since: d("2025-03-01")
            }
        );

        let early: Vec<(String, bool, NaiveDate)> = g
            .early_returns
            .iter()
            .map(|e| (e.dispatch.to_string(), e.exempt, e.end.unwrap()))
            .collect();
        assert_eq!(
            early,
            [
                ("D1".to_string(), true, d("2025-03-01")),
                ("D4".to_string(), false, d("2025-03-01")),
            ],
            "D5 completed its term; DV touches no member school on 1 September"
        );
        assert_eq!(g.early_returns[0].min_end, d("2027-09-01"));
        assert_eq!(
            g.early_returns[0].team.as_ref().map(|t| t.as_str()),
            Some("TM")
        );
    }

    #[test]
    fn as_of_dates_inside_and_after_the_year() {
        let s = district();
        let mid = group_summary(&s, "G1", SchoolYear(2024), d("2025-02-15")).unwrap();
        assert_eq!(mid.strength_date, d("2025-02-15"));
        assert_eq!(mid.teams[0].strength, 3);
        assert!(
            mid.early_returns.is_empty(),
            "the returns take effect later"
        );
        let before = group_summary(&s, "G1", SchoolYear(2024), d("2024-08-31")).unwrap();
        assert!(before.teams.is_empty() && before.outflow == 0);

        let next = group_summary(&s, "G1", SchoolYear(2025), d("2026-01-01")).unwrap();
        assert_eq!(
            ids(next.members.iter().map(|m| &m.school)),
            ["S1", "W1", "W2", "W3"]
        );
        assert_eq!(next.strength_date, d("2026-01-01"));
        assert_eq!(ids(next.teams.iter().map(|t| &t.team)), ["TM"]);
        assert_eq!(next.teams[0].strength, 2);
        assert!(next.early_returns.is_empty());
        let s1 = next.members[0].quota.as_ref().unwrap();
        assert_eq!(
            ids(&s1.eligible),
            ["T1", "T4", "T5", "T6"],
            "T2, T3 still away"
        );

        assert_eq!(
            group_summary(&s, "G9", SchoolYear(2024), d("2025-01-01")).unwrap_err(),
            QueryError::UnknownGroup("G9".into())
        );
    }
}
