//! School quotas (SPEC 4.4, seeds 001 and 002): per school with a quota duty and school year,
//! the teachers who meet rotation conditions (符合交流轮岗条件), the rotation outflow against
//! `min_outflow_ratio`, the key teachers among it against `min_key_teacher_share`, and seed
//! 002's key-teacher flag.
//!
//! Which schools carry the duty is the policy's `quota_duty`: strong schools under
//! `shanghai-2023`, strong or urban (not rural) ones under `national-2014`.
//!
//! The registry side of a quota is fixed on **1 September** of the school year Y (the home
//! school, tenure, retirement dates, standing and the policy in force are all taken on that
//! day); the outflow grows through the year, so a quota asked as of a date counts the
//! rotation dispatches that started in Y on or before that date.
//!
//! All arithmetic is exact ([`Ratio`] in basis points; `ceil` in integers): 10 of 50 meets
//! 20%, 9 of 50 misses 1, and 47 eligible need 10.

use chrono::NaiveDate;

use super::calendar::add_years;
use super::duty::retirement_exempt;
use super::id::Id;
use super::policy::Ratio;
use super::query::{QueryError, year_bounds};
use super::state::State;
use super::vocab::{DispatchKind, KeyLevel, KeyShareBasis, QuotaDuty, SchoolYear, Standing};

/// Why a teacher of the school on 1 September is not eligible for the year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotEligible {
    /// Tenure at the home school reaches `eligible_tenure_years` only on this later day
    /// (`None`: beyond the calendar).
    TenureShort(Option<NaiveDate>),
    /// On this dispatch, still open on 31 August of Y.
    OnDispatch(Id),
    /// Exempt: this known retirement date lies within `exempt_years_before_retirement` of
    /// 1 September (the duty list's exemption; the seeds take the quota over the teachers
    /// who meet rotation conditions).
    RetirementExempt(NaiveDate),
}

/// One rotation dispatch out of the school in the year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outflow {
    /// The dispatch.
    pub dispatch: Id,
    /// The teacher.
    pub teacher: Id,
    /// Where to.
    pub to_school: Id,
    /// First day.
    pub start_date: NaiveDate,
    /// The teacher's key-teacher level on the start date.
    pub key_level: KeyLevel,
    /// Whether that counts as a key teacher (any level above none).
    pub key: bool,
}

/// A school's quota position for one school year, as of a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolQuota {
    /// The school.
    pub school: Id,
    /// The school year.
    pub school_year: SchoolYear,
    /// The date asked about (outflow after it is not counted yet).
    pub as_of: NaiveDate,
    /// `quota_duty` in force on the reference date: which schools carry a quota.
    pub quota_duty: QuotaDuty,
    /// The school's standing on the reference date.
    pub standing: Standing,
    /// Whether the school is rural (乡村学校).
    pub rural: bool,
    /// 1 September of the year: the day the registry side is taken on.
    pub reference_date: NaiveDate,
    /// `min_outflow_ratio` in force on the reference date.
    pub min_outflow_ratio: Ratio,
    /// `min_key_teacher_share` in force on the reference date.
    pub min_key_teacher_share: Ratio,
    /// What the key-teacher share is taken over.
    pub key_share_basis: KeyShareBasis,
    /// `key_teacher_outflow_threshold` in force on the reference date.
    pub key_teacher_outflow_threshold: Ratio,
    /// The eligible teachers, by id.
    pub eligible: Vec<Id>,
    /// The school's other teachers on the reference date, with why they are not eligible.
    pub not_eligible: Vec<(Id, NotEligible)>,
    /// Rotation dispatches out of the school starting in the year, by start date.
    pub outflow: Vec<Outflow>,
    /// `ceil(min_outflow_ratio × eligible)`.
    pub required: u64,
    /// `max(0, required − outflow)`.
    pub missing: u64,
    /// Whether the outflow reaches `required` (true with nobody eligible: nothing is owed).
    pub outflow_met: bool,
    /// Key teachers among the outflow.
    pub key_outflow: u64,
    /// The denominator of the key-teacher share: the outflow, or the eligible teachers.
    pub key_basis: u64,
    /// `ceil(min_key_teacher_share × key_basis)`.
    pub key_required: u64,
    /// Whether `key_outflow / key_basis >= min_key_teacher_share` (never with a basis of 0).
    pub key_share_met: bool,
    /// Every teacher of the school on the reference date (eligible or not).
    pub school_teachers: u64,
    /// Seed 002's key teachers (区级以上骨干: district level or above) among them.
    pub district_key_teachers: u64,
    /// Seed 002: `district_key_teachers / school_teachers > key_teacher_outflow_threshold`.
    pub key_teacher_outflow_flag: bool,
}

