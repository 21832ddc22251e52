//! JSON text from outside parsed strictly: an object that repeats a member, at any depth, is
//! refused and the member named.
//!
//! `serde_json` keeps the last of two members with the same name, and other parsers keep the
//! first or refuse; RFC 8259 §4 leaves it open. For a ledger that is a parser differential:
//! `{"school":"A","school":"B"}` would be stored as B while a client's own parser, or an
//! auditor reading the request, may see A. So an event with a repeated member is refused
//! before anything reads its fields. Stored payloads are the ledger's own canonical JSON and
//! never repeat a member, so replay does not pay for this check.

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::fields::DecodeError;

/// Parses JSON text into a value like `serde_json::from_str`, except that an object with a
/// repeated member is an error naming that member's path: `school`, `parameters.min_team_size`,
/// `list[2].name`. Text that is not JSON is an error on `event`, as before.
pub fn parse_event(text: &str) -> Result<Value, DecodeError> {
    let repeated = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = Node {
        parent: None,
        step: Step::Root,
        repeated: &repeated,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match (parsed, repeated.into_inner()) {
        (_, Some(path)) => Err(DecodeError::new(
            path,
            "appears more than once in its object; send each member once",
        )),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(DecodeError::new("event", format!("not JSON: {e}"))),
    }
}

/// How a value is reached from its parent.
#[derive(Clone, Copy)]
enum Step<'a> {
    /// The top-level value.
    Root,
    /// A member of an object.
    Member(&'a str),
    /// An element of a list.
    Element(usize),
}

/// Where a value sits, as a chain of steps up to the root: the path is only written out
/// when a repeated member is found, so a valid event costs no string per member.
#[derive(Clone, Copy)]
struct Node<'a> {
    parent: Option<&'a Node<'a>>,
    step: Step<'a>,
    /// Set to the path of the first repeated member (a serde error carries only text).
    repeated: &'a RefCell<Option<String>>,
}

impl Node<'_> {
    /// The path of this value in the field naming of `DecodeError`.
    fn path(&self) -> String {
        let mut steps = vec![self.step];
        let mut at = self.parent;
        while let Some(n) = at {
            steps.push(n.step);
            at = n.parent;
        }
        let mut out = String::new();
        for s in steps.iter().rev() {
            match s {
                Step::Root => {}
                Step::Member(k) if out.is_empty() => out.push_str(k),
                Step::Member(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                Step::Element(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Builds the same `Value` as serde_json's own visitor (without `arbitrary_precision`), and
/// checks each object's member names as it goes.
impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let element = Node {
                parent: Some(&self),
                step: Step::Element(out.len()),
                repeated: self.repeated,
            };
            match seq.next_element_seed(element)? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let member = Node {
                parent: Some(&self),
                step: Step::Member(&key),
                repeated: self.repeated,
            };
            if out.contains_key(&key) {
                *self.repeated.borrow_mut() = Some(member.path());
                return Err(A::Error::custom("repeated member"));
            }
            let v = map.next_value_seed(member)?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Ok(value)` or `Err((field, problem-starts-with))`.
    fn check(text: &str, expected: Result<Value, (&str, &str)>) {
        match (parse_event(text), expected) {
            (Ok(v), Ok(want)) => assert_eq!(v, want, "{text}"),
            (Err(e), Err((field, problem))) => {
                assert_eq!(e.field, field, "{text}: {e}");
                assert!(e.problem.starts_with(problem), "{text}: {e}");
            }
            (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn repeated_members_are_named_at_any_depth() {
        let repeated = "appears more than once";
        check(r#"{"school":"A","school":"B"}"#, Err(("school", repeated)));
        check(r#"{"a":1,"b":2,"a":1}"#, Err(("a", repeated)));
        check(
            r#"{"type":"policy_adopted","parameters":{"min_team_size":3,"min_team_size":4}}"#,
            Err(("parameters.min_team_size", repeated)),
        );
        check(r#"{"a":{"b":{"c":1,"c":1}}}"#, Err(("a.b.c", repeated)));
        check(r#"{"l":[1,{"x":1,"x":2}]}"#, Err(("l[1].x", repeated)));
        check(r#"[{"k":1,"k":1}]"#, Err(("[0].k", repeated)));
        // Equal after unescaping is the same name.
        check(r#"{"school":1,"sch\u006fol":2}"#, Err(("school", repeated)));
        // Not JSON stays what it was.
        check("{", Err(("event", "not JSON")));
        check(r#"{"a":1} x"#, Err(("event", "not JSON")));
        check("", Err(("event", "not JSON")));
    }

    #[test]
    fn anything_else_parses_as_serde_json_parses_it() {
        for text in [
            r#"{"type":"school_registered","version":1,"school":"S1","rural":false}"#,
            r#"{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}],"c":null}"#,
            r#"{"n":-5,"u":18446744073709551615,"f":0.25,"e":1e300,"s":"名\n"}"#,
            r#"[]"#,
            r#""text""#,
            "  {}  ",
        ] {
            let want: Value = serde_json::from_str(text).unwrap();
            check(text, Ok(want));
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        check(&deep, Err(("event", "not JSON")));
    }
}
