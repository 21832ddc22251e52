//! One case per line for every rule of SPEC §3, with every number at its edge.

use super::super::testkit::*;
use super::given::given;

/// The world plus team TM of three (T1..T3) to weak W1 from 2024-09-01.
fn with_team() -> super::given::Given {
    given(world()).and(vec![
        dispatch_kind("D1", "T1", "S1", "W1", "2024-09-01", "rotation", Some("TM")),
        dispatch_kind("D2", "T2", "S1", "W1", "2024-09-01", "rotation", Some("TM")),
        dispatch_kind("D3", "T3", "S1", "W1", "2024-09-01", "rotation", Some("TM")),
    ])
}

/// The world plus T1 on rotation D1 from S1 to W1 (same district) since `start`.
fn dispatched(start: &str) -> super::given::Given {
    given(world()).and(vec![dispatch("D1", "T1", "S1", "W1", start)])
}

#[test]
#[rustfmt::skip]
fn rule_1_referential_integrity_and_unique_ids() {
    given(world()).when(vec![school("S1", "weak", "primary", false)]).then_reject("school.duplicate_id");
    given(world()).when(vec![teacher("T1", "S1")]).then_reject("teacher.duplicate_id");
    given(world()).when(vec![teacher("T9", "S9")]).then_reject("school.unknown");
    given(world()).when(vec![teacher("T9", "S2")]).then_accept();
    given(world()).when(vec![group("G1", &["S1"])]).then_reject("group.duplicate_id");
    given(world()).when(vec![group("G2", &["S1", "S9"])]).then_reject("school.unknown");
    given(world()).when(vec![membership("G9", "S1", "joined", "2024-01-01")]).then_reject("group.unknown");
    given(world()).when(vec![membership("G1", "S1", "joined", "2024-01-01")]).then_reject("group.already_member");
    given(world()).when(vec![membership("G1", "W3", "left", "2024-01-01")]).then_reject("group.not_member");
    given(world()).when(vec![membership("G1", "S1", "left", "2024-01-01")]).then_reject("group.lead_leaving");
    given(world()).when(vec![membership("G1", "W3", "joined", "2024-01-01")]).then_accept();
    given(world()).when(vec![standing("S9", "weak", "2024-01-01")]).then_reject("school.unknown");
    given(world()).when(vec![key_level("T9", "city", "2024-01-01")]).then_reject("teacher.unknown");
    given(world()).when(vec![dispatch("D1", "T9", "S1", "W1", "2024-09-01")]).then_reject("teacher.unknown");
    given(world()).when(vec![dispatch("D1", "T1", "S1", "W9", "2024-09-01")]).then_reject("school.unknown");
    dispatched("2024-09-01").when(vec![dispatch("D1", "T2", "S1", "W1", "2024-09-01")]).then_reject("dispatch.duplicate_id");
    given(world()).when(vec![ret("D9", "2025-01-01", "health")]).then_reject("dispatch.unknown");
    given(world()).when(vec![eval("D9", "W1", 2024, "good", "2025-07-01")]).then_reject("dispatch.unknown");
    given(world()).when(vec![promote("T9", "rank", "level 2", "2025-01-01", false)]).then_reject("teacher.unknown");
    // The index names the event at fault, after accepted ones in the same append.
    given(world())
        .when(vec![teacher("T9", "S1"), teacher("T10", "S1"), teacher("T9", "S2")])
        .then_reject_at(2, "teacher.duplicate_id");
}

