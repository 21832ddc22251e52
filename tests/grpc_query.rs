//! The Query service over the wire: a full scenario from the registry to a promotion with
//! rotation credit, every query's figures and log position, as-of and recorded-up-to, the
//! principals' scope both ways, and writers and auditors refused.

use rotaledger::grpc::auth::Access;
use rotaledger::merkle::{TreeHasher, verify_inclusion};
use rotaledger::proto::{
    AppendRequest, EligibilityRequest, GroupSummaryRequest, RotationDutyRequest,
    SchoolQuotaRequest, TeacherHistoryRequest, TeamStatus, TeamsRequest, TermStatus, TermsRequest,
};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::util::{TestServer, bin, bounded, write_access_file};

const TOKENS: [(&str, &str, &str, &str); 6] = [
    ("hr-system", "writer", "", "tok-writer"),
    ("auditor-1", "auditor", "", "tok-auditor"),
    ("head-s1", "principal", "S1", "tok-s1"),
    ("head-s3", "principal", "S3", "tok-s3"),
    ("head-w1", "principal", "W1", "tok-w1"),
    ("bureau-admin", "admin", "", "tok-admin"),
];

fn access_text() -> String {
    crate::util::access_text(&TOKENS)
}

fn school(id: &str, standing: &str) -> String {
    format!(
        r#"{{"type":"school_registered","version":1,"school":"{id}","name":"School {id}","stage":"primary","standing":"{standing}","rural":false,"date":"2010-01-01"}}"#
    )
}

fn teacher(id: &str, school: &str) -> String {
    format!(
        r#"{{"type":"teacher_registered","version":1,"teacher":"{id}","name":"Teacher {id}","school":"{school}","subject":"chinese","title":"intermediate","title_date":"2012-01-01","key_level":"none","employed_date":"2010-09-01","date":"2010-09-01"}}"#
    )
}

fn dispatch(id: &str, teacher: &str) -> String {
    format!(
        r#"{{"type":"teacher_dispatched","version":1,"dispatch":"{id}","teacher":"{teacher}","from_school":"S1","to_school":"W1","start_date":"2024-09-01","kind":"rotation","team":"TEAM1"}}"#
    )
}

fn evaluation(dispatch: &str, year: i32) -> String {
    format!(
        r#"{{"type":"teacher_evaluated","version":1,"dispatch":"{dispatch}","school":"W1","school_year":{year},"grade":"good","date":"{}-07-10"}}"#,
        year + 1
    )
}

fn promotion(date: &str) -> String {
    format!(
        r#"{{"type":"teacher_promoted","version":1,"teacher":"T1","kind":"rank","to":"level 7","date":"{date}","rotation_credit":true}}"#
    )
}

fn req(id: &str, events: Vec<String>) -> AppendRequest {
    AppendRequest {
        events,
        request_id: id.into(),
        expected_size: None,
    }
}

