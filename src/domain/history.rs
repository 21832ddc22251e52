//! Teacher history (SPEC 4.5): every entry about a teacher in log order, each with its
//! place in the log and in the teacher's own chain, and a summary as of a date (posting,
//! dispatches with their term status, evaluations, promotions).
//!
//! The per-teacher chain link of an entry is the previous entry about the same teacher
//! (sequence number and entry hash; none for the first): exactly the `teacher_prev` link the
//! ledger stores in the entry's payload, so an auditor can walk a teacher's history backwards
//! and check each link against the log. Voided entries stay in the history, marked with the
//! entry that voided them; the void is itself an entry of the history.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::eligibility::{Eligibility, eligibility};
use super::event::EntryLink;
use super::id::Id;
use super::personal::Personal;
use super::query::QueryError;
use super::state::{Dispatch, State};
use super::terms::{Term, term};
use super::vocab::{Grade, KeyLevel, PromotionKind, SchoolYear, Title};

/// One entry of a teacher's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Sequence number in the log.
    pub seq: u64,
    /// Server time of the append.
    pub recorded_at: DateTime<Utc>,
    /// The event's effective date (`None` for a void, which takes effect when recorded).
    pub effective_date: Option<NaiveDate>,
    /// Who appended it.
    pub actor: Arc<str>,
    /// Entry hash.
    pub hash: [u8; 32],
    /// The event type (`None` if the payload did not decode).
    pub event_type: Option<&'static str>,
    /// The event's canonical JSON (`None` if the payload did not decode).
    pub event: Option<String>,
    /// The previous entry about the teacher (`None` for the first): the per-teacher chain.
    pub teacher_prev: Option<EntryLink>,
    /// The entry that voided this one, if any.
    pub voided_by: Option<u64>,
    /// For a void: the entry it voids.
    pub voids: Option<u64>,
    /// Whether the entry is in effect on the as-of date: not voided, and its effective date
    /// (if any) on or before it.
    pub in_effect: bool,
}

/// One evaluation in a teacher's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationSummary {
    /// The dispatch evaluated.
    pub dispatch: Id,
    /// The evaluating school.
    pub school: Id,
    /// The school year.
    pub school_year: SchoolYear,
    /// The grade.
    pub grade: Grade,
    /// Effective date.
    pub date: NaiveDate,
    /// The evaluating entry.
    pub seq: u64,
}

/// One promotion in a teacher's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionSummary {
    /// The promoting entry.
    pub seq: u64,
    /// Title, rank or leadership.
    pub kind: PromotionKind,
    /// What to.
    pub to: String,
    /// Effective date.
    pub date: NaiveDate,
    /// Whether rotation credit was claimed.
    pub rotation_credit: bool,
}

/// A teacher's situation as of a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeacherSummary {
    /// Name on the date (personal: as the log holds it, sealed or plain; the service that
    /// answers opens it for the caller, or says it was erased).
    pub name: Option<Personal>,
    /// When the teacher's personal data was erased (whatever the as-of date: an erased
    /// name is gone for every date).
    pub erased: Option<super::records::Erasure>,
    /// Home school (编制) on the date.
    pub home_school: Option<Id>,
    /// Employed there since.
    pub home_since: Option<NaiveDate>,
    /// Where the teacher works on the date: the receiving school of the dispatch being
    /// served, else the home school.
    pub posted_at: Option<Id>,
    /// The dispatch being served on the date, if any.
    pub serving_dispatch: Option<Id>,
    /// Title on the date.
    pub title: Option<Title>,
    /// Key-teacher level on the date.
    pub key_level: Option<KeyLevel>,
    /// The terms of the dispatches started on or before the date, by start date (SPEC 4.1).
    pub dispatches: Vec<Term>,
    /// Evaluations effective on or before the date, by dispatch and school year.
    pub evaluations: Vec<EvaluationSummary>,
    /// Promotions effective on or before the date, in log order.
    pub promotions: Vec<PromotionSummary>,
    /// Promotion-credit eligibility on the date (SPEC 4.3), with its reasons.
    pub credits: Eligibility,
}

