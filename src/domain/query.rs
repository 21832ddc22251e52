//! What an as-of query (rotation duty, quotas, group summaries, teacher histories) can be
//! told "no" about: the thing asked for does not exist on that date, or the question does not
//! apply to it.

use chrono::NaiveDate;

use super::vocab::{QuotaDuty, SchoolYear, Standing};

/// Why a projection cannot answer.
///
/// Every variant is a caller's mistake (a wrong id, a year out of range), never an internal
/// failure: the projections are pure functions of the state and cannot fail otherwise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// No school with this id is registered.
    #[error("no school {0} is registered")]
    UnknownSchool(String),
    /// No group with this id is formed.
    #[error("no district or group {0} is formed")]
    UnknownGroup(String),
    /// No teacher with this id is registered.
    #[error("no teacher {0} is registered")]
    UnknownTeacher(String),
    /// The teacher holds no post at any school on the date (not yet employed).
    #[error("teacher {teacher} holds no post at any school on {date}")]
    NoHomePost {
        /// The teacher asked about.
        teacher: String,
        /// The date asked about.
        date: NaiveDate,
    },
    /// The school carries no quota under the policy in force (SPEC 4.4, `quota_duty`).
    #[error(
        "school {school} is {}{} on {date}: under the policy in force then, quotas apply to {}",
        standing.map(|s| s.to_string()).unwrap_or_else(|| "not yet registered".into()),
        if *rural { " and rural" } else { "" },
        match duty {
            QuotaDuty::Strong => "strong schools only",
            QuotaDuty::StrongOrUrban => "strong and urban (not rural) schools only",
        }
    )]
    NoQuotaDuty {
        /// The school asked about.
        school: String,
        /// The date its standing was taken on (1 September of the school year).
        date: NaiveDate,
        /// Its standing then, if it was registered.
        standing: Option<Standing>,
        /// Whether it is rural.
        rural: bool,
        /// `quota_duty` in force then.
        duty: QuotaDuty,
    },
    /// The school year has no calendar dates the ledger can work with.
    #[error("school year {} is out of range", .0.0)]
    YearOutOfRange(SchoolYear),
}

/// The first and last day of `year`, for years inside the range the events accept
/// (`fields::MIN_YEAR` .. `fields::MAX_YEAR`); checked before any arithmetic on the year, so
/// an absurd year from a request is an error, never an overflow.
pub fn year_bounds(year: SchoolYear) -> Result<(NaiveDate, NaiveDate), QueryError> {
    if !(super::fields::MIN_YEAR..super::fields::MAX_YEAR).contains(&year.0) {
        return Err(QueryError::YearOutOfRange(year));
    }
    match (year.first_day(), year.last_day()) {
        (Some(f), Some(l)) => Ok((f, l)),
        _ => Err(QueryError::YearOutOfRange(year)),
    }
}

/// Any history, any question: the projections never panic, and their figures agree with
/// each other.
#[cfg(test)]
mod props {
    use std::sync::Arc;

    use chrono::NaiveDate;
    use proptest::prelude::*;

    use super::super::duty::school_duty;
    use super::super::event::{EntryLink, Event};
    use super::super::group_summary::group_summary;
    use super::super::history::teacher_history;
    use super::super::projkit::Reg;
    use super::super::quota::school_quota;
    use super::super::state::State;
    use super::super::testkit::*;
    use super::*;

    fn day() -> impl Strategy<Value = String> {
        (0i64..60).prop_map(|k| {
            (d("2012-01-01") + chrono::Duration::days(k * 97))
                .format("%Y-%m-%d")
                .to_string()
        })
    }

    fn pick(prefix: &'static str, n: u32) -> impl Strategy<Value = String> {
        (0..n).prop_map(move |i| format!("{prefix}{i}"))
    }