/// Whether a school of `standing` (and `rural`) carries a quota under `duty`.
pub fn carries_quota(duty: QuotaDuty, standing: Option<Standing>, rural: bool) -> bool {
    match duty {
        QuotaDuty::Strong => standing == Some(Standing::Strong),
        QuotaDuty::StrongOrUrban => {
            standing == Some(Standing::Strong) || (standing.is_some() && !rural)
        }
    }
}

/// The quota of `school` for `year` as of `as_of`. The school must carry a quota on
/// 1 September of the year under the policy in force then (`quota_duty`).
pub fn school_quota(
    state: &State,
    school: &str,
    year: SchoolYear,
    as_of: NaiveDate,
) -> Result<SchoolQuota, QueryError> {
    let (first, last) = year_bounds(year)?;
    let s = state
        .school(school)
        .ok_or_else(|| QueryError::UnknownSchool(school.to_string()))?;
    let standing = s.standing.at(first).copied();
    let policy = state.policy_at(first);
    let Some(standing) = standing.filter(|_| carries_quota(policy.quota_duty, standing, s.rural))
    else {
        return Err(QueryError::NoQuotaDuty {
            school: school.to_string(),
            date: first,
            standing,
            rural: s.rural,
            duty: policy.quota_duty,
        });
    };
    // The day before 1 September: a dispatch still open then keeps its teacher out of the
    // count; one starting on 1 September is this year's outflow instead.
    let eve = first.pred_opt().unwrap_or(first);

    let mut eligible = Vec::new();
    let mut not_eligible = Vec::new();
    let mut school_teachers = 0u64;
    let mut district_key_teachers = 0u64;
    // By id, like `state.teachers()`, but only the school's own (at some date).
    for t in state.teachers_homed_at(&s.id) {
        let Some(home) = t.home.at(first) else {
            continue;
        };
        if home.school != s.id {
            continue;
        }
        school_teachers += 1;
        if t.key_level
            .at(first)
            .is_some_and(|k| *k >= KeyLevel::District)
        {
            district_key_teachers += 1;
        }
        let reached = add_years(home.since, policy.eligible_tenure_years);
        if reached.is_none_or(|r| r > first) {
            not_eligible.push((t.id.clone(), NotEligible::TenureShort(reached)));
            continue;
        }
        // The first by start (as `dispatches_of` orders them) of those serving on the eve.
        let open = state
            .dispatches_of_record(t)
            .filter(|d| d.serving_on(eve))
            .min_by_key(|d| (d.start_date, d.seq));
        if let Some(d) = open {
            not_eligible.push((t.id.clone(), NotEligible::OnDispatch(d.id.clone())));
            continue;
        }
        // The duty list's exemption, taken on the same day as the rest of the basis.
        if let Some(r) = t.retirement.at(first).copied().flatten()
            && retirement_exempt(first, r, policy.exempt_years_before_retirement)
        {
            not_eligible.push((t.id.clone(), NotEligible::RetirementExempt(r)));
            continue;
        }
        eligible.push(t.id.clone());
    }

    let until = as_of.min(last);
    let mut outflow: Vec<Outflow> = state
        .dispatches_at(&s.id)
        .filter(|d| {
            d.kind == DispatchKind::Rotation
                && d.from_school == s.id
                && d.start_date >= first
                && d.start_date <= until
        })
        .map(|d| {
            let key_level = state
                .teacher(d.teacher.as_str())
                .and_then(|t| t.key_level.at(d.start_date).copied())
                .unwrap_or(KeyLevel::None);
            Outflow {
                dispatch: d.id.clone(),
                teacher: d.teacher.clone(),
                to_school: d.to_school.clone(),
                start_date: d.start_date,
                key_level,
                key: key_level.is_key(),
            }
        })
        .collect();
    outflow.sort_by(|a, b| (a.start_date, &a.dispatch).cmp(&(b.start_date, &b.dispatch)));

    let n_eligible = eligible.len() as u64;
    let n_out = outflow.len() as u64;
    let required = policy.min_outflow_ratio.ceil_of(n_eligible);
    let key_outflow = outflow.iter().filter(|o| o.key).count() as u64;
    let key_basis = match policy.key_share_basis {
        KeyShareBasis::OverRotated => n_out,
        KeyShareBasis::OverEligible => n_eligible,
    };
    Ok(SchoolQuota {
        school: s.id.clone(),
        school_year: year,
        as_of,
        quota_duty: policy.quota_duty,
        standing,
        rural: s.rural,
        reference_date: first,
        min_outflow_ratio: policy.min_outflow_ratio,
        min_key_teacher_share: policy.min_key_teacher_share,
        key_share_basis: policy.key_share_basis,
        key_teacher_outflow_threshold: policy.key_teacher_outflow_threshold,
        eligible,
        not_eligible,
        outflow,
        required,
        missing: required.saturating_sub(n_out),
        outflow_met: n_out >= required,
        key_outflow,
        key_basis,
        key_required: policy.min_key_teacher_share.ceil_of(key_basis),
        key_share_met: policy.min_key_teacher_share.met_by(key_outflow, key_basis),
        school_teachers,
        district_key_teachers,
        key_teacher_outflow_flag: policy
            .key_teacher_outflow_threshold
            .exceeded_by(district_key_teachers, school_teachers),
    })
}

