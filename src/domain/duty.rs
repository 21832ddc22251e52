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
        .dispatches_of_record(t)
        .filter(|d| d.serving_on(as_of))
        .min_by_key(|d| (d.start_date, d.seq))
        .map(|d| d.id.clone());
    let retirement_date = t.retirement.at(as_of).copied().flatten();
    let exempt = retirement_date
        .is_some_and(|r| retirement_exempt(as_of, r, policy.exempt_years_before_retirement));
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

/// Whether a teacher retiring on `retirement` is exempt from rotation on `date`: `date` plus
/// `years` calendar years reaches the retirement date. The duty list and the quota's basis
/// both ask this one question.
pub fn retirement_exempt(date: NaiveDate, retirement: NaiveDate, years: u32) -> bool {
    add_years(date, years).is_none_or(|limit| limit >= retirement)
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
        .teachers_homed_at(&s.id)
        .filter(|t| t.home.at(as_of).is_some_and(|h| h.school == s.id))
        .filter_map(|t| duty_of(state, t, as_of))
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

#[cfg(test)]
mod tests {
    use super::super::projkit::Reg;
    use super::super::testkit::*;
    use super::*;
    use crate::domain::event::Event;

    /// The verdicts and the facts they turn on, in one comparable line.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Expect {
        tenure_met: bool,
        on_dispatch: Option<&'static str>,
        exempt: bool,
        intermediate_since: Option<(&'static str, bool)>,
        meets: bool,
        due: bool,
    }

    fn seen(t: &TeacherDuty) -> Expect {
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        Expect {
            tenure_met: t.tenure_met,
            on_dispatch: t.on_dispatch.as_ref().map(|d| leak(d.to_string())),
            exempt: t.exempt,
            intermediate_since: t
                .intermediate_since
                .map(|d| (leak(d.to_string()), t.intermediate_since_known)),
            meets: t.meets_conditions,
            due: t.due_to_rotate,
        }
    }

    /// Given the world plus `given`, when T asks on `as_of`, then `expect`.
    fn check(name: &str, given: Vec<Event>, as_of: &str, expect: Expect) {
        let mut evs = world();
        evs.extend(given);
        let s = apply_all(State::new(), &evs);
        let got = teacher_duty(&s, "T", d(as_of)).unwrap_or_else(|| panic!("{name}: no duty"));
        assert_eq!(seen(&got), expect, "{name}");
    }

    const FREE: Expect = Expect {
        tenure_met: true,
        on_dispatch: None,
        exempt: false,
        intermediate_since: Some(("2010-09-01", false)),
        meets: true,
        due: true,
    };

    fn reg(f: impl FnOnce(&mut Reg)) -> Event {
        let mut r = Reg::new("T", "S1", "2010-09-01");
        f(&mut r);
        r.event()
    }

    #[test]
    fn tenure_reaches_six_years_on_the_anniversary() {
        let cases = [
            ("employed exactly 6 years before", "2018-09-01", true),
            ("one day short", "2018-09-02", false),
            ("long ago", "2001-02-28", true),
        ];
        for (name, employed, met) in cases {
            let e = reg(|r| {
                r.employed = employed;
                r.title = "senior";
            });
            check(
                name,
                vec![e],
                "2024-09-01",
                Expect {
                    tenure_met: met,
                    meets: met,
                    intermediate_since: None,
                    due: false,
                    ..FREE
                },
            );
        }
        // The same edge with a 5-year policy adopted before the date.
        check(
            "policy of 5 years",
            vec![
                reg(|r| r.employed = "2019-09-01"),
                policy(
                    "shanghai-2023",
                    r#"{"eligible_tenure_years":5}"#,
                    "2024-01-01",
                ),
            ],
            "2024-09-01",
            Expect {
                intermediate_since: Some(("2019-09-01", false)),
                due: false,
                ..FREE
            },
        );
    }

    #[test]
    fn an_open_dispatch_suspends_duty() {
        let out = |ret_date: Option<&str>| {
            let mut v = vec![
                reg(|_| {}),
                dispatch_kind("D1", "T", "S1", "W1", "2023-09-01", "training", None),
            ];
            if let Some(r) = ret_date {
                v.push(ret("D1", r, "family_hardship"));
            }
            v
        };
        let serving = Expect {
            on_dispatch: Some("D1"),
            meets: false,
            due: false,
            ..FREE
        };
        check("serving", out(None), "2024-09-01", serving);
        check(
            "back on the date",
            out(Some("2024-09-01")),
            "2024-09-01",
            FREE,
        );
        check(
            "back the day after",
            out(Some("2024-09-02")),
            "2024-09-01",
            serving,
        );
        check("before the start", out(None), "2023-08-31", FREE);
    }

    #[test]
    fn retirement_within_five_years_exempts() {
        let at = |retire: &'static str| vec![reg(|r| r.retirement = Some(retire))];
        let exempt = Expect {
            exempt: true,
            meets: false,
            due: false,
            ..FREE
        };
        check(
            "exactly 5 years ahead",
            at("2029-09-01"),
            "2024-09-01",
            exempt,
        );
        check("5 years and a day", at("2029-09-02"), "2024-09-01", FREE);
        check("already past", at("2024-01-01"), "2024-09-01", exempt);
        // A retirement date learnt later, by a profile update effective 2024-06-01.
        let update = ev(
            r#"{"type":"teacher_profile_updated","version":1,"teacher":"T","retirement_date":"2028-01-01","date":"2024-06-01"}"#,
        );
        check(
            "learnt by update",
            vec![reg(|_| {}), update.clone()],
            "2024-09-01",
            exempt,
        );
        check(
            "not yet learnt",
            vec![reg(|_| {}), update],
            "2024-05-31",
            FREE,
        );
    }

    #[test]
    fn ten_years_in_an_intermediate_post_is_due() {
        let titled = |date: &'static str| vec![reg(|r| r.title_date = Some(date))];
        let not_due = |since: &'static str| Expect {
            intermediate_since: Some((since, true)),
            due: false,
            ..FREE
        };
        check(
            "exactly 10 years",
            titled("2014-09-01"),
            "2024-09-01",
            Expect {
                intermediate_since: Some(("2014-09-01", true)),
                ..FREE
            },
        );
        check(
            "a day short",
            titled("2014-09-02"),
            "2024-09-01",
            not_due("2014-09-02"),
        );
        // A senior promotion ends the intermediate run; no title date falls back on the
        // registration (a lower bound).
        check(
            "promoted to senior",
            vec![
                reg(|_| {}),
                promote("T", "title", "senior", "2020-01-01", false),
            ],
            "2024-09-01",
            Expect {
                intermediate_since: None,
                due: false,
                ..FREE
            },
        );
        // Restating the title (a registry correction) does not restart the run.
        let restate = ev(
            r#"{"type":"teacher_profile_updated","version":1,"teacher":"T","title":"intermediate","title_date":"2020-01-01","date":"2020-01-01"}"#,
        );
        check(
            "restated",
            vec![reg(|r| r.title_date = Some("2012-01-01")), restate],
            "2024-09-01",
            Expect {
                intermediate_since: Some(("2012-01-01", true)),
                ..FREE
            },
        );
        // Seed 002's number is a parameter too.
        check(
            "12-year policy",
            vec![
                reg(|r| r.title_date = Some("2014-09-01")),
                policy(
                    "shanghai-2023",
                    r#"{"intermediate_title_max_years":12}"#,
                    "2020-01-01",
                ),
            ],
            "2024-09-01",
            not_due("2014-09-01"),
        );
    }

    #[test]
    fn school_lists_follow_home_posts() {
        let mut evs = world();
        evs.push(Reg::new("N", "S1", "2020-09-01").event());
        evs.push(transfer("T6", "S2", "2024-01-01"));
        evs.push(dispatch("D1", "T1", "S1", "W1", "2024-02-01"));
        let s = apply_all(State::new(), &evs);
        let sd = school_duty(&s, "S1", d("2024-09-01")).unwrap();
        let ids = |v: &[Id]| v.iter().map(|i| i.to_string()).collect::<Vec<_>>();
        assert_eq!(
            sd.teachers
                .iter()
                .map(|t| t.teacher.to_string())
                .collect::<Vec<_>>(),
            ["N", "T1", "T2", "T3", "T4", "T5"]
        );
        assert_eq!(ids(&sd.meeting_conditions), ["T2", "T3", "T4", "T5"]);
        // N is intermediate since 2020 (registration), the others since 2010.
        assert_eq!(ids(&sd.due_to_rotate), ["T2", "T3", "T4", "T5"]);
        assert_eq!(sd.eligible_tenure_years, 6);
        let s2 = school_duty(&s, "S2", d("2024-09-01")).unwrap();
        assert_eq!(
            ids(&s2.meeting_conditions),
            Vec::<String>::new(),
            "tenure restarts"
        );
        assert_eq!(ids(&s2.due_to_rotate), ["T6"]);
        let before = school_duty(&s, "S2", d("2023-12-31")).unwrap();
        assert!(before.teachers.is_empty());
        assert_eq!(
            school_duty(&s, "S9", d("2024-09-01")).unwrap_err(),
            QueryError::UnknownSchool("S9".into())
        );
        assert!(
            teacher_duty(&s, "N", d("2020-08-31")).is_none(),
            "not yet employed"
        );
    }
}