    fn event() -> impl Strategy<Value = Event> {
        let standing_v = prop_oneof![Just("strong"), Just("ordinary"), Just("weak")];
        let kind = prop_oneof![Just("rotation"), Just("support"), Just("training")];
        let reason = prop_oneof![Just("term_completed"), Just("health"), Just("disciplinary")];
        let key = prop_oneof![Just("none"), Just("school"), Just("district"), Just("city")];
        let title = prop_oneof![Just("junior"), Just("intermediate"), Just("senior")];
        prop_oneof![
            1 => (pick("S", 4), standing_v.clone()).prop_map(|(s, st)| school(&s, st, "junior", false)),
            1 => (pick("S", 4), standing_v, day()).prop_map(|(s, st, dt)| standing(&s, st, &dt)),
            1 => (pick("S", 4), any::<bool>(), day()).prop_map(|(s, j, dt)| {
                membership("G0", &s, if j { "joined" } else { "left" }, &dt)
            }),
            2 => (pick("T", 5), pick("S", 4), day(), title, proptest::option::of(day()), key.clone(), proptest::option::of(day()))
                .prop_map(|(t, s, emp, ti, td, k, rt)| Reg {
                    id: &t, school: &s, employed: &emp, title: ti, title_date: td.as_deref(),
                    key: k, retirement: rt.as_deref(),
                }.event()),
            1 => (pick("T", 5), pick("S", 4), day()).prop_map(|(t, s, dt)| transfer(&t, &s, &dt)),
            1 => (pick("T", 5), key, day()).prop_map(|(t, k, dt)| key_level(&t, k, &dt)),
            1 => (1u32..8, day()).prop_map(|(n, dt)| policy(
                "shanghai-2023",
                &format!(r#"{{"eligible_tenure_years":{n},"min_term_years":{n},"key_share_basis":"{}"}}"#,
                    if n % 2 == 0 { "over_eligible" } else { "over_rotated" }),
                &dt,
            )),
            5 => (pick("D", 8), pick("T", 5), pick("S", 4), pick("S", 4), day(), kind, proptest::option::weighted(0.3, pick("M", 2)))
                .prop_map(|(id, t, f, to, dt, k, team)| dispatch_kind(&id, &t, &f, &to, &dt, k, team.as_deref())),
            3 => (pick("D", 8), day(), reason).prop_map(|(id, dt, r)| ret(&id, &dt, r)),
            2 => (pick("D", 8), pick("S", 4), 2012i32..2030, day())
                .prop_map(|(id, s, y, dt)| eval(&id, &s, y, "good", &dt)),
            1 => (pick("T", 5), day()).prop_map(|(t, dt)| promote(&t, "title", "senior", &dt, false)),
            2 => (0u64..80).prop_map(void),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn projections_answer_any_history_consistently(
            events in proptest::collection::vec(event(), 0..80),
            years in proptest::collection::vec(any::<i32>(), 1..3),
            probe in 0i64..8000,
        ) {
            let mut s = apply_all(State::new(), &[group("G0", &["S0"])]);
            for e in events {
                let seq = s.len();
                s.apply(meta(seq), Arc::new(e));
            }
            let as_ofs = [
                d("2012-01-01") + chrono::Duration::days(probe),
                NaiveDate::MIN,
                NaiveDate::MAX,
            ];
            let mut years: Vec<SchoolYear> = years.into_iter().map(SchoolYear).collect();
            years.extend((2012..2030).map(SchoolYear));
            for as_of in as_ofs {
                for school in s.schools() {
                    let duty = school_duty(&s, &school.id, as_of).unwrap();
                    for id in duty.meeting_conditions.iter().chain(&duty.due_to_rotate) {
                        prop_assert!(duty.teachers.iter().any(|t| &t.teacher == id));
                    }
                    for &y in &years {
                        match school_quota(&s, &school.id, y, as_of) {
                            Ok(q) => {
                                let out = q.outflow.len() as u64;
                                prop_assert_eq!(q.missing, q.required.saturating_sub(out));
                                prop_assert_eq!(q.outflow_met, q.missing == 0);
                                prop_assert_eq!(
                                    (q.eligible.len() + q.not_eligible.len()) as u64,
                                    q.school_teachers
                                );
                                prop_assert!(q.key_outflow <= out);
                                prop_assert!(q.district_key_teachers <= q.school_teachers);
                                prop_assert!(q.required <= q.eligible.len() as u64);
                            }
                            Err(QueryError::NoQuotaDuty { .. } | QueryError::YearOutOfRange(_)) => {}
                            Err(e) => prop_assert!(false, "unexpected {e}"),
                        }
                    }
                }
                for &y in &years {
                    match group_summary(&s, "G0", y, as_of) {
                        Ok(g) => {
                            let quotas: Vec<_> =
                                g.members.iter().filter_map(|m| m.quota.as_ref()).collect();
                            prop_assert_eq!(
                                g.missing,
                                quotas.iter().map(|q| q.missing).sum::<u64>()
                            );
                        }
                        // The group's formation may have been voided.
                        Err(QueryError::YearOutOfRange(_) | QueryError::UnknownGroup(_)) => {}
                        Err(e) => prop_assert!(false, "unexpected {e}"),
                    }
                }
                for t in 0..5 {
                    let Ok(h) = teacher_history(&s, &format!("T{t}"), as_of) else {
                        continue;
                    };
                    let mut prev: Option<EntryLink> = None;
                    for e in &h.entries {
                        prop_assert_eq!(e.teacher_prev, prev);
                        prop_assert!(prev.is_none_or(|p| p.seq < e.seq));
                        prev = Some(EntryLink { seq: e.seq, hash: e.hash });
                    }
                }
            }
        }
    }
}
