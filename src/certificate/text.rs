//! A verified certificate in plain words (Chinese by default, English on request): who, on
//! which checkpoint, each dispatch with its term, the evaluations with their grades, the
//! promotions, and the promotion-credit verdicts with their reasons.
//!
//! The summary is read leniently (members it does not print are ignored, absent ones taken as
//! empty): it is the ledger's signed answer in the JSON form of the API, and only what is
//! printed needs to be understood here.

use std::fmt::Write as _;

use serde::Deserialize;

use super::Verified;
use crate::http::console::messages::{Lang, vocab};

/// The statement's summary, as far as it is printed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// The teacher's name (only in a certificate made for the teacher).
    pub name: Option<String>,
    /// Home school on the date.
    pub home_school: Option<String>,
    /// Title on the date.
    pub title: Option<String>,
    /// Set when the teacher's personal data was erased.
    pub personal_data_erased_on: Option<String>,
    /// The dispatches with their terms.
    pub dispatches: Vec<Term>,
    /// Evaluations.
    pub evaluations: Vec<Evaluation>,
    /// Promotions.
    pub promotions: Vec<Promotion>,
    /// Eligibility.
    pub credits: Credits,
}

/// A dispatch and its term.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Term {
    /// Dispatch id.
    pub dispatch: String,
    /// Sending school.
    pub from_school: String,
    /// Receiving school.
    pub to_school: String,
    /// rotation, support, training.
    pub kind: String,
    /// Start.
    pub start_date: String,
    /// Minimum end.
    pub min_end: String,
    /// Return date.
    pub end: Option<String>,
    /// Return reason.
    pub return_reason: Option<String>,
    /// Status on the date.
    pub status: String,
    /// Days served.
    pub days_served: i64,
}

/// An evaluation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Evaluation {
    /// The dispatch.
    pub dispatch: String,
    /// The evaluating school.
    pub school: String,
    /// The school year's first calendar year.
    pub school_year: i32,
    /// The grade.
    pub grade: String,
    /// Its entry.
    pub seq: u64,
}

/// A promotion.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Promotion {
    /// Its entry.
    pub seq: u64,
    /// title, rank, leadership.
    pub kind: String,
    /// The new title or post.
    pub to: String,
    /// Effective date.
    pub date: String,
}

/// The promotion-credit verdicts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Credits {
    /// Rotation credit.
    pub rotation: Credit,
    /// Leadership credit.
    pub leadership: Credit,
    /// Returning-mentor credit.
    pub returning_mentor: Credit,
    /// Senior-title precondition.
    pub senior_title: Credit,
}

/// One verdict with the numbers it rests on.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Credit {
    /// Met or not.
    pub met: bool,
    /// Lowest grade compatible (rotation, mentor).
    pub min_grade: Option<String>,
    /// Days served (service credits).
    pub days_served: Option<i64>,
    /// Days required (service credits).
    pub days_required: Option<i64>,
    /// Days missing (service credits).
    pub days_missing: Option<i64>,
    /// The dispatches looked at (rotation, mentor).
    pub dispatches: Vec<CreditDispatch>,
}

/// A dispatch as a credit rule saw it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CreditDispatch {
    /// Dispatch id.
    pub dispatch: String,
    /// Whether it gives the credit.
    pub qualifies: bool,
    /// Whether it reached its minimum end (rotation).
    pub reached_min_end: bool,
    /// Whether it ended early (rotation).
    pub returned_early: bool,
    /// Grades seen (rotation).
    pub grades: Vec<YearGrade>,
}

/// A grade for a school year.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct YearGrade {
    /// The school year's first calendar year.
    pub school_year: i32,
    /// The grade.
    pub grade: String,
}

