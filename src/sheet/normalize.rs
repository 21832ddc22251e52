//! Cell values to the spellings events use: dates to `YYYY-MM-DD` (Excel date cells and the
//! spellings offices type: `2025/9/1`, `2025-9-1`, `2025.9.1`, `2025年9月1日`, `20250901`),
//! ids (a number typed as an id warns: Excel drops leading zeros), and the Chinese (or
//! English) values of each vocabulary. Pure functions: every refusal is a [`Problem`] naming
//! the rule, in Chinese and English.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};

use super::read::{Cell, number_text};

/// Why a cell cannot become an event's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// A stable code: `sheet.required`, `sheet.date`, `sheet.id`, `sheet.value`,
    /// `sheet.number`, `sheet.merged`, `sheet.cell_error`.
    pub rule: &'static str,
    /// The message in Chinese.
    pub zh: String,
    /// The message in English.
    pub en: String,
}

fn problem(rule: &'static str, zh: String, en: String) -> Problem {
    Problem { rule, zh, en }
}

/// A value that can be used, with a warning to show the clerk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warned {
    /// The value.
    pub value: String,
    /// A warning (Chinese, English), if any.
    pub warning: Option<(String, String)>,
}

/// The cell's text, refusing formula errors.
fn text(cell: &Cell) -> Result<String, Problem> {
    match cell {
        Cell::Error(e) => Err(problem(
            "sheet.cell_error",
            format!("单元格是错误值 {e}（可能是公式出错）"),
            format!("the cell holds the error value {e} (a failed formula?)"),
        )),
        c => Ok(c.display()),
    }
}

/// The first day of Excel's 1900 date system as chrono counts: serial 1 is 1900-01-01, with
/// Excel's phantom 1900-02-29 (serial 60), so serials from 61 on count from 1899-12-30.
fn excel_date(serial: f64) -> Option<NaiveDate> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let days = serial.floor() as i64;
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?;
    let days = if days < 61 { days + 1 } else { days };
    base.checked_add_signed(Duration::days(days))
}

/// A date typed as text, in the spellings offices use.
fn text_date(t: &str) -> Option<NaiveDate> {
    let t = t.trim();
    // A time after the date (`2025/9/1 0:00:00`) is dropped.
    let t = t.split([' ', 'T']).next().unwrap_or(t);
    if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
        let y = t[..4].parse().ok()?;
        let m = t[4..6].parse().ok()?;
        let d = t[6..].parse().ok()?;
        return NaiveDate::from_ymd_opt(y, m, d);
    }
    let parts: Vec<&str> = t
        .split(['-', '/', '.', '年', '月', '日'])
        .filter(|p| !p.is_empty())
        .collect();
    if parts.len() != 3 || parts[0].len() != 4 {
        return None;
    }
    let all_digits = parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if !all_digits || parts[1].len() > 2 || parts[2].len() > 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(
        parts[0].parse().ok()?,
        parts[1].parse().ok()?,
        parts[2].parse().ok()?,
    )
}

/// A date cell as `YYYY-MM-DD`.
pub fn date(cell: &Cell) -> Result<String, Problem> {
    let d = match cell {
        Cell::Date(s) => excel_date(*s),
        // A date column Excel did not format as a date shows its serial number.
        Cell::Number(n) if (20_000.0..80_000.0).contains(n) => excel_date(*n),
        // 20250901 typed as a number.
        Cell::Number(n) if n.fract() == 0.0 => text_date(&number_text(*n)),
        c => text_date(&text(c)?),
    };
    d.map(|d| d.format("%Y-%m-%d").to_string()).ok_or_else(|| {
        let shown = cell.display();
        problem(
            "sheet.date",
            format!(
                "无法识别的日期「{shown}」；请写成 2025-09-01、2025/9/1、2025年9月1日 或 20250901"
            ),
            format!(
                "{shown:?} is not a date; write 2025-09-01, 2025/9/1, 2025年9月1日 or 20250901"
            ),
        )
    })
}

/// An id cell: text as it is (trimmed); a number is accepted with a warning, since Excel
/// drops the leading zeros of ids typed as numbers.
pub fn id(cell: &Cell) -> Result<Warned, Problem> {
    match cell {
        Cell::Number(n) if n.fract() == 0.0 => {
            let v = number_text(*n);
            Ok(Warned {
                warning: Some((
                    format!(
                        "编号 {v} 是数字单元格：如原编号以 0 开头，Excel 已去掉开头的 0；请把该列设为文本格式"
                    ),
                    format!(
                        "the id {v} is a number cell: if it began with 0, Excel dropped the zeros; format the column as text"
                    ),
                )),
                value: v,
            })
        }
        Cell::Number(_) | Cell::Date(_) | Cell::Bool(_) => {
            let shown = cell.display();
            Err(problem(
                "sheet.id",
                format!("「{shown}」不是编号"),
                format!("{shown:?} is not an id"),
            ))
        }
        c => {
            let t = text(c)?;
            if t.chars().any(char::is_whitespace) {
                return Err(problem(
                    "sheet.id",
                    format!("编号「{t}」含有空格"),
                    format!("the id {t:?} contains spaces"),
                ));
            }
            Ok(Warned {
                value: t,
                warning: None,
            })
        }
    }
}