/// A teacher's history and summary as of a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeacherHistory {
    /// The teacher.
    pub teacher: Id,
    /// The date asked about.
    pub as_of: NaiveDate,
    /// Every entry about the teacher, in log order (voided ones included).
    pub entries: Vec<HistoryEntry>,
    /// The summary; `None` when the teacher's registration was voided.
    pub summary: Option<TeacherSummary>,
}

/// The history of `teacher` as of `as_of`. Known to the log (even if the registration was
/// voided) or an error.
pub fn teacher_history(
    state: &State,
    teacher: &str,
    as_of: NaiveDate,
) -> Result<TeacherHistory, QueryError> {
    let records = state.history(teacher);
    if records.is_empty() {
        return Err(QueryError::UnknownTeacher(teacher.to_string()));
    }
    let mut prev: Option<EntryLink> = None;
    let mut entries = Vec::with_capacity(records.len());
    for r in records {
        let event = r.event.as_deref();
        let effective_date = event.and_then(|e| e.date());
        entries.push(HistoryEntry {
            seq: r.meta.seq,
            recorded_at: r.meta.recorded_at,
            effective_date,
            actor: r.meta.actor.clone(),
            hash: r.meta.hash,
            event_type: event.map(|e| e.type_name()),
            event: event.map(|e| e.to_json()),
            teacher_prev: prev,
            voided_by: r.voided_by,
            voids: match event {
                Some(super::event::Event::EntryVoided(v)) => Some(v.seq),
                _ => None,
            },
            in_effect: r.voided_by.is_none() && effective_date.is_none_or(|d| d <= as_of),
        });
        prev = Some(EntryLink {
            seq: r.meta.seq,
            hash: r.meta.hash,
        });
    }
    let teacher_id = match state.teacher(teacher) {
        Some(t) => t.id.clone(),
        None => Id::new(teacher).map_err(|_| QueryError::UnknownTeacher(teacher.to_string()))?,
    };
    Ok(TeacherHistory {
        summary: summary(state, teacher, as_of),
        teacher: teacher_id,
        as_of,
        entries,
    })
}

fn summary(state: &State, teacher: &str, as_of: NaiveDate) -> Option<TeacherSummary> {
    let t = state.teacher(teacher)?;
    let credits = eligibility(state, teacher, as_of)?;
    let home = t.home.at(as_of);
    let started: Vec<&Dispatch> = state
        .dispatches_of(teacher)
        .into_iter()
        .filter(|d| d.start_date <= as_of)
        .collect();
    let serving = started.iter().find(|d| d.serving_on(as_of));
    let dispatches = started
        .iter()
        .filter_map(|d| term(state, d, as_of))
        .collect();
    let evaluations = started
        .iter()
        .flat_map(|d| {
            d.evaluations_as_of(as_of).map(|e| EvaluationSummary {
                dispatch: d.id.clone(),
                school: e.school.clone(),
                school_year: e.school_year,
                grade: e.grade,
                date: e.date,
                seq: e.seq,
            })
        })
        .collect();
    let promotions = state
        .promotions_of(teacher)
        .into_iter()
        .filter(|p| p.date <= as_of)
        .map(|p| PromotionSummary {
            seq: p.seq,
            kind: p.kind,
            to: p.to.clone(),
            date: p.date,
            rotation_credit: p.rotation_credit,
        })
        .collect();
    Some(TeacherSummary {
        name: t.name.at(as_of).cloned(),
        erased: t.erased,
        home_school: home.map(|h| h.school.clone()),
        home_since: home.map(|h| h.since),
        posted_at: serving
            .map(|d| d.to_school.clone())
            .or_else(|| home.map(|h| h.school.clone())),
        serving_dispatch: serving.map(|d| d.id.clone()),
        title: t.title.at(as_of).map(|h| h.title),
        key_level: t.key_level.at(as_of).copied(),
        dispatches,
        evaluations,
        promotions,
        credits,
    })
}

