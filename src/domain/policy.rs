//! The policy: every number SPEC gives, as a parameter with a default, named presets
//! (`shanghai-2023`, `national-2014`) and overrides carried by `policy_adopted` events.
//!
//! Ratios are [`Ratio`]s in basis points, never floats, so the quota edges are exact
//! (20% of 50 is 10, not 9.999...).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::{DecodeError, Fields, kind};
use super::id::Id;
use super::vocab::{Grade, KeyShareBasis, QuotaDuty, ReturnReason, Vocabulary};

/// A proportion between 0 and 1 in basis points (1/10000), exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ratio(u32);

impl Ratio {
    /// The whole.
    pub const ONE: Ratio = Ratio(10_000);

    /// From basis points (`2000` is 20%); `None` above 10000.
    pub fn from_basis_points(bp: u32) -> Option<Ratio> {
        (bp <= 10_000).then_some(Ratio(bp))
    }

    /// The basis points.
    pub fn basis_points(self) -> u32 {
        self.0
    }

    /// Parses a decimal between 0 and 1 with at most four decimals (`"0.2"`, `"0.15"`, `"1"`).
    pub fn parse(s: &str) -> Option<Ratio> {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty() || frac.len() > 4 || s.ends_with('.') {
            return None;
        }
        if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let int: u32 = int.parse().ok()?;
        if int > 1 {
            return None;
        }
        let mut bp = int * 10_000;
        let mut scale = 1000;
        for b in frac.bytes() {
            bp += u32::from(b - b'0') * scale;
            scale /= 10;
        }
        Ratio::from_basis_points(bp)
    }

    /// `ceil(self × n)`, exactly: the smallest count that reaches the ratio of `n`.
    pub fn ceil_of(self, n: u64) -> u64 {
        // In u128: no count can overflow it, and the result is at most `n`.
        u64::try_from((u128::from(self.0) * u128::from(n)).div_ceil(10_000)).unwrap_or(n)
    }

    /// Whether `num / den >= self`; false when `den` is 0.
    pub fn met_by(self, num: u64, den: u64) -> bool {
        den > 0 && u128::from(num) * 10_000 >= u128::from(self.0) * u128::from(den)
    }

    /// Whether `num / den > self`; false when `den` is 0.
    pub fn exceeded_by(self, num: u64, den: u64) -> bool {
        den > 0 && u128::from(num) * 10_000 > u128::from(self.0) * u128::from(den)
    }
}

impl std::fmt::Display for Ratio {
    /// The shortest decimal: `0.2`, `0.15`, `1`, `0`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let int = self.0 / 10_000;
        let frac = self.0 % 10_000;
        if frac == 0 {
            return write!(f, "{int}");
        }
        let s = format!("{frac:04}");
        write!(f, "{int}.{}", s.trim_end_matches('0'))
    }
}

impl Serialize for Ratio {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ratio {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::binary::from_text(d, "ratio", |s| {
            Ratio::parse(s).ok_or_else(|| "not a decimal between 0 and 1".into())
        })
    }
}

/// A named preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Preset {
    /// 沪教委基〔2023〕15号 (seed 001): the default.
    Shanghai2023,
    /// The national 2014 opinion: outflow >= 10%, key teachers >= 20% of those rotated.
    National2014,
}

impl Vocabulary for Preset {
    const ALL: &'static [Preset] = &[Preset::Shanghai2023, Preset::National2014];
    fn as_str(self) -> &'static str {
        match self {
            Preset::Shanghai2023 => "shanghai-2023",
            Preset::National2014 => "national-2014",
        }
    }
}

impl Serialize for Preset {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Preset {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::binary::from_text(d, "preset", |s| {
            Preset::parse(s).ok_or_else(|| format!("not one of {}", Preset::spellings()))
        })
    }
}

