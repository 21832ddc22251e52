//! The typed fast path for stored payloads (`Event::decode_stored_fast`) against the strict
//! decoder: on random events and on random mutations of their stored text, whatever the fast
//! path accepts the strict decoder accepts with the same value, and `Event::decode_stored`
//! (fast, then strict) always answers exactly as the strict decoder does.

use crate::domain::personal::Personal;
use chrono::NaiveDate;
use proptest::prelude::*;

use super::super::event::*;
use super::super::id::Id;
use super::super::vocab::*;

/// Checks the two paths on one text; returns whether the fast path accepted it.
fn same_as_strict(text: &str) -> Result<bool, TestCaseError> {
    let strict = Event::decode_stored_strict(text);
    let fast = Event::decode_stored_fast(text);
    if let Some(f) = &fast {
        prop_assert_eq!(
            strict.as_ref(),
            Ok(f),
            "the fast path accepted what the strict decoder answers differently: {}",
            text
        );
    }
    prop_assert_eq!(Event::decode_stored(text), strict, "{}", text);
    Ok(fast.is_some())
}

fn id_chars() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[A-Za-z0-9_-]{1,12}",
        1 => "[A-Z0-9教师-]{1,8}",
        // An id may hold a quote or a backslash (escaped in JSON: the fast path hands it on).
        1 => "[A-Z\"\\\\]{1,4}",
        // Invalid ids: empty, whitespace, too long.
        1 => prop_oneof![Just(String::new()), Just("a b".to_string()), Just("x".repeat(65))],
    ]
}

fn plain_id() -> impl Strategy<Value = Id> {
    "[A-Za-z0-9_-]{1,12}".prop_map(|s| Id::new(&s).unwrap())
}

/// Any id, possibly invalid: built unchecked through the JSON text instead.
fn any_id() -> impl Strategy<Value = String> {
    id_chars()
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[A-Za-z .]{1,20}",
        2 => "[李华明中学第一 ]{1,10}",
        2 => "[a-z\"\\\\/é\u{7f}]{1,10}",
        // Invalid texts: blank, a control character, too long.
        1 => prop_oneof![Just("  ".to_string()), Just("a\nb".to_string()), Just("x".repeat(201))],
    ]
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (1890i32..3010, 1u32..=12, 1u32..=28)
        .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

fn pick<V: Vocabulary + std::fmt::Debug>() -> impl Strategy<Value = V> {
    proptest::sample::select(V::ALL)
}

fn link() -> impl Strategy<Value = Option<Option<EntryLink>>> {
    prop_oneof![
        Just(None),
        Just(Some(None)),
        (any::<u64>(), any::<[u8; 32]>())
            .prop_map(|(seq, hash)| Some(Some(EntryLink { seq, hash }))),
    ]
}

fn o<S: Strategy>(s: S) -> impl Strategy<Value = Option<S::Value>> {
    proptest::option::of(s)
}