fn reason(s: &Status) -> String {
    s.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

fn history(teacher: &str, as_of: &str) -> TeacherHistoryRequest {
    TeacherHistoryRequest {
        teacher: teacher.into(),
        as_of: as_of.into(),
        recorded_up_to: None,
        with_proofs: false,
    }
}

fn elig(teacher: &str, as_of: &str) -> EligibilityRequest {
    EligibilityRequest {
        teacher: teacher.into(),
        as_of: as_of.into(),
        recorded_up_to: None,
    }
}

fn quota(school: &str, year: i32) -> SchoolQuotaRequest {
    SchoolQuotaRequest {
        school: school.into(),
        school_year: year,
        as_of: "2025-08-31".into(),
        recorded_up_to: None,
    }
}

fn group_2024() -> GroupSummaryRequest {
    GroupSummaryRequest {
        group: "G1".into(),
        school_year: 2024,
        as_of: "2025-08-31".into(),
        recorded_up_to: None,
    }
}

/// Strong S1 with ten teachers, weak W1, strong S3 with one teacher, district G1 of the
/// three; a team of three from S1 to W1 in one append; W1's evaluations; T1's promotion with
/// credit refused before min_end and accepted after. Returns the log size after each step.
async fn scenario(s: &TestServer) -> Vec<u64> {
    let mut hr = s.connect(Some("tok-writer")).ledger().await.unwrap();
    let mut sizes = Vec::new();
    let mut registry = vec![
        school("S1", "strong"),
        school("W1", "weak"),
        school("S3", "strong"),
    ];
    registry.push(
        r#"{"type":"group_formed","version":1,"group":"G1","kind":"district","name":"District G1","lead_school":"S1","schools":["S1","W1","S3"],"date":"2010-01-01"}"#.into(),
    );
    for i in 1..=10 {
        registry.push(teacher(&format!("T{i}"), "S1"));
    }
    registry.push(teacher("X1", "S3"));
    let r = hr
        .append(req("registry", registry))
        .await
        .unwrap()
        .into_inner();
    sizes.push(r.head.unwrap().size);
    let team = vec![
        dispatch("D1", "T1"),
        dispatch("D2", "T2"),
        dispatch("D3", "T3"),
    ];
    let r = hr.append(req("team", team)).await.unwrap().into_inner();
    assert_eq!(r.seqs.len(), 3, "the team is dispatched in one append");
    sizes.push(r.head.unwrap().size);
    let evals = (2024..=2026)
        .flat_map(|y| ["D1", "D2", "D3"].map(|d| evaluation(d, y)))
        .collect();
    let r = hr.append(req("evals", evals)).await.unwrap().into_inner();
    sizes.push(r.head.unwrap().size);

    // Before min_end (2027-09-01): refused, naming the rule.
    let e = hr
        .append(req("promote-early", vec![promotion("2027-06-01")]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert_eq!(reason(&e), "promotion.rotation_credit");
    let pf = e
        .get_error_details()
        .precondition_failure()
        .unwrap()
        .clone();
    assert_eq!(pf.violations[0].r#type, "promotion.rotation_credit");
    assert_eq!(pf.violations[0].subject, "events[0]");
    assert!(
        e.message().contains("min_end 2027-09-01 not reached"),
        "{}",
        e.message()
    );

    let r = hr
        .append(req("promote", vec![promotion("2027-12-01")]))
        .await
        .unwrap()
        .into_inner();
    sizes.push(r.head.unwrap().size);
    sizes
}

async fn server() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let file = write_access_file(dir.path(), &access_text());
    let access = Access::load(&file).unwrap();
    TestServer::start_in(dir, |c| c.access = access).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scenario_answers_every_query_with_its_position() {
    bounded(120, async {
        let s = server().await;
        let sizes = scenario(&s).await;
        let size = *sizes.last().unwrap();
        let head = s
            .connect(Some("tok-admin"))
            .ledger()
            .await
            .unwrap()
            .get_head(rotaledger::proto::GetHeadRequest {})
            .await
            .unwrap()
            .into_inner()
            .head
            .unwrap();
        assert_eq!(head.size, size);
        let mut q = s.connect(Some("tok-admin")).query().await.unwrap();

        // Eligibility with its reasons, either side of min_end.
        let before = q
            .eligibility(elig("T1", "2027-06-01"))
            .await
            .unwrap()
            .into_inner();
        let pos = before.position.unwrap();
        assert_eq!((pos.size, pos.head_hash.clone()), (size, head.hash.clone()));
        assert_eq!(pos.as_of, "2027-06-01");
        let rot = before.eligibility.unwrap().rotation.unwrap();
        assert!(!rot.met);
        assert_eq!(rot.dispatches.len(), 1);
        assert_eq!(rot.dispatches[0].min_end.as_deref(), Some("2027-09-01"));
        assert!(!rot.dispatches[0].reached_min_end);
        assert_eq!(
            rot.dispatches[0].grades.len(),
            2,
            "the 2026/27 grade is dated 2027-07-10"
        );
        let after = q
            .eligibility(elig("T1", "2027-12-01"))
            .await
            .unwrap()
            .into_inner();
        assert!(after.eligibility.unwrap().rotation.unwrap().met);

        // History: every entry about T1, chained, proved against a checkpoint at the size.
        let mut hreq = history("T1", "2027-12-31");
        hreq.with_proofs = true;
        let h = q.teacher_history(hreq).await.unwrap().into_inner();
        assert_eq!(h.position.as_ref().unwrap().size, size);
        let types: Vec<_> = h
            .entries
            .iter()
            .map(|e| e.event_type.clone().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "teacher_registered",
                "teacher_dispatched",
                "teacher_evaluated",
                "teacher_evaluated",
                "teacher_evaluated",
                "teacher_promoted"
            ]
        );
        let cp = h.checkpoint.unwrap();
        assert_eq!(cp.size, size);
        let root: [u8; 32] = cp.root.as_slice().try_into().unwrap();
        let mut prev: Option<(u64, Vec<u8>)> = None;
        for e in &h.entries {
            assert_eq!(
                e.teacher_prev.as_ref().map(|l| (l.seq, l.hash.clone())),
                prev
            );
            let p = e.proof.as_ref().unwrap();
            let hashes: Vec<[u8; 32]> = p
                .hashes
                .iter()
                .map(|h| h.as_slice().try_into().unwrap())
                .collect();
            let leaf: [u8; 32] = e.hash.as_slice().try_into().unwrap();
            verify_inclusion(
                &crate::util::profile(),
                e.seq,
                size,
                &crate::util::profile().hash_leaf(&leaf),
                &hashes,
                &root,
            )
            .unwrap();
            prev = Some((e.seq, e.hash.clone()));
        }
        let summary = h.summary.unwrap();
        assert_eq!(summary.home_school.as_deref(), Some("S1"));
        assert_eq!(summary.posted_at.as_deref(), Some("W1"));
        assert_eq!(summary.promotions.len(), 1);
        assert!(summary.promotions[0].rotation_credit);

        // Terms, with filters.
        let all = TermsRequest {
            as_of: "2025-01-01".into(),
            ..Default::default()
        };
        let t = q.terms(all.clone()).await.unwrap().into_inner();
        assert_eq!(t.terms.len(), 3);
        assert!(
            t.terms
                .iter()
                .all(|t| t.status == TermStatus::Serving as i32)
        );
        let one = TermsRequest {
            teacher: Some("T2".into()),
            ..all.clone()
        };
        let t = q.terms(one).await.unwrap().into_inner();
        assert_eq!(t.terms.len(), 1);
        assert_eq!(t.terms[0].dispatch, "D2");
        let beyond = TermsRequest {
            status: TermStatus::ServingBeyondMinimum as i32,
            as_of: "2027-10-01".into(),
            ..Default::default()
        };
        assert_eq!(q.terms(beyond).await.unwrap().into_inner().terms.len(), 3);
        for (before, n) in [("2027-09-02", 3), ("2027-09-01", 0)] {
            let r = TermsRequest {
                ends_before: Some(before.into()),
                ..all.clone()
            };
            let got = q.terms(r).await.unwrap().into_inner().terms.len();
            assert_eq!(got, n, "min_end 2027-09-01 before {before}");
        }

        // Teams.
        let tm = q
            .teams(TeamsRequest {
                school: Some("W1".into()),
                as_of: "2025-01-01".into(),
                recorded_up_to: None,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(tm.teams.len(), 1);
        let team = &tm.teams[0];
        assert_eq!((team.team.as_str(), team.strength), ("TEAM1", 3));
        assert_eq!(team.status, TeamStatus::Complete as i32);

        // Quota of S1 for 2024/25: ten eligible teachers, three rotated out.
        let qa = q
            .school_quota(quota("S1", 2024))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(qa.position.unwrap().size, size);
        let qa = qa.quota.unwrap();
        assert_eq!(qa.eligible.len(), 10);
        assert_eq!(qa.outflow.len(), 3);
        assert_eq!(qa.school_teachers, 10);
        assert_eq!(qa.missing, qa.required.saturating_sub(3));
        assert!(qa.outflow_met);

        // Group summary: S1's and S3's quotas summed (W1 is weak, no quota).
        let g = q
            .group_summary(group_2024())
            .await
            .unwrap()
            .into_inner()
            .summary
            .unwrap();
        assert_eq!(g.members.len(), 3);
        assert_eq!(g.members_hidden, 0);
        assert_eq!(g.eligible, 11);
        assert_eq!(g.outflow, 3);
        assert_eq!(g.teams.len(), 1);

        // Rotation duty at S1 the day after the team left: seven teachers remain.
        let d = q
            .rotation_duty(RotationDutyRequest {
                school: "S1".into(),
                as_of: "2024-09-02".into(),
                recorded_up_to: None,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(d.teachers.len(), 10);
        assert_eq!(d.meeting_conditions.len(), 7, "{:?}", d.meeting_conditions);
        assert!(!d.meeting_conditions.contains(&"T1".to_string()));
        s.stop().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_up_to_and_as_of_answer_from_the_past() {
    bounded(120, async {
        let s = server().await;
        let sizes = scenario(&s).await;
        let mut q = s.connect(Some("tok-admin")).query().await.unwrap();

        // As recorded before the evaluations: no grades yet, whatever the date.
        let mut r = elig("T1", "2027-12-01");
        r.recorded_up_to = Some(sizes[1]);
        let e = q.eligibility(r).await.unwrap().into_inner();
        assert_eq!(e.position.as_ref().unwrap().size, sizes[1]);
        let rot = e.eligibility.unwrap().rotation.unwrap();
        assert!(!rot.met);
        assert!(rot.dispatches[0].grades.is_empty());

        // Before the team: no terms.
        let t = q
            .terms(TermsRequest {
                as_of: "2025-01-01".into(),
                recorded_up_to: Some(sizes[0]),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(t.terms.is_empty());
        assert_eq!(t.position.unwrap().size, sizes[0]);

        // As of a date before the dispatch, on the full log: not yet serving.
        let t = q
            .terms(TermsRequest {
                as_of: "2024-08-31".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(t.terms.is_empty());

        // Without a date: today, and the answer says which day that was.
        let e = q.eligibility(elig("T1", "")).await.unwrap().into_inner();
        let today = rotaledger::grpc::query_service::today()
            .format("%Y-%m-%d")
            .to_string();
        assert_eq!(e.position.unwrap().as_of, today);

        // Bad inputs name the field; unknown things are NOT_FOUND.
        let e = q.eligibility(elig("T1", "2025-13-01")).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        let br = e.get_error_details().bad_request().unwrap().clone();
        assert_eq!(br.field_violations[0].field, "as_of");
        let mut r = elig("T1", "2025-01-01");
        r.recorded_up_to = Some(sizes[3] + 5);
        let e = q.eligibility(r).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert_eq!(
            e.get_error_details()
                .bad_request()
                .unwrap()
                .field_violations[0]
                .field,
            "recorded_up_to"
        );
        let e = q.school_quota(quota("S1", 99999)).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert_eq!(
            e.get_error_details()
                .bad_request()
                .unwrap()
                .field_violations[0]
                .field,
            "school_year"
        );
        let e = q
            .eligibility(elig("NOBODY", "2025-01-01"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
        let e = q.school_quota(quota("NOWHERE", 2024)).await.unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
        for filter in [
            TermsRequest {
                teacher: Some("NOBODY".into()),
                ..Default::default()
            },
            TermsRequest {
                group: Some("NOGROUP".into()),
                ..Default::default()
            },
        ] {
            let e = q.terms(filter).await.unwrap_err();
            assert_eq!(e.code(), Code::NotFound, "{e:?}");
        }
        s.stop().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn principals_see_their_schools_only_and_others_may_not_query() {
    bounded(120, async {
        let s = server().await;
        scenario(&s).await;
        let mut s1 = s.connect(Some("tok-s1")).query().await.unwrap();
        let mut s3 = s.connect(Some("tok-s3")).query().await.unwrap();

        // In scope: S1's own teacher, its quota, its duty list, its terms.
        assert!(
            s1.teacher_history(history("T1", "2025-01-01"))
                .await
                .is_ok()
        );
        assert!(s1.eligibility(elig("T2", "2025-01-01")).await.is_ok());
        assert!(s1.school_quota(quota("S1", 2024)).await.is_ok());
        let all = TermsRequest {
            as_of: "2025-01-01".into(),
            ..Default::default()
        };
        assert_eq!(
            s1.terms(all.clone())
                .await
                .unwrap()
                .into_inner()
                .terms
                .len(),
            3
        );

        // Out of scope: another school's teacher, quota and duty list, refused by name.
        for e in [
            s3.teacher_history(history("T1", "2025-01-01"))
                .await
                .unwrap_err(),
            s3.eligibility(elig("T1", "2025-01-01")).await.unwrap_err(),
            s3.school_quota(quota("S1", 2024)).await.unwrap_err(),
            s1.teacher_history(history("X1", "2025-01-01"))
                .await
                .unwrap_err(),
            s1.rotation_duty(RotationDutyRequest {
                school: "S3".into(),
                as_of: "2025-01-01".into(),
                recorded_up_to: None,
            })
            .await
            .unwrap_err(),
            s3.terms(TermsRequest {
                teacher: Some("T1".into()),
                ..all.clone()
            })
            .await
            .unwrap_err(),
            // Ids that exist nowhere look the same as ids outside the scope, so a principal
            // cannot probe which teachers and schools exist elsewhere.
            s1.teacher_history(history("NOBODY", "2025-01-01"))
                .await
                .unwrap_err(),
            s1.eligibility(elig("NOBODY", "2025-01-01"))
                .await
                .unwrap_err(),
            s1.school_quota(quota("NOWHERE", 2024)).await.unwrap_err(),
            s1.terms(TermsRequest {
                school: Some("NOWHERE".into()),
                ..all.clone()
            })
            .await
            .unwrap_err(),
        ] {
            assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
            assert_eq!(reason(&e), "OUT_OF_SCOPE");
        }
        // Lists are filtered: S3's head sees none of S1's terms or teams.
        assert!(
            s3.terms(all.clone())
                .await
                .unwrap()
                .into_inner()
                .terms
                .is_empty()
        );
        let teams = TeamsRequest {
            school: None,
            as_of: "2025-01-01".into(),
            recorded_up_to: None,
        };
        assert!(
            s3.teams(teams.clone())
                .await
                .unwrap()
                .into_inner()
                .teams
                .is_empty()
        );
        assert_eq!(s1.teams(teams).await.unwrap().into_inner().teams.len(), 1);
        // The group summary shows S3 only to S3's head, with S3's figures.
        let g = s3
            .group_summary(group_2024())
            .await
            .unwrap()
            .into_inner()
            .summary
            .unwrap();
        let members: Vec<_> = g.members.iter().map(|m| m.school.as_str()).collect();
        assert_eq!(members, ["S3"]);
        assert_eq!((g.members_hidden, g.eligible, g.outflow), (2, 1, 0));
        assert!(g.teams.is_empty());

        // The host school's head sees the teachers it receives while they serve there, and
        // not S1's other teachers.
        let mut w1 = s.connect(Some("tok-w1")).query().await.unwrap();
        let h = w1
            .teacher_history(history("T1", "2026-01-01"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(h.summary.unwrap().posted_at.as_deref(), Some("W1"));
        let e = w1.eligibility(elig("T4", "2026-01-01")).await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
        let e = w1.eligibility(elig("T1", "2024-08-01")).await.unwrap_err();
        assert_eq!(
            e.code(),
            Code::PermissionDenied,
            "not yet hosted on that date"
        );
        assert_eq!(
            w1.terms(all.clone())
                .await
                .unwrap()
                .into_inner()
                .terms
                .len(),
            3
        );

        // Writers and auditors may not query at all.
        for tok in ["tok-writer", "tok-auditor"] {
            let mut c = s.connect(Some(tok)).query().await.unwrap();
            let e = c.eligibility(elig("T1", "2025-01-01")).await.unwrap_err();
            assert_eq!(e.code(), Code::PermissionDenied, "{tok}");
            assert_eq!(reason(&e), "PERMISSION_DENIED");
        }
        s.stop().await;
    })
    .await
}

/// Runs the binary against the server with `args` and S1's principal token.
async fn run_cli(s: &TestServer, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(bin());
    cmd.args(args).args([
        "--server",
        &format!("http://{}", s.addr),
        "--token",
        "tok-s1",
    ]);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Like [`run_cli`], for a command that must succeed; returns its stdout.
async fn cli(s: &TestServer, args: &[&str]) -> String {
    let out = run_cli(s, args).await;
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_prints_history_eligibility_and_quota() {
    bounded(120, async {
        let s = server().await;
        let sizes = scenario(&s).await;
        let size = *sizes.last().unwrap();

        let out = cli(&s, &["history", "T1", "--as-of", "2027-12-31"]).await;
        assert!(
            out.starts_with(&format!("as of 2027-12-31 at log size {size} ")),
            "{out}"
        );
        assert!(
            out.contains("home S1 since 2010-09-01, posted at W1"),
            "{out}"
        );
        let rows: Vec<&str> = out.lines().filter(|l| l.contains("teacher_")).collect();
        assert_eq!(rows.len(), 6, "{out}");
        assert!(
            rows[5].contains("teacher_promoted") && rows[5].contains("hr-system"),
            "{out}"
        );

        let out = cli(
            &s,
            &["eligibility", "T1", "--as-of", "2027-06-01", "--json"],
        )
        .await;
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["position"]["size"], size);
        assert_eq!(v["position"]["head_hash"].as_str().unwrap().len(), 64);
        let rot = &v["eligibility"]["rotation"];
        assert_eq!(rot["met"], false);
        assert_eq!(rot["dispatches"][0]["min_end"], "2027-09-01");
        assert_eq!(rot["dispatches"][0]["reached_min_end"], false);

        let out = cli(
            &s,
            &["quota", "S1", "--year", "2024", "--as-of", "2025-08-31"],
        )
        .await;
        assert!(out.contains("school S1 school year 2024/2025"), "{out}");
        assert!(
            out.contains("eligible 10 of 10 teachers; outflow 3 of"),
            "{out}"
        );
        for d in ["D1", "D2", "D3"] {
            assert!(
                out.lines().any(|l| l.starts_with(d) && l.contains("W1")),
                "{out}"
            );
        }

        // A refusal exits 2 and names the reason.
        let out = run_cli(&s, &["quota", "S3", "--year", "2024"]).await;
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("PermissionDenied") && err.contains("OUT_OF_SCOPE"),
            "{err}"
        );
        s.stop().await;
    })
    .await
}

/// One id-carrying field of an RPC a principal can call, asked with `id`; the status of the
/// refusal (`None`: the call succeeded).
async fn ask_with_id(s: &TestServer, token: &str, row: &str, id: &str) -> Option<Status> {
    use rotaledger::proto::{GetInclusionProofRequest, ReadEntriesRequest, SubscribeRequest};
    let as_of = || "2025-01-01".to_string();
    let mut q = s.connect(Some(token)).query().await.unwrap();
    let mut a = s.connect(Some(token)).audit().await.unwrap();
    // Entry positions are the audit RPCs' ids: a made-up one lies beyond the log.
    let seq = || id.parse::<u64>().unwrap_or(u64::MAX / 2);
    let r = match row {
        "TeacherHistory.teacher" => q.teacher_history(history(id, &as_of())).await.map(drop),
        "Eligibility.teacher" => q.eligibility(elig(id, &as_of())).await.map(drop),
        "Terms.teacher" | "Terms.school" | "Terms.group" => {
            let mut r = TermsRequest {
                as_of: as_of(),
                ..Default::default()
            };
            match row {
                "Terms.teacher" => r.teacher = Some(id.into()),
                "Terms.school" => r.school = Some(id.into()),
                _ => r.group = Some(id.into()),
            }
            q.terms(r).await.map(drop)
        }
        "Teams.school" => q
            .teams(TeamsRequest {
                school: Some(id.into()),
                as_of: as_of(),
                recorded_up_to: None,
            })
            .await
            .map(drop),
        "SchoolQuota.school" => q.school_quota(quota(id, 2024)).await.map(drop),
        "GroupSummary.group" => q
            .group_summary(GroupSummaryRequest {
                group: id.into(),
                ..group_2024()
            })
            .await
            .map(drop),
        "RotationDuty.school" => q
            .rotation_duty(RotationDutyRequest {
                school: id.into(),
                as_of: as_of(),
                recorded_up_to: None,
            })
            .await
            .map(drop),
        "Audit.ReadEntries.from_seq" => a
            .read_entries(ReadEntriesRequest {
                from_seq: seq(),
                to_seq: None,
            })
            .await
            .map(drop),
        "Audit.Subscribe.from_seq" => a
            .subscribe(SubscribeRequest { from_seq: seq() })
            .await
            .map(drop),
        "Audit.GetInclusionProof.seq" => a
            .get_inclusion_proof(GetInclusionProofRequest {
                seq: seq(),
                size: None,
            })
            .await
            .map(drop),
        _ => panic!("no row {row}"),
    };
    r.err()
}

/// A refusal with `id` written as `<id>` everywhere: code, message and every detail (the
/// ErrorInfo metadata sorted), so two refusals compare equal exactly when they differ only
/// by the id asked about.
fn shape(s: &Status, id: &str) -> String {
    let d = s.get_error_details();
    let info = d.error_info().map(|i| {
        let md: std::collections::BTreeMap<_, _> = i.metadata.iter().collect();
        (i.reason.clone(), i.domain.clone(), format!("{md:?}"))
    });
    format!(
        "{:?} | {} | {info:?} | {:?} | {:?} | {:?} | {:?} | {:?} | {:?} | {:?} | {:?} | {:?}",
        s.code(),
        s.message(),
        d.bad_request(),
        d.precondition_failure(),
        d.quota_failure(),
        d.retry_info(),
        d.debug_info(),
        d.request_info(),
        d.resource_info(),
        d.help(),
        d.localized_message(),
    )
    .replace(id, "<id>")
}

/// Every id a request a principal can send may carry (teachers, schools and groups in the
/// Query RPCs; entry positions in the Audit RPCs and streams, which principals may not call),
/// as (RPC.field, kind of id).
const ID_FIELDS: [(&str, &str); 12] = [
    ("TeacherHistory.teacher", "teacher"),
    ("Eligibility.teacher", "teacher"),
    ("Terms.teacher", "teacher"),
    ("Terms.school", "school"),
    ("Terms.group", "group"),
    ("Teams.school", "school"),
    ("SchoolQuota.school", "school"),
    ("GroupSummary.group", "group"),
    ("RotationDuty.school", "school"),
    ("Audit.ReadEntries.from_seq", "seq"),
    ("Audit.Subscribe.from_seq", "seq"),
    ("Audit.GetInclusionProof.seq", "seq"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_cannot_tell_ids_that_exist_nowhere_from_ids_out_of_its_scope() {
    bounded(120, async {
        let s = server().await;
        scenario(&s).await;
        // A second group, of W1 alone: real, and outside S1's and S3's scope.
        let mut hr = s.connect(Some("tok-writer")).ledger().await.unwrap();
        hr.append(req(
            "group-2",
            vec![r#"{"type":"group_formed","version":1,"group":"G2","kind":"education_group","name":"Group G2","lead_school":"W1","schools":["W1"],"date":"2010-01-01"}"#.into()],
        ))
        .await
        .unwrap();

        // Per principal, a real id of each kind outside its scope, and one that exists
        // nowhere. X1 is S3's teacher, T4 S1's (never dispatched); entry 0 exists.
        let principals = [
            ("tok-s1", [("teacher", "X1"), ("school", "S3"), ("group", "G2"), ("seq", "0")]),
            ("tok-s3", [("teacher", "T4"), ("school", "S1"), ("group", "G2"), ("seq", "0")]),
        ];
        let made_up = |kind: &str| match kind {
            "teacher" => "T99",
            "school" => "S99",
            "group" => "G99",
            _ => "999999",
        };
        for (token, real) in principals {
            for (row, kind) in ID_FIELDS {
                let real_id = real.iter().find(|(k, _)| *k == kind).unwrap().1;
                let fake_id = made_up(kind);
                let ctx = format!("{token} {row}: {real_id} vs {fake_id}");
                let (Some(real_err), Some(fake_err)) = (
                    ask_with_id(&s, token, row, real_id).await,
                    ask_with_id(&s, token, row, fake_id).await,
                ) else {
                    panic!("{ctx}: both must be refused");
                };
                assert_eq!(real_err.code(), Code::PermissionDenied, "{ctx}: {real_err:?}");
                assert_eq!(shape(&real_err, real_id), shape(&fake_err, fake_id), "{ctx}");
            }
        }

        // Admins are told what does not exist.
        for (row, kind) in ID_FIELDS.iter().filter(|(r, _)| !r.starts_with("Audit.")) {
            let e = ask_with_id(&s, "tok-admin", row, made_up(kind))
                .await
                .unwrap_or_else(|| panic!("{row}: an unknown id is refused"));
            assert_eq!(e.code(), Code::NotFound, "{row}: {e:?}");
            assert_eq!(reason(&e), "NOT_FOUND", "{row}");
        }
        s.stop().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_sees_only_its_own_members_of_a_team() {
    bounded(120, async {
        let s = server().await;
        scenario(&s).await;
        // X1 of S3 joins TEAM1 (D1..D3 of T1..T3, from S1) at W1: a team from two schools.
        let mut hr = s.connect(Some("tok-writer")).ledger().await.unwrap();
        hr.append(req(
            "join",
            vec![r#"{"type":"teacher_dispatched","version":1,"dispatch":"D4","teacher":"X1","from_school":"S3","to_school":"W1","start_date":"2024-09-01","kind":"rotation","team":"TEAM1"}"#.into()],
        ))
        .await
        .unwrap();
        let as_of = "2025-01-01";
        let all_teams = TeamsRequest {
            school: None,
            as_of: as_of.into(),
            recorded_up_to: None,
        };
        let member_ids = |t: &rotaledger::proto::Team| {
            t.members
                .iter()
                .map(|m| (m.dispatch.clone(), m.teacher.clone()))
                .collect::<Vec<_>>()
        };
        let pair = |d: &str, t: &str| (d.to_string(), t.to_string());

        // Per principal: the members it sees, how many are hidden and from where, and the
        // ids that must appear nowhere in any of its answers.
        let cases = [
            (
                "tok-s1",
                vec![pair("D1", "T1"), pair("D2", "T2"), pair("D3", "T3")],
                (1, vec!["S3"]),
                vec!["D4", "X1"],
            ),
            (
                "tok-s3",
                vec![pair("D4", "X1")],
                (3, vec!["S1"]),
                vec!["D1", "D2", "D3", "T1", "T2", "T3"],
            ),
        ];
        for (token, seen, (hidden, from), never) in cases {
            let mut q = s.connect(Some(token)).query().await.unwrap();
            let teams = q.teams(all_teams.clone()).await.unwrap().into_inner();
            assert_eq!(teams.teams.len(), 1, "{token}");
            let t = &teams.teams[0];
            assert_eq!(member_ids(t), seen, "{token}");
            assert_eq!(
                (t.members_hidden, t.hidden_member_schools.clone()),
                (hidden, from.iter().map(|s| s.to_string()).collect()),
                "{token}"
            );
            // The team's own figures still count every member.
            assert_eq!(t.strength, 4, "{token}");
            // Nothing a principal can ask returns the others' ids: every answer in full.
            let answers = [
                format!("{teams:?}"),
                format!(
                    "{:?}",
                    q.group_summary(GroupSummaryRequest {
                        as_of: as_of.into(),
                        ..group_2024()
                    })
                    .await
                    .unwrap()
                    .into_inner()
                ),
                format!(
                    "{:?}",
                    q.terms(TermsRequest {
                        as_of: as_of.into(),
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner()
                ),
            ];
            for answer in &answers {
                for id in &never {
                    assert!(
                        !answer.contains(&format!("{id:?}")),
                        "{token} was told {id}: {answer}"
                    );
                }
            }
        }

        // The receiving school's principal hosts all four; the admin sees all four.
        for token in ["tok-w1", "tok-admin"] {
            let mut q = s.connect(Some(token)).query().await.unwrap();
            for teams in [
                q.teams(all_teams.clone()).await.unwrap().into_inner().teams,
                q.group_summary(GroupSummaryRequest {
                    as_of: as_of.into(),
                    ..group_2024()
                })
                .await
                .unwrap()
                .into_inner()
                .summary
                .unwrap()
                .teams,
            ] {
                assert_eq!(teams.len(), 1, "{token}");
                assert_eq!(
                    member_ids(&teams[0]),
                    [
                        pair("D1", "T1"),
                        pair("D2", "T2"),
                        pair("D3", "T3"),
                        pair("D4", "X1")
                    ],
                    "{token}"
                );
                assert_eq!(teams[0].members_hidden, 0, "{token}");
                assert!(teams[0].hidden_member_schools.is_empty(), "{token}");
            }
        }

        // The CLI says what it leaves out.
        let out = cli(&s, &["teams", "--as-of", as_of]).await;
        assert!(
            out.contains("TEAM1: 1 more members from S3, outside this token's schools"),
            "{out}"
        );
        s.stop().await;
    })
    .await
}
