//! Teams (SPEC 4.2), groups of three (组团流入): per team its receiving school, members,
//! strength over time, status, and for weak junior-secondary receiving schools which scored
//! subjects (学业水平考试计分科目) the serving members cover (reported, not enforced).
//!
//! A team's **founders** are its members that started on the team's start date (the
//! dispatches that created it; rule 3). They share one `min_end`, the start plus
//! `min_term_years` of the policy in force on the start date, and that date ends the team's
//! term: from it the team is `completed`, however many members serve on. Before it, a drop
//! below `min_team_size` can only come from an early return, and makes the team
//! `below_minimum` until joiners bring it back to strength. Members finishing their term
//! normally never make a team `below_minimum`, even while a later joiner serves on.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::calendar::add_years;
use super::id::Id;
use super::state::{State, Team};
use super::vocab::Standing;

/// A team's status on a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamStatus {
    /// At least `min_team_size` members serving.
    Complete,
    /// Fewer than `min_team_size` serving since `since`, after an early return (or a member
    /// voided) while others still serve.
    BelowMinimum {
        /// The date the strength fell below the minimum.
        since: NaiveDate,
    },
    /// No member serves any more, and none left early: the team served out its terms.
    Finished {
        /// The date the last member left.
        since: NaiveDate,
    },
    /// The founders have reached their `min_end`, the team's term is fulfilled, and some
    /// member (a founder serving beyond the minimum, or a later joiner) still serves.
    Completed {
        /// The founders' `min_end`.
        since: NaiveDate,
    },
}

/// One member of a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMember {
    /// The dispatch.
    pub dispatch: Id,
    /// The teacher.
    pub teacher: Id,
    /// The teacher's subject as of the date asked.
    pub subject: Option<Id>,
    /// Start.
    pub start_date: NaiveDate,
    /// Return date, if effective as of the date asked.
    pub end: Option<NaiveDate>,
    /// Whether the member left before min_end.
    pub returned_early: bool,
    /// Whether the member serves on the date asked.
    pub serving: bool,
}

/// Which scored subjects the serving members cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    /// The scored subjects (policy in force on the date asked).
    pub scored: Vec<Id>,
    /// Those a serving member teaches.
    pub covered: Vec<Id>,
    /// Those none does.
    pub missing: Vec<Id>,
}

/// A team as of a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamView {
    /// The team.
    pub team: Id,
    /// Receiving school.
    pub school: Id,
    /// The founders' start date.
    pub start_date: NaiveDate,
    /// The minimum size (policy in force on the start date).
    pub min_team_size: u32,
    /// Members who have started by the date asked.
    pub members: Vec<TeamMember>,
    /// Members serving on the date asked.
    pub strength: u32,
    /// Status on the date asked.
    pub status: TeamStatus,
    /// Scored-subject coverage, for a weak junior-secondary receiving school.
    pub coverage: Option<Coverage>,
    /// Strength over time: (date, strength from that date), up to the date asked.
    pub strength_history: Vec<(NaiveDate, u32)>,
}

/// The team `id` as of `as_of`; `None` if unknown or not started by then.
pub fn team(state: &State, id: &str, as_of: NaiveDate) -> Option<TeamView> {
    view(state, state.team(id)?, as_of)
}

/// Every team started by `as_of`, by id.
pub fn teams(state: &State, as_of: NaiveDate) -> Vec<TeamView> {
    state
        .teams()
        .filter_map(|t| view(state, t, as_of))
        .collect()
}

fn view(state: &State, t: &Team, as_of: NaiveDate) -> Option<TeamView> {
    if t.start_date > as_of {
        return None;
    }
    let min = state.policy_at(t.start_date).min_team_size;
    let mut members = Vec::new();
    // Per date: the change in strength.
    let mut changes: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for d in t.members.iter().filter_map(|m| state.dispatch(m)) {
        if d.start_date > as_of {
            continue;
        }
        let end = d.end_as_of(as_of);
        let early = end.is_some_and(|e| state.min_end(d).is_none_or(|m| e < m));
        *changes.entry(d.start_date).or_default() += 1;
        if let Some(e) = end {
            *changes.entry(e).or_default() -= 1;
        }
        members.push(TeamMember {
            dispatch: d.id.clone(),
            teacher: d.teacher.clone(),
            subject: state
                .teacher(&d.teacher)
                .and_then(|t| t.subject.at(as_of).cloned()),
            start_date: d.start_date,
            end,
            returned_early: early,
            serving: end.is_none(),
        });
    }
    members.sort_by(|a, b| (a.start_date, &a.dispatch).cmp(&(b.start_date, &b.dispatch)));

    // The founders' common min_end: the end of the team's term (`None` only beyond the
    // calendar).
    let term_end = add_years(t.start_date, state.policy_at(t.start_date).min_term_years);
    let in_term = |date: NaiveDate| term_end.is_none_or(|end| date < end);
    let mut strength: i64 = 0;
    let mut history = Vec::new();
    let mut below_since: Option<NaiveDate> = None;
    for (date, delta) in &changes {
        strength += delta;
        history.push((*date, strength.max(0) as u32));
        if strength >= i64::from(min) {
            below_since = None;
        } else if in_term(*date) {
            // Inside the term a drop can only be an early return (founders share the term's
            // end, joiners end later): below minimum until joiners restore it. After the
            // term, departures are normal completions, and a shortfall that began inside
            // the term stays on record.
            below_since.get_or_insert(*date);
        }
    }
    let strength = strength.max(0) as u32;
    let status = match (below_since, term_end) {
        (Some(since), _) => TeamStatus::BelowMinimum { since },
        (None, _) if strength == 0 => TeamStatus::Finished {
            since: history.last().map(|(d, _)| *d).unwrap_or(t.start_date),
        },
        (None, Some(end)) if as_of >= end => TeamStatus::Completed { since: end },
        (None, _) => TeamStatus::Complete,
    };

    let coverage = state.school(&t.school).and_then(|s| {
        let weak = s.standing.at(as_of) == Some(&Standing::Weak);
        (weak && s.stage.has_junior_secondary()).then(|| {
            let scored = state.policy_at(as_of).scored_subjects.clone();
            let taught: Vec<&Id> = members
                .iter()
                .filter(|m| m.serving)
                .filter_map(|m| m.subject.as_ref())
                .collect();
            let (covered, missing) = scored.iter().cloned().partition(|s| taught.contains(&s));
            Coverage {
                scored,
                covered,
                missing,
            }
        })
    });

    Some(TeamView {
        team: t.id.clone(),
        school: t.school.clone(),
        start_date: t.start_date,
        min_team_size: min,
        members,
        strength,
        status,
        coverage,
        strength_history: history,
    })
}
