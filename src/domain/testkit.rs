//! Test fixtures: short builders for events (as the JSON an HR system sends) and metas.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};

use super::event::Event;
use super::state::{Meta, State};

/// A date from `YYYY-MM-DD`.
pub fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Decodes an event, panicking with the error (fixtures are meant to be valid).
pub fn ev(json: &str) -> Event {
    Event::decode(json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

/// The meta of entry `seq`: a hash derived from it, a fixed clock, actor `hr`.
pub fn meta(seq: u64) -> Meta {
    Meta {
        seq,
        hash: *blake3::hash(&seq.to_be_bytes()).as_bytes(),
        recorded_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        actor: Arc::from("hr"),
    }
}

/// Applies events without checking them, numbering entries after the state's last.
pub fn apply_all(mut s: State, events: &[Event]) -> State {
    for e in events {
        let seq = s.len();
        s.apply(meta(seq), Arc::new(e.clone()));
    }
    s
}

/// `school_registered`.
pub fn school(id: &str, standing: &str, stage: &str, rural: bool) -> Event {
    ev(&format!(
        r#"{{"type":"school_registered","version":1,"school":"{id}","name":"School {id}","stage":"{stage}","standing":"{standing}","rural":{rural},"date":"2010-01-01"}}"#
    ))
}

/// `school_standing_changed`.
pub fn standing(id: &str, standing: &str, date: &str) -> Event {
    ev(&format!(
        r#"{{"type":"school_standing_changed","version":1,"school":"{id}","standing":"{standing}","date":"{date}"}}"#
    ))
}

/// `group_formed` (a district, lead school first).
pub fn group(id: &str, schools: &[&str]) -> Event {
    let list = schools
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(",");
    ev(&format!(
        r#"{{"type":"group_formed","version":1,"group":"{id}","kind":"district","name":"District {id}","lead_school":"{}","schools":[{list}],"date":"2010-01-01"}}"#,
        schools[0]
    ))
}

/// `group_membership_changed`.
pub fn membership(group: &str, school: &str, change: &str, date: &str) -> Event {
    ev(&format!(
        r#"{{"type":"group_membership_changed","version":1,"group":"{group}","school":"{school}","change":"{change}","date":"{date}"}}"#
    ))
}

/// `teacher_registered` (mathematics, intermediate title, employed 2010).
pub fn teacher(id: &str, school: &str) -> Event {
    teacher_with(id, school, "mathematics", "intermediate")
}

/// `teacher_registered` with a subject and title.
pub fn teacher_with(id: &str, school: &str, subject: &str, title: &str) -> Event {
    ev(&format!(
        r#"{{"type":"teacher_registered","version":1,"teacher":"{id}","name":"Teacher {id}","school":"{school}","subject":"{subject}","title":"{title}","key_level":"none","employed_date":"2010-01-01","date":"2010-01-01"}}"#
    ))
}

/// `teacher_transferred`.
pub fn transfer(teacher: &str, school: &str, date: &str) -> Event {
    ev(&format!(
        r#"{{"type":"teacher_transferred","version":1,"teacher":"{teacher}","school":"{school}","date":"{date}"}}"#
    ))
}

/// `teacher_profile_updated` setting the key level.
pub fn key_level(teacher: &str, level: &str, date: &str) -> Event {
    ev(&format!(
        r#"{{"type":"teacher_profile_updated","version":1,"teacher":"{teacher}","key_level":"{level}","date":"{date}"}}"#
    ))
}

/// `teacher_dispatched` of kind `rotation` without a team.
pub fn dispatch(id: &str, teacher: &str, from: &str, to: &str, start: &str) -> Event {
    dispatch_kind(id, teacher, from, to, start, "rotation", None)
}

/// `teacher_dispatched` with a kind and optional team.
pub fn dispatch_kind(
    id: &str,
    teacher: &str,
    from: &str,
    to: &str,
    start: &str,
    kind: &str,
    team: Option<&str>,
) -> Event {
    let team = team
        .map(|t| format!(r#","team":"{t}""#))
        .unwrap_or_default();
    ev(&format!(
        r#"{{"type":"teacher_dispatched","version":1,"dispatch":"{id}","teacher":"{teacher}","from_school":"{from}","to_school":"{to}","start_date":"{start}","kind":"{kind}"{team}}}"#
    ))
}

/// `teacher_returned`.
pub fn ret(dispatch: &str, date: &str, reason: &str) -> Event {
    let text = if reason == "other" {
        r#","reason_text":"see file""#
    } else {
        ""
    };
    ev(&format!(
        r#"{{"type":"teacher_returned","version":1,"dispatch":"{dispatch}","return_date":"{date}","reason":"{reason}"{text}}}"#
    ))
}

/// `teacher_evaluated`.
pub fn eval(dispatch: &str, school: &str, year: i32, grade: &str, date: &str) -> Event {
    ev(&format!(
        r#"{{"type":"teacher_evaluated","version":1,"dispatch":"{dispatch}","school":"{school}","school_year":{year},"grade":"{grade}","date":"{date}"}}"#
    ))
}

/// `teacher_promoted`.
pub fn promote(teacher: &str, kind: &str, to: &str, date: &str, credit: bool) -> Event {
    ev(&format!(
        r#"{{"type":"teacher_promoted","version":1,"teacher":"{teacher}","kind":"{kind}","to":"{to}","date":"{date}","rotation_credit":{credit}}}"#
    ))
}

/// `policy_adopted` from a preset with overrides (a JSON object text).
pub fn policy(preset: &str, parameters: &str, date: &str) -> Event {
    ev(&format!(
        r#"{{"type":"policy_adopted","version":1,"preset":"{preset}","parameters":{parameters},"date":"{date}"}}"#
    ))
}

/// `entry_voided`.
pub fn void(seq: u64) -> Event {
    ev(&format!(
        r#"{{"type":"entry_voided","version":1,"seq":{seq},"reason":"entered by mistake"}}"#
    ))
}

/// A small world: strong S1 and S2 (district G1 with weak W1 and W2), weak junior W3 outside
/// it, rural R1; teachers T1..T6 at S1, U1 at W1.
pub fn world() -> Vec<Event> {
    let mut v = vec![
        school("S1", "strong", "primary", false),
        school("S2", "strong", "junior", false),
        school("W1", "weak", "primary", false),
        school("W2", "weak", "junior", false),
        school("W3", "weak", "junior", false),
        school("R1", "ordinary", "primary", true),
        group("G1", &["S1", "S2", "W1", "W2"]),
    ];
    for t in 1..=6 {
        v.push(teacher(&format!("T{t}"), "S1"));
    }
    v.push(teacher("U1", "W1"));
    v
}
