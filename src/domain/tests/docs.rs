//! `docs/EVENTS.md` is exact: every JSON example decodes and re-encodes to its own text, and
//! every event type has one.

use super::super::event::{EVENT_TYPES, Event};

const DOC: &str = include_str!("../../../docs/EVENTS.md");

fn json_blocks() -> Vec<&'static str> {
    DOC.split("```json\n")
        .skip(1)
        .filter_map(|b| b.split("\n```").next())
        .collect()
}

#[test]
fn every_example_is_canonical_and_every_type_has_one() {
    let blocks = json_blocks();
    let mut types = Vec::new();
    for b in &blocks {
        let e = Event::decode(b).unwrap_or_else(|e| panic!("{b}: {e}"));
        assert_eq!(e.to_json(), *b, "the example is not in canonical form");
        types.push(e.type_name());
    }
    for t in EVENT_TYPES {
        assert!(types.contains(t), "no example of {t}");
        assert!(DOC.contains(&format!("### `{t}`")), "no section for {t}");
    }
}

#[test]
fn every_rule_code_is_documented() {
    let src = [
        include_str!("../rules.rs"),
        include_str!("../voids.rs"),
        include_str!("../eligibility.rs"),
    ];
    let mut codes = Vec::new();
    for s in src {
        for part in s.split('"').skip(1).step_by(2) {
            let is_code = part.contains('.')
                && !part.contains(' ')
                && part.split('.').count() == 2
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
                && [
                    "school",
                    "teacher",
                    "group",
                    "dispatch",
                    "transfer",
                    "team",
                    "return",
                    "evaluation",
                    "promotion",
                    "void",
                ]
                .contains(&part.split('.').next().unwrap_or(""));
            if is_code {
                codes.push(part);
            }
        }
    }
    assert!(codes.len() > 20, "found {codes:?}");
    for c in codes {
        assert!(
            DOC.contains(&format!("`{c}`")),
            "rule {c} is not in docs/EVENTS.md"
        );
    }
}