#[test]
#[rustfmt::skip]
fn rule_2_one_open_dispatch_from_home_dates_forward() {
    given(world()).when(vec![dispatch("D1", "T1", "S2", "W1", "2024-09-01")]).then_reject("dispatch.from_home_school");
    given(world()).when(vec![dispatch("D1", "T1", "S1", "S1", "2024-09-01")]).then_reject("dispatch.same_school");
    given(world()).when(vec![dispatch("D1", "T1", "S1", "W1", "2009-12-31")]).then_reject("dispatch.from_home_school");
    dispatched("2024-09-01").when(vec![dispatch("D2", "T1", "S1", "W2", "2025-09-01")]).then_reject("dispatch.open_dispatch");
    dispatched("2024-09-01").when(vec![ret("D1", "2025-09-01", "term_completed"), dispatch("D2", "T1", "S1", "W2", "2025-08-31")]).then_reject_at(1, "dispatch.overlap");
    dispatched("2024-09-01").when(vec![ret("D1", "2025-09-01", "term_completed"), dispatch("D2", "T1", "S1", "W2", "2025-09-01")]).then_accept();
    dispatched("2024-09-01").when(vec![ret("D1", "2024-08-31", "health")]).then_reject("return.before_start");
    dispatched("2024-09-01").when(vec![ret("D1", "2024-09-01", "health")]).then_accept();
    dispatched("2024-09-01").and(vec![ret("D1", "2025-01-01", "health")]).when(vec![ret("D1", "2025-02-01", "health")]).then_reject("return.already_returned");
    dispatched("2024-09-01").when(vec![transfer("T1", "S2", "2025-01-01")]).then_reject("transfer.during_dispatch");
    dispatched("2024-09-01").and(vec![ret("D1", "2025-01-01", "health")]).when(vec![transfer("T1", "S2", "2024-12-31")]).then_reject("transfer.during_dispatch");
    given(world()).when(vec![transfer("T1", "S1", "2025-01-01")]).then_reject("transfer.same_school");
    // After a transfer the dispatch starts from the new home school.
    given(world()).and(vec![transfer("T1", "S2", "2023-09-01")]).when(vec![dispatch("D1", "T1", "S1", "W1", "2024-09-01")]).then_reject("dispatch.from_home_school");
    given(world()).and(vec![transfer("T1", "S2", "2023-09-01")]).when(vec![dispatch("D1", "T1", "S2", "W1", "2024-09-01")]).then_accept();
}

