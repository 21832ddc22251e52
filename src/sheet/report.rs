//! What a check or a load found, for the clerk: the report (one line per refused row with
//! its row number, column, rule and message, in Chinese or English; then warnings and the
//! totals) and the annotated copy of the sheet (xlsx, the sheet's own cells plus a status
//! column and a note column), so the sheet is fixed in Excel and loaded again.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use rust_xlsxwriter::{Color, Format, Workbook};

use super::read::{self, Cell, MAX_COLUMNS};
use super::{Kind, Lang, SheetError};

/// Rows the annotated copy holds at most (it is built in memory); a longer sheet gets the
/// report only.
pub const MAX_ANNOTATED_ROWS: u64 = 200_000;

/// What became of one data row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The ledger would accept it (a check).
    Passed,
    /// Appended (a load).
    Appended,
    /// Already in the ledger: a load of the same row appended it before.
    Present,
    /// Refused: by the sheet reader or by a ledger rule (boxed: a status is kept per row,
    /// and most rows pass).
    Refused(Box<Refusal>),
}

/// Why a row was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The column's header as the sheet writes it.
    pub column: String,
    /// The rule: `sheet.*` or the ledger's rule code (docs/EVENTS.md).
    pub rule: String,
    /// The message in the report's language.
    pub message: String,
}

impl Status {
    /// A refusal.
    pub fn refused(column: String, rule: String, message: String) -> Status {
        Status::Refused(Box::new(Refusal {
            column,
            rule,
            message,
        }))
    }
}

impl Status {
    /// The status column's text.
    pub fn label(&self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Status::Passed, Lang::Zh) => "通过",
            (Status::Appended, Lang::Zh) => "已导入",
            (Status::Present, Lang::Zh) => "已存在",
            (Status::Refused(_), Lang::Zh) => "拒绝",
            (Status::Passed, Lang::En) => "passes",
            (Status::Appended, Lang::En) => "appended",
            (Status::Present, Lang::En) => "already present",
            (Status::Refused(_), Lang::En) => "refused",
        }
    }
}

/// Everything a report says.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// Each data row's status, by row number.
    pub rows: Vec<(u64, Status)>,
    /// Warnings: (row, column, message).
    pub warnings: Vec<(u64, String, String)>,
}

/// Totals of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    /// Data rows (blank rows not counted).
    pub rows: u64,
    /// Rows the ledger would accept.
    pub passed: u64,
    /// Rows appended.
    pub appended: u64,
    /// Rows already in the ledger.
    pub present: u64,
    /// Rows refused.
    pub refused: u64,
    /// Warnings.
    pub warnings: u64,
}

impl Findings {
    /// The totals.
    pub fn totals(&self) -> Totals {
        let mut t = Totals {
            rows: self.rows.len() as u64,
            warnings: self.warnings.len() as u64,
            ..Totals::default()
        };
        for (_, s) in &self.rows {
            match s {
                Status::Passed => t.passed += 1,
                Status::Appended => t.appended += 1,
                Status::Present => t.present += 1,
                Status::Refused(_) => t.refused += 1,
            }
        }
        t
    }
}

/// The Chinese sentence for a ledger rule code (docs/EVENTS.md); the server's own (English)
/// message follows it in the report.
pub fn rule_zh(rule: &str) -> &'static str {
    match rule {
        "teacher.duplicate_id" => "该工号已登记",
        "school.duplicate_id" => "该学校代码已登记",
        "dispatch.duplicate_id" => "该派遣编号已存在",
        "teacher.unknown" => "账本中没有这名教师（请先导入花名册）",
        "school.unknown" => "账本中没有这所学校",
        "dispatch.unknown" => "账本中没有这次派遣",
        "dispatch.from_home_school" => "派出学校不是该教师当日的编制学校",
        "dispatch.same_school" => "派出学校与接收学校相同",
        "dispatch.open_dispatch" => "该教师尚有未结束的交流",
        "dispatch.overlap" => "与该教师的另一次交流时间重叠",
        "team.min_size" => "新组建的团队人数不足（同一团队须在连续的行中列出）",
        "team.weak_school" => "团队的接收学校须为相对薄弱校",
        "team.school_mismatch" => "团队成员的接收学校不一致",
        "team.start_mismatch" => "团队成员的开始日期不一致",
        "team.joins_before_start" => "加入团队的日期早于团队组建日期",
        "return.already_returned" => "该次交流已返回",
        "return.before_start" => "返回日期早于开始日期",
        "evaluation.receiving_school" => "只有接收学校可以考核",
        "evaluation.school_year" => "该学年与交流期间不重叠",
        "evaluation.duplicate" => "该学年已有考核结果",
        "evaluation.before_start" => "考核日期早于交流开始日期",
        "promotion.rotation_credit" => "不满足使用交流经历的条件",
        "promotion.leadership_credit" => "不满足提任所需的交流经历",
        "promotion.senior_title" => "晋升高级职称须有农村或薄弱学校任教经历",
        "INVALID_INPUT" => "数据格式不符合要求",
        "REQUEST_ID_REUSED" => "请求编号冲突",
        _ => "账本规则拒绝",
    }
}

