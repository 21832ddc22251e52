//! The projections through the real ledger: rotation duty, quotas, group summaries and
//! teacher histories answered with their log position, the same after a reopen, histories
//! whose chain links match the stored payloads and whose entries prove into the log.

use chrono::NaiveDate;
use rotaledger::domain::event::{EntryLink, Event};
use rotaledger::domain::vocab::SchoolYear;
use rotaledger::ledger::{Ledger, LedgerError, LedgerOptions};
use rotaledger::merkle::{TreeHasher, verify_inclusion};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn school(id: &str, standing: &str) -> String {
    format!(
        r#"{{"type":"school_registered","version":1,"school":"{id}","name":"School {id}","stage":"primary","standing":"{standing}","rural":false,"date":"2010-01-01"}}"#
    )
}

fn teacher(id: &str, employed: &str, key: &str) -> String {
    format!(
        r#"{{"type":"teacher_registered","version":1,"teacher":"{id}","name":"Teacher {id}","school":"Q","subject":"chinese","title":"intermediate","title_date":"2012-01-01","key_level":"{key}","employed_date":"{employed}","date":"{employed}"}}"#
    )
}

fn rotation(id: &str, teacher: &str, start: &str) -> String {
    format!(
        r#"{{"type":"teacher_dispatched","version":1,"dispatch":"{id}","teacher":"{teacher}","from_school":"Q","to_school":"W1","start_date":"{start}","kind":"rotation"}}"#
    )
}

fn open(dir: &std::path::Path) -> Ledger {
    Ledger::open(dir, LedgerOptions::default()).expect("open ledger")
}

/// Strong Q with ten teachers of six years and more (T1 a district key teacher) and one of
/// less (N); district G1 = Q + W1; two rotations out of Q on 1 September 2024, one of
/// them returned early; a mistaken return voided.
async fn scenario(l: &Ledger) {
    let mut registry = vec![
        school("Q", "strong"),
        school("W1", "weak"),
        r#"{"type":"group_formed","version":1,"group":"G1","kind":"district","name":"District G1","lead_school":"Q","schools":["Q","W1"],"date":"2010-01-01"}"#.to_string(),
    ];
    registry.push(teacher("T1", "2010-01-01", "district"));
    for i in 2..=10 {
        registry.push(teacher(&format!("T{i}"), "2018-09-01", "none"));
    }
    registry.push(teacher("N", "2018-09-02", "none"));
    l.append("hr", "r1", None, registry).await.unwrap();
    l.append(
        "hr",
        "r2",
        None,
        vec![
            rotation("D1", "T1", "2024-09-01"),
            rotation("D2", "T2", "2024-09-01"),
        ],
    )
    .await
    .unwrap();
    let ret = |date: &str, reason: &str| {
        format!(
            r#"{{"type":"teacher_returned","version":1,"dispatch":"D2","return_date":"{date}","reason":"{reason}"}}"#
        )
    };
    let r = l
        .append("hr", "r3", None, vec![ret("2025-01-01", "term_completed")])
        .await
        .unwrap();
    l.append(
        "hr",
        "r4",
        None,
        vec![format!(
            r#"{{"type":"entry_voided","version":1,"seq":{},"reason":"wrong reason"}}"#,
            r.first_seq
        )],
    )
    .await
    .unwrap();
    l.append("hr", "r5", None, vec![ret("2025-01-01", "family_hardship")])
        .await
        .unwrap();
}

#[tokio::test]
async fn quotas_duty_and_summaries_carry_their_log_position() {
    let dir = tempfile::tempdir().unwrap();
    let l = open(dir.path());
    scenario(&l).await;
    let head = l.head();

    let q = l
        .school_quota("Q", SchoolYear(2024), d("2025-08-31"))
        .unwrap();
    assert_eq!((q.size, q.head_hash), (head.size, head.hash));
    let q = q.value;
    assert_eq!(q.eligible.len(), 10, "N's sixth year starts on 2 September");
    assert_eq!((q.outflow.len(), q.required, q.missing), (2, 2, 0));
    assert!(q.outflow_met && q.key_share_met);
    assert_eq!((q.key_outflow, q.key_required), (1, 1));
    assert_eq!((q.school_teachers, q.district_key_teachers), (11, 1));
    assert!(!q.key_teacher_outflow_flag, "1 of 11 is under 15%");

    let duty = l.school_duty("Q", d("2024-09-01")).unwrap().value;
    let ids = |v: &[rotaledger::domain::Id]| v.iter().map(|i| i.to_string()).collect::<Vec<_>>();
    assert_eq!(
        ids(&duty.meeting_conditions),
        ["T10", "T3", "T4", "T5", "T6", "T7", "T8", "T9"],
        "T1 and T2 left that morning; N is a day short"
    );
    assert_eq!(
        ids(&duty.due_to_rotate),
        ["N", "T10", "T3", "T4", "T5", "T6", "T7", "T8", "T9"],
        "intermediate since 2012"
    );
    let t2 = l.teacher_duty("T2", d("2025-01-01")).unwrap().value;
    assert!(t2.meets_conditions && t2.on_dispatch.is_none());

    let g = l
        .group_summary("G1", SchoolYear(2024), d("2025-08-31"))
        .unwrap()
        .value;
    assert_eq!(g.members.len(), 2);
    assert_eq!((g.eligible, g.outflow, g.missing), (10, 2, 0));
    assert_eq!(g.early_returns.len(), 1);
    assert_eq!(g.early_returns[0].dispatch.as_str(), "D2");
    assert!(!g.early_returns[0].exempt, "family hardship is not exempt");

    // The same answers after a reopen (the state is rebuilt from the log).
    l.shutdown();
    drop(l);
    let l = open(dir.path());
    let again = l
        .school_quota("Q", SchoolYear(2024), d("2025-08-31"))
        .unwrap();
    assert_eq!((again.size, again.head_hash), (head.size, head.hash));
    assert_eq!(again.value, q);
    assert_eq!(
        l.group_summary("G1", SchoolYear(2024), d("2025-08-31"))
            .unwrap()
            .value,
        g
    );
}