#[test]
#[rustfmt::skip]
fn rule_3_teams_of_three_to_a_weak_school() {
    let two = vec![
        dispatch_kind("D1", "T1", "S1", "W1", "2024-09-01", "rotation", Some("TM")),
        dispatch_kind("D2", "T2", "S1", "W1", "2024-09-01", "rotation", Some("TM")),
    ];
    let r = given(world()).when(two.clone()).then_reject_at(0, "team.min_size");
    assert!(r.values.contains(&("dispatches".into(), "2".into())));
    assert!(r.values.contains(&("min_team_size".into(), "3".into())));
    let mut three = two.clone();
    three.push(dispatch_kind("D3", "T3", "S1", "W1", "2024-09-01", "rotation", Some("TM")));
    given(world()).when(three.clone()).then_accept();
    // Three, but not the same school or start date.
    let mut other_school = two.clone();
    other_school.push(dispatch_kind("D3", "T3", "S1", "W2", "2024-09-01", "rotation", Some("TM")));
    given(world()).when(other_school).then_reject_at(2, "team.school_mismatch");
    let mut other_start = two.clone();
    other_start.push(dispatch_kind("D3", "T3", "S1", "W1", "2024-09-02", "rotation", Some("TM")));
    given(world()).when(other_start).then_reject_at(2, "team.start_mismatch");
    // Only to a weak school, weak on the start date.
    given(world()).when(vec![dispatch_kind("D1", "T1", "S1", "S2", "2024-09-01", "rotation", Some("TM"))]).then_reject("team.weak_school");
    given(world()).and(vec![standing("W1", "ordinary", "2024-09-01")]).when(three.clone()).then_reject("team.weak_school");
    given(world()).and(vec![standing("W1", "ordinary", "2024-09-02")]).when(three.clone()).then_accept();
    // Later single dispatches may join an existing team, to its school, not before it starts.
    with_team().when(vec![dispatch_kind("D4", "T4", "S1", "W1", "2025-02-01", "rotation", Some("TM"))]).then_accept();
    with_team().when(vec![dispatch_kind("D4", "T4", "S1", "W2", "2025-02-01", "rotation", Some("TM"))]).then_reject("team.school_mismatch");
    with_team().when(vec![dispatch_kind("D4", "T4", "S1", "W1", "2024-08-31", "rotation", Some("TM"))]).then_reject("team.joins_before_start");
    // The policy in force on the start date sets the size: 4 from 2024-09-01.
    let four = policy("shanghai-2023", r#"{"min_team_size":4}"#, "2024-09-01");
    given(world()).and(vec![four.clone()]).when(three.clone()).then_reject("team.min_size");
    let day_before: Vec<_> = three
        .iter()
        .enumerate()
        .map(|(i, _)| dispatch_kind(&format!("D{}", i + 1), &format!("T{}", i + 1), "S1", "W1", "2024-08-31", "rotation", Some("TM")))
        .collect();
    given(world()).and(vec![four]).when(day_before).then_accept();
}

#[test]
#[rustfmt::skip]
fn rule_4_only_the_receiving_school_evaluates_once_a_year_inside_the_dispatch() {
    dispatched("2024-09-01").when(vec![eval("D1", "W1", 2024, "good", "2025-07-01")]).then_accept();
    dispatched("2024-09-01").when(vec![eval("D1", "S1", 2024, "good", "2025-07-01")]).then_reject("evaluation.receiving_school");
    dispatched("2024-09-01").when(vec![eval("D1", "W1", 2023, "good", "2025-07-01")]).then_reject("evaluation.school_year");
    // A dispatch starting on 31 August overlaps the school year ending that day.
    dispatched("2024-08-31").when(vec![eval("D1", "W1", 2023, "good", "2024-08-31")]).then_accept();
    dispatched("2024-09-01").and(vec![ret("D1", "2025-09-01", "health")]).when(vec![eval("D1", "W1", 2025, "good", "2025-09-02")]).then_reject("evaluation.school_year");
    dispatched("2024-09-01").and(vec![ret("D1", "2025-09-02", "health")]).when(vec![eval("D1", "W1", 2025, "good", "2025-09-02")]).then_accept();
    dispatched("2024-09-01").and(vec![eval("D1", "W1", 2024, "good", "2025-07-01")]).when(vec![eval("D1", "W1", 2024, "excellent", "2025-07-02")]).then_reject("evaluation.duplicate");
    dispatched("2024-09-01").when(vec![eval("D1", "W1", 2024, "good", "2024-08-31")]).then_reject("evaluation.before_start");
}

#[test]
#[rustfmt::skip]
fn rule_5_rotation_credit_needs_a_completed_evaluated_term() {
    // Started 2021-09-01: min_end 2024-09-01.
    let served = || dispatched("2021-09-01").and(vec![eval("D1", "W1", 2021, "pass", "2022-07-01")]);
    served().when(vec![promote("T1", "rank", "level 2", "2024-09-01", true)]).then_accept();
    served().when(vec![promote("T1", "rank", "level 2", "2024-08-31", true)]).then_reject("promotion.rotation_credit");
    served().when(vec![promote("T1", "rank", "level 2", "2024-08-31", false)]).then_accept();
    // Grades at the threshold (pass) pass; one below (basic_pass) fails.
    dispatched("2021-09-01").and(vec![eval("D1", "W1", 2021, "basic_pass", "2022-07-01")]).when(vec![promote("T1", "rank", "level 2", "2024-09-01", true)]).then_reject("promotion.rotation_credit");
    served().and(vec![eval("D1", "W1", 2022, "basic_pass", "2023-07-01")]).when(vec![promote("T1", "rank", "level 2", "2024-09-01", true)]).then_reject("promotion.rotation_credit");
    // An evaluation effective after the promotion date does not count yet.
    dispatched("2021-09-01").and(vec![eval("D1", "W1", 2021, "pass", "2024-09-02")]).when(vec![promote("T1", "rank", "level 2", "2024-09-01", true)]).then_reject("promotion.rotation_credit");
    dispatched("2021-09-01").when(vec![promote("T1", "rank", "level 2", "2024-09-01", true)]).then_reject("promotion.rotation_credit");
    // Returned early: no credit; returned on min_end: completed, credit.
    served().and(vec![ret("D1", "2024-08-31", "health")]).when(vec![promote("T1", "rank", "level 2", "2025-01-01", true)]).then_reject("promotion.rotation_credit");
    served().and(vec![ret("D1", "2024-09-01", "term_completed")]).when(vec![promote("T1", "rank", "level 2", "2025-01-01", true)]).then_accept();
    // Started on 29 February: min_end is 28 February three years on.
    dispatched("2024-02-29").and(vec![eval("D1", "W1", 2023, "good", "2024-07-01")]).when(vec![promote("T1", "title", "intermediate", "2027-02-28", true)]).then_accept();
    dispatched("2024-02-29").and(vec![eval("D1", "W1", 2023, "good", "2024-07-01")]).when(vec![promote("T1", "title", "intermediate", "2027-02-27", true)]).then_reject("promotion.rotation_credit");
    // Training dispatches give no rotation credit.
    given(world()).and(vec![dispatch_kind("D1", "U1", "W1", "S1", "2021-09-01", "training", None), eval("D1", "S1", 2021, "excellent", "2022-07-01")]).when(vec![promote("U1", "rank", "level 2", "2024-09-01", true)]).then_reject("promotion.rotation_credit");
    // A longer minimum term in force at the start moves min_end.
    given(world()).and(vec![policy("shanghai-2023", r#"{"min_term_years":4}"#, "2021-09-01"), dispatch("D1", "T1", "S1", "W1", "2021-09-01"), eval("D1", "W1", 2021, "pass", "2022-07-01")]).when(vec![promote("T1", "rank", "level 2", "2024-09-01", true)]).then_reject("promotion.rotation_credit");
    // Leadership credit: 2 × 365 = 730 days inside the district; started 2022-01-01.
    dispatched("2022-01-01").when(vec![promote("T1", "leadership", "vice principal", "2023-12-31", true)]).then_reject("promotion.leadership_credit");
    dispatched("2022-01-01").when(vec![promote("T1", "leadership", "vice principal", "2024-01-01", true)]).then_accept();
    // W3 is outside S1's district: no leadership credit however long.
    given(world()).and(vec![dispatch("D1", "T1", "S1", "W3", "2020-01-01")]).when(vec![promote("T1", "leadership", "vice principal", "2024-01-01", true)]).then_reject("promotion.leadership_credit");
}

#[test]
#[rustfmt::skip]
fn rule_6_senior_title_needs_a_year_at_weak_or_rural_schools() {
    // 2023-01-01 + 364 days = 2023-12-31; + 365 = 2024-01-01.
    let r = dispatched("2023-01-01").when(vec![promote("T1", "title", "senior", "2023-12-31", false)]).then_reject("promotion.senior_title");
    assert!(r.values.contains(&("days_served".into(), "364".into())));
    assert!(r.values.contains(&("days_missing".into(), "1".into())));
    dispatched("2023-01-01").when(vec![promote("T1", "title", "senior", "2024-01-01", false)]).then_accept();
    dispatched("2023-01-01").when(vec![promote("T1", "title", "full_senior", "2023-12-31", false)]).then_reject("promotion.senior_title");
    dispatched("2023-01-01").when(vec![promote("T1", "title", "intermediate", "2023-02-01", false)]).then_accept();
    given(world()).when(vec![promote("T1", "title", "senior", "2024-01-01", false)]).then_reject("promotion.senior_title");
    // Rural counts; strong does not; standing is taken on the start date.
    given(world()).and(vec![dispatch("D1", "T1", "S1", "R1", "2023-01-01")]).when(vec![promote("T1", "title", "senior", "2024-01-01", false)]).then_accept();
    given(world()).and(vec![dispatch("D1", "T1", "S1", "S2", "2023-01-01")]).when(vec![promote("T1", "title", "senior", "2024-01-01", false)]).then_reject("promotion.senior_title");
    given(world()).and(vec![standing("W1", "ordinary", "2023-01-01"), dispatch("D1", "T1", "S1", "W1", "2023-01-01")]).when(vec![promote("T1", "title", "senior", "2024-01-01", false)]).then_reject("promotion.senior_title");
    // Counted over all dispatches: 200 + 165 days.
    given(world()).and(vec![dispatch("D1", "T1", "S1", "W1", "2022-01-01"), ret("D1", "2022-07-20", "health"), dispatch("D2", "T1", "S1", "R1", "2023-01-01")]).when(vec![promote("T1", "title", "senior", "2023-06-15", false)]).then_accept();
    // The policy in force on the promotion date sets the days.
    dispatched("2023-01-01").and(vec![policy("shanghai-2023", r#"{"senior_title_min_rural_or_weak_days":400}"#, "2024-01-01")]).when(vec![promote("T1", "title", "senior", "2024-01-01", false)]).then_reject("promotion.senior_title");
    dispatched("2023-01-01").and(vec![policy("shanghai-2023", r#"{"senior_title_min_rural_or_weak_days":400}"#, "2024-01-02")]).when(vec![promote("T1", "title", "senior", "2024-01-01", false)]).then_accept();
}

#[test]
#[rustfmt::skip]
fn rule_7_voids_leave_a_valid_history() {
    // Entries: world 0..=13, D1 14, evaluation 15, return 16.
    let history = || {
        dispatched("2021-09-01").and(vec![
            eval("D1", "W1", 2021, "pass", "2022-07-01"),
            ret("D1", "2024-09-01", "term_completed"),
        ])
    };
    history().when(vec![void(99)]).then_reject("void.unknown_entry");
    history().when(vec![void(16), void(16)]).then_reject_at(1, "void.already_voided");
    history().and(vec![void(16)]).when(vec![void(17)]).then_reject("void.of_void");
    history().when(vec![void(14)]).then_reject("void.return_first");
    history().when(vec![void(16), void(14)]).then_reject_at(1, "void.evaluations_first");
    history().when(vec![void(16), void(15), void(14)]).then_accept();
    history().when(vec![void(7)]).then_reject("void.still_referenced");
    history().when(vec![void(2)]).then_reject("void.still_referenced");
    given(world()).when(vec![void(12), void(11)]).then_accept();
    let mut unreadable = crate::domain::State::new();
    unreadable.apply_stored(meta(0), r#"{"n":1}"#);
    super::given::Given(unreadable.clone()).when(vec![void(0)]).then_accept();
    super::given::Given(unreadable).when(vec![void(0), void(0)]).then_reject_at(1, "void.already_voided");
    // Voiding a return while a later dispatch stands would leave two open dispatches.
    history().and(vec![dispatch("D2", "T1", "S1", "W2", "2024-09-01")]).when(vec![void(16)]).then_reject("void.later_dispatch");
    history().and(vec![dispatch("D2", "T1", "S1", "W2", "2024-09-01")]).when(vec![void(17), void(16)]).then_accept();
    // A promotion relying on the evaluation: void the promotion first.
    let promoted = || history().and(vec![promote("T1", "rank", "level 2", "2024-09-01", true)]);
    let r = promoted().when(vec![void(15)]).then_reject("void.leaves_invalid");
    assert!(r.values.contains(&("broken_entry".into(), "17".into())));
    promoted().when(vec![void(17), void(15)]).then_accept();
    // A team relying on a policy's smaller team size, or on a school's weak standing.
    let team = || {
        given(world()).and(vec![policy("shanghai-2023", r#"{"min_team_size":2}"#, "2024-01-01")]).and(vec![
            dispatch_kind("D1", "T1", "S1", "W1", "2024-09-01", "rotation", Some("TM")),
            dispatch_kind("D2", "T2", "S1", "W1", "2024-09-01", "rotation", Some("TM")),
        ])
    };
    team().when(vec![void(14)]).then_reject("void.leaves_invalid");
    given(world()).and(vec![standing("W3", "ordinary", "2020-01-01"), standing("W3", "weak", "2024-01-01")]).and(vec![
        dispatch_kind("D1", "T1", "S1", "W3", "2024-09-01", "rotation", Some("TM")),
        dispatch_kind("D2", "T2", "S1", "W3", "2024-09-01", "rotation", Some("TM")),
        dispatch_kind("D3", "T3", "S1", "W3", "2024-09-01", "rotation", Some("TM")),
    ]).when(vec![void(15)]).then_reject("void.leaves_invalid");
    // A transfer followed by a dispatch from the new home school.
    given(world()).and(vec![transfer("T1", "S2", "2023-09-01")]).and(vec![dispatch("D1", "T1", "S2", "W1", "2024-09-01")]).when(vec![void(14)]).then_reject("void.later_dispatch");
}