/// Every parameter of SPEC, in force from some date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Minimum term of a dispatch, in years (流动期限不少于3年).
    pub min_term_years: u32,
    /// Dispatches needed to create a team (组团流入 >= 3).
    pub min_team_size: u32,
    /// Most events in one append.
    pub max_events_per_append: u32,
    /// Early-return reasons that do not count against the teacher.
    pub early_return_exempt_reasons: Vec<ReturnReason>,
    /// The 学业水平考试 scored subjects a team to a weak junior-secondary school should cover.
    pub scored_subjects: Vec<Id>,
    /// Lowest evaluation grade compatible with rotation credit.
    pub rotation_credit_min_grade: Grade,
    /// Years of rotation inside the district or group needed for leadership credit.
    pub leadership_min_years: u32,
    /// Lowest latest grade of a training dispatch for returning-mentor credit (优良).
    pub training_credit_min_grade: Grade,
    /// Days at weak or rural schools needed before a senior title.
    pub senior_title_min_rural_or_weak_days: u32,
    /// Years at the home school before a teacher meets rotation conditions.
    pub eligible_tenure_years: u32,
    /// Teachers this close to retirement are exempt from rotation.
    pub exempt_years_before_retirement: u32,
    /// Years in an intermediate-title post after which a teacher is due to rotate (seed 002).
    pub intermediate_title_max_years: u32,
    /// Yearly outflow of a strong school as a share of its eligible teachers.
    pub min_outflow_ratio: Ratio,
    /// Share of key teachers among the outflow.
    pub min_key_teacher_share: Ratio,
    /// What the key-teacher share is taken over.
    pub key_share_basis: KeyShareBasis,
    /// A school whose key-teacher share exceeds this is flagged for key-teacher outflow.
    pub key_teacher_outflow_threshold: Ratio,
    /// Which schools carry the yearly outflow quota.
    pub quota_duty: QuotaDuty,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::preset(Preset::Shanghai2023)
    }
}

fn subjects(names: &[&str]) -> Vec<Id> {
    names.iter().filter_map(|s| Id::new(s).ok()).collect()
}

impl Policy {
    /// The parameters of a preset.
    pub fn preset(p: Preset) -> Policy {
        let shanghai = Policy {
            min_term_years: 3,
            min_team_size: 3,
            max_events_per_append: 1000,
            early_return_exempt_reasons: vec![ReturnReason::Health, ReturnReason::SchoolClosure],
            // 上海中考计分科目 (2023 onwards).
            scored_subjects: subjects(&[
                "chinese",
                "mathematics",
                "english",
                "physics",
                "chemistry",
                "morality_and_law",
                "history",
                "physical_education",
            ]),
            rotation_credit_min_grade: Grade::Pass,
            leadership_min_years: 2,
            training_credit_min_grade: Grade::Good,
            senior_title_min_rural_or_weak_days: 365,
            eligible_tenure_years: 6,
            exempt_years_before_retirement: 5,
            intermediate_title_max_years: 10,
            min_outflow_ratio: Ratio(2000),
            min_key_teacher_share: Ratio(3000),
            key_share_basis: KeyShareBasis::OverRotated,
            key_teacher_outflow_threshold: Ratio(1500),
            quota_duty: QuotaDuty::Strong,
        };
        match p {
            Preset::Shanghai2023 => shanghai,
            Preset::National2014 => Policy {
                min_outflow_ratio: Ratio(1000),
                min_key_teacher_share: Ratio(2000),
                // 城镇学校、优质学校: urban schools carry the duty too.
                quota_duty: QuotaDuty::StrongOrUrban,
                ..shanghai
            },
        }
    }

    /// This policy with `o`'s parameters replacing its own.
    pub fn with(&self, o: &PolicyParameters) -> Policy {
        let mut p = self.clone();
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &o.$f { p.$f = v.clone(); } )* };
        }
        set!(
            min_term_years,
            min_team_size,
            max_events_per_append,
            early_return_exempt_reasons,
            scored_subjects,
            rotation_credit_min_grade,
            leadership_min_years,
            training_credit_min_grade,
            senior_title_min_rural_or_weak_days,
            eligible_tenure_years,
            exempt_years_before_retirement,
            intermediate_title_max_years,
            min_outflow_ratio,
            min_key_teacher_share,
            key_share_basis,
            key_teacher_outflow_threshold,
            quota_duty
        );
        p
    }

    /// Whether an early return for `reason` is exempt.
    pub fn exempt(&self, reason: ReturnReason) -> bool {
        self.early_return_exempt_reasons.contains(&reason)
    }
}

