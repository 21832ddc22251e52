//! Query-string parameters of the HTTP face, read strictly: each at most once, each of its
//! documented type, and no parameter the endpoint does not know (a misspelt `asof=` must not
//! silently answer for today).

use std::collections::BTreeMap;

use super::error::ApiError;

/// The parameters of one request, taken one by one; [`Params::finish`] refuses the rest.
#[derive(Debug)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Reads `pairs` (in request order), refusing a repeated name.
    pub fn new(pairs: Vec<(String, String)>) -> Result<Params, ApiError> {
        let mut values = BTreeMap::new();
        for (k, v) in pairs {
            if values.contains_key(&k) {
                return Err(ApiError::invalid(&k, "is given more than once"));
            }
            values.insert(k, v);
        }
        Ok(Params { values })
    }

    /// A text parameter, if given.
    pub fn text(&mut self, name: &str) -> Option<String> {
        self.values.remove(name)
    }

    /// A text parameter, or empty (gRPC's "not set" for a string field).
    pub fn text_or_empty(&mut self, name: &str) -> String {
        self.text(name).unwrap_or_default()
    }

    /// A non-negative integer parameter, if given.
    pub fn uint(&mut self, name: &str) -> Result<Option<u64>, ApiError> {
        match self.values.remove(name) {
            None => Ok(None),
            Some(v) => parse_digits(&v)
                .map(Some)
                .ok_or_else(|| ApiError::invalid(name, &format!("{v:?} is not a whole number"))),
        }
    }

    /// A required integer parameter (e.g. a school year).
    pub fn int(&mut self, name: &str) -> Result<i32, ApiError> {
        let Some(v) = self.values.remove(name) else {
            return Err(ApiError::invalid(name, "is required"));
        };
        let (neg, digits) = match v.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, v.as_str()),
        };
        parse_digits(digits)
            .and_then(|n| i32::try_from(n).ok())
            .map(|n| if neg { -n } else { n })
            .ok_or_else(|| ApiError::invalid(name, &format!("{v:?} is not a whole number")))
    }

    /// A boolean parameter (`true` or `false`), if given.
    pub fn flag(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.values.remove(name).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::invalid(
                name,
                &format!("{v:?} is not true or false"),
            )),
        }
    }

    /// Refuses any parameter not taken.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.values.keys().next() {
            None => Ok(()),
            Some(k) => Err(ApiError::invalid(
                k,
                "is not a parameter of this endpoint (docs/HTTP.md)",
            )),
        }
    }
}

/// Digits only (no sign, no spaces, no `+`), at most what a u64 holds.
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn strict_numbers_flags_and_names() {
        let mut p = params(&[("size", "12"), ("year", "2024"), ("with_proofs", "true")]);
        assert_eq!(p.uint("size").unwrap(), Some(12));
        assert_eq!(p.int("year").unwrap(), 2024);
        assert_eq!(p.flag("with_proofs").unwrap(), Some(true));
        p.finish().unwrap();
        for bad in ["", "+1", " 1", "1.0", "-1", "0x10", "99999999999999999999"] {
            let e = params(&[("size", bad)]).uint("size").unwrap_err();
            assert_eq!(e.body.field_violations[0].field, "size", "{bad:?}");
        }
        assert!(params(&[("flag", "yes")]).flag("flag").is_err());
        assert!(params(&[]).int("year").is_err());
        let e = params(&[("asof", "2025-01-01")]).finish().unwrap_err();
        assert_eq!(e.body.field_violations[0].field, "asof");
        assert!(
            Params::new(vec![("a".into(), "1".into()), ("a".into(), "2".into())]).is_err(),
            "a repeated parameter is ambiguous"
        );
    }
}
