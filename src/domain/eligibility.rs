//! Promotion-credit eligibility (SPEC 4.3): per teacher as of a date, each credit with its
//! reasons (days served, days missing, grades seen). Rules 5 and 6 judge promotions with it.
//!
//! - **rotation credit** (`title`, `rank` promotions): a `rotation`/`support` dispatch that
//!   has reached its min_end and was not returned early, evaluated at least once by the
//!   receiving school, never below `rotation_credit_min_grade`.
//! - **leadership credit** (提任校级干部, "学区、集团内2年交流轮岗工作经历"): days served on
//!   `rotation`/`support` dispatches to a school sharing a district or group with the sending
//!   (home) school on the start date, at least `leadership_min_years` × 365.
//! - **returning mentor** (考核优良者回原校承担教学管理职责): an ended `training` dispatch whose
//!   latest evaluation is at least `training_credit_min_grade`. Reported, not a precondition.
//! - **senior-title precondition** (到乡村学校、薄弱学校任教一年以上): days served at schools
//!   that were weak or rural on the dispatch's start date, over all dispatches, at least
//!   `senior_title_min_rural_or_weak_days`.
//!
//! Every figure uses the policy in force on the as-of date, except a term's min_end, which
//! is fixed by the policy in force when the dispatch started.

use chrono::NaiveDate;

use super::calendar::days_served;
use super::id::Id;
use super::state::{Dispatch, State};
use super::vocab::{DispatchKind, Grade, PromotionKind, SchoolYear, Standing, Title};

/// One dispatch as the rotation-credit rule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermCheck {
    /// The dispatch.
    pub dispatch: Id,
    /// Its kind.
    pub kind: DispatchKind,
    /// Receiving school.
    pub to_school: Id,
    /// Start.
    pub start_date: NaiveDate,
    /// Minimum end.
    pub min_end: Option<NaiveDate>,
    /// Return date, if effective as of the date asked.
    pub end: Option<NaiveDate>,
    /// Days served as of the date asked.
    pub days_served: i64,
    /// Whether min_end is on or before the date asked.
    pub reached_min_end: bool,
    /// Whether it ended before its min_end.
    pub returned_early: bool,
    /// Evaluations by the receiving school effective as of the date asked.
    pub grades: Vec<(SchoolYear, Grade)>,
    /// Whether this dispatch gives the credit.
    pub qualifies: bool,
}

/// Rotation credit, with the dispatches looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationCredit {
    /// Whether the credit is earned.
    pub met: bool,
    /// The lowest grade compatible with it.
    pub min_grade: Grade,
    /// Every rotation or support dispatch, with why it does or does not qualify.
    pub dispatches: Vec<TermCheck>,
}

/// A credit measured in days served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCredit {
    /// Whether enough days were served.
    pub met: bool,
    /// Days served on the dispatches that count.
    pub days_served: i64,
    /// Days required.
    pub days_required: i64,
    /// Days still missing (0 when met).
    pub days_missing: i64,
    /// The dispatches that count, with their days.
    pub counted: Vec<(Id, i64)>,
}

impl ServiceCredit {
    fn new(counted: Vec<(Id, i64)>, days_required: i64) -> ServiceCredit {
        let days_served: i64 = counted.iter().map(|(_, n)| n).sum();
        ServiceCredit {
            met: days_served >= days_required,
            days_served,
            days_required,
            days_missing: (days_required - days_served).max(0),
            counted,
        }
    }
}

/// One training dispatch as the returning-mentor rule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentorCheck {
    /// The dispatch.
    pub dispatch: Id,
    /// Whether it has ended as of the date asked.
    pub ended: bool,
    /// Its latest evaluation as of the date asked.
    pub latest: Option<(SchoolYear, Grade)>,
    /// Whether it gives the credit.
    pub qualifies: bool,
}

/// Returning-mentor credit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentorCredit {
    /// Whether the credit is earned.
    pub met: bool,
    /// The lowest latest grade compatible with it.
    pub min_grade: Grade,
    /// Every training dispatch.
    pub dispatches: Vec<MentorCheck>,
}