/// Parameters set by a `policy_adopted` event: overrides of a preset, or (without a preset)
/// every one of them. Absent parameters are omitted from the canonical JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct PolicyParameters {
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub min_term_years: Option<u32>,
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub min_team_size: Option<u32>,
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub max_events_per_append: Option<u32>,
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub early_return_exempt_reasons: Option<Vec<ReturnReason>>,
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub scored_subjects: Option<Vec<Id>>,
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub rotation_credit_min_grade: Option<Grade>,
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub leadership_min_years: Option<u32>,
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub training_credit_min_grade: Option<Grade>,
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub senior_title_min_rural_or_weak_days: Option<u32>,
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub eligible_tenure_years: Option<u32>,
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub exempt_years_before_retirement: Option<u32>,
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub intermediate_title_max_years: Option<u32>,
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub min_outflow_ratio: Option<Ratio>,
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub min_key_teacher_share: Option<Ratio>,
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub key_share_basis: Option<KeyShareBasis>,
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub key_teacher_outflow_threshold: Option<Ratio>,
    #[serde(skip_serializing_if = "super::binary::absent")]
    pub quota_duty: Option<QuotaDuty>,
}

/// Upper bound of the year-valued parameters: a sanity limit, not policy.
const MAX_YEARS: u64 = 50;

impl PolicyParameters {
    /// Decodes the `parameters` object of a `policy_adopted` event. With `full`, every
    /// parameter must be present (a policy without a preset).
    pub fn decode(v: Value, full: bool) -> Result<PolicyParameters, DecodeError> {
        let mut f = Fields::new(v, "parameters")?;
        let years = |f: &mut Fields, n: &str| -> Result<Option<u32>, DecodeError> {
            Ok(f.opt_uint(n, 1, MAX_YEARS)?.map(|n| n as u32))
        };
        let p = PolicyParameters {
            min_term_years: years(&mut f, "min_term_years")?,
            min_team_size: f.opt_uint("min_team_size", 1, 1000)?.map(|n| n as u32),
            max_events_per_append: f
                .opt_uint("max_events_per_append", 1, 100_000)?
                .map(|n| n as u32),
            early_return_exempt_reasons: match f.take("early_return_exempt_reasons") {
                None => None,
                Some(v) => Some(reasons(&f, v)?),
            },
            scored_subjects: match f.take("scored_subjects") {
                None => None,
                Some(v) => {
                    let mut g =
                        Fields::new(serde_json::json!({ "scored_subjects": v }), "parameters")?;
                    Some(g.ids("scored_subjects", 100)?)
                }
            },
            rotation_credit_min_grade: f.opt_vocab("rotation_credit_min_grade")?,
            leadership_min_years: years(&mut f, "leadership_min_years")?,
            training_credit_min_grade: f.opt_vocab("training_credit_min_grade")?,
            senior_title_min_rural_or_weak_days: f
                .opt_uint("senior_title_min_rural_or_weak_days", 0, 36_500)?
                .map(|n| n as u32),
            eligible_tenure_years: years(&mut f, "eligible_tenure_years")?,
            exempt_years_before_retirement: f
                .opt_uint("exempt_years_before_retirement", 0, MAX_YEARS)?
                .map(|n| n as u32),
            intermediate_title_max_years: years(&mut f, "intermediate_title_max_years")?,
            min_outflow_ratio: ratio(&mut f, "min_outflow_ratio")?,
            min_key_teacher_share: ratio(&mut f, "min_key_teacher_share")?,
            key_share_basis: f.opt_vocab("key_share_basis")?,
            key_teacher_outflow_threshold: ratio(&mut f, "key_teacher_outflow_threshold")?,
            quota_duty: f.opt_vocab("quota_duty")?,
        };
        f.finish()?;
        if full && let Some(missing) = p.first_missing() {
            return Err(DecodeError::new(
                format!("parameters.{missing}"),
                "is missing: a policy without a preset must set every parameter",
            ));
        }
        Ok(p)
    }

    /// The first required parameter not set, if any.
    fn first_missing(&self) -> Option<&'static str> {
        let v = serde_json::to_value(self).ok()?;
        let set = v.as_object()?;
        PARAMETER_NAMES
            .iter()
            .copied()
            .filter(|n| !OPTIONAL_WITHOUT_PRESET.contains(n))
            .find(|n| !set.contains_key(*n))
    }
}

/// Every parameter name, in canonical order.
pub const PARAMETER_NAMES: &[&str] = &[
    "min_term_years",
    "min_team_size",
    "max_events_per_append",
    "early_return_exempt_reasons",
    "scored_subjects",
    "rotation_credit_min_grade",
    "leadership_min_years",
    "training_credit_min_grade",
    "senior_title_min_rural_or_weak_days",
    "eligible_tenure_years",
    "exempt_years_before_retirement",
    "intermediate_title_max_years",
    "min_outflow_ratio",
    "min_key_teacher_share",
    "key_share_basis",
    "key_teacher_outflow_threshold",
    "quota_duty",
];

