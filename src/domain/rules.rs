//! The rules the ledger enforces on append (SPEC §3): each event is checked against the
//! state as left by the events before it in the same append; a rejection names the event,
//! a stable rule code, a message a person can act on, and the values involved.
//!
//! An append is judged through a [`Batch`]: `check` an event, `apply` it, repeat, then
//! `finish` (which checks what only the whole append can show: that a new team has enough
//! founders). [`Batch::new`] works on its own clone of the state, so a rejected append changes
//! nothing: the clone is dropped. [`Batch::over`] works on the state itself (the ledger's
//! writer, which undoes a refused append by rebuilding from its committed state).
//!
//! Rule codes are stable API (clients branch on them); messages are for people.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;

use super::eligibility::judge_promotion;
use super::event::{Event, TeacherDispatched};
use super::id::Id;
use super::state::{Meta, State};
use super::vocab::{SchoolYear, Standing, Title};

/// Why an append was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {index}: rule {rule}: {message}")]
pub struct Rejection {
    /// The event's index in the append.
    pub index: usize,
    /// The stable rule code, e.g. `team.min_size`.
    pub rule: &'static str,
    /// What a person should know and do.
    pub message: String,
    /// The values involved, by name.
    pub values: Vec<(String, String)>,
}

/// A rejection before its index is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    rule: &'static str,
    message: String,
    values: Vec<(String, String)>,
}

pub(super) fn refuse(rule: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        rule,
        message: message.into(),
        values: Vec::new(),
    }
}

impl Refusal {
    fn with(mut self, name: &str, value: impl ToString) -> Refusal {
        self.values.push((name.to_owned(), value.to_string()));
        self
    }

    fn at(self, index: usize) -> Rejection {
        Rejection {
            index,
            rule: self.rule,
            message: self.message,
            values: self.values,
        }
    }
}

/// A team created by the append being judged.
#[derive(Debug, Clone)]
struct NewTeam {
    index: usize,
    school: Id,
    start_date: NaiveDate,
    founders: usize,
}

/// A team some of whose dispatches the append being judged voids.
#[derive(Debug, Clone)]
struct VoidedTeam {
    /// The last such void: its index in the append and the entry it voids.
    index: usize,
    target: u64,
    /// The team's founders before the append's first void of it.
    founders_before: usize,
}

/// One append under judgement.
#[derive(Debug, Clone)]
pub struct Batch {
    state: State,
    new_teams: BTreeMap<Id, NewTeam>,
    voided_teams: BTreeMap<Id, VoidedTeam>,
}

impl Batch {
    /// Starts judging an append on top of `state` (cloned: O(1)).
    pub fn new(state: &State) -> Batch {
        Batch::over(state.clone())
    }

    /// Starts judging an append on `state` itself, changed in place as events are applied:
    /// no copy-on-write of the state's shared structure per append. The caller keeps what it
    /// needs to undo a refused append (the ledger rebuilds from its committed state).
    pub fn over(state: State) -> Batch {
        Batch {
            state,
            new_teams: BTreeMap::new(),
            voided_teams: BTreeMap::new(),
        }
    }

    /// The state as left by the events applied so far.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Checks event `index` against the state left by the ones before it.
    pub fn check(&self, index: usize, event: &Event) -> Result<(), Rejection> {
        check(&self.state, &self.new_teams, event).map_err(|r| r.at(index))
    }

    /// Applies event `index` (checked) as entry `meta`.
    pub fn apply(&mut self, index: usize, meta: Meta, event: Arc<Event>) {
        if let Event::TeacherDispatched(TeacherDispatched {
            team: Some(team),
            to_school,
            start_date,
            ..
        }) = &*event
        {
            if let Some(t) = self.new_teams.get_mut(team) {
                t.founders += 1;
            } else if self.state.team(team).is_none() {
                self.new_teams.insert(
                    team.clone(),
                    NewTeam {
                        index,
                        school: to_school.clone(),
                        start_date: *start_date,
                        founders: 1,
                    },
                );
            }
        }
        if let Event::EntryVoided(v) = &*event
            && let Some(team) = super::voids::team_of_voided(&self.state, v.seq)
        {
            let before = self
                .state
                .team(&team)
                .map(|t| super::voids::team_members(&self.state, t).founders.len())
                .unwrap_or(0);
            self.voided_teams
                .entry(team)
                .and_modify(|t| {
                    t.index = index;
                    t.target = v.seq;
                })
                .or_insert(VoidedTeam {
                    index,
                    target: v.seq,
                    founders_before: before,
                });
        }
        // `apply` ignores anything but the next entry of the log; the sequencer numbers a
        // batch from the pending state's length, so this holds by construction.
        debug_assert_eq!(meta.seq, self.state.len(), "a batch entry out of sequence");
        self.state.apply(meta, event);
    }

