//! The credits of a teacher summed over the districts' logs (docs/CITY.md, "Eligibility
//! across districts"): plain functions over each log's own judgement, no I/O.
//!
//! Each district judges the dispatches it recorded under the policy it has in force, as its
//! own Query.Eligibility does; the city view neither re-judges nor second-guesses them. What
//! it adds is the sum: days served on rotations that count for leadership, and days at weak
//! or rural schools for the senior-title precondition ("到乡村学校、薄弱学校任教一年以上" is a
//! career's total, wherever it was served), and any qualifying dispatch for the rotation and
//! returning-mentor credits. The days required are those of the teacher's home log today: the
//! one whose home school for the teacher is the most recent.

use chrono::NaiveDate;

use crate::domain::eligibility::{Eligibility, ServiceCredit};

/// An id of one log written so it cannot be taken for another log's: `id@origin`.
pub fn qualified(id: &str, origin: &str) -> String {
    format!("{id}@{origin}")
}

/// One log's judgement of the teacher.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    /// The log's origin.
    pub origin: &'a str,
    /// Since when the teacher's home school in that log is their home school (None: the
    /// log holds no home school for them, e.g. a voided registration).
    pub home_since: Option<NaiveDate>,
    /// The log's eligibility of the teacher.
    pub eligibility: &'a Eligibility,
}

/// Days summed over the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summed {
    /// Whether enough days were served.
    pub met: bool,
    /// The days each log counts, summed.
    pub days_served: i64,
    /// The home log's requirement.
    pub days_required: i64,
    /// Still missing (0 when met).
    pub days_missing: i64,
    /// The dispatches counted (`id@origin`), with their days.
    pub counted: Vec<(String, i64)>,
}

/// The credits over all logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CityCredits {
    /// The origin of the home log.
    pub home_origin: String,
    /// Rotation credit: a dispatch qualifies in some log.
    pub rotation_met: bool,
    /// The dispatches that qualify (`id@origin`).
    pub rotation_dispatches: Vec<String>,
    /// Leadership credit, summed.
    pub leadership: Summed,
    /// Returning mentor: met in some log.
    pub returning_mentor_met: bool,
    /// Senior-title precondition, summed.
    pub senior_title: Summed,
}

/// The part whose home school is the most recent (the first such part on a tie; the first
/// part when none has one). `None` only for no parts.
pub fn home<'a>(parts: &[Part<'a>]) -> Option<Part<'a>> {
    let mut best: Option<Part<'a>> = None;
    for p in parts {
        best = match best {
            None => Some(*p),
            Some(b) if p.home_since > b.home_since => Some(*p),
            b => b,
        };
    }
    best
}

