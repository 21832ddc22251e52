//! Personal data under PIPL through the real server: a distinctive name shown to permitted
//! callers and recorded when shown, never in the data directory's files or an export; an
//! admin's erasure refused to others and repeated, after which the name is gone for good (also
//! after a restart, and after a crash that kept the key) while verification, exports, proofs
//! against checkpoints signed before the erasure and every projection stay as they were; a
//! wrong, missing or damaged key store refused at start.

use std::path::Path;

use rotaledger::grpc::auth::Access;
use rotaledger::merkle::{
    SignedCheckpoint, TreeHasher, VerifierKey, verify_consistency, verify_inclusion,
};
use rotaledger::proto::{
    AccessRecordRequest, AppendRequest, EligibilityRequest, GetCheckpointRequest,
    GetConsistencyProofRequest, GetInclusionProofRequest, GetPublicKeyRequest, RotationDutyRequest,
    TeacherHistoryRequest, TermsRequest,
};
use tonic::Code;

use crate::util::{TestServer, bounded, run_bin, serve_until_exit_with, write_access_file};

const TOKENS: [(&str, &str, &str, &str); 5] = [
    ("hr-system", "writer", "", "tok-writer"),
    ("auditor-1", "auditor", "", "tok-auditor"),
    ("head-s1", "principal", "S1", "tok-s1"),
    ("head-s9", "principal", "S9", "tok-s9"),
    ("dpo-admin", "admin", "", "tok-admin"),
];

/// The name and the return reason whose bytes must never be found in a file.
const NAME: &str = "欧阳珍珍Ouyang-Zhenzhen-QX7";
const REASON: &str = "caring for a parent after surgery QX7";
const T: &str = "T-PRIV-1";
const AS_OF: &str = "2026-06-01";

fn events() -> Vec<String> {
    vec![
        r#"{"type":"school_registered","version":1,"school":"S1","name":"School S1","stage":"primary","standing":"strong","rural":false,"date":"2010-01-01"}"#.into(),
        r#"{"type":"school_registered","version":1,"school":"W1","name":"School W1","stage":"primary","standing":"weak","rural":false,"date":"2010-01-01"}"#.into(),
        r#"{"type":"school_registered","version":1,"school":"S9","name":"School S9","stage":"primary","standing":"strong","rural":false,"date":"2010-01-01"}"#.into(),
        format!(r#"{{"type":"teacher_registered","version":1,"teacher":"{T}","name":"{NAME}","school":"S1","subject":"chinese","title":"intermediate","title_date":"2012-01-01","key_level":"district","employed_date":"2010-09-01","retirement_date":"2045-01-31","date":"2010-09-01"}}"#),
        r#"{"type":"teacher_registered","version":1,"teacher":"T-OTHER","name":"Another Teacher","school":"S1","subject":"chinese","title":"intermediate","key_level":"none","employed_date":"2011-09-01","date":"2011-09-01"}"#.into(),
        format!(r#"{{"type":"teacher_dispatched","version":1,"dispatch":"D1","teacher":"{T}","from_school":"S1","to_school":"W1","start_date":"2020-09-01","kind":"rotation"}}"#),
        r#"{"type":"teacher_evaluated","version":1,"dispatch":"D1","school":"W1","school_year":2020,"grade":"excellent","date":"2021-07-01"}"#.into(),
        format!(r#"{{"type":"teacher_returned","version":1,"dispatch":"D1","return_date":"2022-03-01","reason":"other","reason_text":"{REASON}"}}"#),
    ]
}

fn erasure(teacher: &str) -> String {
    format!(
        r#"{{"type":"personal_data_erased","version":1,"teacher":"{teacher}","basis":"PIPL Art. 47 request 2026-031","date":"2026-12-01"}}"#
    )
}

fn req(id: &str, events: Vec<String>) -> AppendRequest {
    AppendRequest {
        request_id: id.into(),
        events,
        expected_size: None,
    }
}

async fn start(dir: tempfile::TempDir) -> TestServer {
    let file = write_access_file(dir.path(), &crate::util::access_text(&TOKENS));
    let access = Access::load(&file).unwrap();
    TestServer::start_in(dir, |c| c.access = access).await
}

/// Every file under `dir` that holds `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                found.push(p.display().to_string());
            }
        }
    }
    found
}

