//! A strict reader of JSON objects: every field is taken by name and validated, and whatever
//! is left over is an unknown field. Each error names the field, for the HR system to fix.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::id::{Id, MAX_ID_LEN, check_text};
use super::personal::Personal;
use super::vocab::Vocabulary;

/// Earliest effective date accepted: before it a date is a typo, not history.
pub const MIN_YEAR: i32 = 1900;
/// Latest effective date accepted: keeps date arithmetic (terms, school years) far from
/// chrono's limits.
pub const MAX_YEAR: i32 = 2999;

/// Why an event could not be decoded: which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct DecodeError {
    /// The field at fault (dotted for nested fields, e.g. `parameters.min_term_years`).
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

impl DecodeError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> DecodeError {
        DecodeError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// The fields of one JSON object, consumed one by one.
pub struct Fields {
    map: Map<String, Value>,
    prefix: String,
    /// Personal fields are read sealed (`{"sealed":"..."}`) rather than as plain text.
    sealed: bool,
}

impl Fields {
    /// Starts reading `v`, which must be an object; `name` is the object's own field name
    /// (empty at the top level) and prefixes every error.
    pub fn new(v: Value, name: &str) -> Result<Fields, DecodeError> {
        match v {
            Value::Object(map) => Ok(Fields {
                map,
                sealed: false,
                prefix: if name.is_empty() {
                    String::new()
                } else {
                    format!("{name}.")
                },
            }),
            other => Err(DecodeError::new(
                if name.is_empty() { "event" } else { name },
                format!("must be a JSON object, not {}", kind(&other)),
            )),
        }
    }

    /// The full name of field `f`, for errors.
    pub fn name(&self, f: &str) -> String {
        format!("{}{f}", self.prefix)
    }

    fn err(&self, f: &str, problem: impl Into<String>) -> DecodeError {
        DecodeError::new(self.name(f), problem)
    }

    /// Takes a field; absent and `null` both read as `None`.
    pub fn take(&mut self, f: &str) -> Option<Value> {
        match self.map.remove(f) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    fn required(&mut self, f: &str) -> Result<Value, DecodeError> {
        self.take(f).ok_or_else(|| self.err(f, "is missing"))
    }

    fn string(&self, f: &str, v: Value) -> Result<String, DecodeError> {
        match v {
            Value::String(s) => Ok(s),
            other => Err(self.err(f, format!("must be a string, not {}", kind(&other)))),
        }
    }

    /// A required id.
    pub fn id(&mut self, f: &str) -> Result<Id, DecodeError> {
        let v = self.required(f)?;
        self.to_id(f, v)
    }

    /// An optional id.
    pub fn opt_id(&mut self, f: &str) -> Result<Option<Id>, DecodeError> {
        match self.take(f) {
            None => Ok(None),
            Some(v) => self.to_id(f, v).map(Some),
        }
    }

    fn to_id(&self, f: &str, v: Value) -> Result<Id, DecodeError> {
        let s = self.string(f, v)?;
        Id::new(&s).map_err(|p| {
            self.err(
                f,
                format!("id {p} (ids are 1..={MAX_ID_LEN} bytes without whitespace)"),
            )
        })
    }

    /// A required list of ids, at most `max` of them, without repeats.
    pub fn ids(&mut self, f: &str, max: usize) -> Result<Vec<Id>, DecodeError> {
        let v = self.required(f)?;
        let Value::Array(items) = v else {
            return Err(self.err(f, format!("must be a list, not {}", kind(&v))));
        };
        if items.len() > max {
            return Err(self.err(f, format!("has {} items, more than {max}", items.len())));
        }
        let mut out: Vec<Id> = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let id = self.to_id(&format!("{f}[{i}]"), item)?;
            if out.contains(&id) {
                return Err(self.err(&format!("{f}[{i}]"), format!("repeats {id}")));
            }
            out.push(id);
        }
        Ok(out)
    }

    /// A required single-line text of at most `max` bytes.
    pub fn text(&mut self, f: &str, max: usize) -> Result<String, DecodeError> {
        let v = self.required(f)?;
        self.to_text(f, v, max)
    }

    /// An optional text.
    pub fn opt_text(&mut self, f: &str, max: usize) -> Result<Option<String>, DecodeError> {
        match self.take(f) {
            None => Ok(None),
            Some(v) => self.to_text(f, v, max).map(Some),
        }
    }

