//! `Ledger.Check` and `rotaledger sheet check|load` through a real server: the dry run
//! answers as Append would and writes nothing; sheets made here (xlsx with rust_xlsxwriter,
//! GB18030 CSV with encoding_rs) are checked row by row, loaded, and loaded again.

use std::path::{Path, PathBuf};

use rotaledger::proto::{AppendRequest, CheckRequest, GetHeadRequest};
use rust_xlsxwriter::{Format, Workbook};
use tonic_types::StatusExt;

use crate::util::{TestServer, bounded, run_bin};

fn school(id: &str, standing: &str) -> String {
    format!(
        r#"{{"type":"school_registered","version":1,"school":"{id}","name":"学校{id}","stage":"primary","standing":"{standing}","rural":false,"date":"2010-01-01"}}"#
    )
}

fn teacher(id: &str, school: &str) -> String {
    format!(
        r#"{{"type":"teacher_registered","version":1,"teacher":"{id}","name":"教师{id}","school":"{school}","subject":"chinese","title":"intermediate","key_level":"none","employed_date":"2010-09-01","date":"2010-09-01"}}"#
    )
}

fn req(id: &str, events: Vec<String>) -> AppendRequest {
    AppendRequest {
        events,
        request_id: id.into(),
        expected_size: None,
    }
}

async fn size(s: &TestServer) -> u64 {
    size_as(s, None).await
}

async fn size_as(s: &TestServer, token: Option<&str>) -> u64 {
    let mut c = s.connect(token).ledger().await.unwrap();
    c.get_head(GetHeadRequest {})
        .await
        .unwrap()
        .into_inner()
        .head
        .unwrap()
        .size
}

