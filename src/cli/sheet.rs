//! `rotaledger sheet check` and `sheet load`: a bureau's sheet (xlsx/xls/ods or CSV) read
//! row by row into events (`crate::sheet`), judged by the server without appending
//! (`Ledger.Check`), reported per row, and, for `load`, appended.
//!
//! **Contracts.**
//! - Nothing is appended from a sheet that cannot be read: the whole sheet is read (and
//!   every row converted) before the first call to the server.
//! - Rows are judged in order, in windows of [`WINDOW_UNITS`] appends, each as if the
//!   accepted rows before it in its window had been appended; a refused row is reported and
//!   the rows after it are still judged. Across windows, rows are judged against the ledger
//!   as it then is (after `load` appended the earlier windows).
//! - One append per row, except a team's dispatches (consecutive rows with the same 团队 and
//!   开始日期), which are one append. Its request id is derived from the sheet's kind and the
//!   row's events, so loading the same sheet again, or a corrected copy, appends nothing
//!   that is already there (those rows are "already present").

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::client::{Connect, Ledger, call, describe};
use super::{CliError, Outcome, progress};
use crate::proto;
use crate::sheet::convert::{self, RowProblem};
use crate::sheet::header::{Columns, HeaderSearch, MapFile};
use crate::sheet::read::{self, Row, Source};
use crate::sheet::report::{self, Findings, Status};
use crate::sheet::{Kind, Lang, SheetError};

/// Appends judged per `Ledger.Check` call.
pub const WINDOW_UNITS: usize = 2000;

/// Events judged per `Ledger.Check` call at most (the server takes 100,000).
pub const WINDOW_EVENTS: usize = 20_000;

/// `rotaledger sheet ...`.
#[derive(Subcommand, Debug)]
pub enum SheetCommand {
    /// Check every row of a sheet against the ledger's rules without appending anything.
    ///
    /// Reads the sheet (xlsx/xls/ods, or CSV in UTF-8 or GB18030), finds the header (Chinese
    /// headers such as 工号, 姓名, 学校代码, 派出学校, 接收学校, 开始日期 are recognised;
    /// --map names others), makes each row an event and asks the server to judge them in
    /// order (Ledger.Check, writer or admin token). Writes the report (one line per refused
    /// row: row, column, rule, message) and an annotated copy of the sheet with a status
    /// column. docs/SHEETS.md.
    ///
    /// Exit 0 every row passes (or is already present), 1 rows were refused, 2 could not run
    /// (the sheet cannot be read, no header, no server).
    Check(SheetArgs),
    /// Append the rows of a sheet that pass, in order; rows already appended are skipped.
    ///
    /// The same reading and checks as `sheet check`, then one append per row (a team's
    /// dispatches, on consecutive rows, together), each with a request id derived from the
    /// row's content: loading the same sheet twice appends nothing the second time, and a
    /// corrected sheet appends only its new rows. A progress bar on stderr; a summary on
    /// stdout; the report and annotated copy as for `check`.
    ///
    /// Exit 0 every row appended or already present, 1 rows were refused (the others were
    /// appended), 2 could not run (nothing is appended from a sheet that cannot be read).
    Load(SheetArgs),
}

/// What `sheet check` and `sheet load` take.
#[derive(Args, Debug, Clone)]
pub struct SheetArgs {
    /// The sheet: .xlsx, .xls, .ods or .csv (the format is told from the content).
    pub file: PathBuf,
    /// What the sheet lists: roster (教师花名册), dispatches (交流轮岗名单), returns,
    /// evaluations (考核结果), promotions.
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// A MAP file (TOML) naming other headers and value spellings (docs/SHEETS.md).
    #[arg(long)]
    pub map: Option<PathBuf>,
    /// The workbook's sheet to read (default: the first).
    #[arg(long)]
    pub sheet: Option<String>,
    /// The report file (default: FILE's name with `.report.txt`, next to it).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// The annotated copy (default: FILE's name with `.checked.xlsx`, next to it).
    #[arg(long)]
    pub annotated: Option<PathBuf>,
    /// The report's language: zh (简体中文) or en.
    #[arg(long, value_enum, default_value = "zh")]
    pub lang: Lang,
    #[command(flatten)]
    pub connect: Connect,
}