    fn to_text(&self, f: &str, v: Value, max: usize) -> Result<String, DecodeError> {
        let s = self.string(f, v)?;
        check_text(&s, max).map_err(|p| self.err(f, p))?;
        Ok(s)
    }

    /// From now on, read personal fields in their sealed form (event version 2).
    pub fn sealed_personal(&mut self, sealed: bool) {
        self.sealed = sealed;
    }

    /// A required personal field: plain text of at most `max` bytes, or sealed.
    pub fn personal(&mut self, f: &str, max: usize) -> Result<Personal, DecodeError> {
        let v = self.required(f)?;
        self.to_personal(f, v, max)
    }

    /// An optional personal field.
    pub fn opt_personal(&mut self, f: &str, max: usize) -> Result<Option<Personal>, DecodeError> {
        match self.take(f) {
            None => Ok(None),
            Some(v) => self.to_personal(f, v, max).map(Some),
        }
    }

    fn to_personal(&self, f: &str, v: Value, max: usize) -> Result<Personal, DecodeError> {
        if !self.sealed {
            return self.to_text(f, v, max).map(Personal::Plain);
        }
        let mut inner = Fields::new(v, &self.name(f))?;
        let text = inner.text("sealed", 4 * (max + 64))?;
        inner.finish()?;
        Personal::from_sealed_text(&text)
            .map_err(|p| DecodeError::new(format!("{}.sealed", self.name(f)), p))
    }

    /// A required calendar date, `YYYY-MM-DD`.
    pub fn date(&mut self, f: &str) -> Result<NaiveDate, DecodeError> {
        let v = self.required(f)?;
        self.to_date(f, v)
    }

    /// An optional date.
    pub fn opt_date(&mut self, f: &str) -> Result<Option<NaiveDate>, DecodeError> {
        match self.take(f) {
            None => Ok(None),
            Some(v) => self.to_date(f, v).map(Some),
        }
    }

    fn to_date(&self, f: &str, v: Value) -> Result<NaiveDate, DecodeError> {
        let s = self.string(f, v)?;
        parse_date(&s).map_err(|p| self.err(f, p))
    }

    /// A required boolean.
    pub fn boolean(&mut self, f: &str) -> Result<bool, DecodeError> {
        match self.required(f)? {
            Value::Bool(b) => Ok(b),
            other => Err(self.err(f, format!("must be true or false, not {}", kind(&other)))),
        }
    }

    /// A required whole number in `min..=max`.
    pub fn uint(&mut self, f: &str, min: u64, max: u64) -> Result<u64, DecodeError> {
        let v = self.required(f)?;
        self.to_uint(f, v, min, max)
    }

    /// An optional whole number in `min..=max`.
    pub fn opt_uint(&mut self, f: &str, min: u64, max: u64) -> Result<Option<u64>, DecodeError> {
        match self.take(f) {
            None => Ok(None),
            Some(v) => self.to_uint(f, v, min, max).map(Some),
        }
    }

    fn to_uint(&self, f: &str, v: Value, min: u64, max: u64) -> Result<u64, DecodeError> {
        match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            Some(n) => Err(self.err(f, format!("is {n}, outside {min}..={max}"))),
            None => Err(self.err(
                f,
                format!("must be a whole number in {min}..={max}, not {v}"),
            )),
        }
    }

    /// A required value of a vocabulary.
    pub fn vocab<V: Vocabulary>(&mut self, f: &str) -> Result<V, DecodeError> {
        let v = self.required(f)?;
        self.to_vocab(f, v)
    }

    /// An optional value of a vocabulary.
    pub fn opt_vocab<V: Vocabulary>(&mut self, f: &str) -> Result<Option<V>, DecodeError> {
        match self.take(f) {
            None => Ok(None),
            Some(v) => self.to_vocab(f, v).map(Some),
        }
    }

    /// Reads a string of vocabulary `V` from `v` (for lists of vocabulary values).
    pub fn to_vocab<V: Vocabulary>(&self, f: &str, v: Value) -> Result<V, DecodeError> {
        let s = self.string(f, v)?;
        V::parse(&s).ok_or_else(|| {
            self.err(
                f,
                format!("unknown value {s:?}; expected one of {}", V::spellings()),
            )
        })
    }

    /// Ends reading: any field not taken is unknown.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(k) => Err(DecodeError::new(
                format!("{}{k}", self.prefix),
                "unknown field",
            )),
        }
    }
}

