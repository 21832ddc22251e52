//! The rotation certificate end to end: made by a real server for an admin, a principal and
//! the teacher themself (`rotaledger certificate`, the JSON API), checked offline by
//! `rotaledger audit certificate` (and a later checkpoint's consistency), every mutation the
//! issue names refused by the real binary with its reason; and the teacher role's scope.

use std::path::{Path, PathBuf};

use rotaledger::certificate::{Certificate, Statement};
use rotaledger::grpc::auth::Access;
use rotaledger::merkle::{CheckpointKey, ConsistencyProof, ProofFile, SignedCheckpoint};
use rotaledger::proto::{
    AccessRecordRequest, AppendRequest, CertificateRequest, EligibilityRequest,
    GetCheckpointRequest, GetConsistencyProofRequest, SchoolQuotaRequest, TeacherHistoryRequest,
    TeamsRequest, TermsRequest,
};
use rotaledger::server::HttpListener;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::util::{TestServer, bounded, run_bin, write_access_file};

const TOKENS: [(&str, &str, &str, &str); 4] = [
    ("hr-system", "writer", "", "tok-writer"),
    ("head-s1", "principal", "S1", "tok-s1"),
    ("head-s3", "principal", "S3", "tok-s3"),
    ("bureau-admin", "admin", "", "tok-admin"),
];

/// The access file: the tokens above and two teachers' tokens.
fn access() -> String {
    let mut a = crate::util::access_text(&TOKENS);
    for (t, tok) in [("T1", "tok-t1"), ("T2", "tok-t2")] {
        a.push_str(&format!(
            "[[token]]\nname = \"teacher-{t}\"\nrole = \"teacher\"\nteacher = \"{t}\"\nhash = \"{}\"\n\n",
            rotaledger::grpc::auth::hash_token(tok)
        ));
    }
    a
}

fn school(id: &str, standing: &str) -> String {
    format!(
        r#"{{"type":"school_registered","version":1,"school":"{id}","name":"第{id}学校","stage":"primary","standing":"{standing}","rural":false,"date":"2010-01-01"}}"#
    )
}

fn teacher(id: &str, name: &str, school: &str) -> String {
    format!(
        r#"{{"type":"teacher_registered","version":1,"teacher":"{id}","name":"{name}","school":"{school}","subject":"chinese","title":"intermediate","title_date":"2012-01-01","key_level":"none","employed_date":"2010-09-01","date":"2010-09-01"}}"#
    )
}

fn dispatch(id: &str, teacher: &str) -> String {
    format!(
        r#"{{"type":"teacher_dispatched","version":1,"dispatch":"{id}","teacher":"{teacher}","from_school":"S1","to_school":"W1","start_date":"2021-09-01","kind":"rotation"}}"#
    )
}

fn evaluation(dispatch: &str, year: i32) -> String {
    format!(
        r#"{{"type":"teacher_evaluated","version":1,"dispatch":"{dispatch}","school":"W1","school_year":{year},"grade":"good","date":"{}-07-10"}}"#,
        year + 1
    )
}

async fn append(s: &TestServer, id: &str, events: Vec<String>) {
    let mut l = s.connect(Some("tok-writer")).ledger().await.unwrap();
    l.append(AppendRequest {
        events,
        request_id: id.into(),
        expected_size: None,
    })
    .await
    .unwrap();
}

