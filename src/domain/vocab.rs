//! The closed vocabularies of SPEC §1-2 (stages, standings, titles, grades, ...) and the
//! school year, each with the one spelling the JSON form uses.
//!
//! Unknown spellings are rejected when decoding (SPEC rule 8), so a new value is a
//! deliberate, documented change here and in `docs/EVENTS.md`.

use chrono::{Datelike, NaiveDate};

/// A closed set of values spelled as snake_case strings in the JSON form.
pub trait Vocabulary: Sized + Copy + 'static {
    /// Every value, in declaration order.
    const ALL: &'static [Self];
    /// The JSON spelling.
    fn as_str(self) -> &'static str;
    /// Parses the JSON spelling.
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }
    /// The spellings, for error messages ("one of ...").
    fn spellings() -> String {
        Self::ALL
            .iter()
            .map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

macro_rules! vocabulary {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($(#[$vm])* $var),+ }
        impl Vocabulary for $name {
            const ALL: &'static [$name] = &[$($name::$var),+];
            fn as_str(self) -> &'static str { match self { $($name::$var => $s),+ } }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                super::binary::from_text(d, stringify!($name), |s| {
                    <$name as Vocabulary>::parse(s)
                        .ok_or_else(|| format!("not one of {}", <$name as Vocabulary>::spellings()))
                })
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// A school's stage (学段).
    Stage {
        /// 小学.
        Primary = "primary",
        /// 初级中学 (junior secondary).
        Junior = "junior",
        /// 高级中学 (senior secondary).
        Senior = "senior",
        /// 九年一贯制: primary and junior secondary.
        NineYear = "nine_year",
        /// 完全中学: junior and senior secondary.
        CompleteSecondary = "complete_secondary",
        /// 十二年一贯制.
        TwelveYear = "twelve_year",
        /// 特殊教育学校.
        SpecialEducation = "special_education",
        /// 中等职业学校.
        Vocational = "vocational",
    }
}

impl Stage {
    /// Whether the school teaches junior secondary (the stage of the 学业水平考试 whose scored
    /// subjects a team should cover, SPEC 4.2).
    pub fn has_junior_secondary(self) -> bool {
        matches!(
            self,
            Stage::Junior | Stage::NineYear | Stage::CompleteSecondary | Stage::TwelveYear
        )
    }
}

vocabulary! {
    /// A school's standing; it can change over time.
    Standing {
        /// 优质校.
        Strong = "strong",
        /// An ordinary school.
        Ordinary = "ordinary",
        /// 相对薄弱校: the schools rotation is meant to strengthen.
        Weak = "weak",
    }
}

vocabulary! {
    /// What kind of group a group is.
    GroupKind {
        /// 学区: a school district.
        District = "district",
        /// 教育集团: an education group.
        EducationGroup = "education_group",
    }
}

vocabulary! {
    /// A change of group membership.
    MembershipChange {
        /// The school joins the group.
        Joined = "joined",
        /// The school leaves the group.
        Left = "left",
    }
}

vocabulary! {
    /// A professional title (职称), lowest first so that `>=` compares seniority.
    Title {
        /// No title yet (见习, probation).
        None = "none",
        /// 初级.
        Junior = "junior",
        /// 中级.
        Intermediate = "intermediate",
        /// 高级.
        Senior = "senior",
        /// 正高级.
        FullSenior = "full_senior",
    }
}

vocabulary! {
    /// Key-teacher level (骨干教师), lowest first.
    KeyLevel {
        /// Not a key teacher.
        None = "none",
        /// 校级骨干.
        School = "school",
        /// 区级骨干 (including 学科带头人 at district level).
        District = "district",
        /// 市级骨干.
        City = "city",
        /// 省级骨干.
        Province = "province",
        /// 国家级.
        National = "national",
    }
}

impl KeyLevel {
    /// Whether the teacher counts as a key teacher for quotas (any level above none).
    pub fn is_key(self) -> bool {
        self != KeyLevel::None
    }
}

vocabulary! {
    /// What a dispatch is for.
    DispatchKind {
        /// 交流轮岗: usually from a strong school to a weak one.
        Rotation = "rotation",
        /// 支教: urban to rural.
        Support = "support",
        /// 挂职锻炼 / 跟岗实践 / 师徒带教: a weak school's teacher placed at a strong school to learn.
        Training = "training",
    }
}

impl DispatchKind {
    /// Rotation and support dispatches earn rotation and leadership credit (SPEC 4.3).
    pub fn earns_rotation_credit(self) -> bool {
        matches!(self, DispatchKind::Rotation | DispatchKind::Support)
    }
}

vocabulary! {
    /// Why a dispatch ended.
    ReturnReason {
        /// The term was served (whether or not the minimum was reached is the terms
        /// projection's business: it compares the return date with min_end).
        TermCompleted = "term_completed",
        /// Ill health.
        Health = "health",
        /// Family hardship.
        FamilyHardship = "family_hardship",
        /// The receiving school closed or merged.
        SchoolClosure = "school_closure",
        /// Disciplinary recall.
        Disciplinary = "disciplinary",
        /// Anything else; the return must then explain in `reason_text`.
        Other = "other",
    }
}

vocabulary! {
    /// An annual evaluation grade, lowest first so that `>=` compares quality.
    ///
    /// `good` (良好) is optional: the national scale has no 良好, seed 001 speaks of 优良.
    Grade {
        /// 不合格.
        Fail = "fail",
        /// 基本合格.
        BasicPass = "basic_pass",
        /// 合格.
        Pass = "pass",
        /// 良好.
        Good = "good",
        /// 优秀.
        Excellent = "excellent",
    }
}

vocabulary! {
    /// What a promotion is.
    PromotionKind {
        /// 职称评定: a professional title; `to` is a [`Title`].
        Title = "title",
        /// 职级晋升: a rank; `to` is free text.
        Rank = "rank",
        /// 提任校级干部: appointment to school leadership; `to` is free text.
        Leadership = "leadership",
    }
}

vocabulary! {
    /// Whether the key-teacher share of a quota is taken over the teachers rotated (national,
    /// Shanghai) or over all eligible teachers (Anhui).
    KeyShareBasis {
        /// Key teachers among those rotated out.
        OverRotated = "over_rotated",
        /// Key teachers rotated out among all eligible teachers.
        OverEligible = "over_eligible",
    }
}

vocabulary! {
    /// Which schools carry a yearly outflow quota (SPEC 4.4): Shanghai 2023 puts it on strong
    /// schools (优质校); the national 2014 opinion on urban and strong schools (城镇学校、优质学校).
    QuotaDuty {
        /// Strong schools only.
        Strong = "strong",
        /// Strong schools, and every school that is not rural.
        StrongOrUrban = "strong_or_urban",
    }
}

/// A school year: `SchoolYear(2024)` runs from 2024-09-01 to 2025-08-31.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct SchoolYear(pub i32);

impl SchoolYear {
    /// The school year a date falls in.
    pub fn of(d: NaiveDate) -> SchoolYear {
        if d.month() >= 9 {
            SchoolYear(d.year())
        } else {
            SchoolYear(d.year() - 1)
        }
    }

    /// Its first day (1 September).
    pub fn first_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.0, 9, 1)
    }

    /// Its last day (31 August of the next calendar year).
    pub fn last_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.0.checked_add(1)?, 8, 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_and_order() {
        for g in Grade::ALL {
            assert_eq!(Grade::parse(g.as_str()), Some(*g));
        }
        assert_eq!(Grade::parse("优秀"), None);
        assert!(Grade::Excellent > Grade::Good && Grade::Good > Grade::Pass);
        assert!(Grade::Pass > Grade::BasicPass && Grade::BasicPass > Grade::Fail);
        assert!(Title::FullSenior > Title::Senior && Title::Senior > Title::Intermediate);
        assert_eq!(Stage::parse("nine_year"), Some(Stage::NineYear));
        assert_eq!(Standing::spellings(), "strong, ordinary, weak");
    }

    #[test]
    fn school_years() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(SchoolYear::of(d("2024-09-01")), SchoolYear(2024));
        assert_eq!(SchoolYear::of(d("2024-08-31")), SchoolYear(2023));
        assert_eq!(SchoolYear(2024).last_day(), Some(d("2025-08-31")));
        // Out of chrono's range: no date, never an overflow.
        assert_eq!(SchoolYear(i32::MAX).last_day(), None);
        assert_eq!(SchoolYear(i32::MAX).first_day(), None);
    }
}