fn assert_nowhere(dir: &Path, ctx: &str) {
    for needle in [
        NAME.as_bytes(),
        "Ouyang-Zhenzhen".as_bytes(),
        REASON.as_bytes(),
    ] {
        let f = files_holding(dir, needle);
        assert!(
            f.is_empty(),
            "{ctx}: {:?} found in {f:?}",
            String::from_utf8_lossy(needle)
        );
    }
}

async fn name_as(
    s: &TestServer,
    token: &str,
) -> Result<rotaledger::proto::TeacherSummary, tonic::Status> {
    name_of(s, token, T).await
}

/// A teacher's summary as `token` is shown it.
async fn name_of(
    s: &TestServer,
    token: &str,
    teacher: &str,
) -> Result<rotaledger::proto::TeacherSummary, tonic::Status> {
    let r = s
        .connect(Some(token))
        .query()
        .await
        .unwrap()
        .teacher_history(TeacherHistoryRequest {
            teacher: teacher.into(),
            as_of: AS_OF.into(),
            recorded_up_to: None,
            with_proofs: false,
        })
        .await?;
    Ok(r.into_inner().summary.unwrap())
}

/// The projections about the teacher and their school, without positions.
async fn projections(s: &TestServer) -> Vec<String> {
    let mut q = s.connect(Some("tok-admin")).query().await.unwrap();
    let mut out = Vec::new();
    let e = q
        .eligibility(EligibilityRequest {
            teacher: T.into(),
            as_of: AS_OF.into(),
            recorded_up_to: None,
        })
        .await
        .unwrap()
        .into_inner();
    out.push(format!("{:?}", e.eligibility));
    let t = q
        .terms(TermsRequest {
            school: Some("S1".into()),
            as_of: AS_OF.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    out.push(format!("{:?}", t.terms));
    let d = q
        .rotation_duty(RotationDutyRequest {
            school: "S1".into(),
            as_of: AS_OF.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    out.push(format!("{:?}", d.teachers));
    let mut h = name_as(s, "tok-admin").await.unwrap();
    h.name = None;
    h.personal_data_erased_on = None;
    h.personal_data_erased_by = None;
    out.push(format!("{h:?}"));
    out
}

async fn access_record(
    s: &TestServer,
    token: &str,
) -> Result<Vec<rotaledger::proto::Access>, tonic::Status> {
    Ok(s.connect(Some(token))
        .query()
        .await
        .unwrap()
        .access_record(AccessRecordRequest {
            teacher: T.into(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .accesses)
}

fn rule_of(e: &tonic::Status) -> String {
    format!("{} {:?}", e.message(), e.code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_is_sealed_shown_recorded_and_erased_for_good_while_proofs_hold() {
    bounded(240, async {
        let s = start(tempfile::tempdir().unwrap()).await;
        let data = s.dir.path().join("data");
        let mut w = s.connect(Some("tok-writer")).ledger().await.unwrap();
        w.append(req("setup", events())).await.unwrap();

        // Shown to the principal of the home school and to an admin, refused out of scope.
        assert_eq!(name_as(&s, "tok-s1").await.unwrap().name.as_deref(), Some(NAME));
        assert_eq!(name_as(&s, "tok-admin").await.unwrap().name.as_deref(), Some(NAME));
        assert_eq!(name_as(&s, "tok-s9").await.unwrap_err().code(), Code::PermissionDenied);
        // Each reveal is recorded: who, which teacher, which field, through which door.
        let rec = access_record(&s, "tok-admin").await.unwrap();
        let who: Vec<(&str, &str)> = rec.iter().map(|a| (a.actor.as_str(), a.via.as_str())).collect();
        assert_eq!(who, [("head-s1", "grpc"), ("dpo-admin", "grpc")]);
        assert!(rec.iter().all(|a| a.teachers == [T] && a.fields == ["name"]), "{rec:?}");
        assert_eq!(access_record(&s, "tok-s1").await.unwrap_err().code(), Code::PermissionDenied);
        // Sealed at rest: the bytes are in no file of the data directory.
        assert_nowhere(&data, "before erasure");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(data.join("master.key")).unwrap().permissions().mode();
            assert_eq!(m & 0o777, 0o600, "the master key file is private");
        }

        let before = projections(&s).await;
        let mut audit = s.connect(Some("tok-auditor")).audit().await.unwrap();
        let key: VerifierKey = audit
            .get_public_key(GetPublicKeyRequest {})
            .await
            .unwrap()
            .into_inner()
            .verifier_key
            .parse()
            .unwrap();
        let old = audit
            .get_checkpoint(GetCheckpointRequest { size: None, ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .checkpoint
            .unwrap();
        let old = SignedCheckpoint::parse(&old.text).unwrap().verify(&key).unwrap().clone();

        // Erasure: not by a writer, not of an unknown teacher; once by an admin; not twice.
        let mut a = s.connect(Some("tok-admin")).ledger().await.unwrap();
        let e = w.append(req("erase-w", vec![erasure(T)])).await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{}", rule_of(&e));
        let e = a.append(req("erase-x", vec![erasure("T-NOBODY")])).await.unwrap_err();
        assert!(rule_of(&e).contains("teacher.unknown"), "{}", rule_of(&e));
        // The dry run answers as Append would: a writer's check of an erasure is refused,
        // an admin's is judged (and writes nothing).
        let check = |appends| rotaledger::proto::CheckRequest { appends };
        let e = w
            .check(check(vec![req("erase-w", vec![erasure(T)])]))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{}", rule_of(&e));
        let judged = a
            .check(check(vec![req("erase", vec![erasure(T)])]))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(judged.results.len(), 1);
        assert_eq!(name_as(&s, "tok-admin").await.unwrap().name.as_deref(), Some(NAME));
        let r = a.append(req("erase", vec![erasure(T)])).await.unwrap().into_inner();
        let erased_seq = r.seqs[0];
        let e = a.append(req("erase-again", vec![erasure(T)])).await.unwrap_err();
        assert!(rule_of(&e).contains("erasure.twice"), "{}", rule_of(&e));
        let e = w
            .append(req(
                "rename",
                vec![format!(r#"{{"type":"teacher_profile_updated","version":1,"teacher":"{T}","name":"New Name","date":"2026-12-02"}}"#)],
            ))
            .await
            .unwrap_err();
        assert!(rule_of(&e).contains("erasure.personal_after"), "{}", rule_of(&e));

        // Afterwards: the name is shown as erased, the projections are unchanged, the key is
        // gone from the key store file.
        let after = name_as(&s, "tok-s1").await.unwrap();
        assert_eq!(after.name, None);
        assert_eq!(after.personal_data_erased_on.as_deref(), Some("2026-12-01"));
        assert_eq!(after.personal_data_erased_by, Some(erased_seq));
        assert_eq!(projections(&s).await, before);
        let keys = std::fs::read(data.join("data-keys")).unwrap();
        assert!(!keys.windows(T.len()).any(|w| w == T.as_bytes()), "the key record is zeros");
        assert_nowhere(&data, "after erasure");

        // An export (the backup) carries no plaintext and verifies without any key.
        let export = s.dir.path().join("backup.jsonl");
        let (code, out, err) = run_bin(vec![
            "export".into(),
            "--server".into(),
            format!("http://{}", s.addr),
            "--token".into(),
            "tok-auditor".into(),
            "--out".into(),
            export.display().to_string(),
        ])
        .await;
        assert_eq!(code, 0, "{out}{err}");
        let text = std::fs::read(&export).unwrap();
        assert!(!text.windows(NAME.len()).any(|w| w == NAME.as_bytes()));
        assert!(!text.windows(REASON.len()).any(|w| w == REASON.as_bytes()));
        let (code, out, err) =
            run_bin(vec!["verify".into(), "--export".into(), export.display().to_string()]).await;
        assert_eq!(code, 0, "{out}{err}");

        // Restart: still erased; the entry proven against the checkpoint signed before the
        // erasure, and the new log consistent with it.
        let dir = s.stop().await;
        let s = start(dir).await;
        assert_eq!(name_as(&s, "tok-admin").await.unwrap().name, None);
        let mut audit = s.connect(Some("tok-auditor")).audit().await.unwrap();
        let p = audit
            .get_inclusion_proof(GetInclusionProofRequest {
                seq: 3,
                size: Some(old.size),
            })
            .await
            .unwrap()
            .into_inner()
            .proof
            .unwrap();
        let leaf: [u8; 32] = p.entry_hash.as_slice().try_into().unwrap();
        let path: Vec<[u8; 32]> = p.hashes.iter().map(|h| h.as_slice().try_into().unwrap()).collect();
        verify_inclusion(&crate::util::profile(), 3, old.size, &crate::util::profile().hash_leaf(&leaf), &path, &old.root)
            .expect("the registration is in the log the old checkpoint signed");
        let c = audit
            .get_consistency_proof(GetConsistencyProofRequest {
                old_size: old.size,
                new_size: None,
            })
            .await
            .unwrap()
            .into_inner();
        let cp = audit
            .get_checkpoint(GetCheckpointRequest { size: None, ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .checkpoint
            .unwrap();
        let new = SignedCheckpoint::parse(&cp.text).unwrap().verify(&key).unwrap().clone();
        let path: Vec<[u8; 32]> = c.hashes.iter().map(|h| h.as_slice().try_into().unwrap()).collect();
        verify_consistency(&crate::util::profile(), old.size, new.size, &old.root, &new.root, &path)
            .expect("the log after the erasure extends the one before");
        assert_eq!(projections(&s).await, before);
        let data = s.dir.path().join("data");
        let dir = s.stop().await;
        let (code, out, err) = run_bin(vec![
            "verify".into(),
            "--data".into(),
            data.display().to_string(),
        ])
        .await;
        assert_eq!(code, 0, "{out}{err}");
        assert_nowhere(&data, "after restart");

        // Restore: the export (ciphertext) and the key store backed up beside it give back
        // a ledger whose names open (the erased one stays erased), whose idempotency records
        // answer a retry of the original appends, and which refuses to start without keys.
        let restored = tempfile::tempdir().unwrap();
        let rdata = restored.path().join("data");
        let (code, out, err) = run_bin(vec![
            "import".into(),
            "--export".into(),
            export.display().to_string(),
            "--data".into(),
            rdata.display().to_string(),
        ])
        .await;
        assert_eq!(code, 0, "{out}{err}");
        let (code, err) = serve_until_exit_with(&rdata, &[]);
        assert_eq!(code, 2, "no key store: refused, {err}");
        assert!(err.contains("import --keys"), "{err}");
        assert!(!rdata.join("master.key").exists(), "no key was made for a sealed log");
        std::fs::remove_dir_all(&rdata).unwrap();
        let (code, out, err) = run_bin(vec![
            "import".into(),
            "--export".into(),
            export.display().to_string(),
            "--data".into(),
            rdata.display().to_string(),
            "--keys".into(),
            data.join("data-keys").display().to_string(),
        ])
        .await;
        assert_eq!(code, 0, "{out}{err}");
        std::fs::copy(data.join("master.key"), rdata.join("master.key")).unwrap();
        let s = start(restored).await;
        assert_eq!(name_as(&s, "tok-admin").await.unwrap().name, None);
        assert_eq!(
            name_of(&s, "tok-admin", "T-OTHER").await.unwrap().name.as_deref(),
            Some("Another Teacher")
        );
        let mut w = s.connect(Some("tok-writer")).ledger().await.unwrap();
        let retry = w.append(req("setup", events())).await.unwrap().into_inner();
        assert!(retry.duplicate, "a retry of the original append after the restore");
        s.stop().await;
        drop(dir);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_cut_before_its_key_was_destroyed_is_finished_at_the_next_start() {
    bounded(120, async {
        let s = start(tempfile::tempdir().unwrap()).await;
        let data = s.dir.path().join("data");
        let mut w = s.connect(Some("tok-writer")).ledger().await.unwrap();
        w.append(req("setup", events())).await.unwrap();
        // The key store as it was on disk before the erasure: what a crash between the
        // erasure's commit and the key's destruction leaves.
        let kept = std::fs::read(data.join("data-keys")).unwrap();
        let mut a = s.connect(Some("tok-admin")).ledger().await.unwrap();
        a.append(req("erase", vec![erasure(T)])).await.unwrap();
        let dir = s.stop().await;
        std::fs::write(dir.path().join("data/data-keys"), &kept).unwrap();
        let s = start(dir).await;
        let keys = std::fs::read(s.dir.path().join("data/data-keys")).unwrap();
        assert!(
            !keys.windows(T.len()).any(|w| w == T.as_bytes()),
            "the start destroyed the key the crash left"
        );
        assert_eq!(name_as(&s, "tok-admin").await.unwrap().name, None);
        // The other teacher's name still opens.
        let other = s
            .connect(Some("tok-admin"))
            .query()
            .await
            .unwrap()
            .teacher_history(TeacherHistoryRequest {
                teacher: "T-OTHER".into(),
                as_of: AS_OF.into(),
                recorded_up_to: None,
                with_proofs: false,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            other.summary.unwrap().name.as_deref(),
            Some("Another Teacher")
        );
        s.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_missing_or_damaged_key_store_is_refused_at_start() {
    bounded(120, async {
        let s = start(tempfile::tempdir().unwrap()).await;
        let mut w = s.connect(Some("tok-writer")).ledger().await.unwrap();
        w.append(req("setup", events())).await.unwrap();
        let dir = s.stop().await;
        let data = dir.path().join("data");

        // Another master key, given as a file: refused, naming the file.
        let other = dir.path().join("other.key");
        std::fs::write(&other, format!("{}\n", "ab".repeat(32))).unwrap();
        let (code, err) = serve_until_exit_with(&data, &["--master-key", other.to_str().unwrap()]);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("other.key") && err.contains("master key"),
            "{err}"
        );

        // No master key where the data directory keeps it: refused, naming it (a new key
        // would leave every sealed name unreadable).
        let key = data.join("master.key");
        let moved = dir.path().join("master.key.moved");
        std::fs::rename(&key, &moved).unwrap();
        let (code, err) = serve_until_exit_with(&data, &[]);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("master.key") && err.contains("does not"),
            "{err}"
        );
        assert!(!key.exists(), "no new key was made");
        std::fs::rename(&moved, &key).unwrap();

        // A changed byte in a key record: refused as damaged.
        let store = data.join("data-keys");
        let good = std::fs::read(&store).unwrap();
        let mut bad = good.clone();
        bad[256 + 80] ^= 1;
        bad.extend_from_slice(&good[256..512]);
        std::fs::write(&store, &bad).unwrap();
        let (code, err) = serve_until_exit_with(&data, &[]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("damaged"), "{err}");

        // A key store that lost a key the log needs: refused, naming the teacher.
        std::fs::write(&store, &good[..256]).unwrap();
        let (code, err) = serve_until_exit_with(&data, &[]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("no data key") && err.contains("T-"), "{err}");
        std::fs::write(&store, &good).unwrap();
        let (code, err) = serve_until_exit_with(&data, &["--listen", "127.0.0.1:0", "--bogus"]);
        assert_eq!(code, 2, "clap refuses an unknown flag: {err}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lawful_reveal_is_recorded_and_a_master_key_rotation_keeps_every_name() {
    bounded(120, async {
        let s = start(tempfile::tempdir().unwrap()).await;
        let mut w = s.connect(Some("tok-writer")).ledger().await.unwrap();
        w.append(req("setup", events())).await.unwrap();
        let dir = s.stop().await;
        let data = dir.path().join("data");
        let d = data.display().to_string();

        // export --reveal: the plain fields in a separate file, the export itself sealed.
        let export = dir.path().join("e.jsonl");
        let revealed = dir.path().join("revealed.jsonl");
        let (code, out, err) = run_bin(
            [
                "export",
                "--data",
                &d,
                "--out",
                export.to_str().unwrap(),
                "--reveal",
                revealed.to_str().unwrap(),
                "--basis",
                "court order 12",
                "--teacher",
                T,
            ]
            .map(String::from)
            .to_vec(),
        )
        .await;
        assert_eq!(code, 0, "{out}{err}");
        let r = std::fs::read_to_string(&revealed).unwrap();
        let lines: Vec<serde_json::Value> = r
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let fields: Vec<(&str, &str)> = lines
            .iter()
            .map(|l| (l["field"].as_str().unwrap(), l["value"].as_str().unwrap()))
            .collect();
        assert_eq!(fields, [("name", NAME), ("reason_text", REASON)]);
        assert!(!r.contains("Another Teacher"), "only the teacher asked for");
        let e = std::fs::read(&export).unwrap();
        assert!(!e.windows(NAME.len()).any(|w| w == NAME.as_bytes()));
        let record = std::fs::read_to_string(data.join("access-record.jsonl")).unwrap();
        let last: serde_json::Value = serde_json::from_str(record.lines().last().unwrap()).unwrap();
        assert_eq!(last["via"], "export --reveal (court order 12)");
        assert_eq!(last["teachers"], serde_json::json!([T]));
        // --reveal needs --basis.
        let (code, _, _) = run_bin(
            [
                "export",
                "--data",
                &d,
                "--out",
                export.to_str().unwrap(),
                "--reveal",
                "x.jsonl",
            ]
            .map(String::from)
            .to_vec(),
        )
        .await;
        assert_eq!(code, 2);

        // Rotation: the key in the data directory is replaced, the log is not touched, every
        // name still opens; a key the operator gave needs its successor from the operator.
        let old_key = std::fs::read_to_string(data.join("master.key")).unwrap();
        let log_before = std::fs::read(data.join("db")).unwrap();
        let (code, out, err) =
            run_bin(["keys", "rotate", "--data", &d].map(String::from).to_vec()).await;
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("re-wrapped 2 data keys"), "{out}");
        assert_ne!(
            std::fs::read_to_string(data.join("master.key")).unwrap(),
            old_key
        );
        assert_eq!(
            std::fs::read(data.join("db")).unwrap(),
            log_before,
            "the log is untouched"
        );
        let old_file = dir.path().join("old.key");
        std::fs::write(&old_file, &old_key).unwrap();
        let (code, err) =
            serve_until_exit_with(&data, &["--master-key", old_file.to_str().unwrap()]);
        assert_eq!(code, 2, "the old key opens nothing now: {err}");
        let given = data.join("master.key").display().to_string();
        let (code, _, err) = run_bin(
            ["keys", "rotate", "--data", &d, "--master-key", &given]
                .map(String::from)
                .to_vec(),
        )
        .await;
        assert_eq!(code, 2);
        assert!(err.contains("--new-master-key"), "{err}");
        let s = start(dir).await;
        assert_eq!(
            name_as(&s, "tok-admin").await.unwrap().name.as_deref(),
            Some(NAME)
        );
        s.stop().await;
    })
    .await;
}
