//! Property tests: random event sequences (valid-ish and invalid) never panic, a rejected
//! append changes nothing, and the state built append by append equals a full replay of
//! the stored payloads. Random bytes never panic the decoders either.

use std::sync::Arc;

use proptest::prelude::*;

use super::super::eligibility::eligibility;
use super::super::event::Event;
use super::super::state::State;
use super::super::teams::teams;
use super::super::terms::{TermQuery, terms};
use super::super::testkit::*;
use super::given::append;

fn date() -> impl Strategy<Value = String> {
    (0i64..40).prop_map(|k| {
        (d("2020-01-01") + chrono::Duration::days(k * 61))
            .format("%Y-%m-%d")
            .to_string()
    })
}

fn pick(prefix: &'static str, n: u32) -> impl Strategy<Value = String> {
    (0..n).prop_map(move |i| format!("{prefix}{i}"))
}

pub(super) fn event() -> impl Strategy<Value = Event> {
    let standing = prop_oneof![Just("strong"), Just("ordinary"), Just("weak")];
    let stage = prop_oneof![Just("primary"), Just("junior"), Just("nine_year")];
    let kind = prop_oneof![Just("rotation"), Just("support"), Just("training")];
    let reason = prop_oneof![Just("term_completed"), Just("health"), Just("other")];
    let grade = prop_oneof![
        Just("excellent"),
        Just("good"),
        Just("pass"),
        Just("basic_pass"),
        Just("fail")
    ];
    let title = prop_oneof![Just("senior"), Just("full_senior"), Just("intermediate")];
    let pkind = prop_oneof![Just("rank"), Just("leadership")];
    prop_oneof![
        1 => (pick("S", 5), standing.clone(), stage, any::<bool>())
            .prop_map(|(s, st, sg, r)| school(&s, st, sg, r)),
        1 => (pick("S", 5), standing, date()).prop_map(|(s, st, dt)| standing_fn(&s, st, &dt)),
        1 => (pick("G", 2), pick("S", 5), pick("S", 5))
            .prop_map(|(g, a, b)| if a == b { group(&g, &[&a]) } else { group(&g, &[&a, &b]) }),
        1 => (pick("G", 2), pick("S", 5), any::<bool>(), date()).prop_map(|(g, s, j, dt)| {
            membership(&g, &s, if j { "joined" } else { "left" }, &dt)
        }),
        1 => (pick("T", 5), pick("S", 5)).prop_map(|(t, s)| teacher(&t, &s)),
        1 => (pick("T", 5), pick("S", 5), date()).prop_map(|(t, s, dt)| transfer(&t, &s, &dt)),
        1 => (pick("T", 5), date()).prop_map(|(t, dt)| key_level(&t, "city", &dt)),
        1 => (1u32..5, date()).prop_map(|(n, dt)| policy(
            "shanghai-2023",
            &format!(r#"{{"min_team_size":{n},"min_term_years":{n}}}"#),
            &dt
        )),
        6 => (pick("D", 6), pick("T", 3), home(), pick("S", 3), date(), kind, proptest::option::weighted(0.2, pick("M", 2)))
            .prop_map(|(id, t, f, to, dt, k, team)| dispatch_kind(&id, &t, &f, &to, &dt, k, team.as_deref())),
        3 => (pick("D", 6), date(), reason).prop_map(|(id, dt, r)| ret(&id, &dt, r)),
        3 => (pick("D", 6), pick("S", 3), 2019i32..2027, grade, date())
            .prop_map(|(id, s, y, g, dt)| eval(&id, &s, y, g, &dt)),
        1 => (pick("T", 5), title, date(), any::<bool>())
            .prop_map(|(t, to, dt, c)| promote(&t, "title", to, &dt, c)),
        1 => (pick("T", 5), pkind, date(), any::<bool>())
            .prop_map(|(t, k, dt, c)| promote(&t, k, "level up", &dt, c)),
        2 => (0u64..60).prop_map(void),
    ]
}

/// Mostly the home school of the base teachers, so that dispatches often pass rule 2.
fn home() -> impl Strategy<Value = String> {
    prop_oneof![4 => Just("S0".to_string()), 1 => pick("S", 5)]
}

/// An append: a few random events, or a team of three founders.
fn batch() -> impl Strategy<Value = Vec<Event>> {
    prop_oneof![
        4 => proptest::collection::vec(event(), 1..3),
        1 => (pick("M", 2), date(), 0u32..3).prop_map(|(team, dt, n)| {
            (0..3)
                .map(|i| {
                    let t = format!("T{i}");
                    dispatch_kind(&format!("D{}", n + i), &t, "S0", "S1", &dt, "rotation", Some(&team))
                })
                .collect()
        }),
    ]
}

fn standing_fn(s: &str, st: &str, dt: &str) -> Event {
    standing(s, st, dt)
}

/// A world to start from, so that random events often pass the rules.
fn base() -> State {
    super::given::given(vec![
        school("S0", "strong", "primary", false),
        school("S1", "weak", "junior", false),
        school("S2", "weak", "primary", true),
        group("G0", &["S0", "S1"]),
        teacher("T0", "S0"),
        teacher("T1", "S0"),
        teacher("T2", "S0"),
    ])
    .0
}

/// The stored payloads of `state`'s entries, rebuilt with their links as sequenced.
fn stored(state: &State) -> Vec<String> {
    let mut s = State::new();
    let mut out = Vec::new();
    for rec in state.entries() {
        let Some(e) = rec.event.clone() else { continue };
        let link = s.teacher_of(&e).map(|t| s.teacher_head(t.as_str()));
        out.push(e.to_stored(link));
        s.apply(rec.meta.clone(), e);
    }
    out
}

/// The per-school indexes hold exactly what a scan of every teacher and dispatch finds.
fn indexes_are_exact(s: &State) -> Result<(), TestCaseError> {
    let schools = ["S0", "S1", "S2", "S3", "S4", "S5", "S6", "S7", "X"];
    for school in schools {
        let indexed: Vec<&str> = s.teachers_homed_at(school).map(|t| t.id.as_str()).collect();
        let scanned: Vec<&str> = s
            .teachers()
            .filter(|t| {
                t.home
                    .changes()
                    .any(|(_, _, p)| p.school.as_str() == school)
            })
            .map(|t| t.id.as_str())
            .collect();
        prop_assert_eq!(indexed, scanned, "teachers homed at {}", school);
        let indexed: Vec<&str> = s.dispatches_at(school).map(|d| d.id.as_str()).collect();
        let scanned: Vec<&str> = s
            .dispatches()
            .filter(|d| d.from_school.as_str() == school || d.to_school.as_str() == school)
            .map(|d| d.id.as_str())
            .collect();
        prop_assert_eq!(indexed, scanned, "dispatches at {}", school);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_appends_never_panic_and_replay_equals_incremental(
        batches in proptest::collection::vec(batch(), 1..60)
    ) {
        let mut state = base();
        for batch in &batches {
            let before = state.clone();
            match append(&state, batch) {
                Ok(next) => {
                    prop_assert_eq!(next.len(), before.len() + batch.len() as u64);
                    state = next;
                }
                Err(r) => {
                    prop_assert!(r.index < batch.len());
                    prop_assert_eq!(&state, &before, "a rejected append changed the state");
                }
            }
        }
        // Full replay of what was stored equals the state built append by append.
        let payloads = stored(&state);
        let replayed = State::replay(
            state.entries().map(|r| r.meta.clone()).zip(payloads.iter().map(String::as_str)),
        );
        prop_assert_eq!(&replayed, &state);
        indexes_are_exact(&state)?;
        // And the links the payloads carry are those the state reports.
        for (rec, p) in state.entries().zip(&payloads) {
            let (_, link) = Event::decode_stored(p).unwrap();
            prop_assert_eq!(link.is_some(), rec.teacher.is_some());
        }
        // Projections answer on whatever was accepted.
        for as_of in ["2019-01-01", "2022-06-30", "2027-01-01"] {
            let as_of = d(as_of);
            let _ = terms(&state, &TermQuery::default(), as_of);
            let _ = teams(&state, as_of);
            for t in state.teachers() {
                prop_assert!(eligibility(&state, &t.id, as_of).is_some());
            }
        }
    }

    #[test]
    fn applying_unchecked_events_never_panics(events in proptest::collection::vec(event(), 0..60)) {
        let mut s = State::new();
        for (i, e) in events.into_iter().enumerate() {
            s.apply(meta(i as u64), Arc::new(e));
            indexes_are_exact(&s)?;
        }
        for t in s.teachers() {
            let _ = eligibility(&s, &t.id, d("2025-01-01"));
        }
        let _ = teams(&s, d("2025-01-01"));
        let _ = terms(&s, &TermQuery::default(), d("2025-01-01"));
    }

    #[test]
    fn decoders_never_panic(text in ".{0,300}") {
        let _ = Event::decode(&text);
        let mut s = State::new();
        s.apply_stored(meta(0), &text);
        prop_assert!(s.len() == 1);
    }

    #[test]
    fn mutated_events_decode_or_name_a_field(e in event(), cut in 0usize..400, byte in any::<u8>()) {
        let mut text = e.to_json().into_bytes();
        let i = cut % text.len();
        text[i] = byte;
        if let Ok(t) = String::from_utf8(text) {
            match Event::decode(&t) {
                Ok(back) => prop_assert_eq!(Event::decode(&back.to_json()).unwrap(), back),
                Err(err) => prop_assert!(!err.field.is_empty()),
            }
        }
    }
}
