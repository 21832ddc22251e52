//! Policy fidelity through the real server (SPEC 3.7, 4.1, 4.2, 4.4): voids of a team's own
//! dispatches, the quota's basis (the retirement exemption), which schools carry a quota under
//! each preset, a team's completion, and what a policy change does to a running term.

use rotaledger::proto::{
    AppendRequest, SchoolQuotaRequest, TeamStatus, TeamsRequest, TermsRequest, not_eligible,
};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::util::{TestServer, bounded};

fn school(id: &str, standing: &str, rural: bool) -> String {
    format!(
        r#"{{"type":"school_registered","version":1,"school":"{id}","name":"School {id}","stage":"primary","standing":"{standing}","rural":{rural},"date":"2010-01-01"}}"#
    )
}

fn teacher(id: &str, school: &str, retirement: Option<&str>) -> String {
    let retirement = retirement
        .map(|r| format!(r#","retirement_date":"{r}""#))
        .unwrap_or_default();
    format!(
        r#"{{"type":"teacher_registered","version":1,"teacher":"{id}","name":"Teacher {id}","school":"{school}","subject":"chinese","title":"intermediate","title_date":"2012-01-01","key_level":"none","employed_date":"2010-09-01"{retirement},"date":"2010-09-01"}}"#
    )
}

fn dispatch(id: &str, teacher: &str, to: &str, start: &str, team: Option<&str>) -> String {
    let team = team
        .map(|t| format!(r#","team":"{t}""#))
        .unwrap_or_default();
    format!(
        r#"{{"type":"teacher_dispatched","version":1,"dispatch":"{id}","teacher":"{teacher}","from_school":"S","to_school":"{to}","start_date":"{start}","kind":"rotation"{team}}}"#
    )
}

fn ret(dispatch: &str, date: &str, reason: &str) -> String {
    format!(
        r#"{{"type":"teacher_returned","version":1,"dispatch":"{dispatch}","return_date":"{date}","reason":"{reason}"}}"#
    )
}

fn void(seq: u64) -> String {
    format!(r#"{{"type":"entry_voided","version":1,"seq":{seq},"reason":"recorded in error"}}"#)
}

fn policy(preset: &str, parameters: &str, date: &str) -> String {
    format!(
        r#"{{"type":"policy_adopted","version":1,"preset":"{preset}","parameters":{parameters},"date":"{date}"}}"#
    )
}

/// Appends `events` as one request; the seqs they got, or the refusal.
async fn append(s: &TestServer, id: &str, events: Vec<String>) -> Result<Vec<u64>, Status> {
    let mut c = s.ledger().await;
    c.append(AppendRequest {
        events,
        request_id: id.into(),
        expected_size: None,
    })
    .await
    .map(|r| r.into_inner().seqs)
}

fn rule(e: &Status) -> String {
    e.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

/// A strong school S with teachers P1..P6, a weak school W; returns nothing (seqs 0..8).
async fn registry(s: &TestServer) {
    let mut events = vec![school("S", "strong", false), school("W", "weak", false)];
    events.extend((1..=6).map(|i| teacher(&format!("P{i}"), "S", None)));
    append(s, "registry", events).await.unwrap();
}

/// A team of three (D1..D3 of P1..P3) from S to W on 2024-09-01; the founders' seqs.
async fn team_of_three(s: &TestServer) -> Vec<u64> {
    append(
        s,
        "team",
        vec![
            dispatch("D1", "P1", "W", "2024-09-01", Some("TM")),
            dispatch("D2", "P2", "W", "2024-09-01", Some("TM")),
            dispatch("D3", "P3", "W", "2024-09-01", Some("TM")),
        ],
    )
    .await
    .unwrap()
}

/// The teams as of `as_of`: (team, strength, status, status_since).
async fn teams(s: &TestServer, as_of: &str) -> Vec<(String, u32, TeamStatus, Option<String>)> {
    let mut q = s.connect(None).query().await.unwrap();
    q.teams(TeamsRequest {
        school: None,
        as_of: as_of.into(),
        recorded_up_to: None,
    })
    .await
    .unwrap()
    .into_inner()
    .teams
    .into_iter()
    .map(|t| {
        let status = t.status();
        (t.team, t.strength, status, t.status_since)
    })
    .collect()
}

#[tokio::test]
async fn a_teams_founders_are_voided_all_together_or_enough_remain() {
    bounded(60, async {
        let s = TestServer::start().await;
        registry(&s).await;
        let founders = team_of_three(&s).await;

        // One founder of three: refused, naming the team and the founders to void with it.
        let e = append(&s, "void-one", vec![void(founders[0])])
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
        assert_eq!(rule(&e), "void.team_founders", "{e:?}");
        assert!(
            e.message().contains("team TM") && e.message().contains("together in one append"),
            "{}",
            e.message()
        );
        // Two founders in one append still leave one: refused at the second void's index.
        let e = append(&s, "void-two", vec![void(founders[0]), void(founders[1])])
            .await
            .unwrap_err();
        assert_eq!(rule(&e), "void.team_founders");
        let md = e.get_error_details().error_info().unwrap().metadata.clone();
        assert_eq!(md["event_index"], "1");
        assert_eq!(
            teams(&s, "2025-01-01").await,
            vec![("TM".into(), 3, TeamStatus::Complete, None)],
            "nothing of a refused append is kept"
        );

        // A joiner: voiding all founders without it leaves a team of joiners only.
        let joiner = append(
            &s,
            "joiner",
            vec![dispatch("D4", "P4", "W", "2025-01-01", Some("TM"))],
        )
        .await
        .unwrap()[0];
        let all: Vec<String> = founders.iter().map(|q| void(*q)).collect();
        let e = append(&s, "void-founders", all.clone()).await.unwrap_err();
        assert_eq!(rule(&e), "void.team_joiners_first", "{e:?}");
        assert!(
            e.message().contains(&format!("entries {joiner}")),
            "{}",
            e.message()
        );
        // Founders and joiner together: the team is gone, as if it never formed.
        let mut with_joiner = vec![void(joiner)];
        with_joiner.extend(all);
        append(&s, "void-team", with_joiner).await.unwrap();
        assert_eq!(teams(&s, "2025-06-01").await, vec![]);
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_founder_beyond_the_minimum_may_be_voided_alone() {
    bounded(60, async {
        let s = TestServer::start().await;
        registry(&s).await;
        let founders = append(
            &s,
            "team",
            (1..=4)
                .map(|i| {
                    dispatch(
                        &format!("D{i}"),
                        &format!("P{i}"),
                        "W",
                        "2024-09-01",
                        Some("TM"),
                    )
                })
                .collect(),
        )
        .await
        .unwrap();
        append(&s, "void-one", vec![void(founders[3])])
            .await
            .unwrap();
        let e = append(&s, "void-another", vec![void(founders[2])])
            .await
            .unwrap_err();
        assert_eq!(rule(&e), "void.team_founders");
        assert_eq!(
            teams(&s, "2025-01-01").await,
            vec![("TM".into(), 3, TeamStatus::Complete, None)]
        );
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn founders_completing_their_term_complete_the_team_while_a_joiner_serves_on() {
    bounded(60, async {
        let s = TestServer::start().await;
        registry(&s).await;
        team_of_three(&s).await;
        append(
            &s,
            "joiner",
            vec![dispatch("D4", "P4", "W", "2025-09-01", Some("TM"))],
        )
        .await
        .unwrap();
        append(
            &s,
            "returns",
            vec![
                ret("D1", "2027-09-01", "term_completed"),
                ret("D2", "2027-09-01", "term_completed"),
                ret("D3", "2027-12-01", "term_completed"),
            ],
        )
        .await
        .unwrap();
        let at = |d: &'static str| teams(&s, d);
        assert_eq!(
            at("2027-08-31").await,
            vec![("TM".into(), 4, TeamStatus::Complete, None)]
        );
        // On min_end the founders' term is fulfilled: completed, not below minimum, however
        // few serve on.
        assert_eq!(
            at("2027-09-01").await,
            vec![(
                "TM".into(),
                2,
                TeamStatus::Completed,
                Some("2027-09-01".into())
            )]
        );
        assert_eq!(
            at("2028-03-01").await,
            vec![(
                "TM".into(),
                1,
                TeamStatus::Completed,
                Some("2027-09-01".into())
            )]
        );
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_team_short_after_an_early_return_stays_below_minimum() {
    bounded(60, async {
        let s = TestServer::start().await;
        registry(&s).await;
        team_of_three(&s).await;
        append(
            &s,
            "early",
            vec![ret("D3", "2025-03-01", "family_hardship")],
        )
        .await
        .unwrap();
        let below = (
            "TM".into(),
            2,
            TeamStatus::BelowMinimum,
            Some("2025-03-01".into()),
        );
        assert_eq!(teams(&s, "2025-06-01").await, vec![below.clone()]);
        // Past the founders' min_end the shortfall that began inside the term stays on record.
        assert_eq!(teams(&s, "2027-10-01").await, vec![below]);
        s.stop().await;
    })
    .await;
}

async fn quota(
    s: &TestServer,
    school: &str,
    year: i32,
) -> Result<rotaledger::proto::SchoolQuota, Status> {
    let mut q = s.connect(None).query().await.unwrap();
    q.school_quota(SchoolQuotaRequest {
        school: school.into(),
        school_year: year,
        as_of: format!("{}-08-31", year + 1),
        recorded_up_to: None,
    })
    .await
    .map(|r| r.into_inner().quota.unwrap_or_default())
}

#[tokio::test]
async fn the_quota_counts_only_teachers_who_meet_rotation_conditions() {
    bounded(60, async {
        let s = TestServer::start().await;
        // S: six teachers past tenure; R1 retires within five years of 1 September 2024
        // (exempt), R2 just beyond (not exempt).
        let mut events = vec![school("S", "strong", false)];
        events.extend((1..=4).map(|i| teacher(&format!("T{i}"), "S", None)));
        events.push(teacher("R1", "S", Some("2029-09-01")));
        events.push(teacher("R2", "S", Some("2029-09-02")));
        append(&s, "registry", events).await.unwrap();
        let q = quota(&s, "S", 2024).await.unwrap();
        assert_eq!(q.eligible, vec!["R2", "T1", "T2", "T3", "T4"]);
        assert_eq!(q.school_teachers, 6);
        let exempt: Vec<(&str, &not_eligible::Reason)> = q
            .not_eligible
            .iter()
            .map(|n| (n.teacher.as_str(), n.reason.as_ref().unwrap()))
            .collect();
        assert_eq!(
            exempt,
            vec![(
                "R1",
                &not_eligible::Reason::RetirementExempt("2029-09-01".into())
            )]
        );
        // 20% of the five who meet rotation conditions: 1 (of all six it would be 2).
        assert_eq!((q.required, q.missing), (1, 1));
        assert_eq!(
            (q.quota_duty.as_str(), q.standing.as_str()),
            ("strong", "strong")
        );
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn national_2014_puts_the_quota_on_urban_schools_too() {
    bounded(60, async {
        let s = TestServer::start().await;
        append(
            &s,
            "registry",
            vec![
                school("S", "strong", false),
                school("U", "ordinary", false),
                school("V", "ordinary", true),
                teacher("T1", "U", None),
            ],
        )
        .await
        .unwrap();
        // Shanghai (the default): strong schools only.
        let e = quota(&s, "U", 2024).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        assert!(
            e.message().contains("strong schools only"),
            "{}",
            e.message()
        );
        // National 2014 from 2024-09-01: urban and strong schools.
        append(
            &s,
            "national",
            vec![policy("national-2014", "{}", "2024-09-01")],
        )
        .await
        .unwrap();
        let q = quota(&s, "U", 2024).await.unwrap();
        assert_eq!(
            (q.quota_duty.as_str(), q.standing.as_str(), q.rural),
            ("strong_or_urban", "ordinary", false)
        );
        assert_eq!((q.eligible.len(), q.min_outflow_ratio.as_str()), (1, "0.1"));
        let e = quota(&s, "V", 2024).await.unwrap_err();
        assert!(
            e.message().contains("ordinary and rural")
                && e.message()
                    .contains("strong and urban (not rural) schools only"),
            "{}",
            e.message()
        );
        // The year before the policy took effect is still Shanghai's.
        assert!(quota(&s, "U", 2023).await.is_err());
        assert!(quota(&s, "S", 2024).await.is_ok());
        // A parameter can put it back on strong schools alone.
        append(
            &s,
            "override",
            vec![policy(
                "national-2014",
                r#"{"quota_duty":"strong"}"#,
                "2025-09-01",
            )],
        )
        .await
        .unwrap();
        assert!(quota(&s, "U", 2025).await.is_err());
        s.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_term_keeps_the_policy_in_force_on_its_start_date() {
    bounded(60, async {
        let s = TestServer::start().await;
        registry(&s).await;
        // A four-year term from 2025-09-02: D1 started the day before (three years), D2 on
        // that day (four years).
        append(
            &s,
            "policy",
            vec![policy(
                "shanghai-2023",
                r#"{"min_term_years":4}"#,
                "2025-09-02",
            )],
        )
        .await
        .unwrap();
        append(
            &s,
            "dispatches",
            vec![
                dispatch("D1", "P1", "W", "2025-09-01", None),
                dispatch("D2", "P2", "W", "2025-09-02", None),
            ],
        )
        .await
        .unwrap();
        // And a policy adopted later, in force from the day after D2's start, moves neither.
        append(
            &s,
            "later",
            vec![policy(
                "shanghai-2023",
                r#"{"min_term_years":2}"#,
                "2025-09-03",
            )],
        )
        .await
        .unwrap();
        let mut q = s.connect(None).query().await.unwrap();
        let terms = q
            .terms(TermsRequest {
                as_of: "2026-01-01".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .terms;
        let ends: Vec<(&str, &str)> = terms
            .iter()
            .map(|t| (t.dispatch.as_str(), t.min_end.as_str()))
            .collect();
        assert_eq!(ends, vec![("D1", "2028-09-01"), ("D2", "2029-09-02")]);
        s.stop().await;
    })
    .await;
}