/// The report's text.
pub fn render(
    lang: Lang,
    file: &Path,
    source: &read::Source,
    kind: Kind,
    header_row: u64,
    findings: &Findings,
    load: bool,
) -> String {
    let t = findings.totals();
    let mut out = String::new();
    let name = file.display();
    // Writing to a String cannot fail.
    let _ = match lang {
        Lang::Zh => writeln!(
            out,
            "rotaledger 表格{}报告\n文件：{name}（{}，工作表 {}）\n类型：{kind}；表头：第 {header_row} 行\n\
             共 {} 行：{}，拒绝 {}，警告 {}\n",
            if load { "导入" } else { "检查" },
            source.format,
            source.sheet,
            t.rows,
            if load {
                format!("已导入 {}，已存在 {}", t.appended, t.present)
            } else {
                format!("通过 {}，已存在 {}", t.passed, t.present)
            },
            t.refused,
            t.warnings
        ),
        Lang::En => writeln!(
            out,
            "rotaledger sheet {} report\nfile: {name} ({}, sheet {})\nkind: {kind}; header: row {header_row}\n\
             {} rows: {}, refused {}, warnings {}\n",
            if load { "load" } else { "check" },
            source.format,
            source.sheet,
            t.rows,
            if load {
                format!("appended {}, already present {}", t.appended, t.present)
            } else {
                format!("pass {}, already present {}", t.passed, t.present)
            },
            t.refused,
            t.warnings
        ),
    };
    for (row, s) in &findings.rows {
        if let Status::Refused(r) = s {
            let Refusal {
                column,
                rule,
                message,
            } = r.as_ref();
            let _ = match lang {
                Lang::Zh => writeln!(out, "第 {row} 行\t列「{column}」\t规则 {rule}\t{message}"),
                Lang::En => writeln!(out, "row {row}\tcolumn {column}\trule {rule}\t{message}"),
            };
        }
    }
    if !findings.warnings.is_empty() {
        out.push('\n');
    }
    for (row, column, message) in &findings.warnings {
        let _ = match lang {
            Lang::Zh => writeln!(out, "警告：第 {row} 行\t列「{column}」\t{message}"),
            Lang::En => writeln!(out, "warning: row {row}\tcolumn {column}\t{message}"),
        };
    }
    out
}

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> SheetError {
    SheetError::Io {
        path: "annotated copy".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Writes the annotated copy of the sheet at `input` to `out`: every row's cells as read
/// (dates as dates), then a status column and a note column on the header row and the data
/// rows (refused rows highlighted). `None` if the sheet has more than
/// [`MAX_ANNOTATED_ROWS`] rows (nothing written).
pub fn annotate(
    lang: Lang,
    input: &Path,
    sheet: Option<&str>,
    header_row: u64,
    findings: &Findings,
    out: &Path,
) -> Result<Option<()>, SheetError> {
    let by_row: HashMap<u64, &Status> = findings.rows.iter().map(|(r, s)| (*r, s)).collect();
    let mut notes: HashMap<u64, Vec<&str>> = HashMap::new();
    for (r, _, m) in &findings.warnings {
        notes.entry(*r).or_default().push(m);
    }
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let bold = Format::new().set_bold();
    let red = Format::new().set_background_color(Color::RGB(0xFFC7CE));
    let status_col = MAX_COLUMNS as u16;
    let mut width = 0u16;
    let mut too_long = false;
    let mut rows: Vec<read::Row> = Vec::new();
    read::for_each_row(input, sheet, |row| {
        if row.number > MAX_ANNOTATED_ROWS {
            too_long = true;
            return Err(SheetError::TooLarge(String::new()));
        }
        width = width.max(row.cells.len() as u16);
        rows.push(row);
        Ok(())
    })
    .or_else(|e| {
        if too_long {
            Ok(read::Source {
                sheet: String::new(),
                format: String::new(),
            })
        } else {
            Err(e)
        }
    })?;
    if too_long {
        return Ok(None);
    }
    let (sc, nc) = (width.min(status_col), width.min(status_col) + 1);
    for row in &rows {
        let r = u32::try_from(row.number - 1).unwrap_or(u32::MAX);
        for (c, cell) in row.cells.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Empty => continue,
                Cell::Text(t) => ws.write_string(r, c, t),
                Cell::Number(n) => ws.write_number(r, c, *n),
                Cell::Date(n) => ws.write_number_with_format(r, c, *n, &date),
                Cell::Bool(b) => ws.write_boolean(r, c, *b),
                Cell::Error(e) => ws.write_string(r, c, e),
            }
            .map_err(xlsx_err)?;
        }
        if row.number == header_row {
            let (s, n) = match lang {
                Lang::Zh => ("导入状态", "说明"),
                Lang::En => ("status", "note"),
            };
            ws.write_string_with_format(r, sc, s, &bold)
                .map_err(xlsx_err)?;
            ws.write_string_with_format(r, nc, n, &bold)
                .map_err(xlsx_err)?;
            continue;
        }
        let Some(status) = by_row.get(&row.number) else {
            continue;
        };
        let mut note = String::new();
        if let Status::Refused(refusal) = status {
            let Refusal {
                column,
                rule,
                message,
            } = refusal.as_ref();
            note = match lang {
                Lang::Zh => format!("列「{column}」 {rule}：{message}"),
                Lang::En => format!("column {column}, {rule}: {message}"),
            };
            ws.write_string_with_format(r, sc, status.label(lang), &red)
                .map_err(xlsx_err)?;
        } else {
            ws.write_string(r, sc, status.label(lang))
                .map_err(xlsx_err)?;
        }
        if let Some(w) = notes.get(&row.number) {
            for m in w {
                if !note.is_empty() {
                    note.push('；');
                }
                note.push_str(m);
            }
        }
        if !note.is_empty() {
            ws.write_string(r, nc, &note).map_err(xlsx_err)?;
        }
    }
    let bytes = book.save_to_buffer().map_err(xlsx_err)?;
    crate::atomic::AtomicFile::write_all(out, &bytes).map_err(|e| SheetError::Io {
        path: out.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(Some(()))
}