impl SheetCommand {
    /// Runs the command.
    pub fn run(self) -> Result<Outcome, CliError> {
        match self {
            SheetCommand::Check(a) => run(&a, false),
            SheetCommand::Load(a) => run(&a, true),
        }
    }
}

impl From<SheetError> for CliError {
    fn from(e: SheetError) -> Self {
        CliError(e.to_string())
    }
}

/// One append made of rows: a row, or a team's consecutive rows.
#[derive(Debug, Clone)]
struct Unit {
    rows: Vec<u64>,
    events: Vec<String>,
    team: Option<(String, String)>,
}

impl Unit {
    /// The request id: the kind and the events, so the same rows get the same id in any
    /// file, at any position.
    fn request_id(&self, kind: Kind) -> String {
        let mut h = blake3::Hasher::new();
        h.update(b"rotaledger.sheet.v1\0");
        h.update(kind.name().as_bytes());
        for e in &self.events {
            h.update(&(e.len() as u64).to_be_bytes());
            h.update(e.as_bytes());
        }
        format!(
            "sheet-{}-{}",
            kind.name(),
            &hex::encode(h.finalize().as_bytes())[..32]
        )
    }
}

/// What reading found before the server was asked.
struct Scanned {
    source: Source,
    columns: Columns,
}

/// Reads the sheet: finds the header, converts each data row, groups rows into units and
/// hands each to `unit`; rows refused by the conversion and warnings go to `findings`.
fn scan(
    args: &Plan<'_>,
    map: &MapFile,
    findings: &mut Findings,
    mut unit: impl FnMut(Unit) -> Result<(), CliError>,
) -> Result<Scanned, CliError> {
    let kind = args.kind;
    let mut search = Some(HeaderSearch::new(kind, map.clone()));
    let mut held: Vec<Row> = Vec::new();
    let mut columns: Option<Columns> = None;
    let mut pending: Option<Unit> = None;
    let data_row = |row: Row,
                    columns: &Columns,
                    findings: &mut Findings,
                    pending: &mut Option<Unit>,
                    unit: &mut dyn FnMut(Unit) -> Result<(), CliError>|
     -> Result<(), CliError> {
        if row.number <= columns.header_row || row.is_blank() {
            return Ok(());
        }
        match convert::convert(kind, columns, map, &row) {
            Err(p) => {
                findings
                    .rows
                    .push((row.number, local_refusal(kind, columns, &p, args.lang)));
            }
            Ok(c) => {
                for (field, zh, en) in c.warnings {
                    let msg = if args.lang == Lang::Zh { zh } else { en };
                    findings
                        .warnings
                        .push((row.number, columns.label(kind, field), msg));
                }
                let joins = match (&c.team, pending.as_ref()) {
                    (Some(t), Some(p)) => p.team.as_ref() == Some(t),
                    _ => false,
                };
                if joins && let Some(p) = pending.as_mut() {
                    p.rows.push(row.number);
                    p.events.push(c.event);
                } else {
                    if let Some(p) = pending.take() {
                        unit(p)?;
                    }
                    *pending = Some(Unit {
                        rows: vec![row.number],
                        events: vec![c.event],
                        team: c.team,
                    });
                }
                // A row outside a team is complete at once.
                if pending.as_ref().is_some_and(|p| p.team.is_none())
                    && let Some(p) = pending.take()
                {
                    unit(p)?;
                }
            }
        }
        Ok(())
    };
    let source = read::for_each_row(args.file, args.sheet, |row| {
        if let Some(cols) = &columns {
            return data_row(row, cols, findings, &mut pending, &mut unit);
        }
        let Some(s) = search.as_mut() else {
            return Ok(());
        };
        let decided = s.offer(&row);
        if !row.is_blank() {
            held.push(row);
        }
        if let Some(d) = decided {
            let cols = d?;
            search = None;
            for r in std::mem::take(&mut held) {
                data_row(r, &cols, findings, &mut pending, &mut unit)?;
            }
            columns = Some(cols);
        }
        Ok::<(), CliError>(())
    })?;
    let columns = match columns {
        Some(c) => c,
        None => {
            let cols = match search.as_mut() {
                Some(s) => s.finish()?,
                None => return Err(CliError("the header search ended without a header".into())),
            };
            for r in std::mem::take(&mut held) {
                data_row(r, &cols, findings, &mut pending, &mut unit)?;
            }
            cols
        }
    };
    if let Some(p) = pending.take() {
        unit(p)?;
    }
    Ok(Scanned { source, columns })
}

