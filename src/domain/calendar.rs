//! Date arithmetic shared by the rules and projections: the end of a minimum term and the
//! days a dispatch has served, counted the one way SPEC §4 defines.

use chrono::{Months, NaiveDate};

/// `start` plus `years` calendar years (12 × `years` months), 29 February clamping to
/// 28 February. `None` only beyond chrono's range, which validated dates never reach.
pub fn add_years(start: NaiveDate, years: u32) -> Option<NaiveDate> {
    start.checked_add_months(Months::new(years.saturating_mul(12)))
}

/// The days a dispatch started on `start` and ended on `end` (if it has) has served as of
/// `as_of`: `as_of - start` (the start day counts, `as_of` does not), capped at the end,
/// never negative.
///
/// A dispatch started 2022-01-01 has served 730 days as of 2024-01-01.
pub fn days_served(start: NaiveDate, end: Option<NaiveDate>, as_of: NaiveDate) -> i64 {
    let until = match end {
        Some(e) if e < as_of => e,
        _ => as_of,
    };
    (until - start).num_days().max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn min_end_clamps_leap_days() {
        assert_eq!(add_years(d("2024-02-29"), 3), Some(d("2027-02-28")));
        assert_eq!(add_years(d("2024-02-29"), 4), Some(d("2028-02-29")));
        assert_eq!(add_years(d("2023-09-01"), 3), Some(d("2026-09-01")));
    }

    #[test]
    fn days_count_start_not_end() {
        assert_eq!(days_served(d("2022-01-01"), None, d("2024-01-01")), 730);
        assert_eq!(days_served(d("2022-01-01"), None, d("2022-01-01")), 0);
        assert_eq!(
            days_served(d("2022-01-01"), Some(d("2023-01-01")), d("2024-01-01")),
            365
        );
        assert_eq!(days_served(d("2022-01-01"), None, d("2021-01-01")), 0);
    }
}