    /// Checks and applies.
    pub fn push(&mut self, index: usize, meta: Meta, event: Arc<Event>) -> Result<(), Rejection> {
        self.check(index, &event)?;
        self.apply(index, meta, event);
        Ok(())
    }

    /// Ends the append: checks what needs the whole of it (that a new team has enough
    /// founders; that voids leave every team they touch valid), and returns the new state.
    pub fn finish(self) -> Result<State, Rejection> {
        let (state, verdict) = self.end();
        verdict.map(|()| state)
    }

    /// [`Batch::finish`] that hands the state back either way (for [`Batch::over`]: after a
    /// refusal it holds the append's applied events, which the caller must undo).
    pub fn end(self) -> (State, Result<(), Rejection>) {
        let verdict = self.verdict();
        (self.state, verdict)
    }

    /// What only the whole append can show.
    fn verdict(&self) -> Result<(), Rejection> {
        for (id, t) in &self.new_teams {
            let min = self.state.policy_at(t.start_date).min_team_size;
            if (t.founders as u64) < u64::from(min) {
                return Err(refuse(
                    "team.min_size",
                    format!(
                        "team {id} is created with {} dispatch(es) to {} starting {}; a new team \
                         needs at least {min} in the same append with the same receiving school \
                         and start date",
                        t.founders, t.school, t.start_date
                    ),
                )
                .with("team", id)
                .with("school", &t.school)
                .with("start_date", t.start_date)
                .with("dispatches", t.founders)
                .with("min_team_size", min)
                .at(t.index));
            }
        }
        for (id, t) in &self.voided_teams {
            super::voids::check_team_after_voids(&self.state, id, t.target, t.founders_before)
                .map_err(|r| r.at(t.index))?;
        }
        Ok(())
    }
}