/// A teacher's promotion-credit eligibility as of a date, with the reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eligibility {
    /// The teacher.
    pub teacher: Id,
    /// The date asked about.
    pub as_of: NaiveDate,
    /// Rotation credit (title and rank promotions).
    pub rotation: RotationCredit,
    /// Leadership credit.
    pub leadership: ServiceCredit,
    /// Returning-mentor credit.
    pub returning_mentor: MentorCredit,
    /// Senior-title precondition.
    pub senior_title: ServiceCredit,
}

/// The eligibility of `teacher` as of `as_of`; `None` for an unknown teacher.
pub fn eligibility(state: &State, teacher: &str, as_of: NaiveDate) -> Option<Eligibility> {
    let t = state.teacher(teacher)?;
    let policy = state.policy_at(as_of);
    let dispatches: Vec<&Dispatch> = state
        .dispatches_of(teacher)
        .into_iter()
        .filter(|d| d.start_date <= as_of)
        .collect();

    let rotation_checks: Vec<TermCheck> = dispatches
        .iter()
        .filter(|d| d.kind.earns_rotation_credit())
        .map(|d| {
            let min_end = state.min_end(d);
            let end = d.end_as_of(as_of);
            let reached = min_end.is_some_and(|m| m <= as_of);
            let early = match (end, min_end) {
                (Some(e), Some(m)) => e < m,
                (Some(_), None) => true,
                _ => false,
            };
            let grades: Vec<(SchoolYear, Grade)> = d
                .evaluations_as_of(as_of)
                .filter(|e| e.school == d.to_school)
                .map(|e| (e.school_year, e.grade))
                .collect();
            let qualifies = reached
                && !early
                && !grades.is_empty()
                && grades
                    .iter()
                    .all(|(_, g)| *g >= policy.rotation_credit_min_grade);
            TermCheck {
                dispatch: d.id.clone(),
                kind: d.kind,
                to_school: d.to_school.clone(),
                start_date: d.start_date,
                min_end,
                end,
                days_served: days_served(d.start_date, end, as_of),
                reached_min_end: reached,
                returned_early: early,
                grades,
                qualifies,
            }
        })
        .collect();

    let leadership = dispatches
        .iter()
        .filter(|d| {
            d.kind.earns_rotation_credit()
                && state.share_group(&d.from_school, &d.to_school, d.start_date)
        })
        .map(|d| {
            (
                d.id.clone(),
                days_served(d.start_date, d.end_as_of(as_of), as_of),
            )
        })
        .collect();

    let senior = dispatches
        .iter()
        .filter(|d| {
            state
                .school(&d.to_school)
                .is_some_and(|s| s.rural || s.standing.at(d.start_date) == Some(&Standing::Weak))
        })
        .map(|d| {
            (
                d.id.clone(),
                days_served(d.start_date, d.end_as_of(as_of), as_of),
            )
        })
        .collect();

    let mentor: Vec<MentorCheck> = dispatches
        .iter()
        .filter(|d| d.kind == DispatchKind::Training)
        .map(|d| {
            let ended = d.end_as_of(as_of).is_some();
            let latest = d
                .evaluations_as_of(as_of)
                .filter(|e| e.school == d.to_school)
                .max_by_key(|e| (e.school_year, e.seq))
                .map(|e| (e.school_year, e.grade));
            MentorCheck {
                dispatch: d.id.clone(),
                ended,
                latest,
                qualifies: ended
                    && latest.is_some_and(|(_, g)| g >= policy.training_credit_min_grade),
            }
        })
        .collect();

    Some(Eligibility {
        teacher: t.id.clone(),
        as_of,
        rotation: RotationCredit {
            met: rotation_checks.iter().any(|c| c.qualifies),
            min_grade: policy.rotation_credit_min_grade,
            dispatches: rotation_checks,
        },
        leadership: ServiceCredit::new(leadership, i64::from(policy.leadership_min_years) * 365),
        returning_mentor: MentorCredit {
            met: mentor.iter().any(|c| c.qualifies),
            min_grade: policy.training_credit_min_grade,
            dispatches: mentor,
        },
        senior_title: ServiceCredit::new(
            senior,
            i64::from(policy.senior_title_min_rural_or_weak_days),
        ),
    })
}