/// Sums one service credit over the parts, against the home part's requirement.
fn summed(
    parts: &[Part<'_>],
    home: &Part<'_>,
    credit: fn(&Eligibility) -> &ServiceCredit,
) -> Summed {
    let mut counted = Vec::new();
    let mut days_served = 0i64;
    for p in parts {
        let c = credit(p.eligibility);
        days_served += c.days_served;
        counted.extend(
            c.counted
                .iter()
                .map(|(d, n)| (qualified(d.as_str(), p.origin), *n)),
        );
    }
    let days_required = credit(home.eligibility).days_required;
    Summed {
        met: days_served >= days_required,
        days_served,
        days_required,
        days_missing: (days_required - days_served).max(0),
        counted,
    }
}

/// The credits over `parts`; `None` for no parts.
pub fn combine(parts: &[Part<'_>]) -> Option<CityCredits> {
    let home = home(parts)?;
    let rotation_dispatches = parts
        .iter()
        .flat_map(|p| {
            p.eligibility
                .rotation
                .dispatches
                .iter()
                .filter(|t| t.qualifies)
                .map(|t| qualified(t.dispatch.as_str(), p.origin))
        })
        .collect::<Vec<_>>();
    Some(CityCredits {
        home_origin: home.origin.to_owned(),
        rotation_met: parts.iter().any(|p| p.eligibility.rotation.met),
        rotation_dispatches,
        leadership: summed(parts, &home, |e| &e.leadership),
        returning_mentor_met: parts.iter().any(|p| p.eligibility.returning_mentor.met),
        senior_title: summed(parts, &home, |e| &e.senior_title),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::eligibility::{MentorCredit, RotationCredit, TermCheck};
    use crate::domain::id::Id;
    use crate::domain::vocab::{DispatchKind, Grade};

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn credit(counted: &[(&str, i64)], required: i64) -> ServiceCredit {
        let served = counted.iter().map(|(_, n)| n).sum::<i64>();
        ServiceCredit {
            met: served >= required,
            days_served: served,
            days_required: required,
            days_missing: (required - served).max(0),
            counted: counted
                .iter()
                .map(|(d, n)| (Id::new(d).unwrap(), *n))
                .collect(),
        }
    }

    /// An eligibility with one rotation dispatch `rotation` (qualifying or not), weak-school
    /// days `weak` against `required`, and no leadership days against 730.
    fn judged(rotation: (&str, bool), weak: &[(&str, i64)], required: i64) -> Eligibility {
        Eligibility {
            teacher: Id::new("T1").unwrap(),
            as_of: day("2026-09-01"),
            rotation: RotationCredit {
                met: rotation.1,
                min_grade: Grade::Good,
                dispatches: vec![TermCheck {
                    dispatch: Id::new(rotation.0).unwrap(),
                    kind: DispatchKind::Rotation,
                    to_school: Id::new("S2").unwrap(),
                    start_date: day("2023-09-01"),
                    min_end: None,
                    end: None,
                    days_served: 0,
                    reached_min_end: false,
                    returned_early: false,
                    grades: vec![],
                    qualifies: rotation.1,
                }],
            },
            leadership: credit(&[], 730),
            returning_mentor: MentorCredit {
                met: false,
                min_grade: Grade::Good,
                dispatches: vec![],
            },
            senior_title: credit(weak, required),
        }
    }

    #[test]
    fn days_at_weak_schools_add_up_across_districts_against_the_home_requirement() {
        let a = judged(("D1", false), &[("D1", 200)], 365);
        let b = judged(("D9", false), &[("D9", 200)], 400);
        let parts = [
            Part {
                origin: "district-a",
                home_since: Some(day("2010-09-01")),
                eligibility: &a,
            },
            Part {
                origin: "district-b",
                home_since: Some(day("2025-02-01")),
                eligibility: &b,
            },
        ];
        assert!(!a.senior_title.met && !b.senior_title.met);
        let c = combine(&parts).unwrap();
        assert_eq!(c.home_origin, "district-b");
        assert_eq!(
            c.senior_title,
            Summed {
                met: true,
                days_served: 400,
                days_required: 400,
                days_missing: 0,
                counted: vec![("D1@district-a".into(), 200), ("D9@district-b".into(), 200)],
            }
        );
        assert!(!c.leadership.met);
        assert_eq!(c.leadership.days_missing, 730);
        assert!(!c.rotation_met);
        assert!(c.rotation_dispatches.is_empty());
    }

    #[test]
    fn a_qualifying_dispatch_in_one_district_gives_the_rotation_credit() {
        let a = judged(("D1", true), &[], 365);
        let b = judged(("D9", false), &[], 365);
        let parts = [
            Part {
                origin: "a",
                home_since: Some(day("2025-02-01")),
                eligibility: &a,
            },
            Part {
                origin: "b",
                home_since: Some(day("2025-02-01")),
                eligibility: &b,
            },
        ];
        let c = combine(&parts).unwrap();
        assert!(c.rotation_met);
        assert_eq!(c.rotation_dispatches, vec!["D1@a".to_owned()]);
        // A tie on the home school's date: the first log given.
        assert_eq!(c.home_origin, "a");
        assert!(!c.senior_title.met);
        assert_eq!(c.senior_title.days_missing, 365);
    }

    #[test]
    fn no_parts_no_credits_and_a_part_without_home_is_never_preferred() {
        assert!(combine(&[]).is_none());
        let a = judged(("D1", false), &[], 365);
        let parts = [
            Part {
                origin: "a",
                home_since: None,
                eligibility: &a,
            },
            Part {
                origin: "b",
                home_since: Some(day("2001-01-01")),
                eligibility: &a,
            },
        ];
        assert_eq!(home(&parts).unwrap().origin, "b");
        assert_eq!(qualified("S014", "district-b"), "S014@district-b");
    }
}