/// The words of the text, in both languages.
struct Words {
    title: &'static str,
    verified: &'static str,
    teacher: &'static str,
    name: &'static str,
    name_note: &'static str,
    as_of: &'static str,
    log: &'static str,
    entries: &'static str,
    hash: &'static str,
    home: &'static str,
    dispatches: &'static str,
    none: &'static str,
    to: &'static str,
    start: &'static str,
    entry: &'static str,
    min_end: &'static str,
    end: &'static str,
    days: &'static str,
    evaluations: &'static str,
    promotions: &'static str,
    verdict: &'static str,
    met: &'static str,
    not_met: &'static str,
    rotation: &'static str,
    leadership: &'static str,
    mentor: &'static str,
    senior: &'static str,
    required: &'static str,
    missing: &'static str,
    qualifies: &'static str,
    not_qualifies: &'static str,
    erased: &'static str,
    year: &'static str,
}

const ZH: Words = Words {
    title: "交流轮岗证明",
    verified: "验证通过：每条记录的哈希、包含证明、检查点签名与声明签名均已核对；该教师截至检查点的全部记录（按教师链）均在其中。",
    teacher: "教师",
    name: "姓名",
    name_note: "（姓名由账本在声明中签署）",
    as_of: "截至日期",
    log: "账本",
    entries: "条记录",
    hash: "证明哈希",
    home: "编制学校",
    dispatches: "交流经历",
    none: "无",
    to: "→",
    start: "起始",
    entry: "记录",
    min_end: "最短期满",
    end: "返回",
    days: "天",
    evaluations: "考核",
    promotions: "晋升",
    verdict: "资格结论",
    met: "符合",
    not_met: "不符合",
    rotation: "职称/职级晋升的交流轮岗经历",
    leadership: "提任校级干部的2年交流经历",
    mentor: "跟岗培训考核优良回原校",
    senior: "申报高级职称的乡村/薄弱学校任教经历",
    required: "要求",
    missing: "尚缺",
    qualifies: "计入",
    not_qualifies: "不计入",
    erased: "个人信息已删除于",
    year: "学年",
};

const EN: Words = Words {
    title: "Rotation service certificate",
    verified: "VERIFIED: every entry's hash and inclusion proof, the checkpoint signature and the statement signature check; all of the teacher's entries up to the checkpoint (by the teacher's chain) are here.",
    teacher: "Teacher",
    name: "Name",
    name_note: " (the name is signed by the ledger in the statement)",
    as_of: "As of",
    log: "Log",
    entries: "entries",
    hash: "Certificate hash",
    home: "Home school",
    dispatches: "Dispatches",
    none: "none",
    to: "->",
    start: "start",
    entry: "entry",
    min_end: "minimum end",
    end: "returned",
    days: "days",
    evaluations: "Evaluations",
    promotions: "Promotions",
    verdict: "Verdict",
    met: "met",
    not_met: "not met",
    rotation: "Rotation credit (title and rank promotions)",
    leadership: "Leadership credit (2 years of rotation in the district or group)",
    mentor: "Returning mentor (training rated good or better)",
    senior: "Senior-title precondition (service at rural or weak schools)",
    required: "required",
    missing: "missing",
    qualifies: "counts",
    not_qualifies: "does not count",
    erased: "personal data erased on",
    year: "school year",
};

/// A school as `id 名称`.
fn school(v: &Verified, id: &str) -> String {
    match v.statement.schools.get(id) {
        Some(n) => format!("{id} {n}"),
        None => id.to_owned(),
    }
}

