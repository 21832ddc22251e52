//! The JSON texts of the events the generator writes, in the canonical field order of
//! `docs/EVENTS.md` (so the stored payloads are the bytes written here).
//!
//! Every id and name the generator makes is ASCII without quotes or backslashes, so plain
//! formatting is exact; free texts go through `serde_json` anyway.

use chrono::NaiveDate;

use crate::domain::vocab::{
    DispatchKind, Grade, KeyLevel, PromotionKind, ReturnReason, Stage, Standing, Title, Vocabulary,
};

/// `policy_adopted` of a preset, unchanged.
pub fn policy(preset: &str, date: NaiveDate) -> String {
    format!(
        r#"{{"type":"policy_adopted","version":1,"preset":"{preset}","parameters":{{}},"date":"{date}"}}"#
    )
}

/// `school_registered`.
pub fn school(
    id: &str,
    name: &str,
    stage: Stage,
    standing: Standing,
    rural: bool,
    date: NaiveDate,
) -> String {
    format!(
        r#"{{"type":"school_registered","version":1,"school":"{id}","name":"{name}","stage":"{}","standing":"{}","rural":{rural},"date":"{date}"}}"#,
        stage.as_str(),
        standing.as_str()
    )
}

/// `school_standing_changed`.
pub fn standing_changed(school: &str, standing: Standing, date: NaiveDate) -> String {
    format!(
        r#"{{"type":"school_standing_changed","version":1,"school":"{school}","standing":"{}","date":"{date}"}}"#,
        standing.as_str()
    )
}

/// `group_formed`; `district` picks the kind.
pub fn group(
    id: &str,
    district: bool,
    name: &str,
    lead: &str,
    schools: &[String],
    date: NaiveDate,
) -> String {
    let kind = if district {
        "district"
    } else {
        "education_group"
    };
    let list = schools
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(",");
    format!(
        r#"{{"type":"group_formed","version":1,"group":"{id}","kind":"{kind}","name":"{name}","lead_school":"{lead}","schools":[{list}],"date":"{date}"}}"#
    )
}

/// `group_membership_changed` (a school joining).
pub fn joined(group: &str, school: &str, date: NaiveDate) -> String {
    format!(
        r#"{{"type":"group_membership_changed","version":1,"group":"{group}","school":"{school}","change":"joined","date":"{date}"}}"#
    )
}

/// The registry facts of one teacher.
pub struct TeacherFacts<'a> {
    /// Teacher id.
    pub id: &'a str,
    /// Full name.
    pub name: &'a str,
    /// Home school id.
    pub school: &'a str,
    /// Subject id.
    pub subject: &'a str,
    /// Title and when it was obtained.
    pub title: Title,
    /// When `title` was obtained (absent for `none`).
    pub title_date: Option<NaiveDate>,
    /// Key-teacher level.
    pub key: KeyLevel,
    /// Employed at the home school since.
    pub employed: NaiveDate,
    /// Known retirement date.
    pub retirement: NaiveDate,
    /// The facts hold from.
    pub date: NaiveDate,
}

