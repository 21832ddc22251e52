//! The HTTP face over the wire: health, the JSON API side by side with gRPC (same answers,
//! same refusals), strict parameters, tokens and scopes, appends with receipts, and the curl
//! lines of docs/HTTP.md run against a real server.

use rotaledger::grpc::auth::Access;
use rotaledger::proto::{
    AppendRequest, DistrictRequest, EligibilityRequest, EvaluationsOwedRequest,
    GetCheckpointRequest, GetInclusionProofRequest, GroupSummaryRequest, RotationDutyRequest,
    SchoolQuotaRequest, TeacherHistoryRequest, TeamsRequest, TermsRequest,
};
use rotaledger::server::HttpListener;
use serde_json::{Value, json};

use crate::util::{TestServer, bounded, write_access_file};

const TOKENS: [(&str, &str, &str, &str); 4] = [
    ("hr-system", "writer", "", "tok-writer"),
    ("auditor-1", "auditor", "", "tok-auditor"),
    ("head-s1", "principal", "S1", "tok-s1"),
    ("bureau-admin", "admin", "", "tok-admin"),
];

/// A server with the access file above and the HTTP face on a port of its own.
async fn server() -> (TestServer, String) {
    let dir = tempfile::tempdir().unwrap();
    let text = crate::util::access_text(&TOKENS);
    let access = Access::load(&write_access_file(dir.path(), &text)).unwrap();
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", http.local_addr().unwrap());
    let s = TestServer::start_in(dir, |c| {
        c.access = access;
        c.http = Some(HttpListener::bound(http));
    })
    .await;
    (s, base)
}

fn school(id: &str, standing: &str) -> String {
    format!(
        r#"{{"type":"school_registered","version":1,"school":"{id}","name":"学校{id}","stage":"primary","standing":"{standing}","rural":false,"date":"2010-01-01"}}"#
    )
}

fn teacher(id: &str, school: &str) -> String {
    format!(
        r#"{{"type":"teacher_registered","version":1,"teacher":"{id}","name":"教师{id}","school":"{school}","subject":"chinese","title":"intermediate","title_date":"2012-01-01","key_level":"none","employed_date":"2010-09-01","date":"2010-09-01"}}"#
    )
}

fn dispatch(id: &str, teacher: &str) -> String {
    format!(
        r#"{{"type":"teacher_dispatched","version":1,"dispatch":"{id}","teacher":"{teacher}","from_school":"S1","to_school":"W1","start_date":"2024-09-01","kind":"rotation","team":"TM1"}}"#
    )
}