/// Parses a date: exactly `YYYY-MM-DD` (ten ASCII characters, digits with dashes at
/// positions 4 and 7), a real calendar day, in [`MIN_YEAR`]..=[`MAX_YEAR`].
///
/// **The one date parser.** Every date that comes from outside goes through it: event fields,
/// the Query service's `as_of` and `ends_before`, and the CLI's date arguments. chrono's
/// `%Y-%m-%d` is not used for input because it is lenient (`25-01-05` is the year 25,
/// `+2025-01-05`, ` 2025-01-05` and `2025-1-5` are accepted), and two parsers that disagree
/// on what a date is would let a client's date mean one thing in an event and another in a
/// query. The check is on bytes, so it is also the fast path a replay of millions of stored
/// dates takes.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    if !shaped {
        return Err(format!(
            "{s:?} is not a date written YYYY-MM-DD (e.g. 2025-09-01)"
        ));
    }
    let num =
        |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, c| n * 10 + u32::from(c - b'0'));
    // Four digits: at most 9999, so the conversion cannot fail.
    let year = i32::try_from(num(0..4)).unwrap_or(i32::MAX);
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return Err(format!(
            "{s:?} is outside the years {MIN_YEAR}..={MAX_YEAR}"
        ));
    }
    NaiveDate::from_ymd_opt(year, num(5..7), num(8..10))
        .ok_or_else(|| format!("{s:?} is not a calendar date"))
}

/// The JSON kind of a value, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_strict() {
        let ok = |s: &str| parse_date(s).map(|d| d.to_string());
        assert_eq!(ok("2024-02-29").as_deref(), Ok("2024-02-29"));
        assert_eq!(ok("1900-01-01").as_deref(), Ok("1900-01-01"));
        assert_eq!(ok("2999-12-31").as_deref(), Ok("2999-12-31"));
        // Each refused, with the reason that fits it.
        for (s, why) in [
            ("2023-02-29", "not a calendar date"),
            ("2024-13-01", "not a calendar date"),
            ("2024-00-10", "not a calendar date"),
            ("2024-04-31", "not a calendar date"),
            ("1899-12-31", "outside the years"),
            ("3000-01-01", "outside the years"),
            ("0025-01-05", "outside the years"),
            // What chrono's `%Y-%m-%d` accepts and this parser does not.
            ("25-01-05", "YYYY-MM-DD"),
            ("+2025-01-05", "YYYY-MM-DD"),
            (" 2025-01-05", "YYYY-MM-DD"),
            ("2025-01-05 ", "YYYY-MM-DD"),
            ("2025-1-5", "YYYY-MM-DD"),
            ("2025-01-5", "YYYY-MM-DD"),
            ("2025-1-05", "YYYY-MM-DD"),
            ("02025-01-05", "YYYY-MM-DD"),
            ("-2025-01-05", "YYYY-MM-DD"),
            ("2024-09-01T00:00:00", "YYYY-MM-DD"),
            ("2024/09/01", "YYYY-MM-DD"),
            ("2024-09-0a", "YYYY-MM-DD"),
            ("２０２４-09-01", "YYYY-MM-DD"),
            ("", "YYYY-MM-DD"),
        ] {
            match parse_date(s) {
                Ok(d) => panic!("{s:?} accepted as {d}"),
                Err(e) => assert!(e.contains(why), "{s:?}: {e}"),
            }
        }
    }

    #[test]
    fn accepts_exactly_the_dates_chrono_writes_back_unchanged() {
        // chrono as the reference: a date is one it parses *and* formats back to the same
        // text, in the ledger's years.
        let by_chrono = |s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().filter(|d| {
                d.format("%Y-%m-%d").to_string() == s
                    && (MIN_YEAR..=MAX_YEAR).contains(&chrono::Datelike::year(d))
            })
        };
        let mut checked = 0;
        for y in [
            "0999", "1899", "1900", "2024", "2023", "2999", "3000", "20a4", "+202", "  25",
        ] {
            for m in ["00", "01", "02", "09", "12", "13", "1-", "+1"] {
                for d in 0..=32 {
                    for s in [format!("{y}-{m}-{d:02}"), format!("{y}-{m}-{d}")] {
                        assert_eq!(parse_date(&s).ok(), by_chrono(&s), "{s}");
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 10 * 8 * 33 * 2);
    }
}
