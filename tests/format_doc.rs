//! FORMAT.md's worked example (§1.10) against a real server: the events of the example,
//! appended over gRPC as an HR system would spell them, are stored with exactly the
//! documented bodies and idempotency record.

use rotaledger::grpc::auth::{Access, hash_token};
use rotaledger::log::store::request_key;
use rotaledger::proto::AppendRequest;

use crate::util::{TestServer, bounded, open_store, write_access_file};

const FORMAT: &str = include_str!("../docs/FORMAT.md");

/// The example's appends as the HR system sends them: `(request_id, events)`, spelled
/// unlike the stored form (member order, spacing, `null` optional fields), because the
/// ledger stores the canonical form whatever the spelling.
const APPENDS: [(&str, &[&str]); 2] = [
    (
        "req-0001",
        &[
            r#"{"date":"2024-09-01","rural":false,"standing":"strong","stage":"primary","name":"闵行区\"实验\"小学","school":"S001","version":1,"type":"school_registered"}"#,
            r#"{ "type": "teacher_registered", "version": 1, "teacher": "T20150123", "school": "S001", "name": "王芳", "subject": "mathematics", "title": "intermediate", "title_date": null, "key_level": "district", "employed_date": "2015-09-01", "date": "2024-09-01" }"#,
        ],
    ),
    (
        "req-0002",
        // As FORMAT.md §1.10 shows it.
        &[
            r#"{"version": 1, "type": "teacher_profile_updated", "date": "2025-03-01", "key_level": "city", "teacher": "T20150123", "retirement_date": null}"#,
        ],
    ),
];

/// The bodies FORMAT.md §1.10 prints under "entry N (L bytes):", in order.
fn documented_bodies() -> Vec<String> {
    let mut lines = FORMAT.lines();
    let mut bodies = Vec::new();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix(&format!("entry {} (", bodies.len())) else {
            continue;
        };
        let body = lines.next().expect("a body after its heading").to_owned();
        assert_eq!(rest, format!("{} bytes):", body.len()), "{line}");
        bodies.push(body);
    }
    assert_eq!(bodies.len(), 3, "FORMAT.md §1.10 prints three bodies");
    bodies
}

/// The member `"name":"` of a JSON body, as a string slice up to the next `"`.
fn string_member<'a>(body: &'a str, name: &str) -> &'a str {
    let start = body.find(&format!("\"{name}\":\"")).expect(name) + name.len() + 4;
    &body[start..start + body[start..].find('"').expect("closing quote")]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_stores_the_documented_bodies() {
    bounded(60, async {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[[token]]\nname = \"hr-office\"\nrole = \"writer\"\nhash = \"{}\"\n\n\
             [[token]]\nname = \"auditor\"\nrole = \"auditor\"\nhash = \"{}\"\n",
            hash_token("tok-hr"),
            hash_token("tok-audit")
        );
        let access = Access::load(&write_access_file(dir.path(), &text)).unwrap();
        let s = TestServer::start_in(dir, |c| c.access = access).await;
        assert!(FORMAT.contains(&format!("```\n{}\n```", APPENDS[1].1[0])));

        let mut hr = s.connect(Some("tok-hr")).ledger().await.unwrap();
        for (request_id, events) in APPENDS {
            hr.append(AppendRequest {
                events: events.iter().map(|e| (*e).to_owned()).collect(),
                request_id: request_id.into(),
                expected_size: None,
            })
            .await
            .unwrap();
        }
        // The fingerprint covers the canonical forms: the canonical spelling of append 2 is a
        // retry of it (FORMAT.md §1.6), not a conflict.
        let canonical_2 = r#"{"type":"teacher_profile_updated","version":1,"teacher":"T20150123","key_level":"city","date":"2025-03-01"}"#;
        let retry = hr
            .append(AppendRequest {
                events: vec![canonical_2.into()],
                request_id: "req-0002".into(),
                expected_size: None,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(retry.duplicate);

        let mut stored = Vec::new();
        for e in crate::util::served_entries(&s.connect(Some("tok-audit"))).await {
            stored.push((String::from_utf8(e.body).unwrap(), hex::encode(e.hash)));
        }
        let documented = documented_bodies();
        assert_eq!(stored.len(), documented.len());
        // The server's bodies differ from the document's only where its clock does: in
        // `recorded_at`, and in entry 1's hash, which covers it and which entry 2 quotes.
        let doc_hash_1 = string_member(&documented[2], "hash").to_owned();
        // And entry 1's name is sealed (FORMAT.md §1.12), so it is stored as version 2 with
        // `{"sealed":...}` where the document shows the version-1 form with the name.
        let sealed = {
            let (body, _) = &stored[1];
            let at = body.find(r#""name":{"sealed":""#).expect("the name is sealed");
            let end = at + body[at..].find("\"}").unwrap() + 2;
            let value = &body[at + 7..end];
            assert!(!body.contains("王芳"), "no plain name in {body}");
            assert!(body.contains(r#""type":"teacher_registered","version":2,"#), "{body}");
            value.to_owned()
        };
        let stored: Vec<(String, String)> = stored
            .into_iter()
            .map(|(b, h)| {
                (
                    b.replace(&sealed, r#""王芳""#)
                        .replace(r#""teacher_registered","version":2"#, r#""teacher_registered","version":1"#),
                    h,
                )
            })
            .collect();
        for (seq, ((body, _), doc)) in stored.iter().zip(&documented).enumerate() {
            let expected = doc
                .replace(
                    string_member(doc, "recorded_at"),
                    string_member(body, "recorded_at"),
                )
                .replace(&doc_hash_1, &stored[1].1);
            assert_eq!(body, &expected, "entry {seq}");
        }

        // The idempotency record of append 1 does not depend on the clock: byte for byte.
        let data = s.stop().await;
        let store = open_store(&data.path().join("data"));
        let rec = store
            .request(&request_key("hr-office", "req-0001"))
            .unwrap()
            .unwrap();
        let value = format!(
            "{:016x} {:08x} {}",
            rec.first_seq,
            rec.count,
            hex::encode(rec.fingerprint)
        );
        assert!(
            FORMAT.contains(&format!("with value `{value}`")),
            "FORMAT.md §1.10 should give the record as {value}"
        );
    })
    .await;
}
