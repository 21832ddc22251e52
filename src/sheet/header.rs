//! The header: which row names the columns, and which column is which event field. The
//! Chinese headers bureaus use (and the events' own field names) are recognised by default;
//! a MAP file (TOML, docs/SHEETS.md) names any other header and adds vocabulary spellings.

use std::collections::HashMap;
use std::path::Path;

use super::read::{Cell, Row};
use super::{Kind, SheetError};

/// The header is looked for in the first this many rows (titles above it are skipped).
pub const HEADER_SEARCH_ROWS: usize = 20;

/// One field of a kind's event and the headers that name it.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// The event's field (`teacher`, `start_date`, ...).
    pub field: &'static str,
    /// The header `generate --sheets` writes, and the column's name in reports.
    pub label: &'static str,
    /// Other headers recognised.
    pub aliases: &'static [&'static str],
    /// Whether a sheet without the column is refused.
    pub required: bool,
}

const fn f(
    field: &'static str,
    label: &'static str,
    aliases: &'static [&'static str],
    required: bool,
) -> FieldSpec {
    FieldSpec {
        field,
        label,
        aliases,
        required,
    }
}

const TEACHER: FieldSpec = f(
    "teacher",
    "工号",
    &[
        "教师编号",
        "教工号",
        "教师工号",
        "职工号",
        "人员编号",
        "教师id",
    ],
    true,
);

const ROSTER: &[FieldSpec] = &[
    TEACHER,
    f("name", "姓名", &["教师姓名"], true),
    f(
        "school",
        "学校代码",
        &["学校", "学校编号", "所在学校", "编制学校", "编制所在学校"],
        true,
    ),
    f("subject", "学科", &["任教学科", "主教学科"], true),
    f("title", "职称", &["专业技术职称", "职称等级"], true),
    f(
        "title_date",
        "职称取得日期",
        &["职称时间", "取得职称日期", "职称评定日期"],
        false,
    ),
    f(
        "key_level",
        "骨干级别",
        &["骨干教师级别", "骨干等级", "骨干教师"],
        false,
    ),
    f(
        "employed_date",
        "入校日期",
        &["到校日期", "本校任职日期", "入职日期", "调入本校日期"],
        true,
    ),
    f("retirement_date", "退休日期", &["预计退休日期"], false),
    f("date", "登记日期", &["生效日期"], false),
];

const DISPATCHES: &[FieldSpec] = &[
    f(
        "dispatch",
        "派遣编号",
        &["交流编号", "轮岗编号", "流动编号"],
        false,
    ),
    TEACHER,
    f("name", "姓名", &["教师姓名"], false),
    f(
        "from_school",
        "派出学校",
        &["派出学校代码", "流出学校", "原学校"],
        true,
    ),
    f(
        "to_school",
        "接收学校",
        &["接收学校代码", "流入学校", "交流学校"],
        true,
    ),
    f(
        "start_date",
        "开始日期",
        &["交流开始日期", "到岗日期", "起始日期"],
        true,
    ),
    f("kind", "交流类型", &["交流方式", "类型"], false),
    f("team", "团队", &["团队编号", "组团编号", "组团"], false),
];

/// The columns that name the dispatch a return or an evaluation is about (its id, or the
/// teacher and the start date; the name only to show), shared by both sheets.
const DISPATCH_REF: [FieldSpec; 4] = [
    f(
        "dispatch",
        "派遣编号",
        &["交流编号", "轮岗编号", "流动编号"],
        false,
    ),
    f(
        "teacher",
        "工号",
        &["教师编号", "教工号", "教师工号", "职工号"],
        false,
    ),
    f("name", "姓名", &["教师姓名"], false),
    f(
        "start_date",
        "开始日期",
        &["交流开始日期", "到岗日期"],
        false,
    ),
];

const RETURNS: &[FieldSpec] = &[
    DISPATCH_REF[0],
    DISPATCH_REF[1],
    DISPATCH_REF[2],
    DISPATCH_REF[3],
    f(
        "return_date",
        "返回日期",
        &["回校日期", "结束日期", "交流结束日期"],
        true,
    ),
    f("reason", "返回原因", &["原因"], true),
    f("reason_text", "原因说明", &["说明", "备注"], false),
];

const EVALUATIONS: &[FieldSpec] = &[
    DISPATCH_REF[0],
    DISPATCH_REF[1],
    DISPATCH_REF[2],
    DISPATCH_REF[3],
    f(
        "school",
        "考核学校",
        &["接收学校", "考核单位", "流入学校"],
        true,
    ),
    f("school_year", "学年", &["考核学年", "考核年度"], true),
    f("grade", "考核等次", &["考核结果", "等次"], true),
    f("date", "考核日期", &["日期"], true),
];

