//! School quotas (SPEC 4.4, seeds 001 and 002): per `strong` school and school year, the
//! teachers eligible to rotate, the rotation outflow against `min_outflow_ratio`, the key
//! teachers among it against `min_key_teacher_share`, and seed 002's key-teacher flag.
//!
//! The registry side of a quota is fixed on **1 September** of the school year Y (the home
//! school, tenure, standing and the policy in force are all taken on that day); the outflow
//! grows through the year, so a quota asked as of a date counts the rotation dispatches that
//! started in Y on or before that date.
//!
//! All arithmetic is exact ([`Ratio`] in basis points; `ceil` in integers): 10 of 50 meets
//! 20%, 9 of 50 misses 1, and 47 eligible need 10.

use chrono::NaiveDate;

use super::calendar::add_years;
use super::id::Id;
use super::policy::Ratio;
use super::query::QueryError;
use super::state::State;
use super::vocab::{DispatchKind, KeyLevel, KeyShareBasis, SchoolYear, Standing};

/// Why a teacher of the school on 1 September is not eligible for the year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotEligible {
    /// Tenure at the home school reaches `eligible_tenure_years` only on this later day
    /// (`None`: beyond the calendar).
    TenureShort(Option<NaiveDate>),
    /// On this dispatch, still open on 31 August of Y.
    OnDispatch(Id),
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

/// A strong school's quota position for one school year, as of a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolQuota {
    /// The school.
    pub school: Id,
    /// The school year.
    pub school_year: SchoolYear,
    /// The date asked about (outflow after it is not counted yet).
    pub as_of: NaiveDate,
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

/// The quota of `school` for `year` as of `as_of`. The school must be `strong` on
/// 1 September of the year.
pub fn school_quota(
    state: &State,
    school: &str,
    year: SchoolYear,
    as_of: NaiveDate,
) -> Result<SchoolQuota, QueryError> {
    let (first, last) = match (year.first_day(), year.last_day()) {
        (Some(f), Some(l)) => (f, l),
        _ => return Err(QueryError::YearOutOfRange(year)),
    };
    let s = state
        .school(school)
        .ok_or_else(|| QueryError::UnknownSchool(school.to_string()))?;
    let standing = s.standing.at(first).copied();
    if standing != Some(Standing::Strong) {
        return Err(QueryError::NotStrong {
            school: school.to_string(),
            date: first,
            standing,
        });
    }
    let policy = state.policy_at(first);
    // The day before 1 September: a dispatch still open then keeps its teacher out of the
    // count; one starting on 1 September is this year's outflow instead.
    let eve = first.pred_opt().unwrap_or(first);

    let mut eligible = Vec::new();
    let mut not_eligible = Vec::new();
    let mut school_teachers = 0u64;
    let mut district_key_teachers = 0u64;
    for t in state.teachers() {
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
        let open = state
            .dispatches_of(t.id.as_str())
            .into_iter()
            .find(|d| d.serving_on(eve));
        if let Some(d) = open {
            not_eligible.push((t.id.clone(), NotEligible::OnDispatch(d.id.clone())));
            continue;
        }
        eligible.push(t.id.clone());
    }

    let until = as_of.min(last);
    let mut outflow: Vec<Outflow> = state
        .dispatches()
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
