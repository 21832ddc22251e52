//! The district view (SPEC 8, bureau staff): for one school year as of a date, every school
//! with its quota status, every district and education group with its members' totals,
//! the rotation outflow of recent school years (for the chart), and the teams below strength.
//!
//! Everything is taken the way the other projections take it, so the figures agree with
//! them: schools and group members on **1 September** of the year (as `group_summary`
//! does), quotas by `school_quota`, teams by `teams::teams` as of the strength date (the
//! as-of date, or the year's last day if earlier).
//!
//! **Quota status.** A school carrying a quota is `met` once its outflow reaches the
//! requirement; otherwise `due` while the year runs (the as-of date is on or before its last
//! day, 31 August: dispatches may still come) and `short` once it has ended. A school
//! carrying no quota that year is `no_duty`.
//!
//! **Teams below strength.** Teams whose status on the strength date is `below_minimum`
//! (SPEC 4.2): fewer than `min_team_size` members serving after an early return inside the
//! team's term. A team that served its term out and now has fewer members serving is not
//! listed: nothing is missing there.

use chrono::NaiveDate;

use super::id::Id;
use super::query::{QueryError, year_bounds};
use super::quota::{SchoolQuota, carries_quota, school_quota};
use super::state::State;
use super::teams::{TeamStatus, TeamView, teams};
use super::vocab::{DispatchKind, GroupKind, SchoolYear, Standing};

/// How many school years the outflow series covers at most, ending with the year asked.
pub const OUTFLOW_YEARS: i32 = 10;

/// A school's quota position in the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaStatus {
    /// The school carries no quota that year.
    NoDuty,
    /// The outflow reaches the requirement.
    Met,
    /// Short of it while the year still runs.
    Due,
    /// Short of it after the year's last day.
    Short,
}

/// One school in the year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistrictSchool {
    /// The school.
    pub school: Id,
    /// Its name.
    pub name: String,
    /// Its standing on 1 September.
    pub standing: Standing,
    /// Whether it is rural.
    pub rural: bool,
    /// The districts and groups it belongs to on 1 September, by id.
    pub groups: Vec<Id>,
    /// Its quota, when it carries one.
    pub quota: Option<SchoolQuota>,
    /// Where the quota stands.
    pub status: QuotaStatus,
}

/// One district or education group in the year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistrictGroup {
    /// The group.
    pub group: Id,
    /// District or education group.
    pub kind: GroupKind,
    /// Its name.
    pub name: String,
    /// The lead school.
    pub lead_school: Id,
    /// Members on 1 September, by id.
    pub members: Vec<Id>,
    /// Eligible teachers summed over the members carrying a quota.
    pub eligible: u64,
    /// Their required outflow, summed.
    pub required: u64,
    /// Their outflow, summed.
    pub outflow: u64,
    /// What they still miss, summed.
    pub missing: u64,
    /// Members whose status is `due` or `short`.
    pub schools_short: u64,
}

/// Rotation outflow in one school year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YearOutflow {
    /// The school year.
    pub school_year: SchoolYear,
    /// `rotation` dispatches starting in the year, on or before the as-of date, from any
    /// school.
    pub outflow: u64,
    /// Key teachers among them (key level on the start date).
    pub key_outflow: u64,
    /// The required outflow summed over the schools carrying a quota that year.
    pub required: u64,
}

/// The district view of one school year, as of a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct District {
    /// The school year.
    pub school_year: SchoolYear,
    /// The date asked about.
    pub as_of: NaiveDate,
    /// The day team strength is taken on: the as-of date, or the year's last day if earlier.
    pub strength_date: NaiveDate,
    /// Every school registered on 1 September, by id.
    pub schools: Vec<DistrictSchool>,
    /// Every district and group formed by 1 September, by id.
    pub groups: Vec<DistrictGroup>,
    /// Outflow per school year, oldest first: from the year of the first rotation dispatch
    /// (at most [`OUTFLOW_YEARS`] back) to the year asked.
    pub outflow_by_year: Vec<YearOutflow>,
    /// Teams below minimum on the strength date, by id.
    pub teams_below_strength: Vec<TeamView>,
}

/// The schools registered on 1 September of `year` with their quotas and statuses.
fn schools_of_year(
    state: &State,
    year: SchoolYear,
    as_of: NaiveDate,
) -> Result<Vec<DistrictSchool>, QueryError> {
    let (first, last) = year_bounds(year)?;
    let duty = state.policy_at(first).quota_duty;
    let mut out = Vec::new();
    for s in state.schools() {
        let Some(standing) = s.standing.at(first).copied() else {
            continue;
        };
        let quota = if carries_quota(duty, Some(standing), s.rural) {
            Some(school_quota(state, s.id.as_str(), year, as_of)?)
        } else {
            None
        };
        let status = match &quota {
            None => QuotaStatus::NoDuty,
            Some(q) if q.outflow_met => QuotaStatus::Met,
            Some(_) if as_of > last => QuotaStatus::Short,
            Some(_) => QuotaStatus::Due,
        };
        out.push(DistrictSchool {
            school: s.id.clone(),
            name: s.name.clone(),
            standing,
            rural: s.rural,
            groups: state
                .groups_of(&s.id, first)
                .into_iter()
                .map(|g| g.id.clone())
                .collect(),
            quota,
            status,
        });
    }
    out.sort_by(|a, b| a.school.cmp(&b.school));
    Ok(out)
}