/// A plain text cell (names, free text), trimmed.
pub fn plain(cell: &Cell) -> Result<String, Problem> {
    text(cell)
}

/// A school year: `2024`, `2024-2025`, `2024学年`, `2024-2025学年`, `2024/2025` are 2024.
pub fn school_year(cell: &Cell) -> Result<String, Problem> {
    let t = text(cell)?;
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    let rest = t[digits.len()..].trim();
    let rest_ok = rest.is_empty()
        || rest == "学年"
        || rest == "年"
        || rest
            .trim_start_matches(['-', '/', '—', '至'])
            .trim_end_matches("学年")
            .parse::<i32>()
            .ok()
            .zip(digits.parse::<i32>().ok())
            .is_some_and(|(b, a)| b == a + 1);
    match digits.parse::<i32>() {
        Ok(y) if digits.len() == 4 && rest_ok => Ok(y.to_string()),
        _ => Err(problem(
            "sheet.number",
            format!("无法识别的学年「{t}」；请写成 2024 或 2024-2025"),
            format!("{t:?} is not a school year; write 2024 or 2024-2025"),
        )),
    }
}

/// A yes/no cell: 是/否, Y/N, TRUE/FALSE, 1/0.
pub fn yes_no(cell: &Cell) -> Result<bool, Problem> {
    if let Cell::Bool(b) = cell {
        return Ok(*b);
    }
    let t = text(cell)?;
    match t.to_lowercase().as_str() {
        "是" | "y" | "yes" | "true" | "1" | "√" | "有" => Ok(true),
        "否" | "n" | "no" | "false" | "0" | "无" | "" => Ok(false),
        _ => Err(problem(
            "sheet.value",
            format!("「{t}」不是 是/否"),
            format!("{t:?} is not yes or no (是/否)"),
        )),
    }
}

/// A vocabulary: the event's value for each Chinese (or English) spelling.
pub struct Vocab {
    /// The field, for messages.
    pub name_zh: &'static str,
    /// (spelling, value); the event's own values are always accepted too.
    pub spellings: &'static [(&'static str, &'static str)],
    /// The event's values, in order (listed in a refusal).
    pub values: &'static [&'static str],
    /// The spellings shown in a refusal.
    pub shown: &'static str,
}

/// 职称.
pub const TITLE: Vocab = Vocab {
    name_zh: "职称",
    spellings: &[
        ("无", "none"),
        ("未定级", "none"),
        ("未评", "none"),
        ("初级", "junior"),
        ("二级", "junior"),
        ("三级", "junior"),
        ("二级教师", "junior"),
        ("三级教师", "junior"),
        ("中级", "intermediate"),
        ("一级", "intermediate"),
        ("一级教师", "intermediate"),
        ("高级", "senior"),
        ("副高级", "senior"),
        ("副高", "senior"),
        ("高级教师", "senior"),
        ("正高级", "full_senior"),
        ("正高", "full_senior"),
        ("正高级教师", "full_senior"),
    ],
    values: &["none", "junior", "intermediate", "senior", "full_senior"],
    shown: "无、初级、中级、高级、正高级",
};

/// 骨干级别.
pub const KEY_LEVEL: Vocab = Vocab {
    name_zh: "骨干级别",
    spellings: &[
        ("无", "none"),
        ("否", "none"),
        ("非骨干", "none"),
        ("校级", "school"),
        ("校级骨干", "school"),
        ("区级", "district"),
        ("区级骨干", "district"),
        ("区骨干", "district"),
        ("市级", "city"),
        ("市级骨干", "city"),
        ("省级", "province"),
        ("省级骨干", "province"),
        ("国家级", "national"),
    ],
    values: &["none", "school", "district", "city", "province", "national"],
    shown: "无、校级、区级、市级、省级、国家级",
};

/// 交流类型.
pub const DISPATCH_KIND: Vocab = Vocab {
    name_zh: "交流类型",
    spellings: &[
        ("交流轮岗", "rotation"),
        ("轮岗", "rotation"),
        ("交流", "rotation"),
        ("支教", "support"),
        ("挂职锻炼", "training"),
        ("挂职", "training"),
        ("跟岗实践", "training"),
        ("跟岗", "training"),
        ("师徒带教", "training"),
    ],
    values: &["rotation", "support", "training"],
    shown: "交流轮岗、支教、挂职锻炼（跟岗实践、师徒带教）",
};