#[cfg(test)]
mod tests {
    use super::super::event::Event;
    use super::super::projkit::accepted;
    use super::super::testkit::*;
    use super::*;
    use crate::domain::terms::TermStatus;
    use crate::domain::vocab::ReturnReason;

    const BASE: u64 = 14; // world() holds entries 0..14; T1 is entry 7.

    /// T1: a completed rotation (one evaluation voided), an early support return, a rank
    /// promotion on credit, and a third dispatch serving; X registered and voided.
    fn story() -> Vec<Vec<Event>> {
        vec![
            world(),
            vec![dispatch("D1", "T1", "S1", "W1", "2021-09-01")], // 14
            vec![eval("D1", "W1", 2021, "good", "2022-07-01")],   // 15
            vec![eval("D1", "W1", 2022, "pass", "2023-07-01")],   // 16
            vec![ret("D1", "2024-09-01", "term_completed")],      // 17
            vec![dispatch_kind(
                "D2",
                "T1",
                "S1",
                "R1",
                "2024-10-01",
                "support",
                None,
            )], // 18
            vec![ret("D2", "2025-01-01", "health")],              // 19
            vec![promote("T1", "rank", "level-2", "2025-01-01", true)], // 20
            vec![void(BASE + 2)],                                 // 21
            vec![dispatch("D3", "T1", "S1", "W2", "2025-03-01")], // 22
            vec![teacher("X", "S2")],                             // 23
            vec![void(BASE + 9)],                                 // 24
        ]
    }

    #[test]
    fn entries_in_log_order_with_voids_and_chain_links() {
        let s = accepted(story());
        let h = teacher_history(&s, "T1", d("2025-02-01")).unwrap();
        type Row = (u64, Option<&'static str>, Option<u64>, Option<u64>, bool);
        let rows: Vec<Row> = h
            .entries
            .iter()
            .map(|e| (e.seq, e.event_type, e.voided_by, e.voids, e.in_effect))
            .collect();
        let t = |n: u64, ty: &'static str, by: Option<u64>, voids: Option<u64>, live: bool| {
            (n, Some(ty), by, voids, live)
        };
        assert_eq!(
            rows,
            vec![
                t(7, "teacher_registered", None, None, true),
                t(14, "teacher_dispatched", None, None, true),
                t(15, "teacher_evaluated", None, None, true),
                t(16, "teacher_evaluated", Some(21), None, false),
                t(17, "teacher_returned", None, None, true),
                t(18, "teacher_dispatched", None, None, true),
                t(19, "teacher_returned", None, None, true),
                t(20, "teacher_promoted", None, None, true),
                t(21, "entry_voided", None, Some(16), true),
                t(22, "teacher_dispatched", None, None, false),
            ],
            "D3 starts after the as-of date; entry 16 is voided"
        );
        assert_eq!(h.entries[0].teacher_prev, None);
        for w in h.entries.windows(2) {
            assert_eq!(
                w[1].teacher_prev,
                Some(EntryLink {
                    seq: w[0].seq,
                    hash: w[0].hash
                }),
                "entry {} links to {}",
                w[1].seq,
                w[0].seq
            );
        }
        let e = &h.entries[1];
        assert_eq!(
            (e.effective_date, e.hash, &*e.actor, e.recorded_at),
            (
                Some(d("2021-09-01")),
                meta(14).hash,
                "hr",
                meta(14).recorded_at
            )
        );
        assert_eq!(
            e.event.as_deref(),
            Some(
                dispatch("D1", "T1", "S1", "W1", "2021-09-01")
                    .to_json()
                    .as_str()
            )
        );
        assert_eq!(
            h.entries[8].effective_date, None,
            "a void has no effective date"
        );
    }