#[cfg(test)]
mod tests {
    use super::super::projkit::{Reg, rotate, staff};
    use super::super::testkit::*;
    use super::*;
    use crate::domain::event::Event;

    fn base() -> Vec<Event> {
        vec![
            school("Q", "strong", "primary", false),
            school("W1", "weak", "primary", false),
            school("R1", "ordinary", "primary", true),
        ]
    }

    fn quota(given: Vec<Event>, year: i32, as_of: &str) -> Result<SchoolQuota, QueryError> {
        let mut evs = base();
        evs.extend(given);
        let s = apply_all(State::new(), &evs);
        school_quota(&s, "Q", SchoolYear(year), d(as_of))
    }

    /// (required, missing, outflow_met, key_required, key_share_met)
    type Numbers = (u64, u64, bool, u64, bool);

    fn numbers(q: &SchoolQuota) -> Numbers {
        (
            q.required,
            q.missing,
            q.outflow_met,
            q.key_required,
            q.key_share_met,
        )
    }

    #[test]
    fn outflow_and_key_share_at_their_edges() {
        // (case, eligible, rotated out on 1 September, key teachers among them, then)
        let cases: &[(&str, usize, usize, usize, Numbers)] = &[
            ("10 of 50 meets 20%", 50, 10, 3, (10, 0, true, 3, true)),
            ("9 of 50 misses 1", 50, 9, 3, (10, 1, false, 3, true)),
            ("47 eligible need 10", 47, 0, 0, (10, 10, false, 0, false)),
            ("47 eligible, 10 out", 47, 10, 2, (10, 0, true, 3, false)),
            ("key share exactly 30%", 20, 10, 3, (4, 0, true, 3, true)),
            (
                "key share 2 of 7 under 30%",
                30,
                7,
                2,
                (6, 0, true, 3, false),
            ),
            (
                "no outflow: share not met",
                5,
                0,
                0,
                (1, 1, false, 0, false),
            ),
            ("45 eligible need 9", 45, 9, 9, (9, 0, true, 3, true)),
        ];
        for (name, n, out, key, expect) in cases {
            let mut evs = staff("T", "Q", *n, *key, "school");
            evs.extend(rotate("T", "Q", "W1", *out, "2024-09-01"));
            let q = quota(evs, 2024, "2025-08-31").unwrap();
            assert_eq!(q.eligible.len(), *n, "{name}: eligible");
            assert_eq!(q.outflow.len(), *out, "{name}: outflow");
            assert_eq!(q.key_outflow, *key as u64, "{name}: key outflow");
            assert_eq!(numbers(&q), *expect, "{name}");
        }
        let empty = quota(vec![], 2024, "2025-08-31").unwrap();
        assert_eq!(numbers(&empty), (0, 0, true, 0, false), "nobody eligible");
    }