/// Events of every type but `policy_adopted`, valid except where the ids or texts are not;
/// ids are plain here (so that the fast path must take every valid one).
fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (
            plain_id(),
            name(),
            pick::<Stage>(),
            pick::<Standing>(),
            any::<bool>(),
            date()
        )
            .prop_map(|(school, name, stage, standing, rural, date)| {
                Event::SchoolRegistered(SchoolRegistered {
                    school,
                    name,
                    stage,
                    standing,
                    rural,
                    date,
                })
            }),
        (plain_id(), pick::<Standing>(), date()).prop_map(|(school, standing, date)| {
            Event::SchoolStandingChanged(SchoolStandingChanged {
                school,
                standing,
                date,
            })
        }),
        (
            plain_id(),
            pick::<GroupKind>(),
            name(),
            proptest::collection::vec(plain_id(), 0..4),
            0usize..5,
            date()
        )
            .prop_map(|(group, kind, name, schools, lead, date)| {
                let lead_school = schools
                    .get(lead)
                    .cloned()
                    .unwrap_or_else(|| Id::new("L").unwrap());
                Event::GroupFormed(GroupFormed {
                    group,
                    kind,
                    name,
                    lead_school,
                    schools,
                    date,
                })
            }),
        (plain_id(), plain_id(), pick::<MembershipChange>(), date()).prop_map(
            |(group, school, change, date)| Event::GroupMembershipChanged(GroupMembershipChanged {
                group,
                school,
                change,
                date
            })
        ),
        (
            plain_id(),
            name(),
            plain_id(),
            plain_id(),
            pick::<Title>(),
            o(date()),
            pick::<KeyLevel>(),
            date(),
            o(date()),
            date()
        )
            .prop_map(
                |(
                    teacher,
                    name,
                    school,
                    subject,
                    title,
                    title_date,
                    key_level,
                    employed_date,
                    retirement_date,
                    date,
                )| {
                    Event::TeacherRegistered(TeacherRegistered {
                        teacher,
                        name: Personal::Plain(name),
                        school,
                        subject,
                        title,
                        title_date,
                        key_level,
                        employed_date,
                        retirement_date,
                        date,
                    })
                }
            ),
        (
            plain_id(),
            o(name()),
            o(plain_id()),
            o(pick::<Title>()),
            o(date()),
            o(pick::<KeyLevel>()),
            o(date()),
            date()
        )
            .prop_map(
                |(teacher, name, subject, title, title_date, key_level, retirement_date, date)| {
                    Event::TeacherProfileUpdated(TeacherProfileUpdated {
                        teacher,
                        name: name.map(Personal::Plain),
                        subject,
                        title,
                        title_date,
                        key_level,
                        retirement_date,
                        date,
                    })
                }
            ),
        (plain_id(), plain_id(), date()).prop_map(|(teacher, school, date)| {
            Event::TeacherTransferred(TeacherTransferred {
                teacher,
                school,
                date,
            })
        }),
        (
            plain_id(),
            plain_id(),
            plain_id(),
            plain_id(),
            date(),
            pick::<DispatchKind>(),
            o(plain_id())
        )
            .prop_map(
                |(dispatch, teacher, from_school, to_school, start_date, kind, team)| {
                    Event::TeacherDispatched(TeacherDispatched {
                        dispatch,
                        teacher,
                        from_school,
                        to_school,
                        start_date,
                        kind,
                        team,
                    })
                }
            ),
        (plain_id(), date(), pick::<ReturnReason>(), o(name())).prop_map(
            |(dispatch, return_date, reason, reason_text)| Event::TeacherReturned(
                TeacherReturned {
                    dispatch,
                    return_date,
                    reason,
                    reason_text: reason_text.map(Personal::Plain)
                }
            )
        ),
        (
            plain_id(),
            plain_id(),
            1890i32..3010,
            pick::<Grade>(),
            date()
        )
            .prop_map(
                |(dispatch, school, y, grade, date)| Event::TeacherEvaluated(TeacherEvaluated {
                    dispatch,
                    school,
                    school_year: SchoolYear(y),
                    grade,
                    date
                })
            ),
        (
            plain_id(),
            pick::<PromotionKind>(),
            prop_oneof![pick::<Title>().prop_map(|t| t.as_str().to_string()), name()],
            date(),
            any::<bool>()
        )
            .prop_map(|(teacher, kind, to, date, rotation_credit)| {
                Event::TeacherPromoted(TeacherPromoted {
                    teacher,
                    kind,
                    to,
                    date,
                    rotation_credit,
                })
            }),
        (any::<u64>(), name())
            .prop_map(|(seq, reason)| Event::EntryVoided(EntryVoided { seq, reason })),
    ]
}

/// Replaces every occurrence of the JSON string `"from"` (an id as written) by `to`'s JSON.
fn with_id(text: &str, from: &Id, to: &str) -> String {
    let json = |s: &str| serde_json::to_string(s).unwrap();
    text.replace(&json(from.as_str()), &json(to))
}

/// Snippets a mutation inserts: JSON that is almost right.
const SNIPPETS: &[&str] = &[
    "null",
    "\"x\"",
    ",\"extra\":1",
    "\\u0041",
    "1.0",
    "-0",
    "1e3",
    "{}",
    "[]",
    " ",
    "\"",
    "\\",
    ",",
    ":",
    "}",
    "{",
    "true",
    "\"teacher_prev\":null,",
    "\u{0}",
    "é",
    "\"2024-02-30\"",
    "18446744073709551616",
    "\"version\":1,",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Overwrites one byte.
    Byte(usize, u8),
    /// Deletes a range.
    Delete(usize, usize),
    /// Inserts a snippet.
    Insert(usize, usize),
    /// Moves the first member after another (reorders fields).
    Reorder(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Byte(i, b)),
        (any::<usize>(), 1usize..12).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), 0..SNIPPETS.len()).prop_map(|(i, k)| Mutation::Insert(i, k)),
        any::<usize>().prop_map(Mutation::Reorder),
    ]
}

