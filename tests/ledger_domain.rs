//! The domain through the real ledger: decoding and rule errors as callers see them, the
//! per-teacher history links in stored payloads, and the state rebuilt on reopen.

use rotaledger::domain::event::{EntryLink, Event};
use rotaledger::domain::state::State;
use rotaledger::domain::terms::{TermQuery, TermStatus};
use rotaledger::ledger::{Ledger, LedgerError, LedgerOptions};

fn school(id: &str, standing: &str) -> String {
    format!(
        r#"{{"type":"school_registered","version":1,"school":"{id}","name":"School {id}","stage":"junior","standing":"{standing}","rural":false,"date":"2010-01-01"}}"#
    )
}

fn teacher(id: &str, school: &str) -> String {
    format!(
        r#"{{"type":"teacher_registered","version":1,"teacher":"{id}","name":"Teacher {id}","school":"{school}","subject":"physics","title":"intermediate","key_level":"district","employed_date":"2012-09-01","date":"2012-09-01"}}"#
    )
}

fn dispatch(id: &str, teacher: &str, team: &str, start: &str) -> String {
    format!(
        r#"{{"type":"teacher_dispatched","version":1,"dispatch":"{id}","teacher":"{teacher}","from_school":"S1","to_school":"W1","start_date":"{start}","kind":"rotation","team":"{team}"}}"#
    )
}

fn evaluation(dispatch: &str, year: i32) -> String {
    format!(
        r#"{{"type":"teacher_evaluated","version":1,"dispatch":"{dispatch}","school":"W1","school_year":{year},"grade":"good","date":"{}-07-01"}}"#,
        year + 1
    )
}

/// Opens the ledger, waiting (at most 10 s) while sled still holds the lock of a store this
/// test just closed: sled 0.34 releases it only when its deferred garbage is collected.
fn open(dir: &std::path::Path) -> Ledger {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Ledger::open(dir, LedgerOptions::default()) {
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.expect("open ledger"),
        }
    }
}

async fn append(l: &Ledger, id: &str, events: Vec<String>) -> Result<u64, LedgerError> {
    l.append("hr", id, None, events).await.map(|r| r.first_seq)
}