/// The district view of `year` as of `as_of`.
pub fn district(state: &State, year: SchoolYear, as_of: NaiveDate) -> Result<District, QueryError> {
    let (first, last) = year_bounds(year)?;
    let strength_date = as_of.min(last);
    let schools = schools_of_year(state, year, as_of)?;

    let mut groups = Vec::new();
    for g in state.groups().filter(|g| g.date <= first) {
        let members = g.members_at(first);
        let of_members = || schools.iter().filter(|s| members.contains(&s.school));
        let quotas = || of_members().filter_map(|s| s.quota.as_ref());
        groups.push(DistrictGroup {
            group: g.id.clone(),
            kind: g.kind,
            name: g.name.clone(),
            lead_school: g.lead_school.clone(),
            eligible: quotas().map(|q| q.eligible.len() as u64).sum(),
            required: quotas().map(|q| q.required).sum(),
            outflow: quotas().map(|q| q.outflow.len() as u64).sum(),
            missing: quotas().map(|q| q.missing).sum(),
            schools_short: of_members()
                .filter(|s| matches!(s.status, QuotaStatus::Due | QuotaStatus::Short))
                .count() as u64,
            members,
        });
    }
    groups.sort_by(|a, b| a.group.cmp(&b.group));

    // The series starts with the first rotation dispatch's year, at most OUTFLOW_YEARS back.
    let rotations = || {
        state
            .dispatches()
            .filter(|d| d.kind == DispatchKind::Rotation && d.start_date <= as_of)
    };
    let earliest = rotations()
        .map(|d| SchoolYear::of(d.start_date).0)
        .min()
        .unwrap_or(year.0);
    let from = earliest.clamp(year.0.saturating_sub(OUTFLOW_YEARS - 1), year.0);
    let mut outflow_by_year = Vec::new();
    for y in from..=year.0 {
        let y = SchoolYear(y);
        let required: u64 = if y == year {
            schools
                .iter()
                .filter_map(|s| s.quota.as_ref())
                .map(|q| q.required)
                .sum()
        } else {
            schools_of_year(state, y, as_of)?
                .iter()
                .filter_map(|s| s.quota.as_ref())
                .map(|q| q.required)
                .sum()
        };
        let in_year: Vec<_> = rotations()
            .filter(|d| SchoolYear::of(d.start_date) == y)
            .collect();
        let key_outflow = in_year
            .iter()
            .filter(|d| {
                state
                    .teacher(d.teacher.as_str())
                    .and_then(|t| t.key_level.at(d.start_date))
                    .is_some_and(|k| k.is_key())
            })
            .count() as u64;
        outflow_by_year.push(YearOutflow {
            school_year: y,
            outflow: in_year.len() as u64,
            key_outflow,
            required,
        });
    }

    let teams_below_strength = teams(state, strength_date)
        .into_iter()
        .filter(|t| matches!(t.status, TeamStatus::BelowMinimum { .. }))
        .collect();

    Ok(District {
        school_year: year,
        as_of,
        strength_date,
        schools,
        groups,
        outflow_by_year,
        teams_below_strength,
    })
}

#[cfg(test)]
mod tests {
    use super::super::projkit::{accepted, staff};
    use super::super::testkit::*;
    use super::*;
    use crate::domain::event::Event;

    /// Strong S1 (6 teachers, district G1) rotates 1 of them in 2023 and a team of 3 to W1
    /// in 2024; strong S2 has 10 eligible teachers and rotates nobody; weak W1, W2 and
    /// rural R1 carry no quota. One team member returns early on 2025-03-01.
    fn bureau() -> State {
        let mut w = world();
        w.extend(staff("P", "S2", 10, 0, "none"));
        accepted(vec![
            w,
            vec![dispatch("D0", "T6", "S1", "W3", "2023-09-01")],
            vec![
                dispatch_kind("D1", "T1", "S1", "W1", "2024-09-01", "rotation", Some("TM")),
                dispatch_kind("D2", "T2", "S1", "W1", "2024-09-01", "rotation", Some("TM")),
                dispatch_kind("D3", "T3", "S1", "W1", "2024-09-01", "rotation", Some("TM")),
            ],
            vec![ret("D1", "2025-03-01", "family_hardship")],
        ])
    }