/// A server with the scenario: T1 rotated S1 -> W1 for three years, evaluated each year,
/// returned, promoted with rotation credit; T2 still serving; T3 at S3.
async fn scenario() -> (TestServer, String) {
    let dir = tempfile::tempdir().unwrap();
    let access = Access::load(&write_access_file(dir.path(), &access())).unwrap();
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", http.local_addr().unwrap());
    let s = TestServer::start_in(dir, |c| {
        c.access = access;
        c.http = Some(HttpListener::bound(http));
    })
    .await;
    append(
        &s,
        "registry",
        vec![
            school("S1", "strong"),
            school("W1", "weak"),
            school("S3", "ordinary"),
            teacher("T1", "王小明", "S1"),
            teacher("T2", "李华", "S1"),
            teacher("T3", "张伟", "S3"),
        ],
    )
    .await;
    append(&s, "d1", vec![dispatch("D1", "T1"), dispatch("D2", "T2")]).await;
    for y in 2021..2024 {
        append(&s, &format!("e{y}"), vec![evaluation("D1", y)]).await;
    }
    append(&s, "e2-2021", vec![evaluation("D2", 2021)]).await;
    append(
        &s,
        "r1",
        vec![
            r#"{"type":"teacher_returned","version":1,"dispatch":"D1","return_date":"2024-09-01","reason":"term_completed"}"#.into(),
            r#"{"type":"teacher_promoted","version":1,"teacher":"T1","kind":"rank","to":"level 7","date":"2024-10-01","rotation_credit":true}"#.into(),
        ],
    )
    .await;
    (s, base)
}

/// The ledger's verifier key, written to a file in `dir`.
fn key_file(s: &TestServer, dir: &Path) -> PathBuf {
    let key = CheckpointKey::load(&s.dir.path().join("data").join("checkpoint.key")).unwrap();
    let p = dir.join("ledger.pub");
    std::fs::write(&p, format!("{}\n", key.verifier())).unwrap();
    p
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// `rotaledger certificate TEACHER --out FILE` with `token`.
async fn fetch(srv: &TestServer, token: &str, teacher: &str, out: &Path) -> (i32, String, String) {
    run_bin(vec![
        "certificate".into(),
        teacher.into(),
        "--as-of".into(),
        "2025-01-01".into(),
        "--out".into(),
        s(out),
        "--server".into(),
        format!("http://{}", srv.addr),
        "--token".into(),
        token.into(),
    ])
    .await
}

/// `rotaledger audit certificate FILE --key KEY [extra]`.
async fn audit(file: &Path, key: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "audit".into(),
        "certificate".into(),
        s(file),
        "--key".into(),
        s(key),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    run_bin(args).await
}

fn read(p: &Path) -> Certificate {
    Certificate::parse(&std::fs::read(p).unwrap(), crate::util::profile()).unwrap()
}

fn write(dir: &Path, name: &str, c: &Certificate) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, c.to_json().unwrap()).unwrap();
    p
}

/// Re-signs `c` (checkpoint and statement, or the statement only) with `key`.
fn resign(c: &Certificate, key: &CheckpointKey, checkpoint_too: bool) -> Certificate {
    let cp = SignedCheckpoint::parse(&c.checkpoint).unwrap();
    let cp = if checkpoint_too {
        cp.checkpoint.sign(key).unwrap()
    } else {
        cp
    };
    let st: Statement = serde_json::from_str(&c.statement).unwrap();
    Certificate::sign(key, &cp, &st, c.entries.clone()).unwrap()
}