/// Why a promotion is not allowed (rules 5 and 6): the rule code, a message, the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionProblem {
    /// `promotion.rotation_credit`, `promotion.leadership_credit` or `promotion.senior_title`.
    pub rule: &'static str,
    /// What a person can act on.
    pub message: String,
    /// The values involved.
    pub values: Vec<(String, String)>,
}

/// Judges a promotion of `teacher` on `date` (rules 5 and 6) against `state`.
pub fn judge_promotion(
    state: &State,
    teacher: &str,
    kind: PromotionKind,
    title: Option<Title>,
    date: NaiveDate,
    rotation_credit: bool,
) -> Result<(), PromotionProblem> {
    let Some(e) = eligibility(state, teacher, date) else {
        return Ok(());
    };
    if title.is_some_and(|t| t >= Title::Senior) && !e.senior_title.met {
        let s = &e.senior_title;
        return Err(PromotionProblem {
            rule: "promotion.senior_title",
            message: format!(
                "a senior title needs {} days at weak or rural schools; {teacher} has served {} \
                 as of {date}, {} missing",
                s.days_required, s.days_served, s.days_missing
            ),
            values: service_values(teacher, date, s),
        });
    }
    if !rotation_credit {
        return Ok(());
    }
    match kind {
        PromotionKind::Title | PromotionKind::Rank if !e.rotation.met => {
            let r = &e.rotation;
            let why = if r.dispatches.is_empty() {
                "no rotation or support dispatch".to_string()
            } else {
                r.dispatches
                    .iter()
                    .map(|c| {
                        let mut parts = Vec::new();
                        if !c.reached_min_end {
                            parts.push(format!(
                                "min_end {} not reached",
                                c.min_end.map(|d| d.to_string()).unwrap_or_default()
                            ));
                        }
                        if c.returned_early {
                            parts.push("returned early".to_string());
                        }
                        if c.grades.is_empty() {
                            parts.push("no evaluation by the receiving school".to_string());
                        }
                        if let Some((y, g)) = c.grades.iter().find(|(_, g)| *g < r.min_grade) {
                            parts.push(format!("graded {g} for {}", y.0));
                        }
                        format!("{}: {}", c.dispatch, parts.join(", "))
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            Err(PromotionProblem {
                rule: "promotion.rotation_credit",
                message: format!(
                    "{teacher} has no rotation credit on {date} ({why}); claim no credit or \
                     record the missing return/evaluation first"
                ),
                values: vec![
                    ("teacher".into(), teacher.into()),
                    ("date".into(), date.to_string()),
                    ("min_grade".into(), r.min_grade.to_string()),
                    ("dispatches".into(), r.dispatches.len().to_string()),
                ],
            })
        }
        PromotionKind::Leadership if !e.leadership.met => Err(PromotionProblem {
            rule: "promotion.leadership_credit",
            message: format!(
                "leadership credit needs {} days of rotation inside the district or group; \
                 {teacher} has served {} as of {date}, {} missing",
                e.leadership.days_required, e.leadership.days_served, e.leadership.days_missing
            ),
            values: service_values(teacher, date, &e.leadership),
        }),
        _ => Ok(()),
    }
}

fn service_values(teacher: &str, date: NaiveDate, s: &ServiceCredit) -> Vec<(String, String)> {
    vec![
        ("teacher".into(), teacher.into()),
        ("date".into(), date.to_string()),
        ("days_served".into(), s.days_served.to_string()),
        ("days_required".into(), s.days_required.to_string()),
        ("days_missing".into(), s.days_missing.to_string()),
    ]
}
