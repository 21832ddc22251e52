//! A list as a file: CSV (UTF-8 with a byte-order mark, so that Excel opens Chinese text
//! correctly) or XLSX (`rust_xlsxwriter`), with a header row in the page's language.

use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use super::Problem;

/// One list to download.
pub struct Sheet {
    /// The file name without extension (sanitized before use).
    pub stem: String,
    /// The column headers.
    pub heads: Vec<&'static str>,
    /// The rows, as text.
    pub rows: Vec<Vec<String>>,
}

/// The file formats offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values, UTF-8 with BOM.
    Csv,
    /// Office Open XML workbook.
    Xlsx,
}

impl Format {
    /// The format a file extension names.
    pub fn by_extension(ext: &str) -> Option<Format> {
        match ext {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }
}

/// One CSV field: quoted when it must be (RFC 4180), and with a leading `'` when a
/// spreadsheet would otherwise take it for a formula (an id such as `=cmd|...`).
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The sheet as CSV bytes.
pub fn csv(sheet: &Sheet) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    let heads: Vec<String> = sheet.heads.iter().map(|h| csv_field(h)).collect();
    out.push_str(&heads.join(","));
    out.push_str("\r\n");
    for r in &sheet.rows {
        let r: Vec<String> = r.iter().map(|c| csv_field(c)).collect();
        out.push_str(&r.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// The sheet as an XLSX workbook (every cell text, so ids and dates stay as written).
pub fn xlsx(sheet: &Sheet) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, h) in sheet.heads.iter().enumerate() {
        ws.write_string_with_format(0, u16::try_from(c).unwrap_or(u16::MAX), *h, &bold)?;
    }
    for (r, row) in sheet.rows.iter().enumerate() {
        let r = u32::try_from(r + 1).unwrap_or(u32::MAX);
        for (c, cell) in row.iter().enumerate() {
            ws.write_string(r, u16::try_from(c).unwrap_or(u16::MAX), cell)?;
        }
    }
    ws.autofit();
    book.save_to_buffer()
}

/// The file name: the stem with anything but ASCII letters, digits, `-` and `_` replaced, so
/// the header needs no encoding and no path can be smuggled in.
fn file_name(stem: &str, ext: &str) -> String {
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{clean}.{ext}")
}

/// The download response.
pub fn respond(sheet: &Sheet, format: Format) -> Result<Response, Problem> {
    let (bytes, mime, ext) = match format {
        Format::Csv => (csv(sheet), "text/csv; charset=utf-8", "csv"),
        Format::Xlsx => (
            xlsx(sheet).map_err(|e| {
                tracing::warn!(error = %e, "console: xlsx not written");
                Problem::Internal
            })?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    let disposition = format!("attachment; filename=\"{}\"", file_name(&sheet.stem, ext));
    Ok((
        StatusCode::OK,
        [
            (CONTENT_TYPE, mime.to_owned()),
            (CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses() {
        assert_eq!(csv_field("王芳"), "王芳");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        let s = Sheet {
            stem: "x".into(),
            heads: vec!["教师编号", "姓名"],
            rows: vec![vec!["T1".into(), "王芳".into()]],
        };
        assert_eq!(csv(&s), "\u{feff}教师编号,姓名\r\nT1,王芳\r\n".as_bytes());
        assert_eq!(file_name("S1/../张-due", "csv"), "S1_____-due.csv");
    }
}
