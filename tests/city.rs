//! A city view as processes: two districts' primaries (each its own origin and key) and
//! `serve --follow A --follow B` on loopback. A teacher who rotated in both districts is
//! answered across them: each part equals what that district's primary answers, carries a
//! checkpoint that verifies under that district's key, and the senior-title days are summed
//! over the districts against the home district's requirement. A primary that goes away
//! leaves its part answered from the verified copy, flagged stale.

use std::path::Path;
use std::time::{Duration, Instant};

use rotaledger::cli::client::Connect;
use rotaledger::merkle::{SignedCheckpoint, VerifierKey};
use rotaledger::proto;
use tonic::Code;

use crate::util::{ServeProc, bin, bounded, run_bin};

/// The districts' `--origin`s; their checkpoints' origin is this, with `/gm` after it on a gm
/// ledger (read back with [`origin_of`]).
const A: &str = "district-a.example/rotaledger";
const B: &str = "district-b.example/rotaledger";

/// The origin a primary's checkpoints carry.
async fn origin_of(c: &Connect) -> String {
    crate::util::public_key(c).await.origin
}

fn school(id: &str, standing: &str) -> String {
    format!(
        r#"{{"type":"school_registered","version":1,"school":"{id}","name":"School {id}","stage":"primary","standing":"{standing}","rural":false,"date":"2010-01-01"}}"#
    )
}

fn teacher(id: &str, school: &str, date: &str) -> String {
    format!(
        r#"{{"type":"teacher_registered","version":1,"teacher":"{id}","name":"Teacher {id}","school":"{school}","subject":"chinese","title":"intermediate","title_date":"2012-01-01","key_level":"none","employed_date":"{date}","date":"{date}"}}"#
    )
}

/// A support dispatch of T1 from `from` to `to`, returned on `back`.
fn stint(dispatch: &str, from: &str, to: &str, start: &str, back: &str) -> Vec<String> {
    vec![
        format!(
            r#"{{"type":"teacher_dispatched","version":1,"dispatch":"{dispatch}","teacher":"T1","from_school":"{from}","to_school":"{to}","start_date":"{start}","kind":"support"}}"#
        ),
        format!(
            r#"{{"type":"teacher_returned","version":1,"dispatch":"{dispatch}","return_date":"{back}","reason":"family_hardship"}}"#
        ),
    ]
}

async fn append(c: &Connect, id: &str, events: Vec<String>) -> u64 {
    c.ledger()
        .await
        .unwrap()
        .append(proto::AppendRequest {
            events,
            request_id: id.into(),
            expected_size: None,
        })
        .await
        .unwrap()
        .into_inner()
        .head
        .unwrap()
        .size
}

async fn key_of(c: &Connect) -> VerifierKey {
    crate::util::public_key(c)
        .await
        .verifier_key
        .parse()
        .unwrap()
}

async fn sources(c: &Connect) -> Vec<proto::CitySource> {
    c.city()
        .await
        .unwrap()
        .sources(proto::CitySourcesRequest {})
        .await
        .unwrap()
        .into_inner()
        .sources
}