fn check(s: &State, new_teams: &BTreeMap<Id, NewTeam>, event: &Event) -> Result<(), Refusal> {
    match event {
        Event::SchoolRegistered(e) => {
            if let Some(old) = s.school(&e.school) {
                return Err(refuse(
                    "school.duplicate_id",
                    format!(
                        "school {} is already registered (entry {})",
                        e.school, old.registered
                    ),
                )
                .with("school", &e.school));
            }
        }
        Event::SchoolStandingChanged(e) => {
            school_exists(s, &e.school, "school")?;
        }
        Event::GroupFormed(e) => {
            if let Some(old) = s.group(&e.group) {
                return Err(refuse(
                    "group.duplicate_id",
                    format!("group {} already exists (entry {})", e.group, old.formed),
                )
                .with("group", &e.group));
            }
            for sc in &e.schools {
                school_exists(s, sc, "schools")?;
            }
        }
        Event::GroupMembershipChanged(e) => {
            let Some(g) = s.group(&e.group) else {
                return Err(refuse("group.unknown", format!("no group {}", e.group))
                    .with("group", &e.group));
            };
            school_exists(s, &e.school, "school")?;
            let member = g.has_member(&e.school, e.date);
            match e.change {
                super::vocab::MembershipChange::Joined if member => {
                    return Err(refuse(
                        "group.already_member",
                        format!(
                            "{} is already a member of {} on {}",
                            e.school, e.group, e.date
                        ),
                    )
                    .with("group", &e.group)
                    .with("school", &e.school)
                    .with("date", e.date));
                }
                super::vocab::MembershipChange::Left if !member => {
                    return Err(refuse(
                        "group.not_member",
                        format!("{} is not a member of {} on {}", e.school, e.group, e.date),
                    )
                    .with("group", &e.group)
                    .with("school", &e.school)
                    .with("date", e.date));
                }
                super::vocab::MembershipChange::Left if g.lead_school == e.school => {
                    return Err(refuse(
                        "group.lead_leaving",
                        format!(
                            "{} leads {} and cannot leave it; form a new group instead",
                            e.school, e.group
                        ),
                    )
                    .with("group", &e.group)
                    .with("school", &e.school));
                }
                _ => {}
            }
        }
        Event::TeacherRegistered(e) => {
            if let Some(old) = s.teacher(&e.teacher) {
                return Err(refuse(
                    "teacher.duplicate_id",
                    format!(
                        "teacher {} is already registered (entry {})",
                        e.teacher, old.registered
                    ),
                )
                .with("teacher", &e.teacher));
            }
            school_exists(s, &e.school, "school")?;
        }
        Event::TeacherProfileUpdated(e) => {
            teacher_exists(s, &e.teacher)?;
            if e.name.is_some() {
                not_erased(s, &e.teacher, "name")?;
            }
        }
        Event::TeacherTransferred(e) => {
            teacher_exists(s, &e.teacher)?;
            school_exists(s, &e.school, "school")?;
            if let Some(home) = s.home_at(&e.teacher, e.date)
                && home.school == e.school
            {
                return Err(refuse(
                    "transfer.same_school",
                    format!(
                        "{} is already {}'s home school on {}",
                        e.school, e.teacher, e.date
                    ),
                )
                .with("teacher", &e.teacher)
                .with("school", &e.school));
            }
            if let Some(d) = s
                .dispatches_of(&e.teacher)
                .into_iter()
                .find(|d| d.returned.as_ref().is_none_or(|r| r.date > e.date))
            {
                return Err(refuse(
                    "transfer.during_dispatch",
                    format!(
                        "{} is on dispatch {} (from {}) on or after {}; record its return before \
                         a transfer that takes effect then",
                        e.teacher, d.id, d.start_date, e.date
                    ),
                )
                .with("teacher", &e.teacher)
                .with("dispatch", &d.id)
                .with("date", e.date));
            }
        }
        Event::PolicyAdopted(_) => {}
        Event::TeacherDispatched(e) => check_dispatch(s, new_teams, e)?,
        Event::TeacherReturned(e) => {
            let d = dispatch_exists(s, &e.dispatch)?;
            if e.reason_text.is_some() {
                not_erased(s, &d.teacher, "reason_text")?;
            }
            if let Some(r) = &d.returned {
                return Err(refuse(
                    "return.already_returned",
                    format!(
                        "dispatch {} already ended on {} (entry {})",
                        d.id, r.date, r.seq
                    ),
                )
                .with("dispatch", &d.id)
                .with("return_date", r.date));
            }
            if e.return_date < d.start_date {
                return Err(refuse(
                    "return.before_start",
                    format!(
                        "dispatch {} starts on {}; it cannot end on {}",
                        d.id, d.start_date, e.return_date
                    ),
                )
                .with("dispatch", &d.id)
                .with("start_date", d.start_date)
                .with("return_date", e.return_date));
            }
        }
        Event::TeacherEvaluated(e) => {
            let d = dispatch_exists(s, &e.dispatch)?;
            if e.school != d.to_school {
                return Err(refuse(
                    "evaluation.receiving_school",
                    format!(
                        "only the receiving school {} evaluates dispatch {}, not {}",
                        d.to_school, d.id, e.school
                    ),
                )
                .with("dispatch", &d.id)
                .with("receiving_school", &d.to_school)
                .with("school", &e.school));
            }
            let (first, last) = year_bounds(e.school_year);
            let end = d.returned.as_ref().map(|r| r.date);
            let overlaps = first.is_some_and(|f| end.is_none_or(|end| f < end))
                && last.is_some_and(|l| l >= d.start_date)
                && end.is_none_or(|end| end > d.start_date);
            if !overlaps {
                return Err(refuse(
                    "evaluation.school_year",
                    format!(
                        "school year {} does not overlap dispatch {} ({} to {})",
                        e.school_year.0,
                        d.id,
                        d.start_date,
                        end.map(|e| e.to_string()).unwrap_or_else(|| "open".into())
                    ),
                )
                .with("dispatch", &d.id)
                .with("school_year", e.school_year.0)
                .with("start_date", d.start_date));
            }
            if let Some(old) = d.evaluations.get(&e.school_year) {
                return Err(refuse(
                    "evaluation.duplicate",
                    format!(
                        "dispatch {} was already evaluated for {} (entry {}); void that entry to \
                         correct it",
                        d.id, e.school_year.0, old.seq
                    ),
                )
                .with("dispatch", &d.id)
                .with("school_year", e.school_year.0)
                .with("entry", old.seq));
            }
            if e.date < d.start_date {
                return Err(refuse(
                    "evaluation.before_start",
                    format!(
                        "dispatch {} starts on {}; it cannot be evaluated on {}",
                        d.id, d.start_date, e.date
                    ),
                )
                .with("dispatch", &d.id)
                .with("date", e.date));
            }
        }
        Event::TeacherPromoted(e) => {
            teacher_exists(s, &e.teacher)?;
            judge_promotion(s, &e.teacher, e.kind, e.title(), e.date, e.rotation_credit).map_err(
                |p| Refusal {
                    rule: p.rule,
                    message: p.message,
                    values: p.values,
                },
            )?;
        }
        Event::EntryVoided(v) => super::voids::check_void(s, v.seq)?,
        Event::PersonalDataErased(e) => {
            teacher_exists(s, &e.teacher)?;
            if let Some(done) = s.teacher(&e.teacher).and_then(|t| t.erased) {
                return Err(refuse(
                    "erasure.twice",
                    format!(
                        "the personal data of {} was already erased by entry {} ({})",
                        e.teacher, done.seq, done.date
                    ),
                )
                .with("teacher", &e.teacher)
                .with("erased_by", done.seq));
            }
        }
    }
    Ok(())
}

