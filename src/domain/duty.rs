//! Rotation duty (SPEC 4.4, seeds 001 and 002): who meets rotation conditions
//! (符合交流轮岗条件) and who is due to rotate, per teacher and per school, as of a date.
//!
//! - A teacher **meets rotation conditions** on a date when they are not serving a dispatch
//!   that day, have been employed at their home school for at least `eligible_tenure_years`
//!   (the anniversary itself counts), and are not exempt. They are **exempt** when a known
//!   retirement date lies within `exempt_years_before_retirement` of the date (the date plus
//!   that many calendar years reaches the retirement date).
//! - A teacher is **due to rotate** (seed 002: 在中级职称岗位工作满10年以上的教师实施流动) when
//!   they have held an intermediate title (中级) for at least `intermediate_title_max_years`,
//!   are not serving a dispatch and are not exempt. The years count from the title's date
//!   when the registry knows it, else from the first date the ledger has the title on record
//!   (a lower bound, reported as such).
//!
//! Every parameter is the policy in force on the date asked about.

use chrono::NaiveDate;

use super::calendar::add_years;
use super::id::Id;
use super::query::QueryError;
use super::state::{State, Teacher};
use super::vocab::Title;

/// One teacher's rotation duty as of a date, with every fact the verdicts rest on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeacherDuty {
    /// The teacher.
    pub teacher: Id,
    /// Home school (编制) on the date.
    pub home_school: Id,
    /// Employed at the home school since: tenure counts from it.
    pub employed_since: NaiveDate,
    /// The day tenure reaches `eligible_tenure_years` (`None` only beyond the calendar).
    pub tenure_reached_on: Option<NaiveDate>,
    /// Whether tenure is reached on the date.
    pub tenure_met: bool,
    /// The dispatch the teacher is serving on the date, if any.
    pub on_dispatch: Option<Id>,
    /// The known retirement date, if any.
    pub retirement_date: Option<NaiveDate>,
    /// Whether the retirement date is within `exempt_years_before_retirement`.
    pub exempt: bool,
    /// Title held on the date.
    pub title: Title,
    /// For an intermediate title: held since (see `intermediate_since_known`).
    pub intermediate_since: Option<NaiveDate>,
    /// Whether `intermediate_since` is the title's recorded date (else a lower bound: the
    /// first date the ledger has the title on record).
    pub intermediate_since_known: bool,
    /// The day the intermediate title reaches `intermediate_title_max_years`.
    pub intermediate_limit_on: Option<NaiveDate>,
    /// 符合交流轮岗条件: tenure met, not on a dispatch, not exempt.
    pub meets_conditions: bool,
    /// Seed 002: intermediate title long enough, not on a dispatch, not exempt.
    pub due_to_rotate: bool,
}

/// The rotation duty of a school's teachers (those whose home school it is) as of a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolDuty {
    /// The school.
    pub school: Id,
    /// The date asked about.
    pub as_of: NaiveDate,
    /// `eligible_tenure_years` in force.
    pub eligible_tenure_years: u32,
    /// `exempt_years_before_retirement` in force.
    pub exempt_years_before_retirement: u32,
    /// `intermediate_title_max_years` in force.
    pub intermediate_title_max_years: u32,
    /// Every teacher of the school, by id.
    pub teachers: Vec<TeacherDuty>,
    /// The teachers meeting rotation conditions, by id.
    pub meeting_conditions: Vec<Id>,
    /// The teachers due to rotate, by id.
    pub due_to_rotate: Vec<Id>,
}

/// The rotation duty of `teacher` as of `as_of`; `None` when they have no home post then
/// (not yet employed, or unknown).
pub fn teacher_duty(state: &State, teacher: &str, as_of: NaiveDate) -> Option<TeacherDuty> {
    let t = state.teacher(teacher)?;
    duty_of(state, t, as_of)
}

fn duty_of(state: &State, t: &Teacher, as_of: NaiveDate) -> Option<TeacherDuty> {
    let policy = state.policy_at(as_of);
    let home = t.home.at(as_of)?;
    let tenure_reached_on = add_years(home.since, policy.eligible_tenure_years);
    let tenure_met = tenure_reached_on.is_some_and(|d| d <= as_of);
    let on_dispatch = state
        .dispatches_of(t.id.as_str())
        .into_iter()
        .find(|d| d.serving_on(as_of))
        .map(|d| d.id.clone());
    let retirement_date = t.retirement.at(as_of).copied().flatten();
    let exempt = retirement_date.is_some_and(|r| {
        add_years(as_of, policy.exempt_years_before_retirement).is_none_or(|limit| limit >= r)
    });
    let title = t.title.at(as_of).map(|h| h.title).unwrap_or(Title::None);
    let (intermediate_since, intermediate_since_known) = if title == Title::Intermediate {
        match intermediate_run_start(t, as_of) {
            Some((d, known)) => (Some(d), known),
            None => (None, false),
        }
    } else {
        (None, false)
    };
    let intermediate_limit_on =
        intermediate_since.and_then(|s| add_years(s, policy.intermediate_title_max_years));
    let free = on_dispatch.is_none() && !exempt;
    Some(TeacherDuty {
        teacher: t.id.clone(),
        home_school: home.school.clone(),
        employed_since: home.since,
        tenure_reached_on,
        tenure_met,
        on_dispatch,
        retirement_date,
        exempt,
        title,
        intermediate_since,
        intermediate_since_known,
        intermediate_limit_on,
        meets_conditions: free && tenure_met,
        due_to_rotate: free && intermediate_limit_on.is_some_and(|d| d <= as_of),
    })
}

/// When the teacher's current, unbroken run of intermediate title began, as of `as_of`:
/// the first change of the run, by its recorded title date if any (`true`), else by the
/// change's effective date (`false`). Re-statements of the same title inside a run (a
/// registry correction) do not restart it.
fn intermediate_run_start(t: &Teacher, as_of: NaiveDate) -> Option<(NaiveDate, bool)> {
    let mut start: Option<(NaiveDate, bool)> = None;
    for (date, _seq, held) in t.title.changes() {
        if date > as_of {
            break;
        }
        if held.title != Title::Intermediate {
            start = None;
        } else if start.is_none() {
            start = Some(match held.since {
                Some(s) => (s, true),
                None => (date, false),
            });
        }
    }
    start
}

/// The rotation duty of every teacher whose home school is `school` on `as_of`.
pub fn school_duty(
    state: &State,
    school: &str,
    as_of: NaiveDate,
) -> Result<SchoolDuty, QueryError> {
    let s = state
        .school(school)
        .ok_or_else(|| QueryError::UnknownSchool(school.to_string()))?;
    let policy = state.policy_at(as_of);
    let teachers: Vec<TeacherDuty> = state
        .teachers()
        .filter_map(|t| duty_of(state, t, as_of))
        .filter(|d| d.home_school == s.id)
        .collect();
    let pick = |f: fn(&TeacherDuty) -> bool| {
        teachers
            .iter()
            .filter(|d| f(d))
            .map(|d| d.teacher.clone())
            .collect()
    };
    Ok(SchoolDuty {
        school: s.id.clone(),
        as_of,
        eligible_tenure_years: policy.eligible_tenure_years,
        exempt_years_before_retirement: policy.exempt_years_before_retirement,
        intermediate_title_max_years: policy.intermediate_title_max_years,
        meeting_conditions: pick(|d| d.meets_conditions),
        due_to_rotate: pick(|d| d.due_to_rotate),
        teachers,
    })
}
