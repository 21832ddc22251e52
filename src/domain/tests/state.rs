//! The state: registry timelines, rotation records, voids, history links and replay.

use std::sync::Arc;

use super::super::id::Id;
use super::super::state::State;
use super::super::testkit::*;
use super::super::vocab::{KeyLevel, ReturnReason, Standing, Title};

#[test]
fn registry_facts_over_time() {
    let mut evs = world();
    evs.push(standing("W1", "ordinary", "2025-09-01"));
    evs.push(membership("G1", "W3", "joined", "2024-01-01"));
    evs.push(membership("G1", "W2", "left", "2024-01-01"));
    evs.push(transfer("T1", "S2", "2023-09-01"));
    evs.push(key_level("T2", "city", "2024-03-01"));
    let s = apply_all(State::new(), &evs);
    assert_eq!(s.len(), evs.len() as u64);
    assert_eq!(s.standing_at("W1", d("2025-08-31")), Some(Standing::Weak));
    assert_eq!(
        s.standing_at("W1", d("2025-09-01")),
        Some(Standing::Ordinary)
    );
    let (w2, w3) = (Id::new("W2").unwrap(), Id::new("W3").unwrap());
    assert!(s.group("G1").unwrap().has_member(&w2, d("2023-12-31")));
    assert!(!s.group("G1").unwrap().has_member(&w2, d("2024-01-01")));
    assert!(s.group("G1").unwrap().has_member(&w3, d("2024-01-01")));
    assert!(s.share_group(&Id::new("S1").unwrap(), &w3, d("2024-01-01")));
    assert_eq!(
        s.home_at("T1", d("2023-08-31")).unwrap().school.as_str(),
        "S1"
    );
    let post = s.home_at("T1", d("2023-09-01")).unwrap();
    assert_eq!((post.school.as_str(), post.since), ("S2", d("2023-09-01")));
    let t2 = s.teacher("T2").unwrap();
    assert_eq!(t2.key_level.at(d("2024-02-29")), Some(&KeyLevel::None));
    assert_eq!(t2.key_level.at(d("2024-03-01")), Some(&KeyLevel::City));
}

#[test]
fn dispatches_returns_evaluations_promotions_and_policies() {
    let mut evs = world();
    evs.push(dispatch_kind(
        "D1",
        "T1",
        "S1",
        "W1",
        "2024-09-01",
        "rotation",
        Some("TM"),
    ));
    evs.push(eval("D1", "W1", 2024, "good", "2025-07-01"));
    evs.push(ret("D1", "2025-09-01", "health"));
    evs.push(promote("T1", "title", "senior", "2026-01-01", false));
    evs.push(policy(
        "national-2014",
        r#"{"min_team_size":4}"#,
        "2025-01-01",
    ));
    let s = apply_all(State::new(), &evs);
    let d1 = s.dispatch("D1").unwrap();
    assert_eq!(d1.returned.as_ref().unwrap().reason, ReturnReason::Health);
    assert_eq!(d1.evaluations.len(), 1);
    assert!(d1.serving_on(d("2025-08-31")) && !d1.serving_on(d("2025-09-01")));
    assert_eq!(s.team("TM").unwrap().members.len(), 1);
    assert_eq!(s.promotions_of("T1").len(), 1);
    assert_eq!(
        s.teacher("T1")
            .unwrap()
            .title
            .at(d("2026-01-01"))
            .unwrap()
            .title,
        Title::Senior
    );
    assert_eq!(s.policy_at(d("2024-12-31")).min_team_size, 3);
    assert_eq!(s.policy_at(d("2025-01-01")).min_team_size, 4);
    assert_eq!(
        s.policy_at(d("2025-01-01"))
            .min_outflow_ratio
            .basis_points(),
        1000
    );
    assert!(s.open_dispatch("T1").is_none());
}