    #[test]
    fn chain_links_are_the_stored_teacher_prev() {
        // Store every event the way the ledger does, then read the links back.
        let mut s = State::new();
        let mut stored_links = Vec::new();
        for e in story().into_iter().flatten() {
            let link = s.teacher_of(&e).map(|t| s.teacher_head(t.as_str()));
            let (_, read) = Event::decode_stored(&e.to_stored(link)).unwrap();
            if s.teacher_of(&e).is_some_and(|t| t.as_str() == "T1") {
                stored_links.push(read.flatten());
            }
            let seq = s.len();
            s.apply(meta(seq), std::sync::Arc::new(e));
        }
        let h = teacher_history(&s, "T1", d("2030-01-01")).unwrap();
        let links: Vec<Option<EntryLink>> = h.entries.iter().map(|e| e.teacher_prev).collect();
        assert_eq!(links.len(), 10);
        assert_eq!(links, stored_links);
    }

    #[test]
    fn summary_as_of_dates() {
        let s = accepted(story());
        // (as of, posted at, serving, statuses of the dispatches started by then)
        let cases: &[(&str, &str, Option<&str>, &[TermStatus])] = &[
            ("2021-08-31", "S1", None, &[]),
            ("2024-08-31", "W1", Some("D1"), &[TermStatus::Serving]),
            ("2024-09-01", "S1", None, &[TermStatus::Completed]),
            (
                "2024-12-31",
                "R1",
                Some("D2"),
                &[TermStatus::Completed, TermStatus::Serving],
            ),
            (
                "2025-06-01",
                "W2",
                Some("D3"),
                &[
                    TermStatus::Completed,
                    TermStatus::ReturnedEarly,
                    TermStatus::Serving,
                ],
            ),
            (
                "2028-03-01",
                "W2",
                Some("D3"),
                &[
                    TermStatus::Completed,
                    TermStatus::ReturnedEarly,
                    TermStatus::ServingBeyondMinimum,
                ],
            ),
        ];
        for (as_of, posted, serving, statuses) in cases {
            let h = teacher_history(&s, "T1", d(as_of)).unwrap();
            let sm = h.summary.unwrap();
            assert_eq!(sm.posted_at.as_deref(), Some(*posted), "{as_of}");
            assert_eq!(sm.home_school.as_deref(), Some("S1"), "{as_of}");
            assert_eq!(sm.serving_dispatch.as_deref(), *serving, "{as_of}");
            let got: Vec<TermStatus> = sm.dispatches.iter().map(|d| d.status).collect();
            assert_eq!(got, *statuses, "{as_of}");
        }
        let sm = teacher_history(&s, "T1", d("2025-06-01"))
            .unwrap()
            .summary
            .unwrap();
        assert_eq!(
            sm.evaluations
                .iter()
                .map(|e| (e.dispatch.as_str(), e.school_year.0, e.grade))
                .collect::<Vec<_>>(),
            [("D1", 2021, Grade::Good)],
            "the voided evaluation is gone from the summary"
        );
        assert_eq!(sm.promotions.len(), 1);
        assert_eq!(sm.promotions[0].kind, PromotionKind::Rank);
        assert!(sm.credits.rotation.met);
        assert_eq!(sm.dispatches[0].days_served, 1096);
        assert_eq!(sm.dispatches[1].return_reason, Some(ReturnReason::Health));
        assert!(sm.dispatches[1].exempt);
        assert_eq!(sm.dispatches[2].min_end, d("2028-03-01"));
    }

    #[test]
    fn voided_registrations_and_unknown_teachers() {
        let s = accepted(story());
        let h = teacher_history(&s, "X", d("2030-01-01")).unwrap();
        assert_eq!(h.entries.len(), 2);
        assert_eq!(h.entries[0].voided_by, Some(BASE + 10));
        assert!(h.summary.is_none(), "the registration is voided");
        assert_eq!(
            teacher_history(&s, "Z", d("2030-01-01")).unwrap_err(),
            QueryError::UnknownTeacher("Z".into())
        );
    }
}
