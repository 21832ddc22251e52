//! Evaluations still owed by a school as receiving school (SPEC 3 rule 4, 流入校负责绩效考核;
//! SPEC 8 "evaluations owed"): the (dispatch, school year) pairs a school should have
//! graded and has not, as of a date.
//!
//! Rule 4 lets only the receiving school evaluate, once per dispatch and school year, for a
//! school year that overlaps the dispatch; eligibility (SPEC 4.3) counts only those
//! evaluations, so a missing one can cost the teacher rotation credit or the returning
//! mentor's credit. A pair is **owed** as of date D when:
//!
//! - the dispatch's receiving school is the school, whatever its kind (rule 4 applies to
//!   rotation, support and training alike), and it has started on or before D;
//! - the school year overlaps the dispatch exactly as rule 4 judges it: the year's first day
//!   is before the return date (a return is the first day not served) and its last day is on
//!   or after the start, the return taken only if effective on or before D;
//! - the school year **has ended by D**: its last day (31 August) is before D. A year still
//!   running is not owed yet, however long the teacher has served in it;
//! - no evaluation of the dispatch for that year by the receiving school is effective on or
//!   before D.

use chrono::NaiveDate;

use super::id::Id;
use super::query::{QueryError, year_bounds};
use super::state::State;
use super::vocab::{DispatchKind, SchoolYear};

/// One evaluation a receiving school still owes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwedEvaluation {
    /// The dispatch.
    pub dispatch: Id,
    /// The teacher.
    pub teacher: Id,
    /// Its kind.
    pub kind: DispatchKind,
    /// The sending school.
    pub from_school: Id,
    /// The dispatch's first day.
    pub start_date: NaiveDate,
    /// The return date, if effective as of the date asked.
    pub end: Option<NaiveDate>,
    /// The school year not evaluated.
    pub school_year: SchoolYear,
    /// That year's last day (before the date asked).
    pub year_ended_on: NaiveDate,
}

/// The evaluations `school` owes as receiving school as of `as_of`, by dispatch start,
/// dispatch id and school year.
pub fn evaluations_owed(
    state: &State,
    school: &str,
    as_of: NaiveDate,
) -> Result<Vec<OwedEvaluation>, QueryError> {
    let s = state
        .school(school)
        .ok_or_else(|| QueryError::UnknownSchool(school.to_string()))?;
    let mut out = Vec::new();
    for d in state
        .dispatches_at(&s.id)
        .filter(|d| d.to_school == s.id && d.start_date <= as_of)
    {
        let end = d.end_as_of(as_of);
        let first_year = SchoolYear::of(d.start_date).0;
        // The years that can have ended by `as_of` end on 31 August of their next calendar year.
        for y in first_year..=SchoolYear::of(as_of).0 {
            let year = SchoolYear(y);
            let Ok((first, last)) = year_bounds(year) else {
                continue;
            };
            let overlaps =
                end.is_none_or(|e| first < e && e > d.start_date) && last >= d.start_date;
            let ended = last < as_of;
            if !overlaps || !ended {
                continue;
            }
            let evaluated = d
                .evaluations_as_of(as_of)
                .any(|e| e.school_year == year && e.school == d.to_school);
            if !evaluated {
                out.push(OwedEvaluation {
                    dispatch: d.id.clone(),
                    teacher: d.teacher.clone(),
                    kind: d.kind,
                    from_school: d.from_school.clone(),
                    start_date: d.start_date,
                    end,
                    school_year: year,
                    year_ended_on: last,
                });
            }
        }
    }
    out.sort_by(|a, b| {
        (a.start_date, &a.dispatch, a.school_year).cmp(&(b.start_date, &b.dispatch, b.school_year))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::projkit::accepted;
    use super::super::testkit::*;
    use super::*;

    /// T1 from S1 to W1 from 2022-09-01 (evaluated for 2022, on 2023-10-01); T2 from S1 to W1 from
    /// 2023-03-01 (training), returned 2024-09-01 (on the first day of 2024/25: that year is not
    /// served); T3 from S1 to W2 (another receiving school).
    fn hosted() -> State {
        accepted(vec![
            world(),
            vec![
                dispatch("D1", "T1", "S1", "W1", "2022-09-01"),
                dispatch_kind("D2", "T2", "S1", "W1", "2023-03-01", "training", None),
                dispatch("D3", "T3", "S1", "W2", "2022-09-01"),
            ],
            vec![
                eval("D1", "W1", 2022, "good", "2023-10-01"),
                ret("D2", "2024-09-01", "term_completed"),
            ],
        ])
    }

    fn pairs(v: &[OwedEvaluation]) -> Vec<(String, i32)> {
        v.iter()
            .map(|o| (o.dispatch.to_string(), o.school_year.0))
            .collect()
    }

    #[test]
    fn ended_years_without_the_receiving_schools_evaluation() {
        let s = hosted();
        let owed = evaluations_owed(&s, "W1", d("2025-09-01")).unwrap();
        assert_eq!(
            pairs(&owed),
            [
                ("D1".to_string(), 2023),
                ("D1".to_string(), 2024),
                ("D2".to_string(), 2022),
                ("D2".to_string(), 2023),
            ],
            "D1's 2022 is graded; D2 returned on 2024-09-01, so 2024/25 does not overlap it"
        );
        assert_eq!(owed[0].year_ended_on, d("2024-08-31"));
        assert_eq!(owed[2].kind, DispatchKind::Training);
        assert_eq!(owed[2].end, Some(d("2024-09-01")));
        assert!(
            evaluations_owed(&s, "W2", d("2025-09-01"))
                .unwrap()
                .iter()
                .all(|o| o.dispatch.as_str() == "D3"),
            "another school owes only its own"
        );
        assert!(
            evaluations_owed(&s, "S1", d("2025-09-01"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_year_still_running_is_not_owed() {
        let s = hosted();
        // On 31 August 2024 the year 2023/24 has not ended: only 2022/23 of D2 is owed.
        let on_last_day = evaluations_owed(&s, "W1", d("2024-08-31")).unwrap();
        assert_eq!(pairs(&on_last_day), [("D2".to_string(), 2022)]);
        // The day after, it has.
        let next_day = evaluations_owed(&s, "W1", d("2024-09-01")).unwrap();
        assert_eq!(
            pairs(&next_day),
            [
                ("D1".to_string(), 2023),
                ("D2".to_string(), 2022),
                ("D2".to_string(), 2023),
            ]
        );
        // Before D1's evaluation takes effect, its 2022 is owed too.
        let before_grade = evaluations_owed(&s, "W1", d("2023-09-30")).unwrap();
        assert_eq!(
            pairs(&before_grade),
            [("D1".to_string(), 2022), ("D2".to_string(), 2022)]
        );
        // Nothing before any year has ended.
        assert!(
            evaluations_owed(&s, "W1", d("2023-08-31"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn an_evaluation_clears_what_is_owed() {
        let mut appends = vec![world()];
        appends.push(vec![dispatch("D1", "T1", "S1", "W1", "2022-09-01")]);
        appends.push(vec![
            eval("D1", "W1", 2022, "pass", "2023-07-01"),
            eval("D1", "W1", 2023, "pass", "2024-07-01"),
        ]);
        let s = accepted(appends);
        assert!(
            evaluations_owed(&s, "W1", d("2024-09-01"))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            evaluations_owed(&s, "W9", d("2024-09-01")).unwrap_err(),
            QueryError::UnknownSchool("W9".into())
        );
    }
}