/// Registers strong S1, weak W1 and ordinary S2.
async fn registry(s: &TestServer) {
    let mut c = s.ledger().await;
    c.append(req(
        "registry",
        vec![
            school("S1", "strong"),
            school("W1", "weak"),
            school("S2", "ordinary"),
        ],
    ))
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_answers_as_append_would_and_writes_nothing() {
    bounded(60, async {
        let s = TestServer::start().await;
        registry(&s).await;
        let before = size(&s).await;
        let mut c = s.ledger().await;
        let refused = req("bad", vec![teacher("T5", "S1"), teacher("T2", "NOPE")]);
        let answer = c
            .check(CheckRequest {
                appends: vec![
                    req("t1", vec![teacher("T1", "S1")]),
                    // Judged as if t1 were appended: T1 again is a duplicate id.
                    req("t1-again", vec![teacher("T1", "S2")]),
                    refused.clone(),
                    // A retry of the registry append: a duplicate, with its own seqs.
                    req(
                        "registry",
                        vec![
                            school("S1", "strong"),
                            school("W1", "weak"),
                            school("S2", "ordinary"),
                        ],
                    ),
                    // The same id with other events: a conflict.
                    req("registry", vec![school("S9", "weak")]),
                    req("t3", vec!["{\"type\":\"teacher_registered\"}".into()]),
                    req("t4", vec![teacher("T4", "S2")]),
                ],
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.head.unwrap().size, before);
        let r = &answer.results;
        assert_eq!(r.len(), 7);
        assert_eq!(
            (r[0].seqs.clone(), r[0].duplicate, r[0].refusal.is_none()),
            (vec![3], false, true)
        );
        assert_eq!(
            r[1].refusal.as_ref().unwrap().reason,
            "teacher.duplicate_id"
        );
        assert_eq!((r[3].seqs.clone(), r[3].duplicate), (vec![0, 1, 2], true));
        assert_eq!(r[4].refusal.as_ref().unwrap().reason, "REQUEST_ID_REUSED");
        let input = r[5].refusal.as_ref().unwrap();
        assert_eq!((input.code, input.reason.as_str()), (3, "INVALID_INPUT"));
        assert!(input.field.starts_with("events[0]"), "{}", input.field);
        // The refused and invalid ones take no place: t4 follows t1.
        assert_eq!(r[6].seqs, vec![4]);
        // Nothing was written.
        assert_eq!(size(&s).await, before);

        // The refusal is exactly Append's.
        let check = r[2].refusal.clone().unwrap();
        let status = c.append(refused).await.unwrap_err();
        let d = status.get_error_details();
        let info = d.error_info().unwrap();
        assert_eq!(check.code, status.code() as u32);
        assert_eq!(check.message, status.message());
        assert_eq!(check.reason, info.reason);
        assert_eq!(check.reason, "school.unknown");
        assert_eq!(check.metadata, info.metadata);
        assert_eq!(check.event_index, Some(1));
        assert_eq!(check.field, "events[1]");
        assert_eq!(size(&s).await, before);

        s.stop().await;
    })
    .await;
}

/// Writes an xlsx: a title row, then `header`, then `rows` (a cell `=date:YYYY-MM-DD` is
/// written as an Excel date, `=num:N` as a number).
fn xlsx(path: &Path, header: &[&str], rows: &[Vec<&str>]) {
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    let date = Format::new().set_num_format("yyyy/m/d");
    ws.write_string(0, 0, "2025学年闵行区名单").unwrap();
    for (c, h) in header.iter().enumerate() {
        ws.write_string(1, c as u16, *h).unwrap();
    }
    for (i, row) in rows.iter().enumerate() {
        let r = i as u32 + 2;
        for (c, v) in row.iter().enumerate() {
            let c = c as u16;
            if let Some(d) = v.strip_prefix("=date:") {
                let d = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
                let serial =
                    (d - chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap()).num_days();
                ws.write_number_with_format(r, c, serial as f64, &date)
                    .unwrap();
            } else if let Some(n) = v.strip_prefix("=num:") {
                ws.write_number(r, c, n.parse::<f64>().unwrap()).unwrap();
            } else if !v.is_empty() {
                ws.write_string(r, c, *v).unwrap();
            }
        }
    }
    book.save(path).unwrap();
}

async fn sheet(
    s: &TestServer,
    cmd: &str,
    file: &Path,
    kind: &str,
    extra: &[&str],
) -> (i32, String, String) {
    let mut args: Vec<String> = vec![
        "sheet".into(),
        cmd.into(),
        file.display().to_string(),
        "--kind".into(),
        kind.into(),
        "--server".into(),
        format!("http://{}", s.addr),
    ];
    args.extend(extra.iter().map(|e| e.to_string()));
    run_bin(args).await
}

fn report_of(file: &Path) -> String {
    let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
    std::fs::read_to_string(file.with_file_name(format!("{stem}.report.txt"))).unwrap()
}

fn annotated_of(file: &Path) -> PathBuf {
    let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
    file.with_file_name(format!("{stem}.checked.xlsx"))
}

const ROSTER_HEADER: &[&str] = &[
    "序号",
    "工号",
    "姓名",
    "学校代码",
    "学科",
    "职称",
    "骨干级别",
    "入校日期",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roster_with_planted_errors_is_reported_then_loaded_once() {
    bounded(120, async {
        let s = TestServer::start().await;
        registry(&s).await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("花名册.xlsx");
        xlsx(
            &file,
            ROSTER_HEADER,
            &[
                vec![
                    "1",
                    "T01",
                    "王芳",
                    "S1",
                    "数学",
                    "中级",
                    "区级",
                    "=date:2015-09-01",
                ],
                vec!["2", "T02", "李明", "S1", "语文", "中教高级", "", "2016/9/1"],
                vec![
                    "3",
                    "T03",
                    "张伟",
                    "NOPE",
                    "英语",
                    "初级",
                    "",
                    "2017年9月1日",
                ],
                vec![],
                vec!["5", "T04", "赵丽", "S2", "物理", "高级", "校级", "明年"],
                vec![
                    "6", "=num:123", "孙强", "S2", "化学", "一级", "", "20180901",
                ],
                vec!["7", "T01", "王芳", "S2", "数学", "中级", "", "2015/9/1"],
            ],
        );
        let before = size(&s).await;
        let (code, out, err) = sheet(&s, "check", &file, "roster", &[]).await;
        assert_eq!(code, 1, "{out}{err}");
        assert_eq!(size(&s).await, before, "a check appends nothing");
        let report = report_of(&file);
        // Rows as Excel numbers them: the title is row 1, the header row 2.
        for want in [
            "第 4 行\t列「职称」\t规则 sheet.value",
            "第 5 行\t列「学校代码」\t规则 school.unknown",
            "第 7 行\t列「入校日期」\t规则 sheet.date",
            // Judged as if row 3 were appended: T01 twice.
            "第 9 行\t列「工号」\t规则 teacher.duplicate_id",
            "警告：第 8 行\t列「工号」",
        ] {
            assert!(report.contains(want), "{want:?} not in\n{report}");
        }
        assert!(
            report.contains("共 6 行：通过 2，已存在 0，拒绝 4"),
            "{report}"
        );
        // The annotated copy carries a status on every data row.
        use calamine::Reader;
        let mut wb: calamine::Xlsx<_> = calamine::open_workbook(annotated_of(&file)).unwrap();
        let range = wb.worksheet_range("Sheet1").unwrap();
        let status = |r: u32| {
            range
                .get_value((r, 8))
                .map(|d| d.to_string())
                .unwrap_or_default()
        };
        assert_eq!(status(1), "导入状态");
        assert_eq!(status(2), "通过");
        assert_eq!(status(3), "拒绝");
        assert_eq!(status(8), "拒绝");

        // English.
        let (code, _, _) = sheet(&s, "check", &file, "roster", &["--lang", "en"]).await;
        assert_eq!(code, 1);
        assert!(
            report_of(&file).contains("row 4\tcolumn 职称\trule sheet.value"),
            "{}",
            report_of(&file)
        );

        // Load: the two good rows go in, the others are reported.
        let (code, out, err) = sheet(&s, "load", &file, "roster", &[]).await;
        assert_eq!(code, 1, "{out}{err}");
        assert!(out.contains("已导入 2"), "{out}");
        assert_eq!(size(&s).await, before + 2);
        // Again: nothing new.
        let (code, out, _) = sheet(&s, "load", &file, "roster", &[]).await;
        assert_eq!(code, 1);
        assert!(out.contains("已导入 0，已存在 2"), "{out}");
        assert_eq!(size(&s).await, before + 2);

        // The corrected sheet (rows fixed, one moved): only the new rows are appended.
        xlsx(
            &file,
            ROSTER_HEADER,
            &[
                vec!["6", "T123", "孙强", "S2", "化学", "一级", "", "20180901"],
                vec![
                    "1",
                    "T01",
                    "王芳",
                    "S1",
                    "数学",
                    "中级",
                    "区级",
                    "=date:2015-09-01",
                ],
                vec!["2", "T02", "李明", "S1", "语文", "高级", "", "2016/9/1"],
                vec!["3", "T03", "张伟", "S2", "英语", "初级", "", "2017年9月1日"],
                vec!["5", "T04", "赵丽", "S2", "物理", "高级", "校级", "2019-9-1"],
            ],
        );
        let (code, out, err) = sheet(&s, "load", &file, "roster", &[]).await;
        assert_eq!(code, 0, "{out}{err}{}", report_of(&file));
        assert!(out.contains("已导入 4，已存在 1，拒绝 0"), "{out}");
        assert_eq!(size(&s).await, before + 6);
        s.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gb18030_dispatch_list_with_a_team_loads_in_one_append() {
    bounded(120, async {
        let s = TestServer::start().await;
        registry(&s).await;
        let mut c = s.ledger().await;
        c.append(req(
            "teachers",
            (1..=4).map(|i| teacher(&format!("T{i}"), "S1")).collect(),
        ))
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("轮岗名单.csv");
        let text = "工号,姓名,派出学校,接收学校,开始日期,交流类型,团队\n\
                    T1,教师T1,S1,W1,2025/9/1,交流轮岗,TM1\n\
                    T2,教师T2,S1,W1,2025/9/1,交流轮岗,TM1\n\
                    T3,教师T3,S1,W1,2025/9/1,交流轮岗,TM1\n\
                    T4,教师T4,S2,W1,2025/9/1,支教,\n";
        let (gb, _, _) = encoding_rs::GB18030.encode(text);
        std::fs::write(&file, &gb).unwrap();
        let before = size(&s).await;
        let (code, out, err) = sheet(&s, "load", &file, "dispatches", &["--lang", "en"]).await;
        assert_eq!(code, 1, "{out}{err}");
        let report = report_of(&file);
        assert!(report.contains("csv (GB18030)"), "{report}");
        assert!(
            report.contains("row 5\tcolumn 派出学校\trule dispatch.from_home_school"),
            "{report}"
        );
        assert_eq!(size(&s).await, before + 3);
        // The team was formed: one append of three.
        let mut q = s.connect(None).query().await.unwrap();
        let teams = q
            .teams(rotaledger::proto::TeamsRequest {
                school: Some("W1".into()),
                as_of: "2025-10-01".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(teams.teams.len(), 1);
        assert_eq!(teams.teams[0].members.len(), 3);
        s.stop().await;
    })
    .await;
}

/// What Excel writes for a workbook with a password to open: an OLE compound file holding an
/// `EncryptedPackage` stream instead of the zip. A minimal one: header, one FAT sector, one
/// directory sector (the root and the encrypted package, both empty).
fn encrypted_workbook() -> Vec<u8> {
    const END: u32 = 0xFFFF_FFFE;
    let mut f = vec![0u8; 512 * 3];
    f[..8].copy_from_slice(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1");
    let put16 =
        |f: &mut Vec<u8>, at: usize, v: u16| f[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put32 =
        |f: &mut Vec<u8>, at: usize, v: u32| f[at..at + 4].copy_from_slice(&v.to_le_bytes());
    put16(&mut f, 24, 0x3E); // minor version
    put16(&mut f, 26, 3); // major version 3: 512-byte sectors
    put16(&mut f, 28, 0xFFFE); // little-endian
    put16(&mut f, 30, 9); // sector shift
    put16(&mut f, 32, 6); // mini sector shift
    put32(&mut f, 44, 1); // one FAT sector
    put32(&mut f, 48, 1); // the directory in sector 1
    put32(&mut f, 56, 4096); // mini stream cutoff
    put32(&mut f, 60, END); // no mini FAT
    put32(&mut f, 68, END); // no DIFAT sectors
    put32(&mut f, 76, 0); // the FAT in sector 0
    for i in 1..109 {
        put32(&mut f, 76 + 4 * i, 0xFFFF_FFFF);
    }
    // The FAT (sector 0, at 512): itself, then the directory's one-sector chain.
    put32(&mut f, 512, 0xFFFF_FFFD);
    put32(&mut f, 516, END);
    for i in 2..128 {
        put32(&mut f, 512 + 4 * i, 0xFFFF_FFFF);
    }
    // The directory (sector 1, at 1024).
    for (i, name) in ["Root Entry", "EncryptedPackage"].iter().enumerate() {
        let at = 1024 + 128 * i;
        let utf16: Vec<u8> = name
            .encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect();
        f[at..at + utf16.len()].copy_from_slice(&utf16);
        put16(&mut f, at + 64, utf16.len() as u16);
        f[at + 66] = if i == 0 { 5 } else { 2 }; // root storage, stream
        put32(&mut f, at + 116, END);
    }
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_sheets_say_why_and_append_nothing() {
    bounded(120, async {
        let s = TestServer::start().await;
        registry(&s).await;
        let before = size(&s).await;
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.xlsx");
        std::fs::write(&junk, [0u8, 159, 146, 150, 0, 1, 2]).unwrap();
        let noheader = dir.path().join("noheader.xlsx");
        xlsx(&noheader, &["a", "b", "c"], &[vec!["1", "2", "3"]]);
        let fake = dir.path().join("fake.xlsx");
        std::fs::write(&fake, b"PK\x03\x04 this is not a zip").unwrap();
        let protected = dir.path().join("protected.xlsx");
        std::fs::write(&protected, encrypted_workbook()).unwrap();
        let badmap = dir.path().join("map.toml");
        std::fs::write(&badmap, "[columns]\n\"x\" = \"nonsense\"\n").unwrap();
        for (file, kind, extra, want) in [
            (&junk, "roster", vec![], "not a spreadsheet"),
            (&noheader, "roster", vec![], "no header row"),
            (&fake, "roster", vec![], "cannot be read"),
            (&protected, "roster", vec![], "password-protected"),
            (
                &noheader,
                "roster",
                vec!["--map", badmap.to_str().unwrap()],
                "not a field",
            ),
            (
                &noheader,
                "roster",
                vec!["--sheet", "Nope"],
                "no sheet named",
            ),
        ] {
            let (code, out, err) = sheet(&s, "load", file, kind, &extra).await;
            assert_eq!(code, 2, "{file:?}: {out}{err}");
            assert!(err.contains(want), "{want:?} not in {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
        assert_eq!(size(&s).await, before);
        s.stop().await;
    })
    .await;
}

/// A query answer as JSON without its `position` (the head hash differs between two logs
/// of the same events: recorded times, actors and request ids are in the entries).
fn answer<T: serde::Serialize>(t: &T) -> serde_json::Value {
    let mut v = serde_json::to_value(t).unwrap();
    if let Some(o) = v.as_object_mut() {
        o.remove("position");
    }
    v
}

/// What the two ledgers are compared on: the district's every year, every term and team.
async fn projections(s: &TestServer, years: std::ops::Range<i32>) -> Vec<serde_json::Value> {
    use rotaledger::proto::{DistrictRequest, TeamsRequest, TermsRequest};
    let mut q = s.connect(None).query().await.unwrap();
    let mut out = Vec::new();
    for y in years {
        let as_of = format!("{}-08-31", y + 1);
        let d = q
            .district(DistrictRequest {
                school_year: y,
                as_of: as_of.clone(),
                recorded_up_to: None,
            })
            .await
            .unwrap()
            .into_inner();
        out.push(answer(&d));
        let t = q
            .terms(TermsRequest {
                as_of: as_of.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        out.push(answer(&t));
        let t = q
            .teams(TeamsRequest {
                as_of,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        out.push(answer(&t));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_district_loads_through_sheets_as_through_json_lines() {
    bounded(600, async {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("district.jsonl");
        let sheets = dir.path().join("sheets");
        let (code, out, err) = run_bin(
            [
                "generate",
                "--teachers",
                "200",
                "--years",
                "4",
                "--seed",
                "5",
                "--out",
                file.to_str().unwrap(),
                "--sheets",
                sheets.to_str().unwrap(),
            ]
            .map(String::from)
            .to_vec(),
        )
        .await;
        assert_eq!(code, 0, "{out}{err}");

        // The JSON Lines path.
        let a = TestServer::start().await;
        let server_a = format!("http://{}", a.addr);
        let (code, out, err) = run_bin(
            [
                "append",
                "--server",
                &server_a,
                "--file",
                file.to_str().unwrap(),
            ]
            .map(String::from)
            .to_vec(),
        )
        .await;
        assert_eq!(code, 0, "{out}{err}");

        // The sheets, step by step.
        let b = TestServer::start().await;
        let server_b = format!("http://{}", b.addr);
        let steps = std::fs::read_to_string(sheets.join("STEPS.txt")).unwrap();
        let mut kinds = std::collections::BTreeSet::new();
        for line in steps.lines().filter(|l| !l.starts_with('#')) {
            let cols: Vec<&str> = line.split('\t').collect();
            let path = sheets.join(cols[0]);
            let args: Vec<String> = if cols[1] == "append --file" {
                vec![
                    "append".into(),
                    "--server".into(),
                    server_b.clone(),
                    "--file".into(),
                    path.display().to_string(),
                ]
            } else {
                let kind = cols[1].rsplit(' ').next().unwrap().to_owned();
                kinds.insert(kind.clone());
                vec![
                    "sheet".into(),
                    "load".into(),
                    path.display().to_string(),
                    "--kind".into(),
                    kind,
                    "--server".into(),
                    server_b.clone(),
                ]
            };
            let (code, out, err) = run_bin(args).await;
            let report = if cols[1] == "append --file" {
                String::new()
            } else {
                report_of(&path)
            };
            assert_eq!(code, 0, "{line}: {out}{err}{report}");
        }
        // Every kind of sheet was there.
        assert_eq!(kinds.len(), 5, "{kinds:?}\n{steps}");
        assert_eq!(size(&a).await, size(&b).await);
        let (pa, pb) = (
            projections(&a, 2023..2027).await,
            projections(&b, 2023..2027).await,
        );
        assert_eq!(pa.len(), pb.len());
        for (x, y) in pa.iter().zip(&pb) {
            assert_eq!(x, y);
        }

        // Loading the sheets again appends nothing.
        let before = size(&b).await;
        for line in steps
            .lines()
            .filter(|l| !l.starts_with('#') && !l.contains("append --file"))
        {
            let cols: Vec<&str> = line.split('\t').collect();
            let kind = cols[1].rsplit(' ').next().unwrap().to_owned();
            let (code, out, err) = run_bin(vec![
                "sheet".into(),
                "load".into(),
                sheets.join(cols[0]).display().to_string(),
                "--kind".into(),
                kind,
                "--server".into(),
                server_b.clone(),
            ])
            .await;
            assert_eq!(code, 0, "{line}: {out}{err}");
            assert!(out.contains("已导入 0，"), "{out}");
        }
        assert_eq!(size(&b).await, before);
        a.stop().await;
        b.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_over_http_and_by_role() {
    bounded(60, async {
        let dir = tempfile::tempdir().unwrap();
        let text = crate::util::access_text(&[
            ("hr", "writer", "", "tok-writer"),
            ("aud", "auditor", "", "tok-auditor"),
            ("head-s1", "principal", "S1", "tok-s1"),
        ]);
        let file = crate::util::write_access_file(dir.path(), &text);
        let access = rotaledger::grpc::auth::Access::load(&file).unwrap();
        let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", http.local_addr().unwrap());
        let s = TestServer::start_in(dir, |c| {
            c.access = access;
            c.http = Some(rotaledger::server::HttpListener::bound(http));
        })
        .await;
        let mut w = s.connect(Some("tok-writer")).ledger().await.unwrap();
        w.append(req("registry", vec![school("S1", "strong")]))
            .await
            .unwrap();
        let ev: serde_json::Value = serde_json::from_str(&teacher("T1", "S1")).unwrap();
        let bad: serde_json::Value = serde_json::from_str(&teacher("T2", "NOPE")).unwrap();
        let body = serde_json::json!({"appends": [
            {"request_id": "a", "events": [ev]},
            {"request_id": "b", "events": [bad]},
        ]});
        let post = |tok: &'static str| {
            let url = format!("{base}/api/v1/check");
            let body = body.clone();
            async move {
                let r = reqwest::Client::new()
                    .post(url)
                    .bearer_auth(tok)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                (
                    r.status().as_u16(),
                    r.json::<serde_json::Value>().await.unwrap(),
                )
            }
        };
        let (status, v) = post("tok-writer").await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["head"]["size"], 1);
        assert_eq!(v["results"][0]["seqs"], serde_json::json!([1]));
        assert_eq!(v["results"][1]["refusal"]["reason"], "school.unknown");
        assert_eq!(v["results"][1]["refusal"]["code"], 9);
        let (status, _) = post("tok-s1").await;
        assert_eq!(status, 403);
        let mut a = s.connect(Some("tok-auditor")).ledger().await.unwrap();
        let e = a
            .check(CheckRequest {
                appends: vec![req("x", vec![teacher("T3", "S1")])],
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied);
        let head = w.get_head(GetHeadRequest {}).await.unwrap().into_inner();
        assert_eq!(head.head.unwrap().size, 1);
        s.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_csv_is_checked_across_windows() {
    bounded(300, async {
        let s = TestServer::start().await;
        registry(&s).await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("long.csv");
        let mut text = String::from("工号,姓名,学校代码,学科,职称,入校日期\n");
        for i in 0..4500 {
            let school = if i == 4321 { "NOPE" } else { "S1" };
            text.push_str(&format!("T{i:05},教师{i},{school},数学,中级,2015/9/1\n"));
        }
        std::fs::write(&file, text).unwrap();
        let before = size(&s).await;
        let (code, out, err) = sheet(&s, "check", &file, "roster", &[]).await;
        assert_eq!(code, 1, "{out}{err}");
        let report = report_of(&file);
        assert!(
            report.contains("共 4500 行：通过 4499，已存在 0，拒绝 1"),
            "{report}"
        );
        assert!(
            report.contains("第 4323 行\t列「学校代码」\t规则 school.unknown"),
            "{report}"
        );
        assert_eq!(size(&s).await, before);
        s.stop().await;
    })
    .await;
}

/// A `multipart/form-data` body of `fields` and one file.
fn form_body(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let b = "----rotaledgertestboundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, data)) = file {
        body.extend_from_slice(
            format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{b}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={b}"), body)
}

fn hidden(page: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let at = page
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + key.len();
    page[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_upload_checks_then_loads_for_writers_only() {
    bounded(120, async {
        let (s, base) = crate::console::server().await;
        let writer = crate::console::signed_in(&base, "tok-writer").await;
        let principal = crate::console::signed_in(&base, "tok-s1").await;
        let r = principal.get(format!("{base}/sheets")).send().await.unwrap();
        assert_eq!(r.status(), 403);
        let home = writer.get(format!("{base}/")).send().await.unwrap().text().await.unwrap();
        assert!(home.contains("href=\"/sheets\""), "{home}");
        let form = writer.get(format!("{base}/sheets")).send().await.unwrap();
        assert_eq!(form.status(), 200);
        let csrf = hidden(&form.text().await.unwrap(), "csrf");

        let text = "工号,姓名,学校代码,学科,职称,入校日期\nT100,新教师,S1,数学,初级,2024/9/1\nT101,另一位,S1,数学,特级,2024/9/1\n";
        let (gb, _, _) = encoding_rs::GB18030.encode(text);
        let before = size_as(&s, Some("tok-writer")).await;
        let post = |ct: String, body: Vec<u8>| {
            writer
                .post(format!("{base}/sheets"))
                .header("content-type", ct)
                .body(body)
                .send()
        };
        // Without the session's CSRF token: refused before anything is read.
        let (ct, body) = form_body(&[("csrf", "0"), ("kind", "roster"), ("action", "check")], Some(("名册.csv", &gb)));
        assert_eq!(post(ct, body).await.unwrap().status(), 403);
        // The check: the report on screen, nothing appended, a load button.
        let (ct, body) = form_body(&[("csrf", &csrf), ("kind", "roster"), ("action", "check")], Some(("名册.csv", &gb)));
        let r = post(ct, body).await.unwrap();
        assert_eq!(r.status(), 200);
        let page = r.text().await.unwrap();
        assert!(page.contains("检查结果"), "{page}");
        assert!(page.contains("csv (GB18030)"), "{page}");
        assert!(page.contains("<td>3</td><td>职称</td><td><code>sheet.value</code></td>"), "{page}");
        assert!(page.contains("通过：<strong>1</strong>"), "{page}");
        assert_eq!(size_as(&s, Some("tok-writer")).await, before);
        let upload = hidden(&page, "upload");
        // The load button: the row that passes is appended; the upload is used once.
        let (ct, body) = form_body(&[("csrf", &csrf), ("upload", &upload), ("action", "load")], None);
        let page = post(ct, body).await.unwrap().text().await.unwrap();
        assert!(page.contains("已导入：<strong>1</strong>"), "{page}");
        assert_eq!(size_as(&s, Some("tok-writer")).await, before + 1);
        let (ct, body) = form_body(&[("csrf", &csrf), ("upload", &upload), ("action", "load")], None);
        assert_eq!(post(ct, body).await.unwrap().status(), 410);
        // A file that is not a sheet: said on the form, nothing appended.
        let (ct, body) = form_body(&[("csrf", &csrf), ("kind", "roster"), ("action", "check")], Some(("x.xlsx", &[0u8, 1, 2, 0][..])));
        let page = post(ct, body).await.unwrap().text().await.unwrap();
        assert!(page.contains("无法读取该表格"), "{page}");
        assert_eq!(size_as(&s, Some("tok-writer")).await, before + 1);
        s.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_cells_are_refused_row_by_row() {
    bounded(120, async {
        let s = TestServer::start().await;
        registry(&s).await;
        let mut c = s.ledger().await;
        c.append(req(
            "teachers",
            (1..=3).map(|i| teacher(&format!("T{i}"), "S1")).collect(),
        ))
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("merged.xlsx");
        let mut book = Workbook::new();
        let ws = book.add_worksheet();
        for (i, h) in ["工号", "派出学校", "接收学校", "开始日期", "交流类型"]
            .iter()
            .enumerate()
        {
            ws.write_string(0, i as u16, *h).unwrap();
        }
        for r in 1..=3u32 {
            ws.write_string(r, 0, format!("T{r}")).unwrap();
            ws.write_string(r, 1, "S1").unwrap();
            ws.write_string(r, 3, "2025-09-01").unwrap();
            ws.write_string(r, 4, "支教").unwrap();
        }
        // 接收学校 typed once over three rows, as clerks do.
        ws.merge_range(1, 2, 3, 2, "S2", &Format::new()).unwrap();
        book.save(&file).unwrap();
        let (code, out, err) = sheet(&s, "check", &file, "dispatches", &[]).await;
        assert_eq!(code, 1, "{out}{err}");
        let report = report_of(&file);
        assert!(
            report.contains("共 3 行：通过 1，已存在 0，拒绝 2"),
            "{report}"
        );
        for row in [3, 4] {
            let want = format!("第 {row} 行\t列「接收学校」\t规则 sheet.merged");
            assert!(report.contains(&want), "{want:?} not in\n{report}");
        }
        s.stop().await;
    })
    .await;
}
