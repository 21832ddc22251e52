//! One row to one event (docs/EVENTS.md), per kind of sheet. A row that cannot become an
//! event is refused naming its column and the rule; the ledger's own rules are judged later
//! (`Ledger.Check`).

use std::collections::HashMap;

use serde_json::Value;

/// An event's members in the order EVENTS.md lists them (serde_json's map would sort them).
type Map = Vec<(String, Value)>;

use super::header::{Columns, MapFile};
use super::normalize::{self, Problem};
use super::read::{Cell, Row};
use super::{Kind, Lang};

/// A row refused before the ledger saw it: the column (its field), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// The event field of the column at fault (`None`: the row as a whole).
    pub field: Option<&'static str>,
    /// Why.
    pub problem: Problem,
}

/// A row made into an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// The event's JSON text.
    pub event: String,
    /// Dispatches: the team and the start date (a team's rows go in one append).
    pub team: Option<(String, String)>,
    /// Warnings: (field, Chinese, English).
    pub warnings: Vec<(&'static str, String, String)>,
}

/// The id a dispatch gets when the sheet has no dispatch column: from the teacher and the
/// start date, so a returns or evaluations sheet without one finds the same dispatch.
pub fn derived_dispatch_id(teacher: &str, start_date: &str) -> String {
    format!("D-{teacher}-{}", start_date.replace('-', ""))
}

struct Ctx<'a> {
    row: &'a Row,
    cols: &'a Columns,
    values: &'a HashMap<String, HashMap<String, String>>,
    warnings: Vec<(&'static str, String, String)>,
}

fn required(field: &'static str) -> RowProblem {
    RowProblem {
        field: Some(field),
        problem: Problem {
            rule: "sheet.required",
            zh: "必填项为空".into(),
            en: "a required cell is empty".into(),
        },
    }
}

impl Ctx<'_> {
    /// The cell of `field`: `None` when the sheet has no such column or the cell is blank.
    fn cell(&self, field: &'static str) -> Result<Option<&Cell>, RowProblem> {
        let Some(c) = self.cols.column(field) else {
            return Ok(None);
        };
        if self.row.merged.contains(&c) {
            return Err(RowProblem {
                field: Some(field),
                problem: Problem {
                    rule: "sheet.merged",
                    zh: "合并单元格：请取消合并，并在每一行填写该值".into(),
                    en: "a merged cell: unmerge it and fill the value in on every row".into(),
                },
            });
        }
        Ok(self.row.cells.get(c).filter(|x| !x.is_blank()))
    }

    fn at(field: &'static str) -> impl FnOnce(Problem) -> RowProblem {
        move |problem| RowProblem {
            field: Some(field),
            problem,
        }
    }

    fn need(&self, field: &'static str) -> Result<&Cell, RowProblem> {
        self.cell(field)?.ok_or_else(|| required(field))
    }

    fn id(&mut self, field: &'static str) -> Result<Option<String>, RowProblem> {
        let Some(c) = self.cell(field)? else {
            return Ok(None);
        };
        let w = normalize::id(c).map_err(Self::at(field))?;
        if let Some((zh, en)) = w.warning {
            self.warnings.push((field, zh, en));
        }
        Ok(Some(w.value))
    }

    fn need_id(&mut self, field: &'static str) -> Result<String, RowProblem> {
        self.id(field)?.ok_or_else(|| required(field))
    }

    fn date(&self, field: &'static str) -> Result<Option<String>, RowProblem> {
        match self.cell(field)? {
            None => Ok(None),
            Some(c) => normalize::date(c).map(Some).map_err(Self::at(field)),
        }
    }

    fn need_date(&self, field: &'static str) -> Result<String, RowProblem> {
        self.date(field)?.ok_or_else(|| required(field))
    }

    fn text(&self, field: &'static str) -> Result<Option<String>, RowProblem> {
        match self.cell(field)? {
            None => Ok(None),
            Some(c) => normalize::plain(c).map(Some).map_err(Self::at(field)),
        }
    }

    fn vocab(
        &self,
        field: &'static str,
        v: &normalize::Vocab,
    ) -> Result<Option<String>, RowProblem> {
        match self.cell(field)? {
            None => Ok(None),
            Some(c) => normalize::vocab(v, c, self.values.get(field))
                .map(Some)
                .map_err(Self::at(field)),
        }
    }

    /// The dispatch id: its column, or derived from the teacher and the start date.
    fn dispatch(&mut self) -> Result<String, RowProblem> {
        if let Some(d) = self.id("dispatch")? {
            return Ok(d);
        }
        let teacher = self.id("teacher")?;
        let start = self.date("start_date")?;
        match (teacher, start) {
            (Some(t), Some(s)) => Ok(derived_dispatch_id(&t, &s)),
            _ => Err(RowProblem {
                field: Some("dispatch"),
                problem: Problem {
                    rule: "sheet.required",
                    zh: "缺少派遣编号（或工号与开始日期）".into(),
                    en: "no dispatch id (nor teacher and start date to derive it)".into(),
                },
            }),
        }
    }
}