/// Registry, a district, a team of three from S1 to W1; S3's teacher X1 out of S1's scope.
async fn scenario(s: &TestServer) {
    let mut hr = s.connect(Some("tok-writer")).ledger().await.unwrap();
    let mut events = vec![
        school("S1", "strong"),
        school("W1", "weak"),
        school("S3", "strong"),
    ];
    events.push(r#"{"type":"group_formed","version":1,"group":"G1","kind":"district","name":"第一学区","lead_school":"S1","schools":["S1","W1","S3"],"date":"2010-01-01"}"#.into());
    events.extend((1..=6).map(|i| teacher(&format!("T{i}"), "S1")));
    events.push(teacher("X1", "S3"));
    for (id, evs) in [
        ("registry", events),
        (
            "team",
            vec![
                dispatch("D1", "T1"),
                dispatch("D2", "T2"),
                dispatch("D3", "T3"),
            ],
        ),
    ] {
        hr.append(AppendRequest {
            events: evs,
            request_id: id.into(),
            expected_size: None,
        })
        .await
        .unwrap();
    }
}

async fn get(base: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut r = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Two checkpoints signed for the same question: the same size and root, and the same signed
/// note but for its `time` line and the signature over it (each call signs anew, and the
/// second may fall in the next second).
fn assert_same_checkpoint(got: &Value, want: &Value) {
    assert_eq!((&got["size"], &got["root"]), (&want["size"], &want["root"]));
    let body = |v: &Value| -> Vec<String> {
        v["text"]
            .as_str()
            .unwrap()
            .lines()
            .take_while(|l| !l.starts_with("time "))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(body(got), body(want));
    assert!(body(got).len() >= 3, "{got}");
}

fn to_json<T: serde::Serialize>(m: T) -> Value {
    serde_json::to_value(m).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_answers_what_grpc_answers() {
    bounded(120, async {
        let (s, base) = server().await;
        scenario(&s).await;
        for tok in ["tok-admin", "tok-s1"] {
            let mut q = s.connect(Some(tok)).query().await.unwrap();
            let d = "2025-06-01".to_string();
            let mut cases: Vec<(String, Value)> = vec![
                (
                    format!("/api/v1/teachers/T1/history?as_of={d}"),
                    to_json(
                        q.teacher_history(TeacherHistoryRequest {
                            teacher: "T1".into(),
                            as_of: d.clone(),
                            recorded_up_to: None,
                            with_proofs: false,
                        })
                        .await
                        .unwrap()
                        .into_inner(),
                    ),
                ),
                (
                    format!("/api/v1/teachers/T1/eligibility?as_of={d}&recorded_up_to=12"),
                    to_json(
                        q.eligibility(EligibilityRequest {
                            teacher: "T1".into(),
                            as_of: d.clone(),
                            recorded_up_to: Some(12),
                        })
                        .await
                        .unwrap()
                        .into_inner(),
                    ),
                ),
                (
                    format!("/api/v1/terms?school=S1&status=serving&as_of={d}"),
                    to_json(
                        q.terms(TermsRequest {
                            school: Some("S1".into()),
                            status: rotaledger::proto::TermStatus::Serving as i32,
                            as_of: d.clone(),
                            ..Default::default()
                        })
                        .await
                        .unwrap()
                        .into_inner(),
                    ),
                ),
                (
                    format!("/api/v1/teams?as_of={d}"),
                    to_json(
                        q.teams(TeamsRequest {
                            school: None,
                            as_of: d.clone(),
                            recorded_up_to: None,
                        })
                        .await
                        .unwrap()
                        .into_inner(),
                    ),
                ),
                (
                    format!("/api/v1/schools/S1/quota?year=2024&as_of={d}"),
                    to_json(
                        q.school_quota(SchoolQuotaRequest {
                            school: "S1".into(),
                            school_year: 2024,
                            as_of: d.clone(),
                            recorded_up_to: None,
                        })
                        .await
                        .unwrap()
                        .into_inner(),
                    ),
                ),
                (
                    format!("/api/v1/schools/S1/duty?as_of={d}"),
                    to_json(
                        q.rotation_duty(RotationDutyRequest {
                            school: "S1".into(),
                            as_of: d.clone(),
                            recorded_up_to: None,
                        })
                        .await
                        .unwrap()
                        .into_inner(),
                    ),
                ),
                (
                    format!("/api/v1/groups/G1/summary?year=2024&as_of={d}"),
                    to_json(
                        q.group_summary(GroupSummaryRequest {
                            group: "G1".into(),
                            school_year: 2024,
                            as_of: d.clone(),
                            recorded_up_to: None,
                        })
                        .await
                        .unwrap()
                        .into_inner(),
                    ),
                ),
            ];
            // What a school owes as receiving school (the principal of S1 asks about its
            // own school, which hosts nobody).
            let (owing, later) = if tok == "tok-admin" {
                ("W1", "2026-09-01")
            } else {
                ("S1", "2026-09-01")
            };
            cases.push((
                format!("/api/v1/schools/{owing}/evaluations-owed?as_of={later}"),
                to_json(
                    q.evaluations_owed(EvaluationsOwedRequest {
                        school: owing.into(),
                        as_of: later.into(),
                        recorded_up_to: None,
                    })
                    .await
                    .unwrap()
                    .into_inner(),
                ),
            ));
            if tok == "tok-admin" {
                let owed = &cases.last().unwrap().1["owed"];
                assert_eq!(
                    owed.as_array().unwrap().len(),
                    6,
                    "D1..D3 for 2024 and 2025: {owed}"
                );
                // The district view is the admins'; asked at two sizes of the ledger.
                for (query, recorded) in [("", None), ("&recorded_up_to=12", Some(12))] {
                    cases.push((
                        format!("/api/v1/district?year=2024&as_of={d}{query}"),
                        to_json(
                            q.district(DistrictRequest {
                                school_year: 2024,
                                as_of: d.clone(),
                                recorded_up_to: recorded,
                            })
                            .await
                            .unwrap()
                            .into_inner(),
                        ),
                    ));
                }
                let v = &cases.last().unwrap().1;
                assert_eq!(v["position"]["size"], 12);
                assert_eq!(v["schools"].as_array().unwrap().len(), 3, "{v}");
                assert_eq!(v["schools"][0]["status"], "due", "{v}");
            }
            for (path, want) in cases {
                let (status, got) = get(&base, &path, Some(tok)).await;
                assert_eq!(status, 200, "{tok} {path}: {got}");
                assert_eq!(got, want, "{tok} {path}");
            }
        }

        // The auditor's reads.
        let mut a = s.connect(Some("tok-auditor")).audit().await.unwrap();
        let cp = a
            .get_checkpoint(GetCheckpointRequest {
                size: Some(5),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let (status, got) = get(&base, "/api/v1/checkpoint?size=5", Some("tok-auditor")).await;
        assert_eq!(status, 200, "{got}");
        assert_same_checkpoint(&got["checkpoint"], &to_json(cp)["checkpoint"]);
        let proof = a
            .get_inclusion_proof(GetInclusionProofRequest {
                seq: 3,
                size: Some(9),
            })
            .await
            .unwrap()
            .into_inner();
        let (status, got) = get(
            &base,
            "/api/v1/proofs/inclusion?seq=3&size=9",
            Some("tok-auditor"),
        )
        .await;
        let want = to_json(proof);
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["proof"], want["proof"]);
        assert_same_checkpoint(&got["checkpoint"], &want["checkpoint"]);
        assert_eq!(got["proof"]["hashes"].as_array().unwrap().len(), 4);
        s.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_the_grpc_ones_with_fitting_http_statuses() {
    bounded(120, async {
        let (s, base) = server().await;
        scenario(&s).await;
        // (path, token, HTTP status, gRPC code name, reason)
        let cases: &[(&str, Option<&str>, u16, &str, &str)] = &[
            ("/api/v1/teams", None, 401, "UNAUTHENTICATED", ""),
            (
                "/api/v1/district?year=2024",
                Some("tok-s1"),
                403,
                "PERMISSION_DENIED",
                "PERMISSION_DENIED",
            ),
            (
                "/api/v1/schools/W1/evaluations-owed",
                Some("tok-s1"),
                403,
                "PERMISSION_DENIED",
                "OUT_OF_SCOPE",
            ),
            ("/api/v1/teams", Some("nope"), 401, "UNAUTHENTICATED", ""),
            (
                "/api/v1/teams",
                Some("tok-writer"),
                403,
                "PERMISSION_DENIED",
                "",
            ),
            (
                "/api/v1/teachers/X1/eligibility",
                Some("tok-s1"),
                403,
                "PERMISSION_DENIED",
                "OUT_OF_SCOPE",
            ),
            (
                "/api/v1/teachers/NOBODY/eligibility",
                Some("tok-admin"),
                404,
                "NOT_FOUND",
                "",
            ),
            (
                "/api/v1/schools/W1/quota?year=2024",
                Some("tok-admin"),
                400,
                "INVALID_ARGUMENT",
                "",
            ),
            (
                "/api/v1/schools/S1/quota",
                Some("tok-admin"),
                400,
                "INVALID_ARGUMENT",
                "",
            ),
            (
                "/api/v1/schools/S1/quota?year=2024&asof=2025-01-01",
                Some("tok-admin"),
                400,
                "INVALID_ARGUMENT",
                "",
            ),
            (
                "/api/v1/teams?as_of=2025-01-01&as_of=2025-01-02",
                Some("tok-admin"),
                400,
                "INVALID_ARGUMENT",
                "",
            ),
            (
                "/api/v1/terms?status=running",
                Some("tok-admin"),
                400,
                "INVALID_ARGUMENT",
                "",
            ),
            (
                "/api/v1/proofs/inclusion?seq=99",
                Some("tok-auditor"),
                400,
                "",
                "",
            ),
            (
                "/api/v1/nothing",
                Some("tok-admin"),
                404,
                "NOT_FOUND",
                "NO_SUCH_ENDPOINT",
            ),
        ];
        for (path, tok, status, code, reason) in cases {
            let (got_status, body) = get(&base, path, *tok).await;
            assert_eq!(got_status, *status, "{path}: {body}");
            let e = &body["error"];
            assert_eq!(e["http_status"], *status, "{path}: {body}");
            if !code.is_empty() {
                assert_eq!(e["code"], *code, "{path}: {body}");
            }
            if !reason.is_empty() {
                assert_eq!(e["reason"], *reason, "{path}: {body}");
            }
            assert!(
                e["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{path}"
            );
        }
        // A bad parameter is named, as gRPC names a bad field.
        let (_, body) = get(
            &base,
            "/api/v1/schools/S1/quota?year=2024&asof=2025-01-01",
            Some("tok-admin"),
        )
        .await;
        assert_eq!(body["error"]["field_violations"][0]["field"], "asof");
        s.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_over_http_keep_the_rules_idempotency_and_receipts() {
    bounded(120, async {
        let (s, base) = server().await;
        scenario(&s).await;
        let client = reqwest::Client::new();
        let post = |body: Value, tok: &'static str| {
            let c = client.clone();
            let url = format!("{base}/api/v1/append");
            async move {
                let r = c
                    .post(url)
                    .bearer_auth(tok)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }
        };
        let ev: Value = serde_json::from_str(&teacher("T9", "S1")).unwrap();
        let body = json!({"request_id": "http-1", "events": [ev]});
        let (status, first) = post(body.clone(), "tok-writer").await;
        assert_eq!(status, 200, "{first}");
        assert_eq!(first["seqs"], json!([14]));
        assert_eq!(first["duplicate"], false);
        assert_eq!(
            first["receipt"]["proofs"][0]["entry_hash"],
            first["entry_hashes"][0]
        );
        // A retry is the original answer.
        let (status, again) = post(body, "tok-writer").await;
        assert_eq!(status, 200);
        assert_eq!(again["duplicate"], true);
        assert_eq!(again["head"], first["head"]);
        // A rule refuses: 409 with the rule code.
        let ev: Value = serde_json::from_str(&teacher("T9", "S1")).unwrap();
        let (status, e) = post(
            json!({"request_id": "http-2", "events": [ev]}),
            "tok-writer",
        )
        .await;
        assert_eq!(status, 409, "{e}");
        assert_eq!(e["error"]["reason"], "teacher.duplicate_id");
        // Not a writer: 403; a malformed body: 400 naming it.
        let ev: Value = serde_json::from_str(&teacher("T10", "S1")).unwrap();
        let (status, _) = post(json!({"request_id": "http-3", "events": [ev]}), "tok-s1").await;
        assert_eq!(status, 403);
        let (status, e) = post(json!({"request_id": "http-4"}), "tok-writer").await;
        assert_eq!(status, 400, "{e}");
        assert_eq!(e["error"]["field_violations"][0]["field"], "body");
        // The log holds exactly the one append.
        let (_, head) = get(&base, "/api/v1/head", Some("tok-writer")).await;
        assert_eq!(head["head"]["size"], 15);
        s.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_entries() {
    bounded(120, async {
        let (s, base) = server().await;
        scenario(&s).await;
        let (status, body) = get(&base, "/healthz", None).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("alive")));
        let (status, body) = get(&base, "/readyz", None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["size"], 14);
        // Entries page by page; bodies are the stored text.
        let (status, page) = get(&base, "/api/v1/entries?from=10", Some("tok-auditor")).await;
        assert_eq!(status, 200, "{page}");
        let entries = page["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[0]["seq"], 10);
        assert!(entries[0]["body"].as_str().unwrap().contains("\"seq\":10"));
        assert_eq!(page["next"], Value::Null);
        let (_, page) = get(&base, "/api/v1/entries?from=2&to=4", Some("tok-auditor")).await;
        assert_eq!(page["entries"].as_array().unwrap().len(), 2);
        s.stop().await;
    })
    .await;
}

/// Splits a documented shell line into words: bare words and single-quoted strings (all the
/// docs use).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(cur);
    }
    words
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_curl_lines_run() {
    bounded(120, async {
        let (s, base) = server().await;
        scenario(&s).await;
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/HTTP.md")).unwrap();
        let client = reqwest::Client::new();
        let mut ran = 0;
        for line in doc.lines().filter(|l| l.starts_with("curl ")) {
            let (cmd, want) = line
                .rsplit_once('#')
                .expect("a curl line ends with # STATUS");
            let want: u16 = want.trim().parse().unwrap();
            let words = shell_words(cmd);
            let (mut method, mut headers, mut data, mut url) = ("GET", Vec::new(), None, None);
            let mut it = words.iter().skip(1);
            while let Some(w) = it.next() {
                match w.as_str() {
                    "-s" => {}
                    "-X" => {
                        method = if it.next().unwrap() == "POST" {
                            "POST"
                        } else {
                            "GET"
                        }
                    }
                    "-H" => headers.push(it.next().unwrap().clone()),
                    "-d" => data = Some(it.next().unwrap().clone()),
                    u if u.starts_with("http://127.0.0.1:8080") => {
                        url = Some(u.replacen("http://127.0.0.1:8080", &base, 1))
                    }
                    other => panic!("a curl flag the test does not know: {other} in {line}"),
                }
            }
            let url = url.expect("a URL");
            let mut r = if method == "POST" {
                client.post(&url)
            } else {
                client.get(&url)
            };
            for h in &headers {
                let (k, v) = h.split_once(": ").unwrap();
                r = r.header(k, v);
            }
            if let Some(d) = data {
                r = r.body(d);
            }
            let resp = r.send().await.unwrap();
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap();
            assert_eq!(status, want, "{line}\n{body}");
            ran += 1;
        }
        assert!(ran >= 9, "only {ran} documented curl lines found");
        s.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_face_answers_at_once_while_the_ledger_opens() {
    use std::io::BufRead;
    bounded(120, async {
        let s = TestServer::start().await;
        crate::util::append_schools(&s, "seed", 0, 3).await;
        let dir = s.stop().await;
        let data = dir.path().join("data");
        let key = crate::serve_start::key_as_fifo(&data);
        let log = dir.path().join("serve.log");
        let mut child = std::process::Command::new(crate::util::bin())
            .arg("serve")
            .arg("--data")
            .arg(&data)
            .args(["--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut lines = [String::new(), String::new()];
        for l in &mut lines {
            out.read_line(l).unwrap();
        }
        assert!(lines[0].starts_with("listening on "), "{lines:?}");
        let base = format!(
            "http://{}",
            lines[1]
                .trim()
                .strip_prefix("http listening on ")
                .unwrap_or_else(|| panic!("{lines:?}"))
        );
        // The open waits on the key: the face answers meanwhile, and at once.
        let (status, body) = get(&base, "/healthz", None).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = get(&base, "/readyz", None).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["reason"], "OPENING");
        let (status, _) = get(&base, "/api/v1/head", None).await;
        assert_eq!(status, 503);

        let key_path = data.join("checkpoint.key");
        let writer = std::thread::spawn(move || std::fs::write(key_path, key));
        crate::serve_start::log_line(&log, crate::serve_start::READY).await;
        writer.join().unwrap().unwrap();
        let (status, body) = get(&base, "/readyz", None).await;
        assert_eq!((status, body["size"].as_u64()), (200, Some(3)), "{body}");
        let (status, body) = get(&base, "/api/v1/head", None).await;
        assert_eq!((status, body["head"]["size"].as_u64()), (200, Some(3)));
        let _ = child.kill();
        let _ = child.wait();
    })
    .await;
}

/// The value of the metric line that starts with `name` (labels included) in `text`.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_the_append_path_queries_refusals_and_subscribers() {
    bounded(120, async {
        let (s, base) = server().await;
        scenario(&s).await;
        // One refusal by rule, one by input, two Teams queries, one live subscriber.
        let mut hr = s.connect(Some("tok-writer")).ledger().await.unwrap();
        for (id, ev) in [("dup", teacher("T1", "S1")), ("bad", "{".to_string())] {
            hr.append(AppendRequest {
                events: vec![ev],
                request_id: id.into(),
                expected_size: None,
            })
            .await
            .unwrap_err();
        }
        for _ in 0..2 {
            assert_eq!(get(&base, "/api/v1/teams", Some("tok-admin")).await.0, 200);
        }
        let mut a = s.connect(Some("tok-auditor")).audit().await.unwrap();
        let sub = a
            .subscribe(rotaledger::proto::SubscribeRequest { from_seq: 14 })
            .await
            .unwrap();

        let text = reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(metric(&text, "rotaledger_log_entries"), 14.0);
        assert_eq!(metric(&text, "rotaledger_appends_total"), 2.0);
        assert_eq!(metric(&text, "rotaledger_events_total"), 14.0);
        let commits = metric(&text, "rotaledger_commits_total");
        assert!(commits >= 2.0, "{text}");
        assert!(metric(&text, "rotaledger_fsyncs_total") >= commits);
        assert_eq!(metric(&text, "rotaledger_commit_entries_count"), commits);
        assert_eq!(metric(&text, "rotaledger_commit_entries_sum"), 14.0);
        assert_eq!(metric(&text, "rotaledger_commit_seconds_count"), commits);
        assert_eq!(
            metric(
                &text,
                "rotaledger_rejections_total{rule=\"teacher.duplicate_id\"}"
            ),
            1.0
        );
        assert_eq!(metric(&text, "rotaledger_refused_input_total"), 1.0);
        assert_eq!(
            metric(&text, "rotaledger_query_seconds_count{kind=\"teams\"}"),
            2.0
        );
        assert_eq!(metric(&text, "rotaledger_subscribers"), 1.0);
        drop(sub);
        s.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tls_the_http_face_speaks_https_with_the_grpc_certificate() {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    bounded(60, async {
        let dir = tempfile::tempdir().unwrap();
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = http.local_addr().unwrap();
        let s = TestServer::start_in(dir, |c| {
            c.tls = Some(rotaledger::server::TlsFiles { cert, key });
            c.http = Some(HttpListener::bound(http));
        })
        .await;

        let mut roots = rustls::RootCertStore::empty();
        roots.add(certified.cert.der().clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        // The ledger may still be opening: /healthz answers either way.
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        tls.read_to_string(&mut answer).await.unwrap_or_default();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("alive"), "{answer}");

        // Plain HTTP on the TLS port gets no answer of the API.
        let plain = reqwest::get(format!("http://{addr}/healthz")).await;
        assert!(
            plain.map_or(true, |r| !r.status().is_success()),
            "plain HTTP answered on the TLS port"
        );
        s.stop().await;
    })
    .await;
}
