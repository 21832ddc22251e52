//! The bad-input catalogue: every kind of malformed request a client can send over gRPC, with
//! the status code it must get and words its message must contain; none of them appends.

use std::future::poll_fn;

use http_body_util::BodyExt as _;
use tonic::codegen::{Bytes, Service as _, http};
use tonic::{Code, Status};

use rotaledger::proto;

use crate::util::{TestServer, bounded, run_bin, school_event};

/// The request of one row.
enum Call {
    /// Ledger.Append with these events, request id and expected size.
    Append(Vec<String>, String, Option<u64>),
    /// Audit.Verify from, to.
    Verify(u64, Option<u64>),
    /// Audit.ReadEntries from, to.
    Read(u64, Option<u64>),
    /// Audit.Subscribe from.
    Subscribe(u64),
    /// Audit.GetCheckpoint size.
    Checkpoint(Option<u64>),
    /// Audit.GetInclusionProof seq, size.
    Inclusion(u64, Option<u64>),
    /// Audit.GetConsistencyProof old, new.
    Consistency(u64, Option<u64>),
    /// Query.Eligibility of teacher T1 as of this date.
    Eligibility(String),
    /// Query.Terms with this `ends_before`.
    Terms(String),
    /// The raw HTTP/2 body of a call to this method path: gRPC frames built by hand.
    Raw(&'static str, Vec<u8>),
}

/// One gRPC frame: flags (0: not compressed), length, message.
fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// A frame whose length prefix says `claimed` bytes, followed by `message`.
fn frame_claiming(claimed: u32, message: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&claimed.to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// A school registration with `extra` JSON members added at the end (after the valid ones,
/// so a parser keeping the last of repeated members reads them).
fn school_plus(i: u64, extra: &str) -> String {
    let e = school_event(i);
    format!("{},{extra}}}", &e[..e.len() - 1])
}

const APPEND: &str = "/rotaledger.v1.Ledger/Append";

/// Events for one append.
fn ev(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// A school registration with one field's JSON replaced (or removed with `None`).
fn school_with(field: &str, value: Option<&str>) -> String {
    let mut v: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&school_event(900)).unwrap();
    match value {
        Some(x) => {
            v.insert(field.into(), serde_json::from_str(x).unwrap());
        }
        None => {
            v.remove(field);
        }
    }
    serde_json::Value::Object(v).to_string()
}

const MAX_EVENTS: usize = 50;
const MAX_MESSAGE: usize = 256 * 1024;
/// Entries appended before the catalogue runs.
const SEEDED: u64 = 4;

fn rows() -> Vec<(&'static str, Call, Code, &'static str)> {
    let ok = |i: u64| vec![school_event(1000 + i)];
    let rid = |s: &str| s.to_owned();
    let long = "x".repeat(300);
    let huge = "名".repeat(MAX_MESSAGE / 3 + 10);
    vec![
        (
            "no events",
            Call::Append(vec![], rid("a1"), None),
            Code::InvalidArgument,
            "events",
        ),
        (
            "empty request id",
            Call::Append(ok(1), rid(""), None),
            Code::InvalidArgument,
            "request_id",
        ),
        (
            "request id with a control character",
            Call::Append(ok(2), rid("a\u{7}b"), None),
            Code::InvalidArgument,
            "control character",
        ),
        (
            "request id with a newline",
            Call::Append(ok(2), rid("a\nb"), None),
            Code::InvalidArgument,
            "request_id",
        ),
        (
            "request id over 128 bytes",
            Call::Append(ok(3), "r".repeat(129), None),
            Code::InvalidArgument,
            "request_id",
        ),
        (
            "not JSON",
            Call::Append(ev(&["{"]), rid("a4"), None),
            Code::InvalidArgument,
            "events[0]",
        ),
        (
            "JSON array",
            Call::Append(ev(&["[]"]), rid("a5"), None),
            Code::InvalidArgument,
            "events[0]",
        ),
        (
            "JSON string",
            Call::Append(ev(&["\"school\""]), rid("a5b"), None),
            Code::InvalidArgument,
            "events[0]",
        ),
        (
            "empty event text",
            Call::Append(ev(&[""]), rid("a5c"), None),
            Code::InvalidArgument,
            "events[0]",
        ),
        (
            "missing type",
            Call::Append(vec![school_with("type", None)], rid("a6"), None),
            Code::InvalidArgument,
            "type",
        ),
        (
            "unknown event type",
            Call::Append(
                vec![school_with("type", Some("\"school_sold\""))],
                rid("a7"),
                None,
            ),
            Code::InvalidArgument,
            "type",
        ),
        (
            "missing version",
            Call::Append(vec![school_with("version", None)], rid("a8"), None),
            Code::InvalidArgument,
            "version",
        ),
        (
            "unknown version",
            Call::Append(vec![school_with("version", Some("2"))], rid("a9"), None),
            Code::InvalidArgument,
            "version",
        ),
        (
            "missing field",
            Call::Append(vec![school_with("name", None)], rid("a10"), None),
            Code::InvalidArgument,
            "name",
        ),
        (
            "unknown field",
            Call::Append(
                vec![school_with("colour", Some("\"red\""))],
                rid("a11"),
                None,
            ),
            Code::InvalidArgument,
            "colour",
        ),
        (
            "unknown enum value",
            Call::Append(
                vec![school_with("stage", Some("\"kindergarten\""))],
                rid("a12"),
                None,
            ),
            Code::InvalidArgument,
            "stage",
        ),
        (
            "enum value in capitals",
            Call::Append(
                vec![school_with("standing", Some("\"STRONG\""))],
                rid("a13"),
                None,
            ),
            Code::InvalidArgument,
            "standing",
        ),
        (
            "wrong JSON type",
            Call::Append(
                vec![school_with("rural", Some("\"yes\""))],
                rid("a14"),
                None,
            ),
            Code::InvalidArgument,
            "rural",
        ),
        (
            "29 February of a common year",
            Call::Append(
                vec![school_with("date", Some("\"2023-02-29\""))],
                rid("a15"),
                None,
            ),
            Code::InvalidArgument,
            "date",
        ),
        (
            "month 13",
            Call::Append(
                vec![school_with("date", Some("\"2024-13-01\""))],
                rid("a16"),
                None,
            ),
            Code::InvalidArgument,
            "date",
        ),
        (
            "date not a date",
            Call::Append(
                vec![school_with("date", Some("\"yesterday\""))],
                rid("a17"),
                None,
            ),
            Code::InvalidArgument,
            "date",
        ),
        (
            "year out of range",
            Call::Append(
                vec![school_with("date", Some("\"3024-01-01\""))],
                rid("a18"),
                None,
            ),
            Code::InvalidArgument,
            "date",
        ),
        (
            "oversized name",
            Call::Append(
                vec![school_with("name", Some(&format!("\"{long}\"")))],
                rid("a19"),
                None,
            ),
            Code::InvalidArgument,
            "name",
        ),
        (
            "blank name",
            Call::Append(vec![school_with("name", Some("\"   \""))], rid("a20"), None),
            Code::InvalidArgument,
            "name",
        ),
        (
            "id with a control character",
            Call::Append(
                vec![school_with("school", Some("\"S\\u0001\""))],
                rid("a21"),
                None,
            ),
            Code::InvalidArgument,
            "school",
        ),
        (
            "id with a space",
            Call::Append(
                vec![school_with("school", Some("\"S 1\""))],
                rid("a22"),
                None,
            ),
            Code::InvalidArgument,
            "school",
        ),
        (
            "empty id",
            Call::Append(vec![school_with("school", Some("\"\""))], rid("a23"), None),
            Code::InvalidArgument,
            "school",
        ),
        (
            "oversized id",
            Call::Append(
                vec![school_with(
                    "school",
                    Some(&format!("\"{}\"", "S".repeat(65))),
                )],
                rid("a24"),
                None,
            ),
            Code::InvalidArgument,
            "school",
        ),
        (
            "second event bad",
            Call::Append(
                vec![school_event(1100), school_with("stage", Some("1"))],
                rid("a25"),
                None,
            ),
            Code::InvalidArgument,
            "events[1].stage",
        ),
        (
            "too many events",
            Call::Append(
                (0..MAX_EVENTS as u64 + 1)
                    .map(|i| school_event(2000 + i))
                    .collect(),
                rid("a26"),
                None,
            ),
            Code::InvalidArgument,
            "limit",
        ),
        (
            "message over the size limit",
            Call::Append(vec![huge], rid("a27"), None),
            Code::ResourceExhausted,
            "too large",
        ),
        (
            "a frame claiming 4 GiB (refused from its length prefix, before it is read)",
            Call::Raw(APPEND, frame_claiming(u32::MAX, b"\x12\x01a")),
            Code::ResourceExhausted,
            "at most 262144 bytes",
        ),
        (
            "a query message over the size limit",
            Call::Raw(
                "/rotaledger.v1.Query/Terms",
                frame_claiming(MAX_MESSAGE as u32 + 1, &[]),
            ),
            Code::ResourceExhausted,
            "too large",
        ),
        (
            "protobuf: a varint of eleven bytes",
            Call::Raw(APPEND, frame(&[&[0x18][..], &[0xff; 11]].concat())),
            Code::InvalidArgument,
            "invalid varint",
        ),
        (
            "protobuf: wire type 7",
            Call::Raw(APPEND, frame(&[0x0f, 0x01])),
            Code::InvalidArgument,
            "invalid wire type",
        ),
        (
            "protobuf: a string field cut short",
            Call::Raw(APPEND, frame(&[0x12, 0x0a, b'a', b'b', b'c'])),
            Code::InvalidArgument,
            "buffer underflow",
        ),
        (
            "protobuf: a string that is not UTF-8",
            Call::Raw(APPEND, frame(&[0x12, 0x02, 0xc3, 0x28])),
            Code::InvalidArgument,
            "UTF-8",
        ),
        (
            "protobuf: an event that is not UTF-8",
            Call::Raw(APPEND, frame(&[0x0a, 0x03, b'{', 0xff, b'}'])),
            Code::InvalidArgument,
            "AppendRequest.events",
        ),
        (
            "protobuf: wire type 7 in a query",
            Call::Raw("/rotaledger.v1.Query/Eligibility", frame(&[0x0f])),
            Code::InvalidArgument,
            "/rotaledger.v1.Query/Eligibility",
        ),
        (
            "protobuf: a bad varint in a stream's request",
            Call::Raw(
                "/rotaledger.v1.Audit/Subscribe",
                frame(&[&[0x08][..], &[0xff; 11]].concat()),
            ),
            Code::InvalidArgument,
            "invalid varint",
        ),
        (
            "gRPC frame cut short (the body ends inside the message)",
            Call::Raw(APPEND, frame_claiming(100, &[0x12, 0x01, b'a'])),
            Code::InvalidArgument,
            "could not be decoded",
        ),
        (
            "gRPC frame header cut short",
            Call::Raw(APPEND, vec![0, 0, 0]),
            Code::InvalidArgument,
            "could not be decoded",
        ),
        (
            "no request message at all",
            Call::Raw(APPEND, vec![]),
            Code::InvalidArgument,
            "could not be decoded",
        ),
        (
            "compressed flag without a grpc-encoding",
            Call::Raw(APPEND, {
                let mut f = frame(&[0x12, 0x01, b'a']);
                f[0] = 1;
                f
            }),
            Code::InvalidArgument,
            "could not be decoded",
        ),
        (
            "a member repeated at the top level",
            Call::Append(
                vec![school_plus(950, r#""school":"S0951""#)],
                rid("a40"),
                None,
            ),
            Code::InvalidArgument,
            "events[0].school",
        ),
        (
            "a member repeated with the same value",
            Call::Append(
                vec![school_plus(951, r#""name":"School 951""#)],
                rid("a41"),
                None,
            ),
            Code::InvalidArgument,
            "events[0].name",
        ),
        (
            "type repeated",
            Call::Append(
                vec![school_plus(952, r#""type":"school_registered""#)],
                rid("a42"),
                None,
            ),
            Code::InvalidArgument,
            "events[0].type",
        ),
        (
            "a member repeated through an escape",
            Call::Append(
                vec![school_plus(953, r#""standing":"weak""#)],
                rid("a43"),
                None,
            ),
            Code::InvalidArgument,
            "events[0].standing",
        ),
        (
            "a member repeated in a nested object",
            Call::Append(
                vec![
                    r#"{"type":"policy_adopted","version":1,"preset":"shanghai-2023","parameters":{"min_team_size":3,"min_team_size":5},"date":"2026-09-01"}"#
                        .to_owned(),
                ],
                rid("a44"),
                None,
            ),
            Code::InvalidArgument,
            "events[0].parameters.min_team_size",
        ),
        (
            "a member repeated in the second event",
            Call::Append(
                vec![school_event(954), school_plus(955, r#""rural":true"#)],
                rid("a45"),
                None,
            ),
            Code::InvalidArgument,
            "events[1].rural",
        ),
        (
            "duplicate id in one append",
            Call::Append(
                vec![school_event(1200), school_event(1200)],
                rid("a28"),
                None,
            ),
            Code::FailedPrecondition,
            "S1200",
        ),
        (
            "duplicate id across appends",
            Call::Append(vec![school_event(0)], rid("a29"), None),
            Code::FailedPrecondition,
            "S0000",
        ),
        (
            "request id reused for other events",
            Call::Append(ok(30), rid("seed-0"), None),
            Code::AlreadyExists,
            "seed-0",
        ),
        (
            "expected size wrong",
            Call::Append(ok(31), rid("a31"), Some(999)),
            Code::Aborted,
            "999",
        ),
        (
            "expected size huge",
            Call::Append(ok(32), rid("a32"), Some(u64::MAX)),
            Code::Aborted,
            "expected",
        ),
        (
            "as_of with a two-digit year",
            Call::Eligibility("25-01-05".into()),
            Code::InvalidArgument,
            r#"as_of: "25-01-05""#,
        ),
        (
            "as_of with a plus sign",
            Call::Eligibility("+2025-01-05".into()),
            Code::InvalidArgument,
            r#"as_of: "+2025-01-05""#,
        ),
        (
            "as_of with a leading space",
            Call::Eligibility(" 2025-01-05".into()),
            Code::InvalidArgument,
            r#"as_of: " 2025-01-05""#,
        ),
        (
            "as_of with one-digit month and day",
            Call::Eligibility("2025-1-5".into()),
            Code::InvalidArgument,
            r#"as_of: "2025-1-5""#,
        ),
        (
            "as_of with a one-digit day",
            Call::Eligibility("2025-01-5".into()),
            Code::InvalidArgument,
            r#"as_of: "2025-01-5""#,
        ),
        (
            "as_of with a time",
            Call::Eligibility("2025-01-05T00:00:00".into()),
            Code::InvalidArgument,
            "as_of",
        ),
        (
            "as_of on 29 February of a common year",
            Call::Eligibility("2025-02-29".into()),
            Code::InvalidArgument,
            "not a calendar date",
        ),
        (
            "as_of before 1900",
            Call::Eligibility("1899-12-31".into()),
            Code::InvalidArgument,
            "outside the years 1900..=2999",
        ),
        (
            "ends_before with a two-digit year",
            Call::Terms("25-01-05".into()),
            Code::InvalidArgument,
            r#"ends_before: "25-01-05""#,
        ),
        (
            "ends_before with a one-digit day",
            Call::Terms("2025-01-5".into()),
            Code::InvalidArgument,
            "ends_before",
        ),
        (
            "verify from beyond the log",
            Call::Verify(SEEDED + 1, None),
            Code::OutOfRange,
            "holds 4",
        ),
        (
            "verify to beyond the log",
            Call::Verify(0, Some(u64::MAX)),
            Code::OutOfRange,
            "holds 4",
        ),
        (
            "verify a reversed range",
            Call::Verify(3, Some(2)),
            Code::OutOfRange,
            "3..2",
        ),
        (
            "read from u64::MAX (-1 on the wire)",
            Call::Read(u64::MAX, None),
            Code::OutOfRange,
            "holds 4",
        ),
        (
            "read a reversed range",
            Call::Read(3, Some(1)),
            Code::OutOfRange,
            "3..1",
        ),
        (
            "read beyond the log",
            Call::Read(0, Some(SEEDED + 1)),
            Code::OutOfRange,
            "holds 4",
        ),
        (
            "subscribe beyond the log",
            Call::Subscribe(SEEDED + 1),
            Code::OutOfRange,
            "subscribe",
        ),
        (
            "subscribe from u64::MAX",
            Call::Subscribe(u64::MAX),
            Code::OutOfRange,
            "holds 4",
        ),
        (
            "checkpoint beyond the log",
            Call::Checkpoint(Some(SEEDED + 1)),
            Code::OutOfRange,
            "5",
        ),
        (
            "checkpoint at u64::MAX",
            Call::Checkpoint(Some(u64::MAX)),
            Code::OutOfRange,
            "18446744073709551615",
        ),
        (
            "inclusion of an entry not in the log",
            Call::Inclusion(SEEDED, None),
            Code::OutOfRange,
            "4",
        ),
        (
            "inclusion at u64::MAX",
            Call::Inclusion(u64::MAX, None),
            Code::OutOfRange,
            "18446744073709551615",
        ),
        (
            "inclusion against a size beyond the log",
            Call::Inclusion(0, Some(u64::MAX)),
            Code::OutOfRange,
            "18446744073709551615",
        ),
        (
            "inclusion against a size not covering it",
            Call::Inclusion(3, Some(2)),
            Code::OutOfRange,
            "3",
        ),
        (
            "inclusion against size 0",
            Call::Inclusion(0, Some(0)),
            Code::OutOfRange,
            "0",
        ),
        (
            "consistency from beyond the log",
            Call::Consistency(SEEDED + 1, None),
            Code::OutOfRange,
            "5",
        ),
        (
            "consistency reversed",
            Call::Consistency(3, Some(2)),
            Code::OutOfRange,
            "3",
        ),
        (
            "consistency to u64::MAX",
            Call::Consistency(0, Some(u64::MAX)),
            Code::OutOfRange,
            "18446744073709551615",
        ),
    ]
}

async fn call(s: &TestServer, c: &Call) -> Result<(), tonic::Status> {
    let mut l = s.ledger().await;
    let mut a = s.audit().await;
    match c {
        Call::Append(events, request_id, expected_size) => l
            .append(proto::AppendRequest {
                events: events.clone(),
                request_id: request_id.clone(),
                expected_size: *expected_size,
            })
            .await
            .map(drop),
        Call::Verify(from_seq, to_seq) => a
            .verify(proto::VerifyRequest {
                from_seq: *from_seq,
                to_seq: *to_seq,
            })
            .await
            .map(drop),
        Call::Read(from_seq, to_seq) => a
            .read_entries(proto::ReadEntriesRequest {
                from_seq: *from_seq,
                to_seq: *to_seq,
            })
            .await
            .map(drop),
        Call::Subscribe(from_seq) => a
            .subscribe(proto::SubscribeRequest {
                from_seq: *from_seq,
            })
            .await
            .map(drop),
        Call::Checkpoint(size) => a
            .get_checkpoint(proto::GetCheckpointRequest {
                size: *size,
                ..Default::default()
            })
            .await
            .map(drop),
        Call::Inclusion(seq, size) => a
            .get_inclusion_proof(proto::GetInclusionProofRequest {
                seq: *seq,
                size: *size,
            })
            .await
            .map(drop),
        Call::Consistency(old_size, new_size) => a
            .get_consistency_proof(proto::GetConsistencyProofRequest {
                old_size: *old_size,
                new_size: *new_size,
            })
            .await
            .map(drop),
        Call::Eligibility(as_of) => s
            .connect(None)
            .query()
            .await
            .unwrap()
            .eligibility(proto::EligibilityRequest {
                teacher: "T1".into(),
                as_of: as_of.clone(),
                recorded_up_to: None,
            })
            .await
            .map(drop),
        Call::Terms(ends_before) => s
            .connect(None)
            .query()
            .await
            .unwrap()
            .terms(proto::TermsRequest {
                ends_before: Some(ends_before.clone()),
                ..Default::default()
            })
            .await
            .map(drop),
        Call::Raw(path, body) => raw_call(s, path, body.clone()).await,
    }
}

/// Sends `body` as the HTTP/2 body of a gRPC call to `path`, past any codec, and reads the
/// status from the headers (a trailers-only answer) or the trailers.
async fn raw_call(s: &TestServer, path: &str, body: Vec<u8>) -> Result<(), Status> {
    let mut channel = tonic::transport::Endpoint::from_shared(format!("http://{}", s.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("http://{}{path}", s.addr))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::new(http_body_util::Full::new(
            Bytes::from(body),
        )))
        .unwrap();
    poll_fn(|cx| channel.poll_ready(cx)).await.unwrap();
    let resp = channel.call(req).await.unwrap();
    let status = match Status::from_header_map(resp.headers()) {
        Some(st) => st,
        None => {
            let body = resp.into_body().collect().await.unwrap();
            let trailers = body.trailers().cloned().unwrap_or_default();
            Status::from_header_map(&trailers).expect("a grpc-status in the trailers")
        }
    };
    match status.code() {
        Code::Ok => Ok(()),
        _ => Err(status),
    }
}

async fn size(s: &TestServer) -> u64 {
    let mut l = s.ledger().await;
    l.get_head(proto::GetHeadRequest {})
        .await
        .unwrap()
        .into_inner()
        .head
        .unwrap()
        .size
}

#[tokio::test]
async fn every_malformed_request_is_refused_with_its_code_and_nothing_is_appended() {
    bounded(120, async {
        let s = TestServer::start_with(|c| {
            c.max_message_bytes = MAX_MESSAGE;
            c.ledger.max_events_per_append = MAX_EVENTS;
        })
        .await;
        let mut l = s.ledger().await;
        for i in 0..SEEDED {
            l.append(proto::AppendRequest {
                events: vec![school_event(i)],
                request_id: format!("seed-{i}"),
                expected_size: None,
            })
            .await
            .unwrap();
        }
        let mut wrong = Vec::new();
        let rows = rows();
        let n = rows.len();
        for (name, c, code, needle) in rows {
            match call(&s, &c).await {
                Ok(()) => wrong.push(format!("{name}: accepted")),
                Err(st) => {
                    if st.code() != code || !st.message().contains(needle) {
                        wrong.push(format!(
                            "{name}: got {:?} {:?}, want {code:?} containing {needle:?}",
                            st.code(),
                            st.message()
                        ));
                    }
                }
            }
            assert_eq!(size(&s).await, SEEDED, "{name}: the log grew");
        }
        assert!(
            wrong.is_empty(),
            "{} of {n} rows wrong:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
        // The server still takes a valid append afterwards.
        l.append(proto::AppendRequest {
            events: vec![school_event(SEEDED)],
            request_id: "after".into(),
            expected_size: None,
        })
        .await
        .unwrap();
        assert_eq!(size(&s).await, SEEDED + 1);
    })
    .await;
}

/// The CLI's date arguments go through the same strict parser as the server's: a bad date is
/// refused before anything is sent (exit 2, the argument and the form named), a good one is
/// sent.
#[tokio::test]
async fn cli_date_arguments_are_refused_unless_written_yyyy_mm_dd() {
    bounded(120, async {
        let s = TestServer::start().await;
        let server = format!("http://{}", s.addr);
        let ask = |args: &[&str]| {
            let mut v: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
            v.extend(["--server".to_owned(), server.clone()]);
            run_bin(v)
        };
        for bad in [
            "25-01-05",
            "+2025-01-05",
            " 2025-01-05",
            "2025-1-5",
            "2025-01-5",
        ] {
            for args in [
                vec!["eligibility", "T1", "--as-of", bad],
                vec!["terms", "--ends-before", bad],
            ] {
                let (code, out, err) = ask(&args).await;
                assert_eq!(code, 2, "{args:?}: {out}{err}");
                assert!(
                    err.contains(args[args.len() - 2]) && err.contains("YYYY-MM-DD"),
                    "{args:?}: {err}"
                );
            }
        }
        // A good date reaches the server, which answers for the (unknown) teacher.
        let (code, out, err) = ask(&["eligibility", "T1", "--as-of", "2025-01-05"]).await;
        assert_ne!(code, 0, "{out}");
        assert!(
            !err.contains("YYYY-MM-DD") && err.contains("T1"),
            "a good date was refused: {err}"
        );
        let (code, out, err) = ask(&["terms", "--ends-before", "2025-01-05", "--json"]).await;
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("\"terms\""), "{out}");
    })
    .await;
}

/// `append --file` sends each event's text as it is: an event with a repeated member is
/// refused by the server, named with its file line, and nothing of the file is appended.
#[tokio::test]
async fn append_file_refuses_an_event_with_a_repeated_member() {
    bounded(120, async {
        let s = TestServer::start().await;
        let file = s.dir.path().join("events.jsonl");
        let dup = school_plus(2, r#""school":"S9999""#);
        std::fs::write(
            &file,
            format!("{}\n{}\n{dup}\n", school_event(0), school_event(1)),
        )
        .unwrap();
        let (code, out, err) = run_bin(vec![
            "append".into(),
            "--server".into(),
            format!("http://{}", s.addr),
            "--file".into(),
            file.display().to_string(),
        ])
        .await;
        assert_eq!(code, 2, "{out}{err}");
        assert!(
            err.contains("line 3") && err.contains("events[2].school"),
            "{err}"
        );
        assert_eq!(size(&s).await, 0);
    })
    .await;
}

/// A request refused before any handler saw it carries the same details as every other
/// error: `ErrorInfo` (domain, reason, metadata) and, for a bad body, a `BadRequest` naming
/// `request`.
#[tokio::test]
async fn refusals_before_the_handler_carry_details() {
    use tonic_types::StatusExt as _;
    bounded(60, async {
        let s = TestServer::start_with(|c| c.max_message_bytes = MAX_MESSAGE).await;

        let bad = raw_call(&s, APPEND, frame(&[0x0f])).await.unwrap_err();
        assert_eq!(bad.code(), Code::InvalidArgument, "{bad:?}");
        let d = bad.get_error_details();
        let info = d.error_info().expect("ErrorInfo");
        assert_eq!(
            (info.domain.as_str(), info.reason.as_str()),
            ("rotaledger", "INVALID_INPUT")
        );
        assert_eq!(
            info.metadata.get("field").map(String::as_str),
            Some("request")
        );
        let violations = &d.bad_request().expect("BadRequest").field_violations;
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field, "request");
        assert!(
            violations[0].description.contains("invalid wire type"),
            "{violations:?}"
        );

        let big = raw_call(&s, APPEND, frame_claiming(MAX_MESSAGE as u32 + 1, &[]))
            .await
            .unwrap_err();
        assert_eq!(big.code(), Code::ResourceExhausted, "{big:?}");
        let d = big.get_error_details();
        let info = d.error_info().expect("ErrorInfo");
        assert_eq!(
            (info.domain.as_str(), info.reason.as_str()),
            ("rotaledger", "MESSAGE_TOO_LARGE")
        );
        assert_eq!(
            info.metadata.get("limit_bytes").map(String::as_str),
            Some(MAX_MESSAGE.to_string().as_str())
        );
    })
    .await;
}
