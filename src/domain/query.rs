//! What an as-of query (rotation duty, quotas, group summaries, teacher histories) can be
//! told "no" about: the thing asked for does not exist on that date, or the question does not
//! apply to it.

use chrono::NaiveDate;

use super::vocab::{SchoolYear, Standing};

/// Why a projection cannot answer.
///
/// Every variant is a caller's mistake (a wrong id, a year out of range), never an internal
/// failure: the projections are pure functions of the state and cannot fail otherwise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// No school with this id is registered.
    #[error("no school {0} is registered")]
    UnknownSchool(String),
    /// No group with this id is formed.
    #[error("no district or group {0} is formed")]
    UnknownGroup(String),
    /// No teacher with this id is registered.
    #[error("no teacher {0} is registered")]
    UnknownTeacher(String),
    /// The teacher holds no post at any school on the date (not yet employed).
    #[error("teacher {teacher} holds no post at any school on {date}")]
    NoHomePost {
        /// The teacher asked about.
        teacher: String,
        /// The date asked about.
        date: NaiveDate,
    },
    /// Quotas are kept for `strong` schools only (SPEC 4.4).
    #[error(
        "school {school} is {} on {date}, not strong: quotas apply to strong schools only",
        standing.map(|s| s.to_string()).unwrap_or_else(|| "not yet registered".into())
    )]
    NotStrong {
        /// The school asked about.
        school: String,
        /// The date its standing was taken on (1 September of the school year).
        date: NaiveDate,
        /// Its standing then, if it was registered.
        standing: Option<Standing>,
    },
    /// The school year has no calendar dates the ledger can work with.
    #[error("school year {} is out of range", .0.0)]
    YearOutOfRange(SchoolYear),
}

/// The first and last day of `year`, for years inside the range the events accept
/// (`fields::MIN_YEAR` .. `fields::MAX_YEAR`); checked before any arithmetic on the year, so
/// an absurd year from a request is an error, never an overflow.
pub fn year_bounds(year: SchoolYear) -> Result<(NaiveDate, NaiveDate), QueryError> {
    if !(super::fields::MIN_YEAR..super::fields::MAX_YEAR).contains(&year.0) {
        return Err(QueryError::YearOutOfRange(year));
    }
    match (year.first_day(), year.last_day()) {
        (Some(f), Some(l)) => Ok((f, l)),
        _ => Err(QueryError::YearOutOfRange(year)),
    }
}