/// Parameters a policy without a preset may leave out, taking the default preset's value:
/// those added after logs with full parameter sets were already written, so that such a
/// stored `policy_adopted` still decodes exactly as it did.
pub const OPTIONAL_WITHOUT_PRESET: &[&str] = &["quota_duty"];

fn reasons(f: &Fields, v: Value) -> Result<Vec<ReturnReason>, DecodeError> {
    let name = "early_return_exempt_reasons";
    let Value::Array(items) = v else {
        return Err(DecodeError::new(
            f.name(name),
            format!("must be a list, not {}", kind(&v)),
        ));
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let r: ReturnReason = f.to_vocab(&format!("{name}[{i}]"), item)?;
        if r == ReturnReason::TermCompleted {
            return Err(DecodeError::new(
                f.name(&format!("{name}[{i}]")),
                "term_completed is not an early return",
            ));
        }
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out.sort();
    Ok(out)
}

fn ratio(f: &mut Fields, name: &str) -> Result<Option<Ratio>, DecodeError> {
    match f.take(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ratio::parse(&s).map(Some).ok_or_else(|| {
            DecodeError::new(
                f.name(name),
                format!("{s:?} is not a decimal between 0 and 1 with at most 4 decimals"),
            )
        }),
        Some(other) => Err(DecodeError::new(
            f.name(name),
            format!(
                "must be a decimal written as a string (e.g. \"0.2\"), not {}",
                kind(&other)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_exact() {
        let r = Ratio::parse("0.20").unwrap();
        assert_eq!(r.basis_points(), 2000);
        assert_eq!(r.ceil_of(50), 10);
        assert_eq!(r.ceil_of(47), 10);
        assert_eq!(r.ceil_of(45), 9);
        assert_eq!(Ratio::ONE.ceil_of(u64::MAX), u64::MAX);
        assert!(r.met_by(10, 50));
        assert!(!r.met_by(9, 50));
        assert!(!r.met_by(0, 0));
        assert!(Ratio::parse("0.15").unwrap().exceeded_by(16, 100));
        assert!(!Ratio::parse("0.15").unwrap().exceeded_by(15, 100));
        for bad in ["", ".2", "2.", "1.5", "0.12345", "-0.1", "0,2", "1e-1"] {
            assert_eq!(Ratio::parse(bad), None, "{bad}");
        }
        assert_eq!(Ratio::parse("1").unwrap(), Ratio::ONE);
        assert_eq!(Ratio(2000).to_string(), "0.2");
        assert_eq!(Ratio(1500).to_string(), "0.15");
        assert_eq!(Ratio(5).to_string(), "0.0005");
        assert_eq!(Ratio(10_000).to_string(), "1");
    }

    #[test]
    fn presets_differ_where_the_texts_do() {
        let s = Policy::preset(Preset::Shanghai2023);
        let n = Policy::preset(Preset::National2014);
        assert_eq!(s, Policy::default());
        assert_eq!(
            (
                s.min_outflow_ratio.basis_points(),
                s.min_key_teacher_share.basis_points()
            ),
            (2000, 3000)
        );
        assert_eq!(
            (
                n.min_outflow_ratio.basis_points(),
                n.min_key_teacher_share.basis_points()
            ),
            (1000, 2000)
        );
        assert_eq!(s.scored_subjects.len(), 8);
    }

    #[test]
    fn parameters_decode_and_override() {
        let p = PolicyParameters::decode(
            serde_json::json!({"min_team_size": 4, "min_outflow_ratio": "0.25"}),
            false,
        )
        .unwrap();
        let pol = Policy::default().with(&p);
        assert_eq!(pol.min_team_size, 4);
        assert_eq!(pol.min_outflow_ratio.basis_points(), 2500);
        assert_eq!(pol.min_term_years, 3);
        let e =
            PolicyParameters::decode(serde_json::json!({"min_team_size": 4}), true).unwrap_err();
        assert_eq!(e.field, "parameters.min_term_years");
        let e = PolicyParameters::decode(serde_json::json!({"min_outflow_ratio": 0.2}), false)
            .unwrap_err();
        assert_eq!(e.field, "parameters.min_outflow_ratio");
        let e = PolicyParameters::decode(serde_json::json!({"colour": 1}), false).unwrap_err();
        assert_eq!(e.field, "parameters.colour");
        let full = serde_json::to_value(PolicyParameters {
            min_team_size: Some(3),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(full, serde_json::json!({"min_team_size": 3}));
    }
}