fn local_refusal(kind: Kind, columns: &Columns, p: &RowProblem, lang: Lang) -> Status {
    Status::refused(
        p.field.map(|f| columns.label(kind, f)).unwrap_or_default(),
        p.problem.rule.into(),
        p.message(lang).to_owned(),
    )
}

/// The field a ledger rule is about, to name the column of a refused row.
fn rule_field(kind: Kind, rule: &str) -> &'static str {
    match rule {
        "dispatch.from_home_school" => "from_school",
        "dispatch.same_school" | "team.weak_school" | "team.school_mismatch" => "to_school",
        "dispatch.open_dispatch"
        | "dispatch.overlap"
        | "team.start_mismatch"
        | "team.joins_before_start" => "start_date",
        "dispatch.duplicate_id" | "dispatch.unknown" => "dispatch",
        r if r.starts_with("team.") => "team",
        r if r.starts_with("return.") => "return_date",
        "evaluation.receiving_school" => "school",
        "evaluation.school_year" | "evaluation.duplicate" => "school_year",
        "evaluation.before_start" => "date",
        "promotion.senior_title" => "to",
        r if r.starts_with("promotion.") => "rotation_credit",
        r if r.starts_with("teacher.") => "teacher",
        "school.unknown" => match kind {
            Kind::Dispatches => "to_school",
            _ => "school",
        },
        _ => crate::sheet::header::fields(kind)
            .first()
            .map(|f| f.field)
            .unwrap_or("teacher"),
    }
}

/// The rule's own words in a refusal's message, without what Append says around them for a
/// program (`event N breaks rule R: ...; nothing was appended, correct or reorder the events
/// and send them again`): in a sheet the row and the rule are already in their columns, and
/// the event's index within one row's append means nothing to a clerk.
fn rule_detail(message: &str) -> &str {
    let inner = message
        .split_once(": ")
        .filter(|(head, _)| head.starts_with("event ") && head.contains(" breaks rule "))
        .map_or(message, |(_, rest)| rest);
    inner
        .strip_suffix("; nothing was appended, correct or reorder the events and send them again")
        .unwrap_or(inner)
}

/// A refusal the server gave for a unit, as each of its rows' status.
fn server_refusal(
    kind: Kind,
    columns: &Columns,
    unit: &Unit,
    r: &proto::CheckRefusal,
    lang: Lang,
) -> Vec<(u64, Status)> {
    let at = r.event_index.map(|i| i as usize);
    let field = match r.field.split_once('.') {
        // `events[3].date`: the event's field.
        Some((_, f)) if r.reason == "INVALID_INPUT" => f.to_owned(),
        _ => rule_field(kind, &r.reason).to_owned(),
    };
    let column = columns.label(kind, &field);
    let detail = rule_detail(&r.message);
    let message = match lang {
        Lang::Zh => format!("{}（{detail}）", report::rule_zh(&r.reason)),
        Lang::En => detail.to_owned(),
    };
    let culprit = at.and_then(|i| unit.rows.get(i)).copied();
    unit.rows
        .iter()
        .map(|row| {
            let status = match culprit {
                Some(c) if c != *row => Status::refused(
                    columns.label(kind, "team"),
                    r.reason.clone(),
                    match lang {
                        Lang::Zh => format!("同一团队的第 {c} 行被拒绝，整个团队未通过"),
                        Lang::En => {
                            format!("row {c} of the same team was refused, so the whole team is")
                        }
                    },
                ),
                _ => Status::refused(column.clone(), r.reason.clone(), message.clone()),
            };
            (*row, status)
        })
        .collect()
}

