//! Projections at their edges: terms, teams and eligibility, each field at least once.

use super::super::eligibility::eligibility;
use super::super::id::Id;
use super::super::teams::{TeamStatus, team};
use super::super::terms::{TermQuery, TermStatus, terms};
use super::super::testkit::*;
use super::super::vocab::{Grade, ReturnReason, SchoolYear};
use super::given::given;

fn id(s: &str) -> Id {
    Id::new(s).unwrap()
}

fn status_of(
    events: Vec<super::super::event::Event>,
    dispatch: &str,
    as_of: &str,
) -> (TermStatus, bool) {
    let s = given(world()).and(events).0;
    let t = terms(&s, &TermQuery::default(), d(as_of))
        .into_iter()
        .find(|t| t.dispatch.as_str() == dispatch)
        .unwrap();
    (t.status, t.exempt)
}

#[test]
#[rustfmt::skip]
fn term_status_at_the_three_year_edge() {
    let d1 = || dispatch("D1", "T1", "S1", "W1", "2024-09-01");
    assert_eq!(status_of(vec![d1()], "D1", "2027-08-31"), (TermStatus::Serving, false));
    assert_eq!(status_of(vec![d1()], "D1", "2027-09-01"), (TermStatus::ServingBeyondMinimum, false));
    assert_eq!(status_of(vec![d1(), ret("D1", "2027-08-31", "term_completed")], "D1", "2028-01-01"), (TermStatus::ReturnedEarly, false));
    assert_eq!(status_of(vec![d1(), ret("D1", "2027-09-01", "term_completed")], "D1", "2028-01-01"), (TermStatus::Completed, false));
    assert_eq!(status_of(vec![d1(), ret("D1", "2025-03-01", "health")], "D1", "2025-03-01"), (TermStatus::ReturnedEarly, true));
    assert_eq!(status_of(vec![d1(), ret("D1", "2025-03-01", "school_closure")], "D1", "2025-03-01"), (TermStatus::ReturnedEarly, true));
    assert_eq!(status_of(vec![d1(), ret("D1", "2025-03-01", "family_hardship")], "D1", "2025-03-01"), (TermStatus::ReturnedEarly, false));
    // A term started on 29 February reaches its minimum on 28 February three years on.
    let leap = || dispatch("D1", "T1", "S1", "W1", "2024-02-29");
    assert_eq!(status_of(vec![leap()], "D1", "2027-02-27"), (TermStatus::Serving, false));
    assert_eq!(status_of(vec![leap()], "D1", "2027-02-28"), (TermStatus::ServingBeyondMinimum, false));
    assert_eq!(status_of(vec![leap(), ret("D1", "2027-02-28", "term_completed")], "D1", "2027-03-01"), (TermStatus::Completed, false));
    // A return effective after the date asked is not seen yet.
    assert_eq!(status_of(vec![d1(), ret("D1", "2025-03-01", "health")], "D1", "2025-02-28"), (TermStatus::Serving, false));
    // The exempt reasons are policy: the one in force on the return date.
    assert_eq!(status_of(vec![policy("shanghai-2023", r#"{"early_return_exempt_reasons":["family_hardship"]}"#, "2025-03-01"), d1(), ret("D1", "2025-03-01", "health")], "D1", "2025-03-01"), (TermStatus::ReturnedEarly, false));
}

#[test]
fn term_fields_leap_days_and_policy() {
    let s = given(world())
        .and(vec![
            dispatch("D1", "T1", "S1", "W1", "2024-02-29"),
            policy("shanghai-2023", r#"{"min_term_years":2}"#, "2024-09-01"),
            dispatch_kind("D2", "T2", "S1", "W3", "2024-09-01", "support", None),
            ret("D2", "2025-09-01", "other"),
        ])
        .0;
    let all = terms(&s, &TermQuery::default(), d("2026-01-01"));
    assert_eq!(all.len(), 2);
    let t1 = &all[0];
    assert_eq!(t1.dispatch, id("D1"));
    assert_eq!(t1.min_end, d("2027-02-28"));
    assert_eq!(
        (t1.start_date, t1.end, t1.return_reason),
        (d("2024-02-29"), None, None)
    );
    assert_eq!(
        t1.days_served,
        (d("2026-01-01") - d("2024-02-29")).num_days()
    );
    let t2 = &all[1];
    assert_eq!(
        t2.min_end,
        d("2026-09-01"),
        "two years: the policy in force at its start"
    );
    assert_eq!(t2.end, Some(d("2025-09-01")));
    assert_eq!(t2.return_reason, Some(ReturnReason::Other));
    assert_eq!(t2.days_served, 365, "capped at the return date");
    assert_eq!(
        (t2.from_school.as_str(), t2.to_school.as_str()),
        ("S1", "W3")
    );
    // Before its start a dispatch has no term yet.
    assert_eq!(terms(&s, &TermQuery::default(), d("2024-08-31")).len(), 1);
}

#[test]
#[rustfmt::skip]
fn term_queries() {
    let s = given(world())
        .and(vec![
            dispatch("D1", "T1", "S1", "W1", "2024-09-01"),
            dispatch("D2", "T2", "S1", "W3", "2023-09-01"),
            dispatch("D3", "T3", "S1", "W2", "2022-09-01"),
            ret("D3", "2023-03-01", "health"),
        ])
        .0;
    let at = d("2026-09-01");
    let ids = |q: TermQuery| terms(&s, &q, at).into_iter().map(|t| t.dispatch.to_string()).collect::<Vec<_>>();
    assert_eq!(ids(TermQuery { teacher: Some(id("T2")), ..Default::default() }), ["D2"]);
    assert_eq!(ids(TermQuery { school: Some(id("W1")), ..Default::default() }), ["D1"]);
    assert_eq!(ids(TermQuery { school: Some(id("S1")), ..Default::default() }), ["D3", "D2", "D1"]);
    assert_eq!(ids(TermQuery { group: Some(id("G1")), ..Default::default() }), ["D3", "D2", "D1"], "all from S1, a member");
    assert_eq!(ids(TermQuery { group: Some(id("G9")), ..Default::default() }), Vec::<String>::new());
    assert_eq!(ids(TermQuery { status: Some(TermStatus::ServingBeyondMinimum), ..Default::default() }), ["D2"]);
    assert_eq!(ids(TermQuery { status: Some(TermStatus::ReturnedEarly), ..Default::default() }), ["D3"]);
    // Whose minimum term ends before a date: D1 reaches it on 2027-09-01, D2 on 2026-09-01.
    assert_eq!(ids(TermQuery { min_end_before: Some(d("2027-09-01")), ..Default::default() }), ["D2"]);
    assert_eq!(ids(TermQuery { min_end_before: Some(d("2027-09-02")), ..Default::default() }), ["D2", "D1"]);
}

fn team_of_three(extra: Vec<super::super::event::Event>) -> super::super::state::State {
    let mut evs = vec![
        teacher_with("P1", "S2", "physics", "intermediate"),
        teacher_with("P2", "S2", "chemistry", "intermediate"),
        teacher_with("P3", "S2", "mathematics", "intermediate"),
        teacher_with("P4", "S2", "english", "intermediate"),
    ];
    let base = given(world()).and(std::mem::take(&mut evs)).and(vec![
        dispatch_kind("D1", "P1", "S2", "W2", "2024-09-01", "rotation", Some("TM")),
        dispatch_kind("D2", "P2", "S2", "W2", "2024-09-01", "rotation", Some("TM")),
        dispatch_kind("D3", "P3", "S2", "W2", "2024-09-01", "rotation", Some("TM")),
    ]);
    if extra.is_empty() {
        base.0
    } else {
        base.and(extra).0
    }
}

#[test]
fn team_strength_status_and_early_return() {
    let s = team_of_three(vec![ret("D3", "2025-03-01", "health")]);
    let v = team(&s, "TM", d("2025-02-28")).unwrap();
    assert_eq!(
        (v.strength, v.status, v.min_team_size),
        (3, TeamStatus::Complete, 3)
    );
    assert_eq!(v.school, id("W2"));
    assert_eq!(v.start_date, d("2024-09-01"));
    let v = team(&s, "TM", d("2025-03-01")).unwrap();
    assert_eq!(v.strength, 2);
    assert_eq!(
        v.status,
        TeamStatus::BelowMinimum {
            since: d("2025-03-01")
        }
    );
    assert_eq!(
        v.strength_history,
        vec![(d("2024-09-01"), 3), (d("2025-03-01"), 2)]
    );
    let m3 = v
        .members
        .iter()
        .find(|m| m.dispatch.as_str() == "D3")
        .unwrap();
    assert!(m3.returned_early && !m3.serving && m3.end == Some(d("2025-03-01")));
    assert!(team(&s, "TM", d("2024-08-31")).is_none(), "not started yet");
    // A later member brings it back to strength.
    let s = team_of_three(vec![
        ret("D3", "2025-03-01", "health"),
        dispatch_kind("D4", "P4", "S2", "W2", "2025-06-01", "rotation", Some("TM")),
    ]);
    let v = team(&s, "TM", d("2025-06-01")).unwrap();
    assert_eq!((v.strength, v.status), (3, TeamStatus::Complete));
    assert_eq!(
        team(&s, "TM", d("2025-05-31")).unwrap().status,
        TeamStatus::BelowMinimum {
            since: d("2025-03-01")
        }
    );
    // Served out: finished, not below minimum.
    let s = team_of_three(vec![
        ret("D1", "2027-09-01", "term_completed"),
        ret("D2", "2027-09-01", "term_completed"),
        ret("D3", "2027-09-02", "term_completed"),
    ]);
    assert_eq!(
        team(&s, "TM", d("2028-01-01")).unwrap().status,
        TeamStatus::Finished {
            since: d("2027-09-02")
        }
    );
}

#[test]
fn team_scored_subject_coverage() {
    let s = team_of_three(vec![ret("D3", "2025-03-01", "health")]);
    let c = team(&s, "TM", d("2025-01-01")).unwrap().coverage.unwrap();
    assert_eq!(c.scored.len(), 8);
    assert_eq!(
        c.covered,
        vec![id("mathematics"), id("physics"), id("chemistry")]
    );
    assert_eq!(c.missing.len(), 5);
    assert!(c.missing.contains(&id("english")));
    // The mathematics teacher left early: no longer covered.
    let c = team(&s, "TM", d("2025-03-01")).unwrap().coverage.unwrap();
    assert!(c.missing.contains(&id("mathematics")));
    let m = &team(&s, "TM", d("2025-03-01")).unwrap().members[0];
    assert_eq!(m.subject, Some(id("physics")));
    // A primary receiving school has no scored subjects to cover.
    let s = given(world())
        .and(vec![
            dispatch_kind("D1", "T1", "S1", "W1", "2024-09-01", "rotation", Some("TP")),
            dispatch_kind("D2", "T2", "S1", "W1", "2024-09-01", "rotation", Some("TP")),
            dispatch_kind("D3", "T3", "S1", "W1", "2024-09-01", "rotation", Some("TP")),
        ])
        .0;
    assert_eq!(team(&s, "TP", d("2025-01-01")).unwrap().coverage, None);
}

#[test]
fn eligibility_reports_days_and_grades() {
    let s = given(world())
        .and(vec![
            dispatch("D1", "T1", "S1", "W1", "2022-01-01"),
            eval("D1", "W1", 2021, "good", "2022-07-01"),
            eval("D1", "W1", 2022, "pass", "2023-07-01"),
        ])
        .0;
    let e = eligibility(&s, "T1", d("2023-12-31")).unwrap();
    assert_eq!(e.leadership.days_served, 729);
    assert_eq!(
        (
            e.leadership.days_required,
            e.leadership.days_missing,
            e.leadership.met
        ),
        (730, 1, false)
    );
    assert_eq!(e.leadership.counted, vec![(id("D1"), 729)]);
    assert_eq!(e.senior_title.days_served, 729);
    assert!(e.senior_title.met);
    let r = &e.rotation.dispatches[0];
    assert_eq!(
        r.grades,
        vec![
            (SchoolYear(2021), Grade::Good),
            (SchoolYear(2022), Grade::Pass)
        ]
    );
    assert_eq!(r.min_end, Some(d("2025-01-01")));
    assert!(!r.reached_min_end && !r.returned_early && !r.qualifies);
    assert_eq!(e.rotation.min_grade, Grade::Pass);
    let e = eligibility(&s, "T1", d("2024-01-01")).unwrap();
    assert_eq!(
        (
            e.leadership.days_served,
            e.leadership.days_missing,
            e.leadership.met
        ),
        (730, 0, true)
    );
    let e = eligibility(&s, "T1", d("2025-01-01")).unwrap();
    assert!(e.rotation.met && e.rotation.dispatches[0].reached_min_end);
    assert!(eligibility(&s, "nobody", d("2025-01-01")).is_none());
}

#[test]
fn eligibility_returning_mentor_at_the_grade_threshold() {
    let training = |grade: &str| {
        given(world())
            .and(vec![
                dispatch_kind("D1", "U1", "W1", "S1", "2023-09-01", "training", None),
                eval("D1", "S1", 2023, "excellent", "2024-07-01"),
                eval("D1", "S1", 2024, grade, "2025-07-01"),
                ret("D1", "2025-08-01", "term_completed"),
            ])
            .0
    };
    let s = training("good");
    let before_end = eligibility(&s, "U1", d("2025-07-31"))
        .unwrap()
        .returning_mentor;
    assert!(!before_end.met && !before_end.dispatches[0].ended);
    let m = eligibility(&s, "U1", d("2025-08-01"))
        .unwrap()
        .returning_mentor;
    assert!(m.met);
    assert_eq!(
        m.dispatches[0].latest,
        Some((SchoolYear(2024), Grade::Good))
    );
    assert_eq!(m.min_grade, Grade::Good);
    // The latest grade counts, not the best.
    let m = eligibility(&training("pass"), "U1", d("2025-08-01"))
        .unwrap()
        .returning_mentor;
    assert!(!m.met);
}