/// The plain-words text of a verified certificate.
pub fn render(v: &Verified, lang: Lang) -> String {
    let w = match lang {
        Lang::Zh => &ZH,
        Lang::En => &EN,
    };
    let s = &v.summary;
    let st = &v.statement;
    let yes = |b: bool| if b { w.met } else { w.not_met };
    let mut o = String::new();
    let _ = writeln!(o, "{}", w.title);
    let _ = writeln!(o, "{}", w.verified);
    let _ = writeln!(o);
    let _ = writeln!(o, "{}: {}", w.teacher, st.teacher);
    if let Some(n) = &s.name {
        let _ = writeln!(o, "{}: {n}{}", w.name, w.name_note);
    }
    if let Some(on) = &s.personal_data_erased_on {
        let _ = writeln!(o, "{} {on}", w.erased);
    }
    let _ = writeln!(o, "{}: {}", w.as_of, st.as_of);
    let _ = writeln!(
        o,
        "{}: {} · {} {} · root {}",
        w.log, st.origin, st.size, w.entries, st.root
    );
    let _ = writeln!(o, "{}: {}", w.hash, hex::encode(v.hash));
    if let Some(h) = &s.home_school {
        let _ = writeln!(o, "{}: {}", w.home, school(v, h));
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "{}:", w.dispatches);
    if s.dispatches.is_empty() {
        let _ = writeln!(o, "  {}", w.none);
    }
    for d in &s.dispatches {
        let _ = write!(
            o,
            "  {} {} {} {} {}: {} {}, {} {}, {}",
            d.dispatch,
            vocab(lang, &d.kind),
            school(v, &d.from_school),
            w.to,
            school(v, &d.to_school),
            w.start,
            d.start_date,
            w.min_end,
            d.min_end,
            status(lang, &d.status),
        );
        if let Some(end) = &d.end {
            let _ = write!(o, ", {} {end}", w.end);
            if let Some(r) = &d.return_reason {
                let _ = write!(o, " ({})", vocab(lang, r));
            }
        }
        let _ = writeln!(o, ", {} {}", d.days_served, w.days);
    }
    let _ = writeln!(o, "{}:", w.evaluations);
    if s.evaluations.is_empty() {
        let _ = writeln!(o, "  {}", w.none);
    }
    for e in &s.evaluations {
        let _ = writeln!(
            o,
            "  {} {}/{} {}: {} ({})",
            e.dispatch,
            e.school_year,
            e.school_year.saturating_add(1),
            w.year,
            vocab(lang, &e.grade),
            school(v, &e.school)
        );
    }
    let _ = writeln!(o, "{}:", w.promotions);
    if s.promotions.is_empty() {
        let _ = writeln!(o, "  {}", w.none);
    }
    for p in &s.promotions {
        let _ = writeln!(
            o,
            "  {} {}: {} ({} {})",
            p.date,
            vocab(lang, &p.kind),
            vocab(lang, &p.to),
            w.entry,
            p.seq
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "{} ({} {}):", w.verdict, w.as_of, st.as_of);
    let c = &s.credits;
    for (label, credit) in [(w.rotation, &c.rotation), (w.mentor, &c.returning_mentor)] {
        let _ = writeln!(o, "  {label}: {}", yes(credit.met));
        for d in &credit.dispatches {
            let grades: Vec<String> = d
                .grades
                .iter()
                .map(|g| format!("{} {}", g.school_year, vocab(lang, &g.grade)))
                .collect();
            let _ = writeln!(
                o,
                "    {}: {}{}",
                d.dispatch,
                if d.qualifies {
                    w.qualifies
                } else {
                    w.not_qualifies
                },
                if grades.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", grades.join(", "))
                }
            );
        }
    }
    for (label, credit) in [(w.leadership, &c.leadership), (w.senior, &c.senior_title)] {
        let _ = writeln!(
            o,
            "  {label}: {} ({} {}, {} {}, {} {})",
            yes(credit.met),
            credit.days_served.unwrap_or(0),
            w.days,
            w.required,
            credit.days_required.unwrap_or(0),
            w.missing,
            credit.days_missing.unwrap_or(0),
        );
    }
    o
}

/// A term status in `lang`.
pub fn status(lang: Lang, s: &str) -> &str {
    let (zh, en) = match s {
        "serving" => ("在岗（未满最短期限）", "serving"),
        "serving_beyond_minimum" => ("在岗（已满最短期限）", "serving beyond the minimum"),
        "completed" => ("期满返回", "completed"),
        "returned_early" => ("提前返回", "returned early"),
        other => (other, other),
    };
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}