/// 返回原因.
pub const RETURN_REASON: Vocab = Vocab {
    name_zh: "返回原因",
    spellings: &[
        ("期满", "term_completed"),
        ("期满返回", "term_completed"),
        ("任期届满", "term_completed"),
        ("交流期满", "term_completed"),
        ("健康", "health"),
        ("健康原因", "health"),
        ("身体原因", "health"),
        ("家庭困难", "family_hardship"),
        ("家庭原因", "family_hardship"),
        ("学校撤并", "school_closure"),
        ("撤并", "school_closure"),
        ("违纪", "disciplinary"),
        ("处分", "disciplinary"),
        ("其他", "other"),
        ("其它", "other"),
    ],
    values: &[
        "term_completed",
        "health",
        "family_hardship",
        "school_closure",
        "disciplinary",
        "other",
    ],
    shown: "期满、健康原因、家庭困难、学校撤并、违纪、其他",
};

/// 考核等次.
pub const GRADE: Vocab = Vocab {
    name_zh: "考核等次",
    spellings: &[
        ("优秀", "excellent"),
        ("良好", "good"),
        ("合格", "pass"),
        ("称职", "pass"),
        ("基本合格", "basic_pass"),
        ("基本称职", "basic_pass"),
        ("不合格", "fail"),
        ("不称职", "fail"),
    ],
    values: &["excellent", "good", "pass", "basic_pass", "fail"],
    shown: "优秀、良好、合格、基本合格、不合格",
};

/// 晋升类型.
pub const PROMOTION_KIND: Vocab = Vocab {
    name_zh: "晋升类型",
    spellings: &[
        ("职称评定", "title"),
        ("职称", "title"),
        ("职称晋升", "title"),
        ("职级晋升", "rank"),
        ("职级", "rank"),
        ("提任校级干部", "leadership"),
        ("提任", "leadership"),
        ("干部提任", "leadership"),
    ],
    values: &["title", "rank", "leadership"],
    shown: "职称评定、职级晋升、提任校级干部",
};

/// 学科: the subject ids of the policy's scored subjects and the usual others. A subject
/// not listed is kept as it is written (a subject is an id, not a closed vocabulary).
pub const SUBJECTS: &[(&str, &str)] = &[
    ("语文", "chinese"),
    ("数学", "mathematics"),
    ("英语", "english"),
    ("物理", "physics"),
    ("化学", "chemistry"),
    ("道德与法治", "morality_and_law"),
    ("历史", "history"),
    ("体育与健康", "physical_education"),
    ("体育", "physical_education"),
    ("生物", "biology"),
    ("地理", "geography"),
    ("音乐", "music"),
    ("美术", "fine_arts"),
    ("信息技术", "information_technology"),
    ("科学", "science"),
];

/// The Chinese name of a subject id (the first spelling listed), or the id itself.
pub fn subject_zh(id: &str) -> &str {
    SUBJECTS
        .iter()
        .find(|(_, v)| *v == id)
        .map(|(z, _)| *z)
        .unwrap_or(id)
}

/// The Chinese spelling of a vocabulary value (the first listed), or the value itself.
pub fn vocab_zh<'a>(v: &Vocab, value: &'a str) -> &'a str {
    v.spellings
        .iter()
        .find(|(_, x)| *x == value)
        .map(|(z, _)| *z)
        .unwrap_or(value)
}

/// A vocabulary cell to the event's value; `extra` are the MAP file's spellings for it.
pub fn vocab(
    v: &Vocab,
    cell: &Cell,
    extra: Option<&HashMap<String, String>>,
) -> Result<String, Problem> {
    let t = text(cell)?;
    let key = t.trim();
    if let Some(x) = extra.and_then(|m| m.get(key)) {
        return Ok(x.clone());
    }
    if let Some((_, x)) = v.spellings.iter().find(|(s, _)| *s == key) {
        return Ok((*x).to_owned());
    }
    let lower = key.to_lowercase();
    if let Some(x) = v.values.iter().find(|x| **x == lower) {
        return Ok((*x).to_owned());
    }
    Err(problem(
        "sheet.value",
        format!("无法识别的{}「{key}」；可用：{}", v.name_zh, v.shown),
        format!(
            "{key:?} is not a known {} value; use {} (or {})",
            v.name_zh,
            v.shown,
            v.values.join(", ")
        ),
    ))
}