#[test]
fn voids_undo_exactly_their_entry() {
    let mut evs = world();
    let base = evs.len() as u64;
    evs.push(dispatch_kind(
        "D1",
        "T1",
        "S1",
        "W1",
        "2024-09-01",
        "rotation",
        Some("TM"),
    ));
    evs.push(eval("D1", "W1", 2024, "good", "2025-07-01"));
    evs.push(ret("D1", "2025-09-01", "health"));
    evs.push(promote("T1", "title", "senior", "2026-01-01", false));
    evs.push(standing("W1", "ordinary", "2025-09-01"));
    let before_voids = apply_all(State::new(), &evs);
    let s = apply_all(
        before_voids.clone(),
        &[
            void(base + 3),
            void(base + 2),
            void(base + 1),
            void(base),
            void(base + 4),
        ],
    );
    assert!(s.dispatch("D1").is_none());
    assert!(s.team("TM").is_none());
    assert_eq!(s.promotions_of("T1").len(), 0);
    assert_eq!(
        s.teacher("T1")
            .unwrap()
            .title
            .at(d("2026-01-01"))
            .unwrap()
            .title,
        Title::Intermediate
    );
    assert_eq!(s.standing_at("W1", d("2026-01-01")), Some(Standing::Weak));
    assert!(s.is_voided(base) && !s.is_voided(base + 5));
    let voided: Vec<u64> = s.voided().map(|e| e.meta.seq).collect();
    assert_eq!(voided, (base..base + 5).collect::<Vec<_>>());
    // The voids themselves are history of T1 (except the standing change).
    assert_eq!(s.history("T1").len(), 1 + 4 + 4);
    assert_eq!(before_voids.history("T1").len(), 5);
}

#[test]
fn teacher_history_links_follow_the_entries() {
    let mut evs = world();
    evs.push(dispatch("D1", "T1", "S1", "W1", "2024-09-01"));
    evs.push(eval("D1", "W1", 2024, "good", "2025-07-01"));
    let s = apply_all(State::new(), &evs);
    let h = s.history("T1");
    let seqs: Vec<u64> = h.iter().map(|e| e.meta.seq).collect();
    assert_eq!(seqs, vec![7, 14, 15]);
    assert_eq!(s.teacher_head("T1").unwrap().seq, 15);
    assert_eq!(s.teacher_head("T1").unwrap().hash, meta(15).hash);
    assert!(s.teacher_head("nobody").is_none());
}

#[test]
fn replay_of_stored_payloads_equals_applying() {
    let mut evs = world();
    evs.push(dispatch("D1", "T1", "S1", "W1", "2024-09-01"));
    evs.push(void(14));
    let applied = apply_all(State::new(), &evs);
    let mut stored = Vec::new();
    let mut s = State::new();
    for (i, e) in evs.iter().enumerate() {
        let link = s.teacher_of(e).map(|t| s.teacher_head(t.as_str()));
        stored.push(e.to_stored(link));
        s.apply(meta(i as u64), Arc::new(e.clone()));
    }
    stored.push(r#"{"n":1}"#.to_string());
    let replayed = State::replay(
        stored
            .iter()
            .enumerate()
            .map(|(i, p)| (meta(i as u64), p.as_str())),
    );
    assert_eq!(replayed.unreadable(), 1);
    assert_eq!(replayed.len(), applied.len() + 1);
    let mut applied_plus = applied.clone();
    applied_plus.apply_stored(meta(evs.len() as u64), "{\"n\":1}");
    assert_eq!(replayed, applied_plus);
}

#[test]
fn apply_tolerates_nonsense() {
    let s = apply_all(
        State::new(),
        &[
            ret("D9", "2025-01-01", "health"),
            eval("D9", "W1", 2024, "good", "2025-07-01"),
            dispatch("D1", "T9", "S1", "W1", "2024-09-01"),
            void(99),
            void(3),
            void(3),
            promote("T9", "title", "senior", "2026-01-01", true),
            school("S1", "strong", "primary", false),
            school("S1", "weak", "primary", false),
        ],
    );
    assert_eq!(s.len(), 9);
    // An unreadable entry can be voided (once); it only gets marked.
    let mut u = State::new();
    u.apply_stored(meta(0), "{\"n\":1}");
    let u = apply_all(u, &[void(0)]);
    assert!(u.is_voided(0));
    assert_eq!(u.entry(0).unwrap().voided_by, Some(1));
    assert_eq!(s.standing_at("S1", d("2020-01-01")), Some(Standing::Strong));
    assert!(s.dispatch("D1").is_none());
}