/// `teacher_registered`.
pub fn teacher(f: &TeacherFacts<'_>) -> String {
    let title_date = f
        .title_date
        .map(|d| format!(r#","title_date":"{d}""#))
        .unwrap_or_default();
    format!(
        r#"{{"type":"teacher_registered","version":1,"teacher":"{}","name":"{}","school":"{}","subject":"{}","title":"{}"{title_date},"key_level":"{}","employed_date":"{}","retirement_date":"{}","date":"{}"}}"#,
        f.id,
        f.name,
        f.school,
        f.subject,
        f.title.as_str(),
        f.key.as_str(),
        f.employed,
        f.retirement,
        f.date
    )
}

/// `teacher_profile_updated` of the key-teacher level.
pub fn key_level_updated(teacher: &str, key: KeyLevel, date: NaiveDate) -> String {
    format!(
        r#"{{"type":"teacher_profile_updated","version":1,"teacher":"{teacher}","key_level":"{}","date":"{date}"}}"#,
        key.as_str()
    )
}

/// `teacher_profile_updated` of the subject.
pub fn subject_updated(teacher: &str, subject: &str, date: NaiveDate) -> String {
    format!(
        r#"{{"type":"teacher_profile_updated","version":1,"teacher":"{teacher}","subject":"{subject}","date":"{date}"}}"#
    )
}

/// `teacher_transferred`.
pub fn transferred(teacher: &str, school: &str, date: NaiveDate) -> String {
    format!(
        r#"{{"type":"teacher_transferred","version":1,"teacher":"{teacher}","school":"{school}","date":"{date}"}}"#
    )
}

/// One posting.
pub struct DispatchFacts<'a> {
    /// Dispatch id.
    pub id: &'a str,
    /// Teacher id.
    pub teacher: &'a str,
    /// Home school id.
    pub from: &'a str,
    /// Receiving school id.
    pub to: &'a str,
    /// First day at the receiving school.
    pub start: NaiveDate,
    /// Rotation, support or training.
    pub kind: DispatchKind,
    /// 组团流入 team id.
    pub team: Option<&'a str>,
}

/// `teacher_dispatched`.
pub fn dispatched(d: &DispatchFacts<'_>) -> String {
    let team = d
        .team
        .map(|t| format!(r#","team":"{t}""#))
        .unwrap_or_default();
    format!(
        r#"{{"type":"teacher_dispatched","version":1,"dispatch":"{}","teacher":"{}","from_school":"{}","to_school":"{}","start_date":"{}","kind":"{}"{team}}}"#,
        d.id,
        d.teacher,
        d.from,
        d.to,
        d.start,
        d.kind.as_str()
    )
}

/// `teacher_returned`; `text` goes with `other`.
pub fn returned(
    dispatch: &str,
    date: NaiveDate,
    reason: ReturnReason,
    text: Option<&str>,
) -> String {
    let text = text
        .map(|t| format!(r#","reason_text":{}"#, serde_json::Value::from(t)))
        .unwrap_or_default();
    format!(
        r#"{{"type":"teacher_returned","version":1,"dispatch":"{dispatch}","return_date":"{date}","reason":"{}"{text}}}"#,
        reason.as_str()
    )
}

/// `teacher_evaluated`.
pub fn evaluated(dispatch: &str, school: &str, year: i32, grade: Grade, date: NaiveDate) -> String {
    format!(
        r#"{{"type":"teacher_evaluated","version":1,"dispatch":"{dispatch}","school":"{school}","school_year":{year},"grade":"{}","date":"{date}"}}"#,
        grade.as_str()
    )
}

/// `teacher_promoted`.
pub fn promoted(
    teacher: &str,
    kind: PromotionKind,
    to: &str,
    date: NaiveDate,
    credit: bool,
) -> String {
    format!(
        r#"{{"type":"teacher_promoted","version":1,"teacher":"{teacher}","kind":"{}","to":"{to}","date":"{date}","rotation_credit":{credit}}}"#,
        kind.as_str()
    )
}

/// `entry_voided`.
pub fn voided(seq: u64, reason: &str) -> String {
    format!(
        r#"{{"type":"entry_voided","version":1,"seq":{seq},"reason":{}}}"#,
        serde_json::Value::from(reason)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Event;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// Each text decodes and is already canonical.
    fn check(text: String) {
        let e = Event::decode(&text).unwrap_or_else(|err| panic!("{text}: {err:?}"));
        assert_eq!(e.to_json(), text);
    }

    #[test]
    fn every_event_text_is_canonical() {
        let d = date("2024-09-01");
        check(policy("shanghai-2023", d));
        check(school(
            "S1",
            "A School",
            Stage::Junior,
            Standing::Weak,
            true,
            d,
        ));
        check(standing_changed("S1", Standing::Ordinary, d));
        check(group(
            "G1",
            true,
            "Gumei",
            "S1",
            &["S1".into(), "S2".into()],
            d,
        ));
        check(group("G2", false, "Group", "S1", &["S1".into()], d));
        check(joined("G1", "S3", d));
        check(teacher(&TeacherFacts {
            id: "T1",
            name: "Wang Fang",
            school: "S1",
            subject: "mathematics",
            title: Title::Intermediate,
            title_date: Some(date("2019-07-01")),
            key: KeyLevel::District,
            employed: date("2015-09-01"),
            retirement: date("2041-08-31"),
            date: d,
        }));
        check(key_level_updated("T1", KeyLevel::City, d));
        check(subject_updated("T1", "physics", d));
        check(transferred("T1", "S2", d));
        check(dispatched(&DispatchFacts {
            id: "D1",
            teacher: "T1",
            from: "S1",
            to: "S2",
            start: d,
            kind: DispatchKind::Rotation,
            team: Some("TM1"),
        }));
        check(returned("D1", d, ReturnReason::TermCompleted, None));
        check(returned(
            "D1",
            d,
            ReturnReason::Other,
            Some("spouse \"moved\""),
        ));
        check(evaluated("D1", "S2", 2024, Grade::Good, d));
        check(promoted("T1", PromotionKind::Title, "senior", d, true));
        check(voided(12, "graded the wrong teacher"));
    }
}
