//! Events as a bureau's sheets (`generate --sheets DIR`): a file of append requests (the
//! generator's JSON Lines) split, in order, into steps: each run of lines whose events are
//! all of one sheet kind becomes an xlsx in that kind's Chinese headers (ids as text, dates
//! as Excel dates, vocabularies in Chinese), and every other run (schools, groups, policy,
//! standing changes, profile updates, transfers, corrections) a JSON Lines file of the same
//! append requests. Loading the steps in order (`append --file` for `.jsonl`, `sheet load`
//! for `.xlsx`) appends the same events in the same order as the original file.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rust_xlsxwriter::{Format, Workbook};
use serde_json::Value;

use super::header::fields;
use super::normalize::{self, subject_zh, vocab_zh};
use super::{Kind, SheetError};

/// One step of the load: the file and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The file written.
    pub path: PathBuf,
    /// The sheet's kind; `None` for a JSON Lines file of append requests.
    pub kind: Option<Kind>,
    /// Events in it.
    pub events: u64,
}

fn kind_of(event_type: &str) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| k.event_type() == event_type)
}

/// The sheet kind of a line of the generator's form, if all its events are of one.
fn line_kind(line: &Value) -> Option<Kind> {
    let events = line.get("events")?.as_array()?;
    let mut kind = None;
    for e in events {
        let k = kind_of(e.get("type")?.as_str()?)?;
        if kind.is_some_and(|x| x != k) {
            return None;
        }
        kind = Some(k);
    }
    kind
}

fn err(path: &Path, e: impl std::fmt::Display) -> SheetError {
    SheetError::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Excel's serial day number of a `YYYY-MM-DD` date.
fn serial(date: &str) -> Option<f64> {
    let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?;
    Some((d - base).num_days() as f64)
}

/// Writes `events` (all of `kind`) as an xlsx with `kind`'s headers.
fn write_sheet(path: &Path, kind: Kind, events: &[Value]) -> Result<(), SheetError> {
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let text = Format::new().set_num_format("@");
    // The columns the events carry, in the kind's order.
    let cols: Vec<_> = fields(kind)
        .iter()
        .filter(|f| events.iter().any(|e| e.get(f.field).is_some()))
        .collect();
    for (c, f) in cols.iter().enumerate() {
        ws.write_string(0, c as u16, f.label)
            .map_err(|e| err(path, e))?;
    }
    for (i, e) in events.iter().enumerate() {
        let r = i as u32 + 1;
        let promotion_title = e.get("kind").and_then(Value::as_str) == Some("title");
        for (c, f) in cols.iter().enumerate() {
            let c = c as u16;
            let Some(v) = e.get(f.field) else { continue };
            let s = v.as_str().unwrap_or_default();
            let w = match (f.field, v) {
                (_, Value::Null) => continue,
                (_, Value::Bool(b)) => ws.write_string(r, c, if *b { "是" } else { "否" }),
                (_, Value::Number(n)) => ws.write_number(r, c, n.as_f64().unwrap_or_default()),
                (field, _) if field.ends_with("date") => match serial(s) {
                    Some(n) => ws.write_number_with_format(r, c, n, &date),
                    None => ws.write_string(r, c, s),
                },
                ("title", _) => ws.write_string(r, c, vocab_zh(&normalize::TITLE, s)),
                ("to", _) if promotion_title => {
                    ws.write_string(r, c, vocab_zh(&normalize::TITLE, s))
                }
                ("key_level", _) => ws.write_string(r, c, vocab_zh(&normalize::KEY_LEVEL, s)),
                ("subject", _) => ws.write_string(r, c, subject_zh(s)),
                ("reason", _) => ws.write_string(r, c, vocab_zh(&normalize::RETURN_REASON, s)),
                ("grade", _) => ws.write_string(r, c, vocab_zh(&normalize::GRADE, s)),
                ("kind", _) if kind == Kind::Dispatches => {
                    ws.write_string(r, c, vocab_zh(&normalize::DISPATCH_KIND, s))
                }
                ("kind", _) => ws.write_string(r, c, vocab_zh(&normalize::PROMOTION_KIND, s)),
                // Ids and names as text cells, so Excel keeps leading zeros.
                _ => ws.write_string_with_format(r, c, s, &text),
            };
            w.map_err(|e| err(path, e))?;
        }
    }
    let bytes = book.save_to_buffer().map_err(|e| err(path, e))?;
    crate::atomic::AtomicFile::write_all(path, &bytes).map_err(|e| err(path, e))
}

/// Splits the append requests of `input` (one per line) into steps in `dir` (created),
/// named `NNN-<kind>.xlsx` and `NNN-registry.jsonl` in load order, and writes
/// `dir/STEPS.txt` listing them with the command that loads each.
pub fn split(input: impl BufRead, dir: &Path) -> Result<Vec<Step>, SheetError> {
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    let mut steps: Vec<Step> = Vec::new();
    let mut run_kind: Option<Option<Kind>> = None;
    let mut sheet_events: Vec<Value> = Vec::new();
    let mut jsonl: Vec<String> = Vec::new();
    let flush = |kind: Option<Kind>,
                 sheet_events: &mut Vec<Value>,
                 jsonl: &mut Vec<String>,
                 steps: &mut Vec<Step>|
     -> Result<(), SheetError> {
        let n = steps.len() + 1;
        let step = match kind {
            Some(k) => {
                let path = dir.join(format!("{n:03}-{k}.xlsx"));
                write_sheet(&path, k, sheet_events)?;
                Step {
                    path,
                    kind: Some(k),
                    events: std::mem::take(sheet_events).len() as u64,
                }
            }
            None => {
                let path = dir.join(format!("{n:03}-registry.jsonl"));
                let mut text = jsonl.join("\n");
                text.push('\n');
                crate::atomic::AtomicFile::write_all(&path, text.as_bytes())
                    .map_err(|e| err(&path, e))?;
                let events = std::mem::take(jsonl)
                    .iter()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .filter_map(|v| v.get("events").and_then(Value::as_array).map(Vec::len))
                    .sum::<usize>() as u64;
                Step {
                    path,
                    kind: None,
                    events,
                }
            }
        };
        steps.push(step);
        Ok(())
    };
    for (i, line) in input.lines().enumerate() {
        let line = line.map_err(|e| err(dir, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line)
            .map_err(|e| err(dir, format_args!("line {}: {e}", i + 1)))?;
        let k = line_kind(&v);
        if let Some(prev) = run_kind
            && prev != k
        {
            flush(prev, &mut sheet_events, &mut jsonl, &mut steps)?;
        }
        run_kind = Some(k);
        match k {
            Some(_) => {
                if let Some(events) = v.get("events").and_then(Value::as_array) {
                    sheet_events.extend(events.iter().cloned());
                }
            }
            None => jsonl.push(line),
        }
    }
    if let Some(prev) = run_kind {
        flush(prev, &mut sheet_events, &mut jsonl, &mut steps)?;
    }
    let mut list = String::from(
        "# Load in this order: rotaledger append --file F.jsonl; rotaledger sheet load F.xlsx --kind KIND\n",
    );
    for s in &steps {
        let name = s
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match s.kind {
            Some(k) => list.push_str(&format!(
                "{name}\tsheet load --kind {k}\t{} events\n",
                s.events
            )),
            None => list.push_str(&format!("{name}\tappend --file\t{} events\n", s.events)),
        }
    }
    crate::atomic::AtomicFile::write_all(&dir.join("STEPS.txt"), list.as_bytes())
        .map_err(|e| err(dir, e))?;
    Ok(steps)
}