/// Waits (at most `secs`) until every source has `sizes` entries and stands `status`.
async fn sources_at(c: &Connect, sizes: &[u64], status: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(mut city) = c.city().await
            && let Ok(r) = city.sources(proto::CitySourcesRequest {}).await
        {
            let got: Vec<(u64, String)> = r
                .into_inner()
                .sources
                .iter()
                .map(|s| {
                    (
                        s.checkpoint.as_ref().map_or(0, |c| c.size),
                        s.mirror.clone().unwrap_or_default().status,
                    )
                })
                .collect();
            if got.len() == sizes.len()
                && got
                    .iter()
                    .zip(sizes)
                    .all(|((n, st), want)| n == want && st == status)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the city view's sources are {got:?}, not {sizes:?} {status} within {secs} s"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn history(
    c: &Connect,
    teacher: &str,
) -> Result<proto::CityTeacherHistoryResponse, tonic::Status> {
    c.city()
        .await
        .unwrap()
        .teacher_history(proto::CityTeacherHistoryRequest {
            teacher: teacher.into(),
            as_of: "2026-01-01".into(),
            with_proofs: true,
        })
        .await
        .map(|r| r.into_inner())
}

/// `City.Eligibility` of `teacher` as of 2026-01-01, which must be answered.
async fn eligibility(c: &Connect, teacher: &str) -> proto::CityEligibilityResponse {
    c.city()
        .await
        .unwrap()
        .eligibility(proto::CityEligibilityRequest {
            teacher: teacher.into(),
            as_of: "2026-01-01".into(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// Connection settings for the city view at `server`, with `token` if any.
fn city_at(server: String, token: Option<&str>) -> Connect {
    Connect {
        server,
        token: token.map(str::to_owned),
        token_file: None,
        tls_ca: None,
        json: false,
    }
}

async fn own_history(c: &Connect) -> proto::TeacherHistoryResponse {
    c.query()
        .await
        .unwrap()
        .teacher_history(proto::TeacherHistoryRequest {
            teacher: "T1".into(),
            as_of: "2026-01-01".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

/// `serve --data DATA --listen 127.0.0.1:0 --http 127.0.0.1:0 ARGS...`: the process with its
/// gRPC and HTTP addresses.
fn start_with_http(data: &Path, args: &[&str]) -> (std::process::Child, String, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(bin())
        .arg("serve")
        .arg("--data")
        .arg(data)
        .args(["--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = std::io::BufReader::new(stdout);
        for _ in 0..2 {
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            let _ = tx.send(line);
        }
    });
    let addr = |prefix: &str| {
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap();
        line.trim()
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("unexpected line {line:?}"))
            .to_owned()
    };
    let grpc = addr("listening on ");
    let http = addr("http listening on ");
    (child, format!("http://{grpc}"), format!("http://{http}"))
}

/// Two districts' primaries in `root/a` and `root/b` under the `--origin`s given, ready.
async fn districts(root: &Path, origins: [&str; 2]) -> (ServeProc, ServeProc) {
    let pa = ServeProc::start_with(&root.join("a"), &["--origin", origins[0]]);
    let pb = ServeProc::start_with(&root.join("b"), &["--origin", origins[1]]);
    pa.ready().await;
    pb.ready().await;
    (pa, pb)
}

/// A city view in `root/city` following `pa` then `pb`, with `args` besides: the process,
/// its gRPC and its HTTP addresses.
fn city_of(
    root: &Path,
    pa: &ServeProc,
    pb: &ServeProc,
    args: &[&str],
) -> (std::process::Child, String, String) {
    let mut all = args.to_vec();
    all.extend(["--follow", pa.url.as_str(), "--follow", pb.url.as_str()]);
    start_with_http(&root.join("city"), &all)
}

/// `GET url` (HTTP/1.1, no body sent): status and body.
fn http_get(url: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let code = out[9..12].parse().unwrap();
    let body = out.split_once("\r\n\r\n").unwrap().1.to_owned();
    (code, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_city_view_answers_for_a_teacher_across_districts_each_part_signed_by_its_district() {
    bounded(180, async {
        let root = tempfile::tempdir().unwrap();
        let (mut pa, pb) = districts(root.path(), [A, B]).await;
        let (ca, cb) = (pa.connect(), pb.connect());
        let (oa, ob) = (origin_of(&ca).await, origin_of(&cb).await);
        let (oa, ob) = (oa.as_str(), ob.as_str());
        assert!(oa.starts_with(A) && ob.starts_with(B), "{oa} {ob}");

        // District A: T1's home from 2010, a support stint at weak W1 of 242 days, and one
        // across the district line at B's S7 of 122 days, which A registered as weak under
        // its qualified id (B calls S7 strong). T3 goes to B's W7, weak on both sides.
        let (s7, w7) = (format!("S7@{ob}"), format!("W7@{ob}"));
        let mut ev = vec![
            school("S1", "strong"),
            school("W1", "weak"),
            school(&s7, "weak"),
            school(&w7, "weak"),
            teacher("T1", "S1", "2010-09-01"),
            teacher("T3", "S1", "2012-09-01"),
        ];
        ev.extend(stint("D1", "S1", "W1", "2022-09-01", "2023-05-01"));
        ev.extend(stint("D2", "S1", &s7, "2023-09-01", "2024-01-01"));
        ev.extend(
            stint("D3", "S1", &w7, "2023-09-01", "2024-01-01")
                .into_iter()
                .map(|e| e.replace("\"T1\"", "\"T3\"")),
        );
        append(&ca, "a-1", ev).await;
        // District B: T1 (the same city HR id) moved there in 2024, a stint at weak W7 of
        // 181 days; and a teacher of B's own. T6 is registered in both, voided in A.
        let mut ev = vec![
            school("S7", "strong"),
            school("W7", "weak"),
            teacher("T1", "S7", "2024-08-01"),
            teacher("T9", "S7", "2015-09-01"),
            teacher("T6", "S7", "2016-09-01"),
        ];
        ev.extend(stint("D7", "S7", "W7", "2024-09-01", "2025-03-01"));
        let size_b = append(&cb, "b-1", ev).await;
        let t6 = append(&ca, "a-t6", vec![teacher("T6", "S1", "2016-09-01")]).await;
        let void = format!(
            r#"{{"type":"entry_voided","version":1,"seq":{},"reason":"registered in the wrong district"}}"#,
            t6 - 1
        );
        let size_a = append(&ca, "a-void", vec![void]).await;

        let city_dir = root.path().join("city");
        let (mut city_proc, url, http) =
            city_of(root.path(), &pa, &pb, &[]);
        let city = city_at(url, None);
        sources_at(&city, &[size_a, size_b], "following", 60).await;
        let listed = sources(&city).await;
        assert_eq!(
            listed.iter().map(|s| s.origin.as_str()).collect::<Vec<_>>(),
            [oa, ob]
        );
        assert_eq!(listed[0].url, pa.url);
        assert!(
            city_dir.join("sources").read_dir().unwrap().count() == 2,
            "one copy per district"
        );

        // History: one part per district, each the district's own answer, each signed by it.
        let h = history(&city, "T1").await.unwrap();
        assert_eq!(h.parts.len(), 2);
        let hasher = crate::util::profile();
        for (part, (primary, origin)) in h.parts.iter().zip([(&ca, oa), (&cb, ob)]) {
            let own = own_history(primary).await;
            let got = part.history.as_ref().unwrap();
            let hashes = |h: &proto::TeacherHistoryResponse| {
                h.entries.iter().map(|e| e.hash.clone()).collect::<Vec<_>>()
            };
            assert_eq!(hashes(got), hashes(&own), "{origin}");
            assert_eq!(got.position, own.position, "{origin}");
            let (gs, os) = (got.summary.as_ref().unwrap(), own.summary.as_ref().unwrap());
            assert_eq!(gs.home_school, os.home_school);
            assert_eq!(gs.dispatches, os.dispatches);
            assert!(
                os.name.is_some() && gs.name.is_none(),
                "names stay with the district"
            );
            let source = part.source.as_ref().unwrap();
            assert_eq!(source.origin, origin);
            let cp = source.checkpoint.as_ref().unwrap();
            assert_eq!(cp.size, got.position.as_ref().unwrap().size);
            let signed = SignedCheckpoint::parse(&cp.text).unwrap();
            assert_eq!(signed.checkpoint.origin, origin);
            signed.verify(&key_of(primary).await).unwrap();
            // The other district's key does not verify it.
            let other = if origin == oa { &cb } else { &ca };
            assert!(signed.verify(&key_of(other).await).is_err());
            // Each entry is proven in that checkpoint.
            use rotaledger::merkle::hasher::TreeHasher as _;
            let root: [u8; 32] = cp.root.as_slice().try_into().unwrap();
            assert_eq!(signed.checkpoint.root, root);
            for e in &got.entries {
                let p = e.proof.as_ref().unwrap();
                assert_eq!(p.size, cp.size);
                let path: Vec<[u8; 32]> = p
                    .hashes
                    .iter()
                    .map(|h| h.as_slice().try_into().unwrap())
                    .collect();
                let leaf = hasher.hash_leaf(&e.hash);
                rotaledger::merkle::proof::verify_inclusion(
                    &hasher, p.seq, p.size, &leaf, &path, &root,
                )
                .unwrap();
            }
        }

        // Eligibility: neither district alone gives the senior-title precondition (365 days
        // at weak or rural schools); the city's sum does, against the home district's (B's)
        // requirement, and names each dispatch with its origin.
        let e = eligibility(&city, "T1").await;
        assert_eq!(e.parts.len(), 2);
        let days: Vec<(bool, i64, i64)> = e
            .parts
            .iter()
            .map(|p| {
                let s = p
                    .eligibility
                    .as_ref()
                    .unwrap()
                    .eligibility
                    .as_ref()
                    .unwrap()
                    .senior_title
                    .clone()
                    .unwrap();
                (s.met, s.days_served, s.days_required)
            })
            .collect();
        assert_eq!(days, [(false, 364, 365), (false, 181, 365)]);
        assert_eq!(e.parts[1].home_school, "S7");
        assert_eq!(e.parts[1].home_since, "2024-08-01");
        let c = e.combined.clone().unwrap();
        assert_eq!(c.home_origin, ob);
        let st = c.senior_title.unwrap();
        assert!(
            st.met && st.days_served == 545 && st.days_missing == 0,
            "{st:?}"
        );
        assert_eq!(
            st.counted
                .iter()
                .map(|d| (d.dispatch.as_str(), d.days))
                .collect::<Vec<_>>(),
            [
                (format!("D1@{oa}").as_str(), 242),
                (format!("D2@{oa}").as_str(), 122),
                (format!("D7@{ob}").as_str(), 181)
            ]
        );
        // The days at S7 rest on A's word that S7 is weak; B, S7's own district, says strong,
        // and the answer says so beside the part.
        let cross = &e.parts[0].schools;
        assert_eq!(cross.len(), 1, "{cross:?}");
        assert_eq!(
            (
                cross[0].dispatch.as_str(),
                cross[0].school.as_str(),
                cross[0].origin.as_str(),
                cross[0].found,
                cross[0].standing_here.as_str(),
                cross[0].standing_there.as_str(),
                cross[0].agrees
            ),
            ("D2", s7.as_str(), ob, true, "weak", "strong", false)
        );
        assert!(e.parts[1].schools.is_empty());
        assert_eq!(c.disputed, [format!("D2@{oa}")]);
        // The facts taken from B rest on a checkpoint of B's.
        let there = cross[0].checkpoint_there.as_ref().unwrap();
        SignedCheckpoint::parse(&there.text)
            .unwrap()
            .verify(&key_of(&cb).await)
            .unwrap();
        let t3 = history(&city, "T3").await.unwrap();
        assert_eq!(t3.parts.len(), 1);
        let cross = &t3.parts[0].schools;
        assert_eq!(cross.len(), 1);
        assert!(cross[0].agrees && cross[0].standing_there == "weak", "{cross:?}");
        assert!(!c.rotation_met, "support stints give no rotation credit");

        // A registration voided in A leaves B's part alone, for eligibility as for history.
        let e6 = eligibility(&city, "T6").await;
        let six: Vec<&str> = e6
            .parts
            .iter()
            .map(|p| p.source.as_ref().unwrap().origin.as_str())
            .collect();
        assert_eq!(six, [ob]);
        assert_eq!(e6.combined.unwrap().home_origin, ob);

        // A teacher of one district only: one part. Nobody: NOT_FOUND. A bad id: the field.
        assert_eq!(history(&city, "T9").await.unwrap().parts.len(), 1);
        let nobody = history(&city, "T404").await.unwrap_err();
        assert_eq!(nobody.code(), Code::NotFound, "{nobody:?}");
        let bad = history(&city, "").await.unwrap_err();
        assert_eq!(bad.code(), Code::InvalidArgument);
        assert!(bad.message().contains("teacher"), "{bad:?}");

        // The CLI and the HTTP face say the same.
        let (code, out, err) = run_bin(vec![
            "city".into(),
            "eligibility".into(),
            "T1".into(),
            "--as-of".into(),
            "2026-01-01".into(),
            "--server".into(),
            city.server.clone(),
        ])
        .await;
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains(&format!("requirements of {ob}, the home log"))
                && out.contains("senior title credit: yes (545 of 365 days, 0 missing)")
                && out.contains(&format!(
                    "counted, but the receiving school's own district disagrees: D2@{oa}"
                ))
                && out.contains(&format!(
                    "{s7} (dispatch D2 from 2023-09-01): weak here, strong in its own log: they disagree"
                )),
            "{out}"
        );
        let (status, body) = http_get(&format!(
            "{http}/api/v1/city/teachers/T1/eligibility?as_of=2026-01-01"
        ));
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["combined"]["senior_title"]["days_served"], 545);
        assert_eq!(v["parts"][0]["schools"][0]["agrees"], false);
        assert_eq!(v["parts"][0]["source"]["origin"], oa);
        let (status, body) = http_get(&format!("{http}/api/v1/city/teachers/T404/history"));
        assert_eq!(status, 404, "{body}");

        // District A's primary goes away: its part is still answered from the verified
        // copy, flagged stale; B's part goes on.
        pa.kill();
        let more = vec![teacher("T2", "S7", "2025-09-01")];
        let size_b2 = append(&cb, "b-2", more).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = sources(&city).await;
            let status: Vec<String> = s
                .iter()
                .map(|s| s.mirror.clone().unwrap_or_default().status)
                .collect();
            let b_size = s[1].checkpoint.as_ref().map_or(0, |c| c.size);
            if status[0] == "stale" && b_size == size_b2 {
                break;
            }
            assert!(Instant::now() < deadline, "{status:?} {b_size}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let h = history(&city, "T1").await.unwrap();
        assert_eq!(h.parts.len(), 2);
        let a = h.parts[0].source.as_ref().unwrap();
        assert_eq!(a.mirror.as_ref().unwrap().status, "stale");
        assert_eq!(a.checkpoint.as_ref().unwrap().size, size_a);

        // The city view restarts from its copies and answers while A is still away.
        let _ = city_proc.kill();
        let _ = city_proc.wait();
        let (mut again, url, _) =
            city_of(root.path(), &pa, &pb, &[]);
        let city = Connect {
            server: url,
            ..city
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let h = loop {
            match history(&city, "T1").await {
                Ok(h) => break h,
                Err(e) => assert!(Instant::now() < deadline, "{e:?}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(h.parts.len(), 2);
        let _ = again.kill();
        let _ = again.wait();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_districts_under_one_origin_are_refused_rather_than_mixed() {
    bounded(120, async {
        let root = tempfile::tempdir().unwrap();
        let (pa, pb) = districts(root.path(), [A, A]).await;
        let size_a = append(&pa.connect(), "a", vec![teacher_free_school("S1")]).await;
        let size_b = append(&pb.connect(), "b", vec![teacher_free_school("S2")]).await;
        let (mut p, url, _) = city_of(root.path(), &pa, &pb, &[]);
        let city = city_at(url, None);
        sources_at(&city, &[size_a, size_b], "following", 60).await;
        let e = history(&city, "T1").await.unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
        assert!(e.message().contains("the same origin"), "{e:?}");

        // The same address twice is refused at start.
        let (code, _, err) = run_bin(vec![
            "serve".into(),
            "--data".into(),
            root.path().join("city2").display().to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--http".into(),
            "off".into(),
            "--follow".into(),
            pa.url.clone(),
            "--follow".into(),
            format!("{}/", pa.url),
        ])
        .await;
        assert_ne!(code, 0);
        assert!(err.contains("name the same log"), "{err}");
        let _ = p.kill();
        let _ = p.wait();
    })
    .await;
}

fn teacher_free_school(id: &str) -> String {
    school(id, "strong")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_principal_of_the_city_view_sees_the_districts_of_its_qualified_schools_only() {
    bounded(120, async {
        let root = tempfile::tempdir().unwrap();
        let (pa, pb) = districts(root.path(), [A, B]).await;
        let (oa, ob) = (origin_of(&pa.connect()).await, origin_of(&pb.connect()).await);
        let s7 = format!("S7@{ob}");
        // T1's home is S1 in A and S7 in B; T2 of A is sent across the line to S7 (which A
        // registers under its qualified id) and serves there on the date asked.
        let mut a = vec![
            school("S1", "strong"),
            school(&s7, "strong"),
            teacher("T1", "S1", "2010-09-01"),
            teacher("T2", "S1", "2011-09-01"),
        ];
        a.push(format!(
            r#"{{"type":"teacher_dispatched","version":1,"dispatch":"D9","teacher":"T2","from_school":"S1","to_school":"{s7}","start_date":"2025-09-01","kind":"support"}}"#
        ));
        let b = vec![school("S7", "strong"), teacher("T1", "S7", "2024-08-01")];
        let sizes = [
            append(&pa.connect(), "a", a).await,
            append(&pb.connect(), "b", b).await,
        ];
        let access = crate::util::access_text(&[
            ("bureau", "admin", "", "tok-admin"),
            ("head-s7", "principal", &s7, "tok-s7"),
            ("head-bare", "principal", "S7", "tok-bare"),
            ("t1", "teacher", "", "tok-t1"),
        ])
        .replace(
            "name = \"t1\"\nrole = \"teacher\"\n",
            "name = \"t1\"\nrole = \"teacher\"\nteacher = \"T1\"\n",
        );
        let config = crate::util::write_access_file(root.path(), &access);
        let (mut p, url, _) = city_of(root.path(), &pa, &pb, &["--config", config.to_str().unwrap()]);
        let as_token = |t: &str| city_at(url.clone(), Some(t));
        sources_at(&as_token("tok-admin"), &sizes, "following", 60).await;
        let origins = |h: &proto::CityTeacherHistoryResponse| {
            h.parts
                .iter()
                .map(|p| p.source.as_ref().unwrap().origin.clone())
                .collect::<Vec<_>>()
        };
        let h = history(&as_token("tok-admin"), "T1").await.unwrap();
        assert_eq!(origins(&h), [oa.clone(), ob.clone()]);
        // S7@B's principal: T1's part in B (home S7), not in A; and T2's part in A, where
        // T2 serves at S7@B.
        let h = history(&as_token("tok-s7"), "T1").await.unwrap();
        assert_eq!(origins(&h), [ob.as_str()]);
        let h = history(&as_token("tok-s7"), "T2").await.unwrap();
        assert_eq!(origins(&h), [oa.as_str()]);
        // "S7" names no district's school here: nothing, refused as out of scope, in the
        // same words as for a teacher no district records (no oracle).
        let e = history(&as_token("tok-bare"), "T1").await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
        let unknown = history(&as_token("tok-bare"), "T404").await.unwrap_err();
        assert_eq!(
            (unknown.code(), unknown.message().replace("T404", "T1")),
            (e.code(), e.message().to_owned())
        );
        // The teacher sees their own parts, and no one else; and not the list of logs.
        let h = history(&as_token("tok-t1"), "T1").await.unwrap();
        assert_eq!(origins(&h), [oa.clone(), ob.clone()]);
        let e = history(&as_token("tok-t1"), "T404").await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
        let e = as_token("tok-t1")
            .city()
            .await
            .unwrap()
            .sources(proto::CitySourcesRequest {})
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
        // No token: refused.
        let e = history(&as_token(""), "T1").await.unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
        let _ = p.kill();
        let _ = p.wait();
    })
    .await;
}

/// The city view's console in a real browser: an admin of the city signs in, sees the
/// districts' ledgers, finds a teacher and reads the city's totals and the disagreement
/// about a receiving school of another district, in Chinese. Screenshots as the console's
/// browser test takes them (`ROTALEDGER_SCREENSHOTS`, docs/console/city-*.png).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_city_clerk_reads_a_teacher_across_districts_in_a_real_browser() {
    let Some(browser) = crate::console_browser::chromium_or_skip("city_browser") else {
        return;
    };
    bounded(240, async {
        let root = tempfile::tempdir().unwrap();
        let (pa, pb) = districts(root.path(), [A, B]).await;
        let (ca, cb) = (pa.connect(), pb.connect());
        let (oa, ob) = (origin_of(&ca).await, origin_of(&cb).await);
        let s7 = format!("S7@{ob}");
        let mut ev = vec![
            school("S1", "strong"),
            school("W1", "weak"),
            school(&s7, "weak"),
            teacher("T1", "S1", "2010-09-01"),
        ];
        ev.extend(stint("D1", "S1", "W1", "2022-09-01", "2023-05-01"));
        ev.extend(stint("D2", "S1", &s7, "2023-09-01", "2024-01-01"));
        let size_a = append(&ca, "a", ev).await;
        let mut ev = vec![
            school("S7", "strong"),
            school("W7", "weak"),
            teacher("T1", "S7", "2024-08-01"),
        ];
        ev.extend(stint("D7", "S7", "W7", "2024-09-01", "2025-03-01"));
        let size_b = append(&cb, "b", ev).await;
        let access = crate::util::access_text(&[("city-clerk", "admin", "", "tok-city")]);
        let config = crate::util::write_access_file(root.path(), &access);
        let (mut p, url, http) = city_of(
            root.path(),
            &pa,
            &pb,
            &["--config", config.to_str().unwrap()],
        );
        let city = city_at(url, Some("tok-city"));
        sources_at(&city, &[size_a, size_b], "following", 60).await;
        let shots = match std::env::var_os("ROTALEDGER_SCREENSHOTS") {
            Some(d) => std::path::PathBuf::from(d),
            None => root.path().join("shots"),
        };
        std::fs::create_dir_all(&shots).unwrap();
        let profile = root.path().join("profile");
        tokio::task::spawn_blocking(move || {
            use crate::console_browser::{
                full_page_png, goto, js, launch, save, sign_in, visible_text, wait_for_text,
                wait_for_url,
            };
            let b = launch(browser, &profile, Duration::from_secs(120));
            let tab = b.new_tab().unwrap();
            // Signed out: to the sign-in page, in Chinese.
            tab.navigate_to(&format!("{http}/")).unwrap();
            let at = wait_for_url(&tab, |u| u.contains("/login"));
            assert!(at.contains("/login"), "{at}");
            sign_in(&tab, &http, "tok-city");
            wait_for_text(&tab, "市级视图：跨区查询");
            let home = visible_text(&tab);
            for want in [
                oa.as_str(),
                ob.as_str(),
                "同步中",
                "各区台账",
                "按教师编号查找",
            ] {
                assert!(home.contains(want), "{want} not on the home page: {home}");
            }
            save(&shots, "city-home.png", &full_page_png(&tab));
            // Find T1 with the search box, as a clerk does.
            tab.wait_for_element("input[name=teacher]")
                .unwrap()
                .click()
                .unwrap();
            tab.type_str("T1").unwrap();
            tab.press_key("Enter").unwrap();
            wait_for_url(&tab, |u| u.contains("/teachers/T1"));
            goto(&tab, &format!("{http}/teachers/T1?as_of=2026-01-01"));
            wait_for_text(&tab, "全市汇总");
            let page = visible_text(&tab);
            for want in [
                "跨区交流经历",
                "545 / 365",
                "以此区的要求为准",
                "外区接收学校核对",
                "该校所在区记录",
                "不一致",
                "薄弱校",
                "优质校",
                "以下计入的交流所依据的学校状态",
                &format!("D2@{oa}"),
                "S7",
                "2024-08-01",
            ] {
                assert!(
                    page.contains(want),
                    "{want} not on the teacher page: {page}"
                );
            }
            assert_eq!(js(&tab, "document.documentElement.lang"), "zh-CN");
            save(&shots, "city-teacher.png", &full_page_png(&tab));
            // An unknown teacher: the designed page, not a bare error.
            goto(&tab, &format!("{http}/teachers/T404"));
            let missing = visible_text(&tab);
            assert!(!missing.contains("全市汇总"), "{missing}");
        })
        .await
        .unwrap();
        let _ = p.kill();
        let _ = p.wait();
    })
    .await;
}