#[tokio::test]
async fn histories_link_like_the_stored_payloads_and_prove_into_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let l = open(dir.path());
    scenario(&l).await;
    let h = l.teacher_history("T2", d("2025-06-01")).unwrap();
    let size = h.size;
    let h = h.value;
    let types: Vec<&str> = h.entries.iter().filter_map(|e| e.event_type).collect();
    assert_eq!(
        types,
        [
            "teacher_registered",
            "teacher_dispatched",
            "teacher_returned",
            "entry_voided",
            "teacher_returned"
        ]
    );
    assert_eq!(h.entries[2].voided_by, Some(h.entries[3].seq));
    assert_eq!(h.entries[3].voids, Some(h.entries[2].seq));
    let cp = l.checkpoint_at(size).unwrap();
    for e in &h.entries {
        let stored = l.entry(e.seq).unwrap();
        assert_eq!(stored.hash, e.hash, "entry {}", e.seq);
        let meta = stored.meta().unwrap();
        assert_eq!(meta.actor, &*e.actor);
        assert_eq!(meta.recorded_at, e.recorded_at);
        let (event, link) = Event::decode_stored(&meta.payload).unwrap();
        assert_eq!(Some(event.to_json()), e.event, "entry {}", e.seq);
        assert_eq!(link, Some(e.teacher_prev), "entry {}", e.seq);
        let proof = l.inclusion_proof(e.seq, size).unwrap();
        verify_inclusion(
            &crate::util::profile(),
            e.seq,
            size,
            &crate::util::profile().hash_leaf(&e.hash),
            &proof,
            &cp.checkpoint.root,
        )
        .unwrap();
    }
    assert_eq!(
        h.entries[1].teacher_prev,
        Some(EntryLink {
            seq: h.entries[0].seq,
            hash: h.entries[0].hash
        })
    );
    let sm = h.summary.unwrap();
    assert_eq!(sm.posted_at.as_deref(), Some("Q"));
    assert_eq!(sm.dispatches.len(), 1);
    assert_eq!(
        sm.dispatches[0].return_reason.map(|r| r.to_string()),
        Some("family_hardship".into())
    );
}

#[tokio::test]
async fn projection_errors_as_callers_see_them() {
    let dir = tempfile::tempdir().unwrap();
    let l = open(dir.path());
    scenario(&l).await;
    let y = SchoolYear(2024);
    let at = d("2025-01-01");
    assert!(matches!(
        l.school_quota("Z", y, at),
        Err(LedgerError::NotFound(_))
    ));
    match l.school_quota("W1", y, at) {
        Err(LedgerError::Input { field, problem, .. }) => {
            assert_eq!(field, "school");
            assert!(problem.contains("weak"), "{problem}");
        }
        other => panic!("expected an input error, got {other:?}"),
    }
    match l.group_summary("G1", SchoolYear(-5), at) {
        Err(LedgerError::Input { field, .. }) => assert_eq!(field, "school_year"),
        other => panic!("expected an input error, got {other:?}"),
    }
    assert!(matches!(
        l.group_summary("G9", y, at),
        Err(LedgerError::NotFound(_))
    ));
    assert!(matches!(
        l.teacher_history("Z", at),
        Err(LedgerError::NotFound(_))
    ));
    match l.teacher_duty("N", d("2018-09-01")) {
        Err(LedgerError::NotFound(m)) => assert!(m.contains("no post"), "{m}"),
        other => panic!("expected not found, got {other:?}"),
    }
    assert!(matches!(
        l.school_duty("Z", at),
        Err(LedgerError::NotFound(_))
    ));
}