    #[test]
    fn eligibility_on_the_first_of_september() {
        let mut evs = vec![
            Reg::new("SIX", "Q", "2018-09-01").event(),
            Reg::new("SHORT", "Q", "2018-09-02").event(),
            Reg::new("OPEN", "Q", "2010-01-01").event(),
            Reg::new("BACK31", "Q", "2010-01-01").event(),
            Reg::new("BACK01", "Q", "2010-01-01").event(),
            Reg::new("SEPT", "Q", "2010-01-01").event(),
            Reg::new("GONE", "Q", "2010-01-01").event(),
            Reg::new("LATE", "W1", "2010-01-01").event(),
        ];
        evs.extend([
            dispatch("D-OPEN", "OPEN", "Q", "W1", "2023-09-01"),
            dispatch("D-B31", "BACK31", "Q", "W1", "2023-09-01"),
            ret("D-B31", "2024-08-31", "health"),
            dispatch("D-B01", "BACK01", "Q", "W1", "2023-09-01"),
            ret("D-B01", "2024-09-01", "term_completed"),
            dispatch("D-SEPT", "SEPT", "Q", "W1", "2024-09-01"),
            transfer("GONE", "W1", "2024-08-31"),
            transfer("LATE", "Q", "2010-01-01"),
        ]);
        let q = quota(evs, 2024, "2025-08-31").unwrap();
        let ids = |v: &[Id]| v.iter().map(|i| i.to_string()).collect::<Vec<_>>();
        assert_eq!(ids(&q.eligible), ["BACK31", "LATE", "SEPT", "SIX"]);
        assert_eq!(
            q.not_eligible,
            vec![
                (
                    Id::new("BACK01").unwrap(),
                    NotEligible::OnDispatch(Id::new("D-B01").unwrap())
                ),
                (
                    Id::new("OPEN").unwrap(),
                    NotEligible::OnDispatch(Id::new("D-OPEN").unwrap())
                ),
                (
                    Id::new("SHORT").unwrap(),
                    NotEligible::TenureShort(Some(d("2024-09-02")))
                ),
            ]
        );
        assert_eq!(q.school_teachers, 7);
        assert_eq!(
            q.outflow
                .iter()
                .map(|o| o.dispatch.to_string())
                .collect::<Vec<_>>(),
            ["D-SEPT"],
            "a dispatch starting on 1 September is this year's outflow"
        );
    }

