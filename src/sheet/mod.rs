//! Spreadsheets in (docs/SHEETS.md): a bureau's rosters and dispatch lists, read row by row
//! into events, checked by the ledger without appending (`Ledger.Check`), reported per row,
//! and loaded idempotently.
//!
//! # Layout
//!
//! - [`read`]: xlsx/xls/ods (calamine; xlsx streamed cell by cell) and CSV (UTF-8 or
//!   GB18030, streamed) into rows of [`read::Cell`]s with their sheet row numbers.
//! - [`header`]: which row is the header and which column is which event field: the
//!   Chinese (and English) headers recognised by default, and the MAP file (TOML).
//! - [`normalize`]: dates (Excel serials and the spellings offices type), ids (numbers typed
//!   as ids warn), and the Chinese values of each vocabulary.
//! - [`convert`]: one row to one event, per [`Kind`]; a row it cannot convert is refused
//!   naming the column and the rule.
//! - [`report`]: the report, one line per refused row (Chinese, or English), and the
//!   annotated copy of the sheet (xlsx with a status column).
//!
//! - [`write`]: events as sheets (`generate --sheets`): a generated district split into
//!   load steps, each an xlsx of one kind or JSON Lines of the other append requests.
//!
//! Nothing here talks to a server: `cli::sheet` drives the check and the load.
//!
//! **Contracts.** Reading never panics and never appends: a file that cannot be read (not a
//! spreadsheet, encrypted, no header, too large) is a [`SheetError`] before any row is sent.
//! Memory is bounded: CSV and xlsx are streamed; xls, xlsb and ods are loaded whole, so they
//! are refused above [`read::MAX_LOADED_BYTES`].

pub mod convert;
pub mod header;
pub mod normalize;
pub mod read;
pub mod report;
pub mod write;

use std::fmt;

/// What a sheet lists: the event each row becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 教师花名册: `teacher_registered`.
    Roster,
    /// 交流轮岗名单: `teacher_dispatched` (a 团队 column for team dispatches).
    Dispatches,
    /// 返回名单: `teacher_returned`.
    Returns,
    /// 考核结果: `teacher_evaluated`.
    Evaluations,
    /// 晋升名单: `teacher_promoted`.
    Promotions,
}

impl Kind {
    /// The name used on the command line and in request ids.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Roster => "roster",
            Kind::Dispatches => "dispatches",
            Kind::Returns => "returns",
            Kind::Evaluations => "evaluations",
            Kind::Promotions => "promotions",
        }
    }

    /// The event type each row becomes.
    pub fn event_type(self) -> &'static str {
        match self {
            Kind::Roster => "teacher_registered",
            Kind::Dispatches => "teacher_dispatched",
            Kind::Returns => "teacher_returned",
            Kind::Evaluations => "teacher_evaluated",
            Kind::Promotions => "teacher_promoted",
        }
    }

    /// Every kind.
    pub const ALL: [Kind; 5] = [
        Kind::Roster,
        Kind::Dispatches,
        Kind::Returns,
        Kind::Evaluations,
        Kind::Promotions,
    ];
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The language of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Lang {
    /// Simplified Chinese (the default).
    #[default]
    Zh,
    /// English.
    En,
}

/// A sheet that cannot be read as a whole: nothing of it is checked or appended.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    /// The file cannot be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not a spreadsheet this reader knows, or damaged.
    #[error("{0}")]
    NotASheet(String),
    /// An encrypted (password-protected) workbook.
    #[error(
        "the workbook is password-protected (encrypted); open it in Excel, remove the password \
         (File > Info > Protect Workbook > Encrypt with Password, empty) and save it again"
    )]
    Password,
    /// No sheet of that name, or an empty workbook.
    #[error("{0}")]
    NoSheet(String),
    /// No row looks like the header of this kind of sheet.
    #[error("{0}")]
    NoHeader(String),
    /// Over a documented limit.
    #[error("{0}")]
    TooLarge(String),
    /// The MAP file is not valid.
    #[error("map file {path}: {problem}")]
    Map {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
}