fn event(kind: Kind) -> Map {
    vec![
        ("type".into(), Value::from(kind.event_type())),
        ("version".into(), Value::from(1)),
    ]
}

fn put(m: &mut Map, k: &str, v: impl Into<Value>) {
    m.push((k.to_owned(), v.into()));
}

fn put_opt(m: &mut Map, k: &str, v: Option<String>) {
    if let Some(v) = v {
        m.push((k.to_owned(), Value::from(v)));
    }
}

/// The event's JSON text, members in order.
fn to_json(m: &Map) -> String {
    let members: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{}:{v}", Value::from(k.as_str())))
        .collect();
    format!("{{{}}}", members.join(","))
}

/// Makes `row` (a data row under `cols`) into `kind`'s event.
pub fn convert(
    kind: Kind,
    cols: &Columns,
    map: &MapFile,
    row: &Row,
) -> Result<Converted, RowProblem> {
    let mut cx = Ctx {
        row,
        cols,
        values: &map.values,
        warnings: Vec::new(),
    };
    let mut m = event(kind);
    let mut team = None;
    match kind {
        Kind::Roster => {
            put(&mut m, "teacher", cx.need_id("teacher")?);
            put(
                &mut m,
                "name",
                cx.text("name")?.ok_or_else(|| required("name"))?,
            );
            put(&mut m, "school", cx.need_id("school")?);
            let subject = cx.need("subject")?;
            let subject = normalize::subject(subject, cx.values.get("subject"))
                .map_err(Ctx::at("subject"))?;
            put(&mut m, "subject", subject);
            let title = cx
                .vocab("title", &normalize::TITLE)?
                .ok_or_else(|| required("title"))?;
            put(&mut m, "title", title);
            put_opt(&mut m, "title_date", cx.date("title_date")?);
            let key = cx.vocab("key_level", &normalize::KEY_LEVEL)?;
            put(&mut m, "key_level", key.unwrap_or_else(|| "none".into()));
            let employed = cx.need_date("employed_date")?;
            put(&mut m, "employed_date", employed.clone());
            put_opt(&mut m, "retirement_date", cx.date("retirement_date")?);
            put(&mut m, "date", cx.date("date")?.unwrap_or(employed));
        }
        Kind::Dispatches => {
            let teacher = cx.need_id("teacher")?;
            let start = cx.need_date("start_date")?;
            let dispatch = match cx.id("dispatch")? {
                Some(d) => d,
                None => derived_dispatch_id(&teacher, &start),
            };
            put(&mut m, "dispatch", dispatch);
            put(&mut m, "teacher", teacher);
            put(&mut m, "from_school", cx.need_id("from_school")?);
            put(&mut m, "to_school", cx.need_id("to_school")?);
            put(&mut m, "start_date", start.clone());
            let k = cx.vocab("kind", &normalize::DISPATCH_KIND)?;
            put(&mut m, "kind", k.unwrap_or_else(|| "rotation".into()));
            if let Some(t) = cx.id("team")? {
                team = Some((t.clone(), start));
                put(&mut m, "team", t);
            }
        }
        Kind::Returns => {
            put(&mut m, "dispatch", cx.dispatch()?);
            put(&mut m, "return_date", cx.need_date("return_date")?);
            let reason = cx
                .vocab("reason", &normalize::RETURN_REASON)?
                .ok_or_else(|| required("reason"))?;
            put(&mut m, "reason", reason);
            put_opt(&mut m, "reason_text", cx.text("reason_text")?);
        }
        Kind::Evaluations => {
            put(&mut m, "dispatch", cx.dispatch()?);
            put(&mut m, "school", cx.need_id("school")?);
            let y =
                normalize::school_year(cx.need("school_year")?).map_err(Ctx::at("school_year"))?;
            let y: i64 = y.parse().map_err(|_| required("school_year"))?;
            put(&mut m, "school_year", y);
            let grade = cx
                .vocab("grade", &normalize::GRADE)?
                .ok_or_else(|| required("grade"))?;
            put(&mut m, "grade", grade);
            put(&mut m, "date", cx.need_date("date")?);
        }
        Kind::Promotions => {
            put(&mut m, "teacher", cx.need_id("teacher")?);
            let k = cx
                .vocab("kind", &normalize::PROMOTION_KIND)?
                .ok_or_else(|| required("kind"))?;
            // A title promotion names a title (高级 -> senior); the others free text.
            let to = if k == "title" {
                cx.vocab("to", &normalize::TITLE)?
            } else {
                cx.text("to")?
            };
            put(&mut m, "kind", k);
            put(&mut m, "to", to.ok_or_else(|| required("to"))?);
            put(&mut m, "date", cx.need_date("date")?);
            let credit = match cx.cell("rotation_credit")? {
                None => false,
                Some(c) => normalize::yes_no(c).map_err(Ctx::at("rotation_credit"))?,
            };
            put(&mut m, "rotation_credit", credit);
        }
    }
    Ok(Converted {
        event: to_json(&m),
        team,
        warnings: cx.warnings,
    })
}