fn default_path(file: &Path, suffix: &str) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sheet".into());
    file.with_file_name(format!("{stem}{suffix}"))
}

/// What a window is judged for: the sheet's kind and columns, check or load, the language.
#[derive(Clone, Copy)]
struct Job<'a> {
    kind: Kind,
    columns: &'a Columns,
    load: bool,
    lang: Lang,
}

/// Judges (and for `load`, appends) one window of units.
async fn window<L: SheetLedger>(
    client: &mut L,
    job: Job<'_>,
    units: &[Unit],
    findings: &mut Findings,
    bar: &indicatif::ProgressBar,
) -> Result<(), CliError> {
    let Job {
        kind,
        columns,
        load,
        lang,
    } = job;
    let req = proto::CheckRequest {
        appends: units
            .iter()
            .map(|u| proto::AppendRequest {
                events: u.events.clone(),
                request_id: u.request_id(kind),
                expected_size: None,
            })
            .collect(),
    };
    let answer = client
        .check_appends(req)
        .await
        .map_err(|s| CliError(format!("Check: {}", describe(&s))))?;
    if answer.results.len() != units.len() {
        return Err(CliError(format!(
            "the server answered {} results for {} appends",
            answer.results.len(),
            units.len()
        )));
    }
    for (u, r) in units.iter().zip(answer.results) {
        let statuses: Vec<(u64, Status)> = if let Some(refusal) = &r.refusal {
            server_refusal(kind, columns, u, refusal, lang)
        } else if r.duplicate {
            u.rows.iter().map(|row| (*row, Status::Present)).collect()
        } else if !load {
            u.rows.iter().map(|row| (*row, Status::Passed)).collect()
        } else {
            let req = proto::AppendRequest {
                events: u.events.clone(),
                request_id: u.request_id(kind),
                expected_size: None,
            };
            match client.append_one(req).await {
                Ok(a) if a.duplicate => u.rows.iter().map(|row| (*row, Status::Present)).collect(),
                Ok(_) => u.rows.iter().map(|row| (*row, Status::Appended)).collect(),
                Err(s) => match refusal_of(&s) {
                    // Refused although the check passed: the ledger changed in between.
                    Some(refusal) => server_refusal(kind, columns, u, &refusal, lang),
                    None => {
                        bar.abandon();
                        return Err(CliError(format!(
                            "Append (row {}): {}; rows before it were appended; run the same \
                             command again to go on (appended rows are skipped)",
                            u.rows.first().copied().unwrap_or(0),
                            describe(&s)
                        )));
                    }
                },
            }
        };
        bar.inc(u.rows.len() as u64);
        findings.rows.extend(statuses);
    }
    Ok(())
}

/// A refusal status of Append as the data Check gives; `None` for a status that is not a
/// refusal of the rows (transport, access, storage).
fn refusal_of(s: &tonic::Status) -> Option<proto::CheckRefusal> {
    use tonic_types::StatusExt;
    if !matches!(
        s.code(),
        tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition | tonic::Code::AlreadyExists
    ) {
        return None;
    }
    let d = s.get_error_details();
    let info = d.error_info()?;
    let event_index = info
        .metadata
        .get("event_index")
        .and_then(|i| i.parse().ok());
    let field = d
        .bad_request()
        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()))
        .unwrap_or_default();
    Some(proto::CheckRefusal {
        code: s.code() as u32,
        reason: info.reason.clone(),
        message: s.message().to_owned(),
        metadata: info.metadata.clone(),
        event_index,
        field,
    })
}