fn mutate(text: &str, m: &Mutation) -> Vec<u8> {
    let mut b = text.as_bytes().to_vec();
    let n = b.len().max(1);
    match *m {
        Mutation::Byte(i, x) => {
            let i = i % n;
            if let Some(c) = b.get_mut(i) {
                *c = x;
            }
        }
        Mutation::Delete(i, k) => {
            let i = i % n;
            b.drain(i..(i + k).min(b.len()));
        }
        Mutation::Insert(i, k) => {
            let i = i % (b.len() + 1);
            b.splice(i..i, SNIPPETS[k].bytes());
        }
        Mutation::Reorder(i) => {
            // Move `"type":"..",` after another member: still canonical JSON values, other
            // order (the fast path refuses, the strict decoder does not care).
            if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(text)
                && let Some(m) = v.as_object_mut()
            {
                let keys: Vec<String> = m.keys().cloned().collect();
                if !keys.is_empty() {
                    let k = keys[i % keys.len()].clone();
                    let val = m.remove(&k).unwrap();
                    m.insert(k, val);
                }
                // serde_json's map is sorted without `preserve_order`: any order but ours.
                b = v.to_string().into_bytes();
            }
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn fast_path_decodes_stored_events_exactly_as_the_strict_decoder(e in event(), l in link()) {
        let text = e.to_stored(l);
        let accepted = same_as_strict(&text)?;
        // Everything the strict decoder accepts here (plain ids), the fast path takes itself.
        prop_assert_eq!(accepted, Event::decode_stored_strict(&text).is_ok(), "{}", text);
    }

    #[test]
    fn fast_path_agrees_on_any_id(e in event(), l in link(), id in any_id()) {
        // Swap one of the event's ids for an arbitrary (maybe escaped, maybe invalid) one.
        let text = e.to_stored(l);
        let first = Event::decode_stored_strict(&text).ok().and_then(|(e, _)| match e {
            Event::SchoolRegistered(x) => Some(x.school),
            Event::TeacherRegistered(x) => Some(x.teacher),
            Event::TeacherDispatched(x) => Some(x.to_school),
            Event::TeacherEvaluated(x) => Some(x.dispatch),
            Event::GroupFormed(x) => Some(x.lead_school),
            _ => None,
        });
        let text = match first {
            Some(f) => with_id(&text, &f, &id),
            None => text,
        };
        same_as_strict(&text)?;
    }

    #[test]
    fn fast_path_never_accepts_a_mutation_the_strict_decoder_refuses(
        e in event(), l in link(), ms in proptest::collection::vec(mutation(), 1..4)
    ) {
        let mut text = e.to_stored(l);
        for m in &ms {
            match String::from_utf8(mutate(&text, m)) {
                Ok(t) => text = t,
                Err(_) => continue,
            }
            same_as_strict(&text)?;
        }
    }

    #[test]
    fn fast_path_decodes_sealed_events_exactly_as_the_strict_decoder(
        e in event(),
        l in link(),
        sealed in proptest::collection::vec(any::<u8>(), 0..90),
        ms in proptest::collection::vec(mutation(), 0..3),
    ) {
        // The personal fields sealed as the ledger stores them (the sealed version).
        let e = e
            .map_personal(|_, _| {
                Ok::<_, ()>(super::super::personal::Personal::Sealed(sealed.clone().into()))
            })
            .map_err(|()| TestCaseError::fail("sealing"))?;
        let mut text = e.to_stored(l);
        let accepted = same_as_strict(&text)?;
        prop_assert_eq!(accepted, Event::decode_stored_strict(&text).is_ok(), "{}", text);
        for m in &ms {
            match String::from_utf8(mutate(&text, m)) {
                Ok(t) => text = t,
                Err(_) => continue,
            }
            same_as_strict(&text)?;
        }
    }

    #[test]
    fn fast_path_agrees_on_the_domain_generators(e in super::props::event(), l in link()) {
        let text = e.to_stored(l);
        let accepted = same_as_strict(&text)?;
        // The fast path leaves only `policy_adopted` to the strict decoder.
        prop_assert_eq!(accepted, !matches!(e, Event::PolicyAdopted(_)), "{}", text);
    }
}