    #[test]
    fn outflow_counts_rotations_started_in_the_year_up_to_the_date() {
        let mut evs = staff("T", "Q", 10, 0, "none");
        evs.extend([
            dispatch("A", "T1", "Q", "W1", "2024-09-01"),
            dispatch("B", "T2", "Q", "W1", "2025-03-01"),
            dispatch("C", "T3", "Q", "W1", "2025-09-01"),
            dispatch("E", "T5", "Q", "W1", "2024-08-31"),
            dispatch_kind("F", "T4", "Q", "R1", "2024-10-01", "support", None),
        ]);
        let out = |as_of: &str| {
            quota(evs.clone(), 2024, as_of)
                .unwrap()
                .outflow
                .iter()
                .map(|o| o.dispatch.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(out("2025-08-31"), ["A", "B"]);
        assert_eq!(out("2026-12-31"), ["A", "B"]);
        assert_eq!(out("2025-02-28"), ["A"]);
        assert_eq!(out("2024-08-31"), Vec::<String>::new());
        // E was open on 31 August: its teacher is out of the count.
        assert_eq!(quota(evs, 2024, "2025-08-31").unwrap().eligible.len(), 9);
    }

    #[test]
    fn key_teacher_outflow_flag_at_fifteen_percent() {
        // (case, teachers, of them key, level, flagged)
        let cases = [
            ("3 of 20 is exactly 15%", 20, 3, "district", false),
            ("4 of 20 exceeds 15%", 20, 4, "city", true),
            (
                "school-level key teachers do not count",
                20,
                4,
                "school",
                false,
            ),
            ("1 of 6", 6, 1, "district", true),
        ];
        for (name, n, key, level, flagged) in cases {
            let q = quota(staff("T", "Q", n, key, level), 2024, "2024-09-01").unwrap();
            assert_eq!(q.key_teacher_outflow_flag, flagged, "{name}");
            let counted = if level == "school" { 0 } else { key };
            assert_eq!(q.district_key_teachers, counted as u64, "{name}");
        }
        // The threshold is a parameter.
        let mut evs = staff("T", "Q", 20, 4, "city");
        evs.push(policy(
            "shanghai-2023",
            r#"{"key_teacher_outflow_threshold":"0.2"}"#,
            "2024-01-01",
        ));
        assert!(
            !quota(evs, 2024, "2024-09-01")
                .unwrap()
                .key_teacher_outflow_flag
        );
    }

    #[test]
    fn policy_in_force_on_the_first_of_september() {
        let with = |p: Event| {
            let mut evs = staff("T", "Q", 50, 3, "district");
            evs.extend(rotate("T", "Q", "W1", 10, "2024-09-01"));
            evs.push(p);
            numbers(&quota(evs, 2024, "2025-08-31").unwrap())
        };
        assert_eq!(
            with(policy("national-2014", "{}", "2024-09-01")),
            (5, 0, true, 2, true)
        );
        assert_eq!(
            with(policy("national-2014", "{}", "2024-09-02")),
            (10, 0, true, 3, true),
            "adopted a day late: next year"
        );
        // Anhui: key teachers over the eligible, not over the rotated.
        let over = with(policy(
            "shanghai-2023",
            r#"{"key_share_basis":"over_eligible"}"#,
            "2024-01-01",
        ));
        assert_eq!(over, (10, 0, true, 15, false));
    }

    #[test]
    fn only_strong_schools_have_quotas() {
        let evs = vec![
            standing("Q", "ordinary", "2020-01-01"),
            standing("Q", "strong", "2024-09-02"),
        ];
        assert_eq!(
            quota(evs.clone(), 2024, "2025-08-31").unwrap_err(),
            QueryError::NoQuotaDuty {
                school: "Q".into(),
                date: d("2024-09-01"),
                standing: Some(Standing::Ordinary),
                rural: false,
                duty: QuotaDuty::Strong,
            }
        );
        assert!(quota(evs, 2025, "2025-09-01").is_ok());
        let s = apply_all(State::new(), &base());
        assert_eq!(
            school_quota(&s, "Z", SchoolYear(2024), d("2025-01-01")).unwrap_err(),
            QueryError::UnknownSchool("Z".into())
        );
        assert_eq!(
            school_quota(&s, "Q", SchoolYear(i32::MAX), d("2025-01-01")).unwrap_err(),
            QueryError::YearOutOfRange(SchoolYear(i32::MAX))
        );
    }
}