/// The sheet's header (reading up to it).
fn header_of(args: &Plan<'_>, map: &MapFile) -> Result<Columns, CliError> {
    let mut search = HeaderSearch::new(args.kind, map.clone());
    let mut found: Option<Columns> = None;
    let r = read::for_each_row(args.file, args.sheet, |row| {
        if let Some(d) = search.offer(&row) {
            found = Some(d?);
            // Stop reading: the header is all that was wanted.
            return Err(CliError(String::new()));
        }
        Ok(())
    });
    match (found, r) {
        (Some(c), _) => Ok(c),
        (None, Err(e)) => Err(e),
        (None, Ok(_)) => Ok(search.finish()?),
    }
}

/// One sheet to judge: the file, what it lists, how to read it, and whether to load it.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// The sheet.
    pub file: &'a Path,
    /// What it lists.
    pub kind: Kind,
    /// Other headers and spellings.
    pub map: MapFile,
    /// The workbook's sheet (default: the first).
    pub sheet: Option<&'a str>,
    /// The language of the messages.
    pub lang: Lang,
    /// Append the rows that pass (else only check).
    pub load: bool,
}

/// What judging a sheet found.
#[derive(Debug)]
pub struct Judged {
    /// The file's format and sheet.
    pub source: Source,
    /// Its header.
    pub columns: Columns,
    /// Every data row's status, in row order, and the warnings.
    pub findings: Findings,
}

/// The ledger a sheet is judged by: a gRPC client (the CLI), or the gRPC service in process
/// (the console), called with the caller's token either way.
pub trait SheetLedger {
    /// `Ledger.Check`.
    fn check_appends(
        &mut self,
        req: proto::CheckRequest,
    ) -> impl Future<Output = Result<proto::CheckResponse, tonic::Status>>;
    /// `Ledger.Append`.
    fn append_one(
        &mut self,
        req: proto::AppendRequest,
    ) -> impl Future<Output = Result<proto::AppendResponse, tonic::Status>>;
}

impl SheetLedger for Ledger {
    async fn check_appends(
        &mut self,
        req: proto::CheckRequest,
    ) -> Result<proto::CheckResponse, tonic::Status> {
        self.check(call(req)).await.map(tonic::Response::into_inner)
    }

    async fn append_one(
        &mut self,
        req: proto::AppendRequest,
    ) -> Result<proto::AppendResponse, tonic::Status> {
        self.append(call(req))
            .await
            .map(tonic::Response::into_inner)
    }
}

/// Reads, checks and (for a load) appends a sheet through `ledger` (see the module
/// contracts). Runs on a thread that may block: each window is judged with `rt.block_on`.
pub fn judge<L: SheetLedger>(
    plan: &Plan<'_>,
    ledger: &mut L,
    rt: &tokio::runtime::Handle,
    progress: impl Fn(u64) -> indicatif::ProgressBar,
) -> Result<Judged, CliError> {
    let kind = plan.kind;
    let map = &plan.map;
    let load = plan.load;
    // First the whole sheet is read: nothing is sent from a sheet that cannot be read.
    let mut rows = 0u64;
    let mut first = Findings::default();
    scan(plan, map, &mut first, |u| {
        rows += u.rows.len() as u64;
        Ok(())
    })?;
    let total = rows + first.rows.len() as u64;
    drop(first);
    let mut findings = Findings::default();
    let mut judged = Findings::default();
    let bar = progress(total);
    // The sheet is read a second time, and judged a window at a time as it is read: memory
    // holds one window, whatever the sheet's length.
    let mut batch: Vec<Unit> = Vec::new();
    let mut events = 0usize;
    let mut columns: Option<Columns> = None;
    let mut send = |batch: &mut Vec<Unit>, columns: &Columns| -> Result<(), CliError> {
        let units = std::mem::take(batch);
        let job = Job {
            kind,
            columns,
            load,
            lang: plan.lang,
        };
        rt.block_on(window(ledger, job, &units, &mut judged, &bar))
    };
    let scanned = scan(plan, map, &mut findings, |u| {
        events += u.events.len();
        batch.push(u);
        if batch.len() >= WINDOW_UNITS || events >= WINDOW_EVENTS {
            // The header is known once units come: the first scan found the same one.
            let cols = match &columns {
                Some(c) => c.clone(),
                None => header_of(plan, map)?,
            };
            send(&mut batch, &cols)?;
            events = 0;
            columns = Some(cols);
        }
        Ok(())
    })?;
    if !batch.is_empty() {
        send(&mut batch, &scanned.columns)?;
    }
    bar.finish_and_clear();
    findings.rows.append(&mut judged.rows);
    findings.rows.sort_by_key(|(r, _)| *r);
    Ok(Judged {
        source: scanned.source,
        columns: scanned.columns,
        findings,
    })
}