#[tokio::test]
async fn certificates_verify_offline_and_every_mutation_is_refused() {
    bounded(240, async {
        let (srv, _) = scenario().await;
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let key = key_file(&srv, d);

        // Made for an admin: verifies, in Chinese by default; no name anywhere.
        let admin = d.join("t1-admin.json");
        let (code, out, err) = fetch(&srv, "tok-admin", "T1", &admin).await;
        assert_eq!(code, 0, "{out}{err}");
        let text = std::fs::read_to_string(&admin).unwrap();
        assert!(!text.contains("王小明"), "a name in an admin's certificate");
        let (code, out, err) = audit(&admin, &key, &[]).await;
        assert_eq!(code, 0, "{out}{err}");
        for want in [
            "交流轮岗证明",
            "验证通过",
            "教师: T1",
            "D1 交流轮岗 S1 第S1学校 → W1 第W1学校: 起始 2021-09-01, 最短期满 2024-09-01, 期满返回, 返回 2024-09-01 (期满), 1096 天",
            "2023/2024 学年: 良好",
            "职级晋升",
            "职称/职级晋升的交流轮岗经历: 符合",
        ] {
            assert!(out.contains(want), "missing {want:?} in:\n{out}");
        }
        assert!(!out.contains("姓名"), "{out}");
        let (code, out, _) = audit(&admin, &key, &["--lang", "en"]).await;
        assert_eq!(code, 0);
        assert!(out.contains("VERIFIED") && out.contains("Rotation credit (title and rank promotions): met"), "{out}");
        let good = read(&admin);
        assert_eq!(
            good.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [3, 6, 8, 9, 10, 12, 13],
            "every entry about T1: registration, dispatch, three evaluations, return, promotion"
        );

        // Made for the teacher themself: the name, signed in the statement, and the reveal
        // recorded in the access record.
        let own = d.join("t1-own.json");
        let (code, out, err) = fetch(&srv, "tok-t1", "T1", &own).await;
        assert_eq!(code, 0, "{out}{err}");
        let (code, out, _) = audit(&own, &key, &[]).await;
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("姓名: 王小明"), "{out}");
        let mut q = srv.connect(Some("tok-admin")).query().await.unwrap();
        let record = q
            .access_record(AccessRecordRequest {
                teacher: "T1".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(
            record
                .accesses
                .iter()
                .any(|a| a.actor == "teacher-T1" && a.via == "grpc certificate"),
            "{:?}",
            record.accesses
        );

        // Made for a principal with T1 in scope: no name; one without: refused.
        let p1 = d.join("t1-s1.json");
        assert_eq!(fetch(&srv, "tok-s1", "T1", &p1).await.0, 0);
        assert!(!std::fs::read_to_string(&p1).unwrap().contains("王小明"));
        let (code, _, err) = fetch(&srv, "tok-s3", "T1", &d.join("no.json")).await;
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("OUT_OF_SCOPE") || err.contains("PERMISSION_DENIED"), "{err}");
        assert!(!d.join("no.json").exists());

        // Another teacher's certificate at the same size, for the mutation below.
        let t2 = d.join("t2.json");
        assert_eq!(fetch(&srv, "tok-admin", "T2", &t2).await.0, 0);
        let t2 = read(&t2);

        // One more entry about T1, then a later certificate and checkpoint.
        append(&srv, "e2-2022", vec![evaluation("D2", 2022)]).await;
        append(
            &srv,
            "t1-more",
            vec![r#"{"type":"teacher_profile_updated","version":1,"teacher":"T1","key_level":"school","date":"2024-12-01"}"#.into()],
        )
        .await;
        let later = d.join("t1-later.json");
        assert_eq!(fetch(&srv, "tok-admin", "T1", &later).await.0, 0);
        let later = read(&later);
        assert_eq!(later.entries.len(), good.entries.len() + 1);

        // Consistency with the later checkpoint: the certificate's log was not forked.
        let old_size = SignedCheckpoint::parse(&good.checkpoint).unwrap().checkpoint.size;
        let mut a = srv.connect(Some("tok-admin")).audit().await.unwrap();
        let newer = a
            .get_checkpoint(GetCheckpointRequest { size: None, ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .checkpoint
            .unwrap();
        let p = a
            .get_consistency_proof(GetConsistencyProofRequest {
                old_size,
                new_size: Some(newer.size),
            })
            .await
            .unwrap()
            .into_inner();
        let cp_file = d.join("newer.cp");
        std::fs::write(&cp_file, &newer.text).unwrap();
        let proof = |old_size| {
            ProofFile::Consistency(ConsistencyProof {
                profile: crate::util::profile(),
                old_size,
                new_size: p.new_size,
                proof: p
                    .hashes
                    .iter()
                    .map(|h| h.as_slice().try_into().unwrap())
                    .collect(),
            })
            .to_json()
        };
        let proof_file = d.join("consistency.json");
        std::fs::write(&proof_file, proof(old_size)).unwrap();
        let extra = ["--checkpoint", &s(&cp_file), "--consistency", &s(&proof_file)];
        let (code, out, err) = audit(&admin, &key, &extra).await;
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("一致性已验证"), "{out}");
        // A proof that does not join the two: refused.
        let mut forked = p.hashes.clone();
        forked[0][0] ^= 1;
        let bad_proof = d.join("bad-consistency.json");
        std::fs::write(
            &bad_proof,
            ProofFile::Consistency(ConsistencyProof {
                profile: crate::util::profile(),
                old_size,
                new_size: p.new_size,
                proof: forked.iter().map(|h| h.as_slice().try_into().unwrap()).collect(),
            })
            .to_json(),
        )
        .unwrap();
        let extra = ["--checkpoint", &s(&cp_file), "--consistency", &s(&bad_proof)];
        let (code, out, _) = audit(&admin, &key, &extra).await;
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("REFUSED (consistency)"), "{out}");

        // Every mutation of the issue, through the real binary: exit 1 and the reason named.
        let origin = SignedCheckpoint::parse(&good.checkpoint)
            .unwrap()
            .checkpoint
            .origin;
        // A key of the ledger's own type (Ed25519 or SM2) under the ledger's name.
        let other_key = match crate::util::profile() {
            rotaledger::crypto::Profile::Blake3 => CheckpointKey::from_seed(&origin, &[42; 32]),
            rotaledger::crypto::Profile::Gm => CheckpointKey::from_sm2_secret(&origin, &[42; 32]),
        }
        .unwrap();
        let mut cases: Vec<(&str, Certificate, &str)> = Vec::new();
        let mut c = good.clone();
        let body = &mut c.entries[1].body;
        let at = body.find("2021-09-01").unwrap();
        body.replace_range(at..at + 4, "2020");
        cases.push(("a byte of an entry changed", c, "entry-hash"));
        let mut c = good.clone();
        c.entries.remove(2);
        cases.push(("an entry removed", c, "chain"));
        let mut c = good.clone();
        c.entries.pop();
        cases.push(("the last entry removed", c, "head"));
        let mut c = good.clone();
        let foreign = t2.entries[1].clone();
        let at = c.entries.iter().position(|e| e.seq > foreign.seq).unwrap();
        c.entries.insert(at, foreign);
        cases.push(("another teacher's entry added", c, "foreign-entry"));
        let mut c = good.clone();
        for (e, l) in c.entries.iter_mut().zip(&later.entries) {
            e.proof = l.proof.clone();
        }
        cases.push(("proofs against another checkpoint", c, "inclusion"));
        let mut c = good.clone();
        c.checkpoint = later.checkpoint.clone();
        cases.push(("another checkpoint", c, "other-checkpoint"));
        cases.push((
            "signed by another key",
            resign(&good, &other_key, true),
            "checkpoint-signature",
        ));
        cases.push((
            "the statement signed by another key",
            resign(&good, &other_key, false),
            "statement-signature",
        ));
        let mut c = good.clone();
        c.statement = c.statement.replace("\"as_of\":\"2025-01-01\"", "\"as_of\":\"2026-01-01\"");
        assert_ne!(c.statement, good.statement);
        cases.push(("a tampered statement", c, "statement-signature"));
        let mut refused = Vec::new();
        for (i, (what, c, code_name)) in cases.into_iter().enumerate() {
            let f = write(d, &format!("mutated-{i}.json"), &c);
            let (code, out, err) = audit(&f, &key, &[]).await;
            assert_eq!(code, 1, "{what}: {out}{err}");
            assert!(
                out.contains(&format!("REFUSED ({code_name})")),
                "{what}: expected the reason {code_name}, got:\n{out}"
            );
            refused.push((what, f, code_name));
        }

        // The independent Python verifier (docs/examples) agrees, reason for reason.
        if let Some(python) = python_verifier() {
            let run = |f: &Path| {
                let out = std::process::Command::new(&python)
                    .arg(verifier_script())
                    .arg(f)
                    .arg("--key")
                    .arg(&key)
                    .output()
                    .unwrap();
                (
                    out.status.code(),
                    format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    ),
                )
            };
            let (code, out) = run(&admin);
            assert_eq!(code, Some(0), "{out}");
            assert!(out.contains("verified: certificate of teacher T1"), "{out}");
            let (code, out) = run(&own);
            assert_eq!(code, Some(0), "{out}");
            assert!(out.contains("name (signed in the statement): 王小明"), "{out}");
            let with_later = |proof: &Path| {
                let out = std::process::Command::new(&python)
                    .arg(verifier_script())
                    .arg(&admin)
                    .arg("--key")
                    .arg(&key)
                    .arg("--checkpoint")
                    .arg(&cp_file)
                    .arg("--consistency")
                    .arg(proof)
                    .output()
                    .unwrap();
                (
                    out.status.code(),
                    String::from_utf8_lossy(&out.stdout).into_owned(),
                )
            };
            let (code, out) = with_later(&proof_file);
            assert_eq!(code, Some(0), "{out}");
            assert!(out.contains("consistency verified"), "{out}");
            let (code, out) = with_later(&bad_proof);
            assert_eq!(code, Some(1), "{out}");
            assert!(out.contains("REFUSED (consistency)"), "{out}");
            for (what, f, code_name) in &refused {
                let (code, out) = run(f);
                assert_eq!(code, Some(1), "python, {what}: {out}");
                assert!(
                    out.contains(&format!("REFUSED ({code_name})")),
                    "python, {what}: expected {code_name}, got {out}"
                );
            }
        }
        // A byte changed anywhere in the file as written (here: inside a proof hash).
        let mut raw = std::fs::read(&admin).unwrap();
        let at = raw.windows(9).position(|w| w == b"\"proof\": ").unwrap() + 20;
        raw[at] = if raw[at] == b'0' { b'1' } else { b'0' };
        let f = d.join("flipped.json");
        std::fs::write(&f, raw).unwrap();
        let (code, out, _) = audit(&f, &key, &[]).await;
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("REFUSED (inclusion)"), "{out}");

        // Could not run: no such file, no key.
        assert_eq!(audit(&d.join("absent.json"), &key, &[]).await.0, 2);
        assert_eq!(audit(&admin, &d.join("absent.pub"), &[]).await.0, 2);
    })
    .await;
}