/// Registry, a team of three, evaluations, an early return, a promotion and a void.
async fn scenario(l: &Ledger) {
    append(l, "r1", vec![school("S1", "strong"), school("W1", "weak")])
        .await
        .unwrap();
    let teachers = (1..=4).map(|i| teacher(&format!("T{i}"), "S1")).collect();
    append(l, "r2", teachers).await.unwrap();
    let team = (1..=3)
        .map(|i| dispatch(&format!("D{i}"), &format!("T{i}"), "TM", "2021-09-01"))
        .collect();
    append(l, "r3", team).await.unwrap();
    append(
        l,
        "r4",
        vec![evaluation("D1", 2021), evaluation("D2", 2021)],
    )
    .await
    .unwrap();
    append(
        l,
        "r5",
        vec![r#"{"type":"teacher_returned","version":1,"dispatch":"D3","return_date":"2022-03-01","reason":"health"}"#.into()],
    )
    .await
    .unwrap();
    append(
        l,
        "r6",
        vec![r#"{"type":"teacher_promoted","version":1,"teacher":"T1","kind":"title","to":"senior","date":"2024-09-01","rotation_credit":true}"#.into()],
    )
    .await
    .unwrap();
    append(
        l,
        "r7",
        vec![
            r#"{"type":"entry_voided","version":1,"seq":10,"reason":"graded the wrong teacher"}"#
                .into(),
        ],
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn errors_name_the_event_the_field_and_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let l = open(dir.path());
    append(&l, "r1", vec![school("S1", "strong"), school("W1", "weak")])
        .await
        .unwrap();
    let bad_date = school("S2", "weak").replace("2010-01-01", "2010-02-30");
    match append(&l, "r2", vec![school("S3", "weak"), bad_date]).await {
        Err(LedgerError::Input { index, field, .. }) => {
            assert_eq!((index, field.as_str()), (Some(1), "date"))
        }
        other => panic!("expected an input error, got {other:?}"),
    }
    match append(
        &l,
        "r3",
        vec![
            teacher("T1", "S1"),
            dispatch("D1", "T1", "TM", "2024-09-01"),
        ],
    )
    .await
    {
        Err(LedgerError::Rejected {
            index,
            rule,
            values,
            ..
        }) => {
            assert_eq!((index, rule.as_str()), (1, "team.min_size"));
            assert!(values.contains(&("min_team_size".into(), "3".into())));
        }
        other => panic!("expected a rule rejection, got {other:?}"),
    }
    // Nothing of the refused appends was written, and the state did not move.
    assert_eq!(l.head().size, 2);
    assert!(l.snapshot().state.teacher("T1").is_none());
    assert!(l.snapshot().state.school("S3").is_none());
    // The same request id with the same events spelled differently is a retry.
    let spaced = school("S2", "weak").replace(",", " , ");
    let first = l
        .append("hr", "r4", None, vec![school("S2", "weak")])
        .await
        .unwrap();
    let retry = l.append("hr", "r4", None, vec![spaced]).await.unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.hashes, first.hashes);
    let too_many = (0..1001)
        .map(|i| school(&format!("X{i}"), "weak"))
        .collect();
    assert!(matches!(
        append(&l, "r5", too_many).await,
        Err(LedgerError::Input { index: None, .. })
    ));
    // The limit is policy: the one in force today.
    append(
        &l,
        "r6",
        vec![r#"{"type":"policy_adopted","version":1,"preset":"shanghai-2023","parameters":{"max_events_per_append":2},"date":"2020-01-01"}"#.into()],
    )
    .await
    .unwrap();
    let three = (0..3).map(|i| school(&format!("Y{i}"), "weak")).collect();
    match append(&l, "r7", three).await {
        Err(LedgerError::Input {
            index: None,
            field,
            problem,
        }) => {
            assert_eq!(field, "events");
            assert!(problem.contains("limit of 2"), "{problem}");
        }
        other => panic!("expected the policy's limit, got {other:?}"),
    }
    let two = (0..2).map(|i| school(&format!("Y{i}"), "weak")).collect();
    append(&l, "r8", two).await.unwrap();
    l.shutdown();
}

#[tokio::test]
async fn stored_payloads_chain_each_teachers_history() {
    let dir = tempfile::tempdir().unwrap();
    let l = open(dir.path());
    scenario(&l).await;
    let state = l.snapshot().state.clone();
    let mut seen = 0;
    for t in ["T1", "T2", "T3", "T4"] {
        let mut prev: Option<EntryLink> = None;
        for rec in state.history(t) {
            let entry = l.entry(rec.meta.seq).unwrap();
            let payload = entry.meta().unwrap().payload;
            let (event, link) = Event::decode_stored(&payload).unwrap();
            assert_eq!(link, Some(prev), "entry {} of {t}", rec.meta.seq);
            assert_eq!(Some(&event), rec.event.as_deref());
            prev = Some(EntryLink {
                seq: entry.seq,
                hash: entry.hash,
            });
            seen += 1;
        }
    }
    // T1: registered, dispatched, evaluated, promoted. T2: registered, dispatched,
    // evaluated, that evaluation voided. T3: registered, dispatched, returned.
    assert_eq!(state.history("T1").len(), 4);
    assert_eq!(state.history("T2").len(), 4);
    assert_eq!(seen, 4 + 4 + 3 + 1);
    // Registry entries carry no link at all.
    let payload = l.entry(0).unwrap().meta().unwrap().payload;
    assert!(!payload.contains("teacher_prev"));
    l.shutdown();
}

#[tokio::test]
async fn reopening_rebuilds_the_same_state_and_prefixes_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (state, size, states) = {
        let l = open(dir.path());
        let mut states: Vec<(u64, State)> = vec![(0, l.snapshot().state.clone())];
        scenario(&l).await;
        states.push((l.head().size, l.snapshot().state.clone()));
        let p = l.state_at(6).unwrap();
        assert_eq!(p.head_hash, l.entry(5).unwrap().hash);
        states.push((6, p.value));
        let e = l
            .eligibility("T1", chrono::NaiveDate::from_ymd_opt(2024, 9, 1).unwrap())
            .unwrap();
        assert!(e.value.senior_title.met && e.value.rotation.met);
        assert_eq!(e.value.senior_title.days_served, 1096);
        assert_eq!(e.size, l.head().size);
        let as_of = chrono::NaiveDate::from_ymd_opt(2022, 3, 1).unwrap();
        let team = l.team("TM", as_of).unwrap();
        assert_eq!((team.value.strength, team.size), (2, l.head().size));
        assert_eq!(team.head_hash, l.head().hash);
        let early = l.terms(
            &TermQuery {
                status: Some(TermStatus::ReturnedEarly),
                ..Default::default()
            },
            as_of,
        );
        assert_eq!(early.value.len(), 1);
        assert!(early.value[0].exempt, "health is exempt");
        assert_eq!(l.teams(as_of).value.len(), 1);
        assert!(matches!(l.team("TX", as_of), Err(LedgerError::NotFound(_))));
        let s = l.snapshot();
        l.shutdown();
        (s.state.clone(), s.head.size, states)
    };
    let l = open(dir.path());
    assert_eq!(l.head().size, size);
    assert_eq!(l.snapshot().state, state);
    assert!(state.is_voided(10));
    assert_eq!(state.dispatch("D1").unwrap().evaluations.len(), 1);
    assert_eq!(state.dispatch("D2").unwrap().evaluations.len(), 0);
    for (n, s) in states {
        assert_eq!(l.state_at(n).unwrap().value, s, "prefix of {n} entries");
    }
    assert_eq!(l.state_at(6).unwrap().value.len(), 6);
    assert!(l.state_at(size + 1).is_err());
    l.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_in_one_commit_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let l = std::sync::Arc::new(open(dir.path()));
    append(&l, "r0", vec![school("S1", "strong"), school("W1", "weak")])
        .await
        .unwrap();
    // Ten appends race to register the same teacher: exactly one wins, the others are told
    // by rule, whichever commit they share.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let l = l.clone();
        tasks.push(tokio::spawn(async move {
            append(&l, &format!("same{i}"), vec![teacher("T1", "S1")]).await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(LedgerError::Rejected { rule, .. }) => assert_eq!(rule, "teacher.duplicate_id"),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(won, 1);
    // Twenty appends of distinct teachers all land.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let l = l.clone();
        tasks.push(tokio::spawn(async move {
            append(&l, &format!("t{i}"), vec![teacher(&format!("U{i}"), "S1")]).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let state = l.snapshot().state.clone();
    assert_eq!(state.teachers().count(), 21);
    assert_eq!(state.len(), l.head().size);
    l.shutdown();
    drop(l);
    let l = open(dir.path());
    assert_eq!(l.snapshot().state, state);
    l.shutdown();
}

/// Appends are applied to the pending state in place; one refused after some of its events
/// were applied is undone by rebuilding from the committed state and the appends accepted
/// since. Racing good appends with ones refused at their second or last event (so the
/// rebuild runs inside shared commits) must leave exactly the state a full replay of the
/// stored log gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_refused_midway_leave_the_state_a_replay_gives() {
    let dir = tempfile::tempdir().unwrap();
    let l = std::sync::Arc::new(open(dir.path()));
    append(&l, "r0", vec![school("S1", "strong"), school("W1", "weak")])
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..60 {
        let l = l.clone();
        tasks.push(tokio::spawn(async move {
            let events = match i % 3 {
                // Good: two new teachers.
                0 => vec![
                    teacher(&format!("G{i}a"), "S1"),
                    teacher(&format!("G{i}b"), "S1"),
                ],
                // Refused at the second event: the first was applied in place.
                1 => vec![
                    teacher(&format!("B{i}"), "S1"),
                    teacher(&format!("B{i}"), "S1"),
                ],
                // Refused at the last event, after two were applied.
                _ => vec![
                    teacher(&format!("C{i}a"), "S1"),
                    teacher(&format!("C{i}b"), "S1"),
                    teacher(&format!("C{i}x"), "NOWHERE"),
                ],
            };
            (i, append(&l, &format!("m{i}"), events).await)
        }));
    }
    for t in tasks {
        let (i, r) = t.await.unwrap();
        match (i % 3, r) {
            (0, Ok(_)) => {}
            (_, Err(LedgerError::Rejected { .. })) if i % 3 != 0 => {}
            (k, other) => panic!("append {i} (kind {k}): {other:?}"),
        }
    }
    let state = l.snapshot().state.clone();
    assert_eq!(
        state.teachers().count(),
        40,
        "the 20 good appends' teachers only"
    );
    assert!(state.teacher("B1").is_none() && state.teacher("C2a").is_none());
    assert_eq!(state.len(), l.head().size);
    assert_eq!(l.head().size, 2 + 40);
    l.shutdown();
    drop(l);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let replayed = loop {
        let opts = LedgerOptions {
            full_check: true,
            ..LedgerOptions::default()
        };
        match Ledger::open(dir.path(), opts) {
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other.expect("open ledger"),
        }
    };
    assert_eq!(
        replayed.open_report().snapshot,
        None,
        "replayed, not loaded"
    );
    assert_eq!(replayed.snapshot().state, state);
    replayed.shutdown();
}

#[tokio::test]
async fn a_log_written_without_the_domain_opens_with_its_entries_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || crate::util::fill(&path, 3))
        .await
        .unwrap();
    let l = open(dir.path());
    let state = l.snapshot().state.clone();
    assert_eq!((state.len(), state.unreadable()), (3, 3));
    append(&l, "r1", vec![school("S1", "strong")])
        .await
        .unwrap();
    let s = l.snapshot();
    assert_eq!(s.state.len(), 4);
    assert!(s.state.school("S1").is_some());
    l.shutdown();
}