fn run(args: &SheetArgs, load: bool) -> Result<Outcome, CliError> {
    let kind = args.kind;
    let map = match &args.map {
        Some(p) => MapFile::load(p, kind)?,
        None => MapFile::default(),
    };
    let plan = Plan {
        file: &args.file,
        kind,
        map,
        sheet: args.sheet.as_deref(),
        lang: args.lang,
        load,
    };
    let runtime = super::client::runtime()?;
    let mut client = runtime.block_on(args.connect.ledger())?;
    let Judged {
        source,
        columns,
        findings,
    } = judge(&plan, &mut client, runtime.handle(), |total| {
        progress::entries(total, if load { "loading" } else { "checking" })
    })?;
    let scanned = Scanned { source, columns };

    let report_path = args
        .report
        .clone()
        .unwrap_or_else(|| default_path(&args.file, ".report.txt"));
    let text = report::render(
        args.lang,
        &args.file,
        &scanned.source,
        kind,
        scanned.columns.header_row,
        &findings,
        load,
    );
    crate::atomic::AtomicFile::write_all(&report_path, text.as_bytes())?;
    let annotated = args
        .annotated
        .clone()
        .unwrap_or_else(|| default_path(&args.file, ".checked.xlsx"));
    let wrote = report::annotate(
        args.lang,
        &args.file,
        args.sheet.as_deref(),
        scanned.columns.header_row,
        &findings,
        &annotated,
    )?;
    let t = findings.totals();
    if args.connect.json {
        println!(
            "{}",
            serde_json::json!({
                "file": args.file.display().to_string(),
                "kind": kind,
                "totals": t,
                "report": report_path.display().to_string(),
                "annotated": wrote.map(|()| annotated.display().to_string()),
            })
        );
    } else {
        match args.lang {
            Lang::Zh => println!(
                "{} {} 行：{}，已存在 {}，拒绝 {}，警告 {}；报告 {}{}",
                if load { "导入" } else { "检查" },
                t.rows,
                if load {
                    format!("已导入 {}", t.appended)
                } else {
                    format!("通过 {}", t.passed)
                },
                t.present,
                t.refused,
                t.warnings,
                report_path.display(),
                match wrote {
                    Some(()) => format!("，标注副本 {}", annotated.display()),
                    None => "（表格过大，未写标注副本）".into(),
                }
            ),
            Lang::En => println!(
                "{} {} rows: {} {}, already present {}, refused {}, warnings {}; report {}{}",
                if load { "loaded" } else { "checked" },
                t.rows,
                if load { "appended" } else { "pass" },
                if load { t.appended } else { t.passed },
                t.present,
                t.refused,
                t.warnings,
                report_path.display(),
                match wrote {
                    Some(()) => format!(", annotated copy {}", annotated.display()),
                    None => " (sheet too long for an annotated copy)".into(),
                }
            ),
        }
    }
    Ok(if t.refused > 0 {
        Outcome::Problem
    } else {
        Outcome::Ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_shows_the_rule_s_own_words() {
        assert_eq!(
            rule_detail(
                "event 0 breaks rule school.unknown: school: no school S404 is registered; nothing was appended, correct or reorder the events and send them again"
            ),
            "school: no school S404 is registered"
        );
        assert_eq!(rule_detail("something else"), "something else");
    }
}