const PROMOTIONS: &[FieldSpec] = &[
    TEACHER,
    f("name", "姓名", &["教师姓名"], false),
    f("kind", "晋升类型", &["类型"], true),
    f(
        "to",
        "晋升为",
        &["晋升至", "新职称", "新职务", "职务"],
        true,
    ),
    f("date", "晋升日期", &["评定日期", "日期"], true),
    f(
        "rotation_credit",
        "使用交流经历",
        &["申请交流经历认定", "交流经历认定"],
        false,
    ),
];

/// The fields of a kind, in the order `generate --sheets` writes them.
pub fn fields(kind: Kind) -> &'static [FieldSpec] {
    match kind {
        Kind::Roster => ROSTER,
        Kind::Dispatches => DISPATCHES,
        Kind::Returns => RETURNS,
        Kind::Evaluations => EVALUATIONS,
        Kind::Promotions => PROMOTIONS,
    }
}

/// A header as compared: no spaces, brackets, stars or case.
fn key(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && !"()（）*＊:：".contains(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The MAP file (TOML):
///
/// ```toml
/// header_row = 3                  # optional: the header's row number
/// [columns]                       # header text = event field
/// "人员编码" = "teacher"
/// [values.title]                  # cell text = vocabulary value, per field
/// "中学高级教师" = "senior"
/// ```
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapFile {
    /// The header's row number (from 1), if the search should not guess.
    #[serde(default)]
    pub header_row: Option<u64>,
    /// Header text -> event field.
    #[serde(default)]
    pub columns: HashMap<String, String>,
    /// Per field: cell text -> vocabulary value.
    #[serde(default)]
    pub values: HashMap<String, HashMap<String, String>>,
}

impl MapFile {
    /// Reads and checks a MAP file against `kind`'s fields.
    pub fn load(path: &Path, kind: Kind) -> Result<MapFile, SheetError> {
        let err = |problem: String| SheetError::Map {
            path: path.display().to_string(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let map: MapFile = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        let known: Vec<&str> = fields(kind).iter().map(|f| f.field).collect();
        for (h, field) in &map.columns {
            if !known.contains(&field.as_str()) {
                return Err(err(format!(
                    "column {h:?} maps to {field:?}, not a field of a {kind} sheet ({})",
                    known.join(", ")
                )));
            }
        }
        for field in map.values.keys() {
            if !known.contains(&field.as_str()) {
                return Err(err(format!(
                    "[values.{field}]: not a field of a {kind} sheet ({})",
                    known.join(", ")
                )));
            }
        }
        Ok(map)
    }
}

/// Which column holds which field.
#[derive(Debug, Clone)]
pub struct Columns {
    /// The header's row number.
    pub header_row: u64,
    /// (column index, field spec) for each recognised column.
    pub found: Vec<(usize, &'static FieldSpec)>,
    /// The header's cells as written (for the annotated copy and reports).
    pub headers: Vec<String>,
}

impl Columns {
    /// The column of `field`, if the sheet has one.
    pub fn column(&self, field: &str) -> Option<usize> {
        self.found
            .iter()
            .find(|(_, f)| f.field == field)
            .map(|(c, _)| *c)
    }

    /// The header a person reads for `field`: the sheet's own text, else the default label.
    pub fn label(&self, kind: Kind, field: &str) -> String {
        if let Some(c) = self.column(field)
            && let Some(h) = self.headers.get(c)
            && !h.is_empty()
        {
            return h.clone();
        }
        fields(kind)
            .iter()
            .find(|f| f.field == field)
            .map(|f| f.label.to_owned())
            .unwrap_or_else(|| field.to_owned())
    }
}

/// Matches one row as a header: the recognised columns (each field once, the first column
/// naming it wins).
fn match_row(kind: Kind, map: &MapFile, row: &Row) -> Vec<(usize, &'static FieldSpec)> {
    let specs = fields(kind);
    let mapped: HashMap<String, &str> = map
        .columns
        .iter()
        .map(|(h, f)| (key(h), f.as_str()))
        .collect();
    let mut found: Vec<(usize, &'static FieldSpec)> = Vec::new();
    for (c, cell) in row.cells.iter().enumerate() {
        let Cell::Text(t) = cell else { continue };
        let k = key(t);
        if k.is_empty() {
            continue;
        }
        let spec = match mapped.get(&k) {
            Some(field) => specs.iter().find(|s| s.field == *field),
            None => specs.iter().find(|s| {
                key(s.label) == k || key(s.field) == k || s.aliases.iter().any(|a| key(a) == k)
            }),
        };
        if let Some(s) = spec
            && !found.iter().any(|(_, x)| x.field == s.field)
        {
            found.push((c, s));
        }
    }
    found
}

/// Looks for the header among the first rows: the row (or the MAP file's `header_row`) that
/// names the most fields; it must name every required field.
pub struct HeaderSearch {
    kind: Kind,
    map: MapFile,
    best: Option<(Row, usize)>,
    seen: usize,
}

impl HeaderSearch {
    /// A search for `kind`'s header.
    pub fn new(kind: Kind, map: MapFile) -> HeaderSearch {
        HeaderSearch {
            kind,
            map,
            best: None,
            seen: 0,
        }
    }

    /// The MAP file's vocabulary spellings.
    pub fn map(&self) -> &MapFile {
        &self.map
    }

    /// Offers the next row. `Some` once the header is decided (the search is over).
    pub fn offer(&mut self, row: &Row) -> Option<Result<Columns, SheetError>> {
        if let Some(h) = self.map.header_row {
            if row.number < h {
                return None;
            }
            return Some(self.decide(Some((row.clone(), 0))));
        }
        if row.is_blank() {
            return None;
        }
        self.seen += 1;
        let n = match_row(self.kind, &self.map, row).len();
        if n > self.best.as_ref().map(|(_, b)| *b).unwrap_or(0) {
            self.best = Some((row.clone(), n));
        }
        // Every field named: no later row can do better.
        if n == fields(self.kind).len() || self.seen >= HEADER_SEARCH_ROWS {
            let best = self.best.take();
            return Some(self.decide(best));
        }
        None
    }

    /// The sheet ended (or the search window did).
    pub fn finish(&mut self) -> Result<Columns, SheetError> {
        let best = self.best.take();
        self.decide(best)
    }

    /// True once the best row so far is final for rows after it: the caller holds rows
    /// offered after the best one and replays them as data.
    pub fn best_row(&self) -> Option<u64> {
        self.best.as_ref().map(|(r, _)| r.number)
    }

    fn decide(&self, best: Option<(Row, usize)>) -> Result<Columns, SheetError> {
        let kind = self.kind;
        let required: Vec<&FieldSpec> = fields(kind).iter().filter(|f| f.required).collect();
        let expected = required
            .iter()
            .map(|f| f.label)
            .collect::<Vec<_>>()
            .join("、");
        let Some((row, _)) = best else {
            return Err(SheetError::NoHeader(format!(
                "no header row found in the first {HEADER_SEARCH_ROWS} rows of this {kind} \
                 sheet (未找到表头); its columns must include {expected} (or give a --map file)"
            )));
        };
        let found = match_row(kind, &self.map, &row);
        let missing: Vec<&str> = required
            .iter()
            .filter(|r| !found.iter().any(|(_, f)| f.field == r.field))
            .map(|r| r.label)
            .collect();
        if !missing.is_empty() {
            return Err(SheetError::NoHeader(format!(
                "the header (row {}) of this {kind} sheet lacks the column(s) {} (缺少列：{}); \
                 its columns must include {expected}, or name them in a --map file",
                row.number,
                missing.join(", "),
                missing.join("、")
            )));
        }
        // A header cell that names nothing is kept for the annotated copy.
        let headers = row.cells.iter().map(Cell::display).collect();
        Ok(Columns {
            header_row: row.number,
            found,
            headers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: u64, cells: &[&str]) -> Row {
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

    fn search(kind: Kind, map: MapFile, rows: &[Row]) -> Result<Columns, SheetError> {
        let mut s = HeaderSearch::new(kind, map);
        for r in rows {
            if let Some(done) = s.offer(r) {
                return done;
            }
        }
        s.finish()
    }

    #[test]
    fn chinese_header_below_a_title_row() {
        let rows = [
            row(1, &["2025学年闵行区教师交流轮岗名单"]),
            row(2, &[""]),
            row(
                3,
                &[
                    "序号",
                    "工号",
                    "姓名",
                    "派出学校",
                    "接收学校",
                    "开始日期",
                    "交流类型",
                    "团队",
                ],
            ),
            row(
                4,
                &["1", "T1", "王芳", "S1", "S2", "2025/9/1", "交流轮岗", ""],
            ),
        ];
        let c = search(Kind::Dispatches, MapFile::default(), &rows).unwrap();
        assert_eq!(c.header_row, 3);
        assert_eq!(c.column("teacher"), Some(1));
        assert_eq!(c.column("team"), Some(7));
        assert_eq!(c.column("dispatch"), None);
    }

    #[test]
    fn no_header_names_the_missing_columns() {
        let rows = [row(1, &["a", "b"]), row(2, &["1", "2"])];
        let e = search(Kind::Roster, MapFile::default(), &rows).unwrap_err();
        assert!(e.to_string().contains("no header row"), "{e}");
        let rows = [row(1, &["工号", "姓名", "学校"])];
        let e = search(Kind::Roster, MapFile::default(), &rows).unwrap_err();
        assert!(e.to_string().contains("学科"), "{e}");
    }

    #[test]
    fn map_file_names_other_headers() {
        let map: MapFile =
            toml::from_str("[columns]\n\"人员编码\" = \"teacher\"\n\"单位\" = \"school\"\n")
                .unwrap();
        let rows = [row(
            1,
            &["人员编码", "姓名", "单位", "学科", "职称", "入校日期"],
        )];
        let c = search(Kind::Roster, map, &rows).unwrap();
        assert_eq!(c.column("teacher"), Some(0));
        assert_eq!(c.column("school"), Some(2));
    }
}