impl RowProblem {
    /// The message in `lang`.
    pub fn message(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.problem.zh,
            Lang::En => &self.problem.en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::header::HeaderSearch;

    fn text_row(n: u64, cells: &[&str]) -> Row {
        Row {
            number: n,
            cells: cells
                .iter()
                .map(|c| {
                    if c.is_empty() {
                        Cell::Empty
                    } else {
                        Cell::Text((*c).into())
                    }
                })
                .collect(),
            merged: Vec::new(),
        }
    }

    fn columns(kind: Kind, header: &[&str]) -> Columns {
        let mut s = HeaderSearch::new(kind, MapFile::default());
        let h = text_row(1, header);
        s.offer(&h).unwrap_or_else(|| s.finish()).unwrap()
    }

    #[test]
    fn roster_row_becomes_a_registration() {
        let cols = columns(
            Kind::Roster,
            &[
                "工号",
                "姓名",
                "学校代码",
                "学科",
                "职称",
                "骨干级别",
                "入校日期",
            ],
        );
        let row = text_row(
            2,
            &["T001", "王芳", "S1", "数学", "中级", "区级", "2015年9月1日"],
        );
        let c = convert(Kind::Roster, &cols, &MapFile::default(), &row).unwrap();
        assert_eq!(
            c.event,
            r#"{"type":"teacher_registered","version":1,"teacher":"T001","name":"王芳","school":"S1","subject":"mathematics","title":"intermediate","key_level":"district","employed_date":"2015-09-01","date":"2015-09-01"}"#
        );
        let bad = text_row(
            3,
            &["T002", "李明", "S1", "数学", "中教高级", "", "2015/9/1"],
        );
        let p = convert(Kind::Roster, &cols, &MapFile::default(), &bad).unwrap_err();
        assert_eq!((p.field, p.problem.rule), (Some("title"), "sheet.value"));
        let empty = text_row(4, &["T003", "", "S1", "数学", "中级", "", "2015/9/1"]);
        let p = convert(Kind::Roster, &cols, &MapFile::default(), &empty).unwrap_err();
        assert_eq!((p.field, p.problem.rule), (Some("name"), "sheet.required"));
    }

    #[test]
    fn dispatch_without_id_derives_one_and_returns_find_it() {
        let cols = columns(
            Kind::Dispatches,
            &[
                "工号",
                "派出学校",
                "接收学校",
                "开始日期",
                "交流类型",
                "团队",
            ],
        );
        let row = text_row(2, &["T1", "S1", "S2", "2025/9/1", "支教", "TM1"]);
        let c = convert(Kind::Dispatches, &cols, &MapFile::default(), &row).unwrap();
        assert!(
            c.event.contains(r#""dispatch":"D-T1-20250901""#),
            "{}",
            c.event
        );
        assert!(c.event.contains(r#""kind":"support""#));
        assert_eq!(c.team, Some(("TM1".into(), "2025-09-01".into())));
        let cols = columns(Kind::Returns, &["工号", "开始日期", "返回日期", "返回原因"]);
        let row = text_row(2, &["T1", "2025-09-01", "2028/9/1", "期满"]);
        let c = convert(Kind::Returns, &cols, &MapFile::default(), &row).unwrap();
        assert_eq!(
            c.event,
            r#"{"type":"teacher_returned","version":1,"dispatch":"D-T1-20250901","return_date":"2028-09-01","reason":"term_completed"}"#
        );
    }

    #[test]
    fn merged_cells_are_refused_naming_the_column() {
        let cols = columns(
            Kind::Evaluations,
            &["派遣编号", "考核学校", "学年", "考核等次", "考核日期"],
        );
        let mut row = text_row(3, &["D1", "", "2024", "优秀", "2025/7/1"]);
        row.merged = vec![1];
        let p = convert(Kind::Evaluations, &cols, &MapFile::default(), &row).unwrap_err();
        assert_eq!((p.field, p.problem.rule), (Some("school"), "sheet.merged"));
    }
}