    fn status_of(v: &District, school: &str) -> QuotaStatus {
        v.schools
            .iter()
            .find(|s| s.school.as_str() == school)
            .map(|s| s.status)
            .unwrap()
    }

    #[test]
    fn quota_status_due_met_short_and_no_duty() {
        let s = bureau();
        let mid = district(&s, SchoolYear(2024), d("2025-02-01")).unwrap();
        assert_eq!(
            mid.schools
                .iter()
                .map(|s| s.school.to_string())
                .collect::<Vec<_>>(),
            ["R1", "S1", "S2", "W1", "W2", "W3"]
        );
        assert_eq!(status_of(&mid, "S1"), QuotaStatus::Met);
        assert_eq!(
            status_of(&mid, "S2"),
            QuotaStatus::Due,
            "the year still runs"
        );
        assert_eq!(status_of(&mid, "W1"), QuotaStatus::NoDuty);
        assert_eq!(status_of(&mid, "R1"), QuotaStatus::NoDuty);
        let s2 = mid
            .schools
            .iter()
            .find(|x| x.school.as_str() == "S2")
            .unwrap();
        let q = s2.quota.as_ref().unwrap();
        assert_eq!((q.eligible.len(), q.required, q.missing), (10, 2, 2));

        // On the year's last day S2 is still due; the day after, it is short.
        let last = district(&s, SchoolYear(2024), d("2025-08-31")).unwrap();
        assert_eq!(status_of(&last, "S2"), QuotaStatus::Due);
        let after = district(&s, SchoolYear(2024), d("2025-09-01")).unwrap();
        assert_eq!(status_of(&after, "S2"), QuotaStatus::Short);
        assert_eq!(status_of(&after, "S1"), QuotaStatus::Met);

        let g = &after.groups[0];
        assert_eq!(g.group.as_str(), "G1");
        assert_eq!(
            g.members.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
            ["S1", "S2", "W1", "W2"]
        );
        // S1: T1..T5 eligible (T6 away on 31 August), 1 required, 3 out; S2: 10, 2, 0.
        assert_eq!(
            (
                g.eligible,
                g.required,
                g.outflow,
                g.missing,
                g.schools_short
            ),
            (15, 3, 3, 2, 1)
        );
    }

    #[test]
    fn outflow_by_year_and_teams_below_strength() {
        let s = bureau();
        let v = district(&s, SchoolYear(2024), d("2025-06-01")).unwrap();
        let series: Vec<(i32, u64, u64)> = v
            .outflow_by_year
            .iter()
            .map(|y| (y.school_year.0, y.outflow, y.required))
            .collect();
        // 2023: S1 has T1..T6 (6 eligible → 2 required), S2's P1..P10 (10 → 2).
        assert_eq!(series, [(2023, 1, 4), (2024, 3, 3)]);

        assert_eq!(v.strength_date, d("2025-06-01"));
        assert_eq!(
            v.teams_below_strength
                .iter()
                .map(|t| (t.team.to_string(), t.strength, t.min_team_size))
                .collect::<Vec<_>>(),
            [("TM".to_string(), 2, 3)]
        );
        // Before the early return the team is at strength.
        let before = district(&s, SchoolYear(2024), d("2025-02-28")).unwrap();
        assert!(before.teams_below_strength.is_empty());
        // Asked about 2023/24, strength is taken on its last day: the team had not started.
        let earlier = district(&s, SchoolYear(2023), d("2025-06-01")).unwrap();
        assert_eq!(earlier.strength_date, d("2024-08-31"));
        assert!(earlier.teams_below_strength.is_empty());
        assert_eq!(
            earlier
                .outflow_by_year
                .iter()
                .map(|y| y.school_year.0)
                .collect::<Vec<_>>(),
            [2023]
        );
    }

    #[test]
    fn a_team_that_served_its_term_is_not_below_strength() {
        let mut w = world();
        w.extend(staff("Q", "S2", 3, 0, "none"));
        let mut appends = vec![w];
        let team: Vec<Event> = (1..=3)
            .map(|i| {
                dispatch_kind(
                    &format!("Q-D{i}"),
                    &format!("Q{i}"),
                    "S2",
                    "W2",
                    "2020-09-01",
                    "rotation",
                    Some("TQ"),
                )
            })
            .collect();
        appends.push(team);
        appends.push(vec![
            ret("Q-D1", "2023-09-01", "term_completed"),
            ret("Q-D2", "2023-09-01", "term_completed"),
        ]);
        let s = accepted(appends);
        let v = district(&s, SchoolYear(2023), d("2024-01-01")).unwrap();
        assert!(
            v.teams_below_strength.is_empty(),
            "one member serving beyond the term is not a shortfall"
        );
        assert_eq!(
            district(&s, SchoolYear(1), d("2024-01-01")).unwrap_err(),
            QueryError::YearOutOfRange(SchoolYear(1))
        );
    }
}