fn year_bounds(y: SchoolYear) -> (Option<NaiveDate>, Option<NaiveDate>) {
    (y.first_day(), y.last_day())
}

fn check_dispatch(
    s: &State,
    new_teams: &BTreeMap<Id, NewTeam>,
    e: &TeacherDispatched,
) -> Result<(), Refusal> {
    if let Some(old) = s.dispatch(&e.dispatch) {
        return Err(refuse(
            "dispatch.duplicate_id",
            format!("dispatch {} already exists (entry {})", e.dispatch, old.seq),
        )
        .with("dispatch", &e.dispatch));
    }
    teacher_exists(s, &e.teacher)?;
    school_exists(s, &e.from_school, "from_school")?;
    school_exists(s, &e.to_school, "to_school")?;
    let home = s
        .home_at(&e.teacher, e.start_date)
        .map(|h| h.school.clone());
    if home.as_ref() != Some(&e.from_school) {
        return Err(refuse(
            "dispatch.from_home_school",
            match &home {
                Some(h) => format!(
                    "{}'s home school on {} is {}, not {}; a dispatch starts from the home school",
                    e.teacher, e.start_date, h, e.from_school
                ),
                None => format!(
                    "{} has no home school on {} (registered from a later date)",
                    e.teacher, e.start_date
                ),
            },
        )
        .with("teacher", &e.teacher)
        .with("from_school", &e.from_school)
        .with(
            "home_school",
            home.map(|h| h.to_string()).unwrap_or_default(),
        )
        .with("start_date", e.start_date));
    }
    if e.from_school == e.to_school {
        return Err(refuse(
            "dispatch.same_school",
            format!(
                "a dispatch goes to a different school than {}",
                e.from_school
            ),
        )
        .with("school", &e.from_school));
    }
    for d in s.dispatches_of(&e.teacher) {
        match &d.returned {
            None => {
                return Err(refuse(
                    "dispatch.open_dispatch",
                    format!(
                        "{} is still on dispatch {} (since {}); record its return first",
                        e.teacher, d.id, d.start_date
                    ),
                )
                .with("teacher", &e.teacher)
                .with("open_dispatch", &d.id));
            }
            Some(r) if e.start_date < r.date => {
                return Err(refuse(
                    "dispatch.overlap",
                    format!(
                        "{} was on dispatch {} until {}; a new dispatch cannot start on {}",
                        e.teacher, d.id, r.date, e.start_date
                    ),
                )
                .with("teacher", &e.teacher)
                .with("dispatch", &d.id)
                .with("return_date", r.date)
                .with("start_date", e.start_date));
            }
            Some(_) => {}
        }
    }
    let Some(team) = &e.team else {
        return Ok(());
    };
    let (school, start, joining) = if let Some(t) = new_teams.get(team) {
        (t.school.clone(), t.start_date, false)
    } else if let Some(t) = s.team(team) {
        (t.school.clone(), t.start_date, true)
    } else {
        let standing = s.standing_at(&e.to_school, e.start_date);
        if standing != Some(Standing::Weak) {
            return Err(refuse(
                "team.weak_school",
                format!(
                    "a team goes to a weak school; {} is {} on {}",
                    e.to_school,
                    standing
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "unknown".into()),
                    e.start_date
                ),
            )
            .with("team", team)
            .with("school", &e.to_school)
            .with("start_date", e.start_date));
        }
        return Ok(());
    };
    if school != e.to_school {
        return Err(refuse(
            "team.school_mismatch",
            format!(
                "team {team} goes to {school}; dispatch {} goes to {}",
                e.dispatch, e.to_school
            ),
        )
        .with("team", team)
        .with("team_school", &school)
        .with("to_school", &e.to_school));
    }
    if !joining && start != e.start_date {
        return Err(refuse(
            "team.start_mismatch",
            format!(
                "the founders of team {team} start together on {start}; dispatch {} starts on {}",
                e.dispatch, e.start_date
            ),
        )
        .with("team", team)
        .with("team_start", start)
        .with("start_date", e.start_date));
    }
    if joining && e.start_date < start {
        return Err(refuse(
            "team.joins_before_start",
            format!(
                "team {team} starts on {start}; dispatch {} cannot join it from {}",
                e.dispatch, e.start_date
            ),
        )
        .with("team", team)
        .with("team_start", start)
        .with("start_date", e.start_date));
    }
    Ok(())
}