/// A subject cell to its id: a listed Chinese name, or the text as an id.
pub fn subject(cell: &Cell, extra: Option<&HashMap<String, String>>) -> Result<String, Problem> {
    let t = text(cell)?;
    let key = t.trim();
    if let Some(x) = extra.and_then(|m| m.get(key)) {
        return Ok(x.clone());
    }
    if let Some((_, x)) = SUBJECTS.iter().find(|(s, _)| *s == key) {
        return Ok((*x).to_owned());
    }
    id(&Cell::Text(key.to_owned())).map(|w| w.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: Cell) -> Result<String, &'static str> {
        date(&c).map_err(|p| p.rule)
    }

    #[test]
    fn dates_in_office_spellings() {
        for (cell, want) in [
            (Cell::Text("2025/9/1".into()), Ok("2025-09-01".to_owned())),
            (Cell::Text("2025-9-1".into()), Ok("2025-09-01".into())),
            (Cell::Text("2025.09.01".into()), Ok("2025-09-01".into())),
            (Cell::Text("2025年9月1日".into()), Ok("2025-09-01".into())),
            (Cell::Text("20250901".into()), Ok("2025-09-01".into())),
            (
                Cell::Text(" 2025/9/1 0:00:00".into()),
                Ok("2025-09-01".into()),
            ),
            (Cell::Number(20250901.0), Ok("2025-09-01".into())),
            // Excel serial 45901 is 2025-09-01 (1900 date system).
            (Cell::Date(45901.0), Ok("2025-09-01".into())),
            (Cell::Number(45901.0), Ok("2025-09-01".into())),
            (Cell::Date(1.0), Ok("1900-01-01".into())),
            (Cell::Text("2025/2/30".into()), Err("sheet.date")),
            (Cell::Text("9/1/2025".into()), Err("sheet.date")),
            (Cell::Text("明年".into()), Err("sheet.date")),
            (Cell::Error("#REF!".into()), Err("sheet.cell_error")),
            (Cell::Empty, Err("sheet.date")),
        ] {
            assert_eq!(d(cell.clone()), want, "{cell:?}");
        }
    }

    #[test]
    fn ids_typed_as_numbers_warn() {
        let w = id(&Cell::Number(123.0)).unwrap();
        assert_eq!(w.value, "123");
        assert!(w.warning.is_some());
        let w = id(&Cell::Text("00123".into())).unwrap();
        assert_eq!((w.value.as_str(), w.warning), ("00123", None));
        assert_eq!(id(&Cell::Text("T 1".into())).unwrap_err().rule, "sheet.id");
        assert_eq!(id(&Cell::Number(1.5)).unwrap_err().rule, "sheet.id");
    }

    #[test]
    fn vocabularies_map_chinese_and_refuse_the_unknown() {
        assert_eq!(
            vocab(&TITLE, &Cell::Text("高级".into()), None).unwrap(),
            "senior"
        );
        assert_eq!(
            vocab(&TITLE, &Cell::Text("senior".into()), None).unwrap(),
            "senior"
        );
        assert_eq!(
            vocab(&GRADE, &Cell::Text("基本合格".into()), None).unwrap(),
            "basic_pass"
        );
        assert_eq!(
            vocab(&DISPATCH_KIND, &Cell::Text("支教".into()), None).unwrap(),
            "support"
        );
        let p = vocab(&TITLE, &Cell::Text("中教高级".into()), None).unwrap_err();
        assert_eq!(p.rule, "sheet.value");
        assert!(p.zh.contains("职称"), "{}", p.zh);
        let extra: HashMap<String, String> = [("中教高级".to_owned(), "senior".to_owned())].into();
        assert_eq!(
            vocab(&TITLE, &Cell::Text("中教高级".into()), Some(&extra)).unwrap(),
            "senior"
        );
        assert_eq!(
            subject(&Cell::Text("数学".into()), None).unwrap(),
            "mathematics"
        );
        assert_eq!(subject(&Cell::Text("书法".into()), None).unwrap(), "书法");
        for (z, id) in SUBJECTS {
            assert_eq!(
                subject(&Cell::Text(subject_zh(id).into()), None).unwrap(),
                *id,
                "{z}"
            );
        }
    }

    #[test]
    fn school_years_and_yes_no() {
        for t in [
            "2024",
            "2024-2025",
            "2024学年",
            "2024-2025学年",
            "2024/2025",
        ] {
            assert_eq!(school_year(&Cell::Text(t.into())).unwrap(), "2024", "{t}");
        }
        assert_eq!(school_year(&Cell::Number(2024.0)).unwrap(), "2024");
        assert!(school_year(&Cell::Text("2024-2026".into())).is_err());
        assert!(school_year(&Cell::Text("24".into())).is_err());
        assert!(yes_no(&Cell::Text("是".into())).unwrap());
        assert!(!yes_no(&Cell::Text("否".into())).unwrap());
        assert!(yes_no(&Cell::Text("也许".into())).is_err());
    }
}