/// `python3` if it can run the example verifier (see `util::python_for_verifiers`).
fn python_verifier() -> Option<String> {
    crate::util::python_for_verifiers("certificate: the Python verifier")
}

fn verifier_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/verify_certificate.py")
}

fn reason(s: &Status) -> String {
    s.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_teacher_sees_their_own_record_and_nothing_else() {
    bounded(120, async {
        let (srv, _) = scenario().await;
        let mut q = srv.connect(Some("tok-t1")).query().await.unwrap();
        let as_of = "2025-01-01".to_string();

        // Their own: history (with their name), eligibility, terms, certificate.
        let h = q
            .teacher_history(TeacherHistoryRequest {
                teacher: "T1".into(),
                as_of: as_of.clone(),
                recorded_up_to: None,
                with_proofs: true,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(h.entries.len(), 7);
        assert_eq!(h.summary.unwrap().name.as_deref(), Some("王小明"));
        let e = q
            .eligibility(EligibilityRequest {
                teacher: "T1".into(),
                as_of: as_of.clone(),
                recorded_up_to: None,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(e.eligibility.unwrap().rotation.unwrap().met);
        // Terms without a filter: their own only (T2 left the same school the same day).
        let t = q
            .terms(TermsRequest {
                as_of: as_of.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            t.terms
                .iter()
                .map(|t| t.dispatch.as_str())
                .collect::<Vec<_>>(),
            ["D1"]
        );
        let c = q
            .certificate(CertificateRequest {
                teacher: "T1".into(),
                as_of: as_of.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(c.certificate.contains("王小明"));

        // Another teacher answers exactly as no teacher at all: no oracle.
        let denied = |s: Status| (s.code(), reason(&s), s.message().to_owned());
        for (other, unknown) in [("T2", "T404"), ("T3", "T405")] {
            let a = q
                .teacher_history(TeacherHistoryRequest {
                    teacher: other.into(),
                    as_of: as_of.clone(),
                    recorded_up_to: None,
                    with_proofs: false,
                })
                .await
                .unwrap_err();
            let b = q
                .teacher_history(TeacherHistoryRequest {
                    teacher: unknown.into(),
                    as_of: as_of.clone(),
                    recorded_up_to: None,
                    with_proofs: false,
                })
                .await
                .unwrap_err();
            let (a, b) = (denied(a), denied(b));
            assert_eq!(a.0, Code::PermissionDenied);
            assert_eq!(a.1, "OUT_OF_SCOPE");
            assert_eq!(a.2.replace(other, "?"), b.2.replace(unknown, "?"));
            let a = q
                .certificate(CertificateRequest {
                    teacher: other.into(),
                    as_of: as_of.clone(),
                })
                .await
                .unwrap_err();
            let b = q
                .certificate(CertificateRequest {
                    teacher: unknown.into(),
                    as_of: as_of.clone(),
                })
                .await
                .unwrap_err();
            let (a, b) = (denied(a), denied(b));
            assert_eq!(
                (a.0, a.1.as_str()),
                (Code::PermissionDenied, "OUT_OF_SCOPE")
            );
            assert_eq!(a.2.replace(other, "?"), b.2.replace(unknown, "?"));
            let a = q
                .eligibility(EligibilityRequest {
                    teacher: other.into(),
                    as_of: as_of.clone(),
                    recorded_up_to: None,
                })
                .await
                .unwrap_err();
            assert_eq!(reason(&a), "OUT_OF_SCOPE");
            let a = q
                .terms(TermsRequest {
                    teacher: Some(other.into()),
                    ..Default::default()
                })
                .await
                .unwrap_err();
            assert_eq!(reason(&a), "OUT_OF_SCOPE");
        }
        // A school's list through a school filter: out of scope.
        let a = q
            .terms(TermsRequest {
                school: Some("S1".into()),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(reason(&a), "OUT_OF_SCOPE");

        // Every other question: PERMISSION_DENIED, as for a role without the permission.
        let e = q.teams(TeamsRequest::default()).await.unwrap_err();
        assert_eq!(
            (e.code(), reason(&e).as_str()),
            (Code::PermissionDenied, "PERMISSION_DENIED")
        );
        let e = q
            .school_quota(SchoolQuotaRequest {
                school: "S1".into(),
                school_year: 2024,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
        let e = q
            .access_record(AccessRecordRequest::default())
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
        let mut l = srv.connect(Some("tok-t1")).ledger().await.unwrap();
        let e = l
            .append(AppendRequest {
                events: vec![school("S9", "weak")],
                request_id: "t1-tries".into(),
                expected_size: None,
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
        let mut a = srv.connect(Some("tok-t1")).audit().await.unwrap();
        let e = a
            .get_checkpoint(GetCheckpointRequest {
                size: None,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
    })
    .await;
}

#[tokio::test]
async fn the_json_api_serves_the_certificate_file() {
    bounded(120, async {
        let (srv, base) = scenario().await;
        let tmp = tempfile::tempdir().unwrap();
        let key = key_file(&srv, tmp.path());
        let http = reqwest::Client::new();
        let get = |token: &'static str, teacher: &'static str| {
            http.get(format!(
                "{base}/api/v1/teachers/{teacher}/certificate?as_of=2025-01-01"
            ))
            .bearer_auth(token)
            .send()
        };
        let r = get("tok-t1", "T1").await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains("certificate-T1-"),
        );
        let body = r.bytes().await.unwrap();
        let f = tmp.path().join("from-http.json");
        std::fs::write(&f, &body).unwrap();
        let (code, out, _) = audit(&f, &key, &[]).await;
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("姓名: 王小明"), "{out}");
        // Another teacher and no teacher: the same refusal.
        let a = get("tok-t1", "T2").await.unwrap();
        let b = get("tok-t1", "T404").await.unwrap();
        assert_eq!(
            (a.status(), b.status()),
            (403.try_into().unwrap(), 403.try_into().unwrap())
        );
        let a = a.text().await.unwrap().replace("T2", "?");
        let b = b.text().await.unwrap().replace("T404", "?");
        assert_eq!(a, b);
        assert!(a.contains("OUT_OF_SCOPE"), "{a}");
    })
    .await;
}