pub(super) fn school_exists(s: &State, id: &Id, field: &str) -> Result<(), Refusal> {
    if s.school(id).is_none() {
        return Err(refuse(
            "school.unknown",
            format!("{field}: no school {id} is registered"),
        )
        .with(field, id));
    }
    Ok(())
}

pub(super) fn teacher_exists(s: &State, id: &Id) -> Result<(), Refusal> {
    if s.teacher(id).is_none() {
        return Err(
            refuse("teacher.unknown", format!("no teacher {id} is registered")).with("teacher", id),
        );
    }
    Ok(())
}

/// Refuses new personal data about a teacher whose personal data was erased: the erasure
/// destroyed the key, and a new one would quietly undo what the teacher asked for.
fn not_erased(s: &State, teacher: &Id, field: &str) -> Result<(), Refusal> {
    if let Some(done) = s.teacher(teacher).and_then(|t| t.erased) {
        return Err(refuse(
            "erasure.personal_after",
            format!(
                "{field}: the personal data of {teacher} was erased by entry {}; the ledger \
                 takes no new personal data about them",
                done.seq
            ),
        )
        .with("teacher", teacher)
        .with("erased_by", done.seq));
    }
    Ok(())
}

fn dispatch_exists<'a>(s: &'a State, id: &Id) -> Result<&'a super::state::Dispatch, Refusal> {
    s.dispatch(id).ok_or_else(|| {
        refuse("dispatch.unknown", format!("no dispatch {id} is recorded")).with("dispatch", id)
    })
}

/// Re-judges the standing promotions of `teachers` (rules 5 and 6) in `s`: the first that
/// no longer holds.
pub(super) fn broken_promotion(s: &State, teachers: &[Id]) -> Option<(u64, Refusal)> {
    for t in teachers {
        for p in s.promotions_of(t) {
            let title = (p.kind == super::vocab::PromotionKind::Title)
                .then(|| <Title as super::vocab::Vocabulary>::parse(&p.to))
                .flatten();
            if let Err(problem) = judge_promotion(s, t, p.kind, title, p.date, p.rotation_credit) {
                return Some((
                    p.seq,
                    Refusal {
                        rule: problem.rule,
                        message: problem.message,
                        values: problem.values,
                    },
                ));
            }
        }
    }
    None
}

impl Refusal {
    /// The rule code.
    pub(super) fn rule(&self) -> &'static str {
        self.rule
    }
    pub(super) fn message(&self) -> &str {
        &self.message
    }
    pub(super) fn add(self, name: &str, value: impl ToString) -> Refusal {
        self.with(name, value)
    }
}
