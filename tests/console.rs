//! The console over HTTP: sign-in, sessions and CSRF, a principal's scope on teacher and
//! school pages (unknown and out-of-scope ids draw the same page), the language switch, the
//! designed error pages, and the CSV and XLSX downloads checked against gRPC's answers.

use std::io::Cursor;

use calamine::Reader as _;
use reqwest::redirect::Policy;
use rotaledger::grpc::auth::{Access, hash_token};
use rotaledger::proto::{
    AppendRequest, DistrictRequest, EvaluationsOwedRequest, RotationDutyRequest, SchoolQuotaRequest,
};
use rotaledger::server::HttpListener;

use crate::util::{TestServer, bounded, write_access_file};

/// The access file: an HR system, the principals of 第一实验小学 (S1) and 阳光小学 (W1), an
/// admin.
const TOKENS: [(&str, &str, &str, &str); 4] = [
    ("hr-system", "writer", "", "tok-writer"),
    ("head-s1", "principal", "S1", "tok-s1"),
    ("head-w1", "principal", "W1", "tok-w1"),
    ("bureau-admin", "admin", "", "tok-admin"),
];

/// The as-of date the pages are asked for, and its school year.
pub const AS_OF: &str = "2025-10-01";
pub const YEAR: i32 = 2025;

/// A server with the access file above, the HTTP face, and [`scenario`] appended.
pub async fn server() -> (TestServer, String) {
    server_with(|_| {}).await
}

/// [`server`], its configuration adjusted by `configure` first.
pub async fn server_with(
    configure: impl FnOnce(&mut rotaledger::server::ServerConfig),
) -> (TestServer, String) {
    let dir = tempfile::tempdir().unwrap();
    let text: String = TOKENS
        .iter()
        .map(|(name, role, school, tok)| {
            let schools = if school.is_empty() {
                String::new()
            } else {
                format!("schools = [\"{school}\"]\n")
            };
            format!(
                "[[token]]\nname = \"{name}\"\nrole = \"{role}\"\n{schools}hash = \"{}\"\n\n",
                hash_token(tok)
            )
        })
        .collect();
    let access = Access::load(&write_access_file(dir.path(), &text)).unwrap();
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", http.local_addr().unwrap());
    let s = TestServer::start_in(dir, |c| {
        c.access = access;
        c.http = Some(HttpListener::bound(http));
        configure(c);
    })
    .await;
    scenario(&s).await;
    (s, base)
}

fn school(id: &str, name: &str, standing: &str) -> String {
    format!(
        r#"{{"type":"school_registered","version":1,"school":"{id}","name":"{name}","stage":"primary","standing":"{standing}","rural":false,"date":"2010-01-01"}}"#
    )
}

fn teacher(id: &str, name: &str, school: &str) -> String {
    format!(
        r#"{{"type":"teacher_registered","version":1,"teacher":"{id}","name":"{name}","school":"{school}","subject":"chinese","title":"intermediate","title_date":"2012-01-01","key_level":"none","employed_date":"2010-09-01","date":"2010-09-01"}}"#
    )
}

fn dispatch(id: &str, teacher: &str) -> String {
    format!(
        r#"{{"type":"teacher_dispatched","version":1,"dispatch":"{id}","teacher":"{teacher}","from_school":"S1","to_school":"W1","start_date":"2022-09-01","kind":"rotation","team":"TM1"}}"#
    )
}

/// 第一实验小学 (S1, strong) sends a team of three to 阳光小学 (W1, weak) in 2022; 王芳's
/// dispatch is evaluated, 张伟 comes back early; 赵强 teaches at 第三中学 (S3), outside the
/// principal's scope.
pub async fn scenario(s: &TestServer) {
    let mut hr = s.connect(Some("tok-writer")).ledger().await.unwrap();
    let mut registry = vec![
        school("S1", "第一实验小学", "strong"),
        school("W1", "阳光小学", "weak"),
        school("S3", "第三中学", "strong"),
        r#"{"type":"group_formed","version":1,"group":"G1","kind":"district","name":"第一学区","lead_school":"S1","schools":["S1","W1","S3"],"date":"2010-01-01"}"#.into(),
    ];
    for (id, name) in [
        ("T1", "王芳"),
        ("T2", "李明"),
        ("T3", "张伟"),
        ("T4", "刘洋"),
        ("T5", "陈静"),
        ("T6", "杨磊"),
    ] {
        registry.push(teacher(id, name, "S1"));
    }
    registry.push(teacher("X1", "赵强", "S3"));
    let batches = [
        ("registry", registry),
        (
            "team",
            vec![dispatch("D1", "T1"), dispatch("D2", "T2"), dispatch("D3", "T3")],
        ),
        (
            "later",
            vec![
                r#"{"type":"teacher_evaluated","version":1,"dispatch":"D1","school":"W1","school_year":2022,"grade":"good","date":"2023-07-01"}"#.into(),
                r#"{"type":"teacher_evaluated","version":1,"dispatch":"D1","school":"W1","school_year":2023,"grade":"excellent","date":"2024-07-01"}"#.into(),
                r#"{"type":"teacher_returned","version":1,"dispatch":"D3","return_date":"2025-01-10","reason":"health"}"#.into(),
            ],
        ),
    ];
    for (id, events) in batches {
        hr.append(AppendRequest {
            events,
            request_id: id.into(),
            expected_size: None,
        })
        .await
        .unwrap();
    }
}

/// A browser-like client: keeps cookies, follows redirects unless told not to.
fn client(follow: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(if follow {
            Policy::limited(5)
        } else {
            Policy::none()
        })
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The CSRF token in a page's form.
fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("the page has a CSRF field")
        + "name=\"csrf\" value=\"".len();
    page[at..at + 64].to_owned()
}

/// Signs `c` in with `token`; the answer to the form.
async fn sign_in_with(c: &reqwest::Client, base: &str, token: &str) -> reqwest::Response {
    let form = c.get(format!("{base}/login")).send().await.unwrap();
    let csrf = csrf_of(&form.text().await.unwrap());
    c.post(format!("{base}/login"))
        .form(&[("token", token), ("csrf", &csrf)])
        .send()
        .await
        .unwrap()
}

/// A signed-in client.
pub async fn signed_in(base: &str, token: &str) -> reqwest::Client {
    let c = client(true);
    let r = sign_in_with(&c, base, token).await;
    assert_eq!(r.status(), 200, "sign-in as {token}");
    c
}

async fn page(c: &reqwest::Client, url: String) -> (u16, String) {
    let r = c.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sessions_and_csrf() {
    bounded(120, async {
        let (_s, base) = server().await;

        // No session: every page redirects to the sign-in form.
        let bare = client(false);
        for path in ["/", "/teachers/T1", "/schools/S1", "/schools/S1/due.csv"] {
            let r = bare.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status(), 303, "{path}");
            assert_eq!(r.headers()["location"], "/login", "{path}");
        }

        // A wrong token: the form again, with a clear message, and still no session.
        let c = client(false);
        let r = sign_in_with(&c, &base, "tok-wrong").await;
        assert_eq!(r.status(), 401);
        assert!(r.text().await.unwrap().contains("令牌无效"));
        let r = c.get(format!("{base}/")).send().await.unwrap();
        assert_eq!(r.status(), 303);

        // A sign-in POST without the form's CSRF token signs nobody in.
        let r = c
            .post(format!("{base}/login"))
            .form(&[("token", "tok-s1"), ("csrf", "0")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        assert!(r.text().await.unwrap().contains("表单已过期"));
        assert_eq!(
            c.get(format!("{base}/")).send().await.unwrap().status(),
            303
        );

        // The right token: a session cookie that holds no token, then the home page.
        let r = sign_in_with(&c, &base, "tok-s1").await;
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/");
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.starts_with("rl_session="), "{cookie}");
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(cookie.contains(attr), "{cookie} lacks {attr}");
        }
        assert!(
            !cookie.contains("tok-s1"),
            "the token must stay on the server"
        );
        let (status, home) = page(&c, format!("{base}/")).await;
        assert_eq!(status, 200);
        assert!(home.contains("您负责的学校"), "{home}");
        assert!(home.contains("href=\"/schools/S1\""), "{home}");

        // Logging out needs the session's CSRF token.
        let csrf = csrf_of(&home);
        let r = c
            .post(format!("{base}/logout"))
            .form(&[("csrf", "not-the-token")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        assert!(r.text().await.unwrap().contains("表单已失效"));
        assert_eq!(page(&c, format!("{base}/")).await.0, 200, "still signed in");
        let r = c
            .post(format!("{base}/logout"))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/login");
        assert_eq!(
            c.get(format!("{base}/")).send().await.unwrap().status(),
            303
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_sees_its_teachers_and_nothing_else() {
    bounded(120, async {
        let (_s, base) = server().await;
        let c = signed_in(&base, "tok-s1").await;

        let (status, t1) = page(&c, format!("{base}/teachers/T1?as_of={AS_OF}")).await;
        assert_eq!(status, 200, "{t1}");
        for text in [
            "王芳",
            "交流期限进度",
            "D1",
            "2025-09-01", // min_end: three years after 2022-09-01
            "晋升资格",
            "交流轮岗经历",
            "全部记录",
            "派出交流",
            "优秀",
        ] {
            assert!(t1.contains(text), "T1's page lacks {text}");
        }

        // Out of scope (赵强 teaches at S3) and unknown: the same designed page.
        let (s_out, out) = page(&c, format!("{base}/teachers/X1")).await;
        let (s_unknown, unknown) = page(&c, format!("{base}/teachers/NOPE")).await;
        assert_eq!((s_out, s_unknown), (404, 404));
        assert!(out.contains("未找到或无权查看"), "{out}");
        assert!(!out.contains("赵强"));
        assert_eq!(out.replace("X1", "ID"), unknown.replace("NOPE", "ID"));
        let (s_school, other_school) = page(&c, format!("{base}/schools/S3")).await;
        assert_eq!(s_school, 404);
        assert!(other_school.contains("未找到或无权查看"));

        // The admin sees 赵强.
        let admin = signed_in(&base, "tok-admin").await;
        let (status, x1) = page(&admin, format!("{base}/teachers/X1")).await;
        assert_eq!(status, 200);
        assert!(x1.contains("赵强"));
        let (status, unknown) = page(&admin, format!("{base}/teachers/NOPE")).await;
        assert_eq!(status, 404);
        assert!(unknown.contains("未找到或无权查看"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinese_by_default_english_by_the_switch() {
    bounded(120, async {
        let (_s, base) = server().await;
        let c = signed_in(&base, "tok-s1").await;
        let url = format!("{base}/teachers/T1?as_of={AS_OF}");
        let (_, zh) = page(&c, url.clone()).await;
        assert!(zh.contains("<html lang=\"zh-CN\">") && zh.contains("交流期限进度"));
        let (_, en) = page(&c, format!("{url}&lang=en")).await;
        assert!(en.contains("<html lang=\"en\">"), "{en}");
        assert!(en.contains("Term progress") && !en.contains("交流期限进度"));
        // Remembered by the cookie.
        let (_, again) = page(&c, url.clone()).await;
        assert!(again.contains("Term progress"));
        let (_, missing) = page(&c, format!("{base}/teachers/NOPE")).await;
        assert!(missing.contains("Not found or not yours"));
        let (_, back) = page(&c, format!("{url}&lang=zh")).await;
        assert!(back.contains("交流期限进度"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_draw_the_designed_page() {
    bounded(120, async {
        let (_s, base) = server().await;
        let c = signed_in(&base, "tok-s1").await;
        for path in [
            "/teachers/T1?as_of=2025-13-01",
            "/teachers/T1?as_of=<script>",
            "/schools/S1?as_of=yesterday",
        ] {
            let (status, body) = page(&c, format!("{base}{path}")).await;
            assert_eq!(status, 400, "{path}");
            assert!(body.contains("日期格式应为 YYYY-MM-DD"), "{path}: {body}");
            assert!(!body.contains("<script>") && !body.contains("INVALID_ARGUMENT"));
        }
        let (status, body) = page(&c, format!("{base}/schools/S1?year=next")).await;
        assert_eq!(status, 400);
        assert!(body.contains("学年应为四位年份"));
        let (status, _) = page(&c, format!("{base}/schools/S1/everyone.csv")).await;
        assert_eq!(status, 404);
    })
    .await;
}

/// The rows (after the header) of a CSV download, checking the BOM and the header.
fn csv_rows(bytes: &[u8], header: &str) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes).unwrap();
    let text = text
        .strip_prefix('\u{feff}')
        .expect("a UTF-8 BOM for Excel");
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    assert_eq!(lines.next(), Some(header));
    lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

/// The rows (after the header) of an XLSX download's first sheet, checking the header.
fn xlsx_rows(bytes: Vec<u8>, header: &[&str]) -> Vec<Vec<String>> {
    let mut book = calamine::Xlsx::new(Cursor::new(bytes)).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    let mut rows = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect::<Vec<_>>());
    assert_eq!(rows.next().unwrap(), header);
    rows.collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_school_page_and_its_downloads() {
    bounded(120, async {
        let (s, base) = server().await;
        let c = signed_in(&base, "tok-s1").await;
        let (status, body) = page(&c, format!("{base}/schools/S1?as_of={AS_OF}&year={YEAR}")).await;
        assert_eq!(status, 200, "{body}");
        for text in [
            "应交流教师",
            "符合交流轮岗条件的教师",
            "年度交流比例",
            "符合条件教师名单",
            "本校派出的教师",
            "本校接收的交流团队",
            "刘洋",
            "href=\"/teachers/T4?as_of=2025-10-01\"",
        ] {
            assert!(body.contains(text), "S1's page lacks {text}");
        }

        // What gRPC answers for the same caller, date and year.
        let mut q = s.connect(Some("tok-s1")).query().await.unwrap();
        let due = q
            .rotation_duty(RotationDutyRequest {
                school: "S1".into(),
                as_of: AS_OF.into(),
                recorded_up_to: None,
            })
            .await
            .unwrap()
            .into_inner()
            .due_to_rotate;
        let eligible = q
            .school_quota(SchoolQuotaRequest {
                school: "S1".into(),
                school_year: YEAR,
                as_of: AS_OF.into(),
                recorded_up_to: None,
            })
            .await
            .unwrap()
            .into_inner()
            .quota
            .unwrap()
            .eligible;
        assert!(due.contains(&"T4".to_string()), "{due:?}");
        assert!(eligible.contains(&"T3".to_string()), "{eligible:?}");
        let names = |ids: &[String]| -> Vec<(String, String)> {
            let all = [
                ("T1", "王芳"),
                ("T2", "李明"),
                ("T3", "张伟"),
                ("T4", "刘洋"),
                ("T5", "陈静"),
                ("T6", "杨磊"),
            ];
            ids.iter()
                .map(|id| {
                    let n = all.iter().find(|(t, _)| t == id).unwrap().1;
                    (id.clone(), n.to_owned())
                })
                .collect()
        };
        let get = |path: String| {
            let c = c.clone();
            async move {
                let r = c.get(path).send().await.unwrap();
                assert_eq!(r.status(), 200);
                let disposition = r.headers()["content-disposition"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                assert!(
                    disposition.starts_with("attachment; filename=\"S1-"),
                    "{disposition}"
                );
                r.bytes().await.unwrap().to_vec()
            }
        };
        let q = format!("?as_of={AS_OF}&year={YEAR}");
        let first_two = |rows: Vec<Vec<String>>| -> Vec<(String, String)> {
            rows.into_iter()
                .map(|r| (r[0].clone(), r[1].clone()))
                .collect()
        };

        let due_header = "教师编号,姓名,入职本校日期,任教满年限日期,职称,中级职称满限日期";
        let csv = get(format!("{base}/schools/S1/due.csv{q}")).await;
        assert_eq!(first_two(csv_rows(&csv, due_header)), names(&due));
        let xlsx = get(format!("{base}/schools/S1/due.xlsx{q}")).await;
        let heads: Vec<&str> = due_header.split(',').collect();
        assert_eq!(first_two(xlsx_rows(xlsx, &heads)), names(&due));

        let csv = get(format!("{base}/schools/S1/eligible.csv{q}")).await;
        assert_eq!(first_two(csv_rows(&csv, "教师编号,姓名")), names(&eligible));
        let xlsx = get(format!("{base}/schools/S1/eligible.xlsx{q}")).await;
        assert_eq!(
            first_two(xlsx_rows(xlsx, &["教师编号", "姓名"])),
            names(&eligible)
        );

        // A school without a quota duty says so (the admin may see 阳光小学).
        let admin = signed_in(&base, "tok-admin").await;
        let (status, w1) = page(&admin, format!("{base}/schools/W1?as_of={AS_OF}")).await;
        assert_eq!(status, 200, "{w1}");
        assert!(w1.contains("本校在该学年没有交流比例任务"), "{w1}");
        assert!(w1.contains("在本校交流的教师") && w1.contains("王芳"));
        assert!(w1.contains("TM1"), "W1 receives the team: {w1}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_group_and_audit_pages() {
    bounded(120, async {
        let (s, base) = server().await;
        let admin = signed_in(&base, "tok-admin").await;
        let r = client(false)
            .get(format!("{base}/find?group=G1"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "no session: to the sign-in form");
        let (status, g1) = page(&admin, format!("{base}/find?group=G1")).await;
        assert_eq!(status, 200);
        assert!(g1.contains("第一学区") && g1.contains("成员学校"), "{g1}");

        // 2024/25: 张伟 came back early (D3); 阳光小学 carries no quota.
        let url = format!("{base}/groups/G1?as_of={AS_OF}&year=2024");
        let (status, g1) = page(&admin, url.clone()).await;
        assert_eq!(status, 200);
        for text in [
            "学区",
            "/schools/S1",
            "/schools/S3",
            "/schools/W1",
            "无比例任务",
            "D3",
            "TM1",
        ] {
            assert!(g1.contains(text), "G1's page lacks {text}");
        }
        // The principal of S1 sees its own school of the group only.
        let head = signed_in(&base, "tok-s1").await;
        let (status, mine) = page(&head, url).await;
        assert_eq!(status, 200);
        assert!(mine.contains("/schools/S1") && !mine.contains("/schools/S3"));

        // The audit page: the head gRPC answers and a signed checkpoint, for the admin only.
        let h = s
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
        let (status, audit) = page(&admin, format!("{base}/audit")).await;
        assert_eq!(status, 200);
        assert!(audit.contains(&hex::encode(&h.hash)), "{audit}");
        assert!(
            audit.contains("最新签名检查点") && audit.contains("\u{2014} "),
            "{audit}"
        );
        let (status, refused) = page(&head, format!("{base}/audit")).await;
        assert_eq!(status, 403);
        assert!(refused.contains("无权使用此页面"));
    })
    .await;
}

/// The audit page on a ledger with a witness: "none yet", then the cosigned checkpoint with
/// the witness's name and when it cosigned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_page_shows_the_witnesses_cosignatures() {
    bounded(120, async {
        use rotaledger::merkle::WitnessKey;
        let w = WitnessKey::from_seed("witness.audit.example/w1", &[3; 32]).unwrap();
        let keys = vec![w.verifier()];
        let (s, base) = server_with(move |c| c.ledger.witnesses.keys = keys).await;
        let admin = signed_in(&base, "tok-admin").await;
        let (status, before) = page(&admin, format!("{base}/audit")).await;
        assert_eq!(status, 200);
        assert!(before.contains("尚无见证方联署的检查点"), "{before}");
        // 1800000000 is 2027-01-15 08:00:00 UTC.
        let (_, line) =
            crate::util::cosign_offered(&s.connect(Some("tok-admin")), &w, 1_800_000_000).await;
        let (status, after) = page(&admin, format!("{base}/audit")).await;
        assert_eq!(status, 200);
        assert!(after.contains("见证方联署的检查点"), "{after}");
        assert!(
            after.contains("<code>witness.audit.example/w1</code>"),
            "{after}"
        );
        assert!(after.contains("2027-01-15 08:00:00 UTC"), "{after}");
        assert!(after.contains(&line), "the cosigned note is shown: {after}");
        assert!(
            after.contains("即上方的最新签名检查点"),
            "the head is the cosigned checkpoint: its note is not shown twice: {after}"
        );
        assert!(!after.contains("尚无见证方联署的检查点"), "{after}");
        // A ledger without witnesses shows no such section.
        let (plain, plain_base) = server().await;
        let admin = signed_in(&plain_base, "tok-admin").await;
        let (_, page_plain) = page(&admin, format!("{plain_base}/audit")).await;
        assert!(!page_plain.contains("见证方联署"), "{page_plain}");
        drop(plain);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_district_page_is_the_bureaus() {
    bounded(120, async {
        let (s, base) = server().await;
        let admin = signed_in(&base, "tok-admin").await;
        let (status, home) = page(&admin, format!("{base}/")).await;
        assert_eq!(status, 200);
        assert!(home.contains("href=\"/district\""), "{home}");

        let (status, body) = page(&admin, format!("{base}/district?as_of={AS_OF}&year=2024")).await;
        assert_eq!(status, 200, "{body}");
        for text in [
            "全区交流轮岗概览",
            "<svg",
            ">学年<",
            ">人数<",
            "2024/25",
            "第一学区",
            "第三中学",
            "各校交流比例完成情况",
            "低于最少人数的交流团队",
            "TM1",
            "/district/schools.csv?as_of=2025-10-01&year=2024",
        ] {
            assert!(body.contains(text), "the district page lacks {text}");
        }
        // 2024/25 has ended on 2025-10-01: 第三中学 (one eligible teacher, nobody sent) is
        // short by one, and so is 第一实验小学 (three eligible on 1 September 2024, the team
        // away since 2022, nobody sent in 2024).
        assert_eq!(
            body.matches("class=\"no\">✘ 未完成，尚缺 1 人").count(),
            2,
            "{body}"
        );

        // The same figures as gRPC, in the download.
        let mut q = s.connect(Some("tok-admin")).query().await.unwrap();
        let v = q
            .district(DistrictRequest {
                school_year: 2024,
                as_of: AS_OF.into(),
                recorded_up_to: None,
            })
            .await
            .unwrap()
            .into_inner();
        let want: Vec<Vec<String>> = v
            .schools
            .iter()
            .map(|s| vec![s.school.clone(), s.name.clone(), s.missing.to_string()])
            .collect();
        assert_eq!(want.len(), 3);
        assert_eq!(v.teams_below_strength.len(), 1, "张伟 came back early");
        let header = "学校编号,学校名称,办学水平,学区或集团,比例完成情况,符合条件教师数,应交流人数,已交流人数,尚缺人数";
        let r = admin
            .get(format!("{base}/district/schools.csv?as_of={AS_OF}&year=2024"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let rows = csv_rows(&r.bytes().await.unwrap(), header);
        let got: Vec<Vec<String>> = rows
            .iter()
            .map(|r| vec![r[0].clone(), r[1].clone(), r[8].clone()])
            .collect();
        // A school without a quota has no figures.
        let got: Vec<Vec<String>> = got
            .into_iter()
            .zip(&v.schools)
            .map(|(mut r, s)| {
                if r[2].is_empty() {
                    r[2] = s.missing.to_string();
                }
                r
            })
            .collect();
        assert_eq!(got, want);
        let r = admin
            .get(format!("{base}/district/teams.xlsx?as_of={AS_OF}&year=2024"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let rows = xlsx_rows(
            r.bytes().await.unwrap().to_vec(),
            &["团队", "接收学校", "开始日期", "在岗人数", "低于最少人数起始日期", "成员"],
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][0], "TM1");
        assert_eq!(rows[0][3], "2 / 3");
        assert_eq!(rows[0][4], "2025-01-10");

        // Principals get the forbidden page, whatever their school; so do its downloads.
        for tok in ["tok-s1", "tok-w1"] {
            let c = signed_in(&base, tok).await;
            let (status, body) = page(&c, format!("{base}/district")).await;
            assert_eq!(status, 403, "{tok}");
            assert!(body.contains("无权使用此页面"), "{body}");
            assert!(!body.contains("第三中学"));
            let (status, _) = page(&c, format!("{base}/district/schools.csv")).await;
            assert_eq!(status, 403);
        }
        let (status, _) = page(&admin, format!("{base}/district/everything.csv")).await;
        assert_eq!(status, 404);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiving_school_sees_the_evaluations_it_owes() {
    bounded(120, async {
        let (s, base) = server().await;
        let w1 = signed_in(&base, "tok-w1").await;
        let (status, body) = page(&w1, format!("{base}/schools/W1?as_of={AS_OF}")).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("本校尚欠的考核"), "{body}");

        let mut q = s.connect(Some("tok-w1")).query().await.unwrap();
        let owed = q
            .evaluations_owed(EvaluationsOwedRequest {
                school: "W1".into(),
                as_of: AS_OF.into(),
                recorded_up_to: None,
            })
            .await
            .unwrap()
            .into_inner()
            .owed;
        // D1 graded for 2022 and 2023 owes 2024; D2 owes 2022-2024; D3 (back on 2025-01-10)
        // owes 2022-2024 too.
        let pairs: Vec<(String, i32)> = owed
            .iter()
            .map(|o| (o.dispatch.clone(), o.school_year))
            .collect();
        assert_eq!(
            pairs,
            [
                ("D1".into(), 2024),
                ("D2".into(), 2022),
                ("D2".into(), 2023),
                ("D2".into(), 2024),
                ("D3".into(), 2022),
                ("D3".into(), 2023),
                ("D3".into(), 2024),
            ]
        );
        let header = "交流编号,教师编号,姓名,类型,派出学校,开始日期,结束日期,学年,学年结束日期";
        let r = w1
            .get(format!("{base}/schools/W1/owed.csv?as_of={AS_OF}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let rows = csv_rows(&r.bytes().await.unwrap(), header);
        let got: Vec<(String, String, String)> = rows
            .iter()
            .map(|r| (r[0].clone(), r[2].clone(), r[7].clone()))
            .collect();
        assert_eq!(got.len(), 7);
        assert_eq!(got[0], ("D1".into(), "王芳".into(), "2024/25".into()));
        // 张伟 left W1 on 2025-01-10: its principal no longer sees the teacher's name (the
        // gRPC scope rule), but still owes the evaluation, listed by id.
        assert_eq!(got[6], ("D3".into(), "T3".into(), "2024/25".into()));

        // On 2025-08-31 the year 2024/25 has not ended: not owed yet.
        let (_, before) = page(&w1, format!("{base}/schools/W1?as_of=2025-08-31")).await;
        let count = |page: &str| {
            let at = page.find("本校尚欠的考核").unwrap();
            let rest = &page[at..];
            let n = rest.find("class=\"count\">").unwrap() + "class=\"count\">".len();
            rest[n..rest[n..].find('<').unwrap() + n].to_owned()
        };
        assert_eq!(count(&body), "7");
        assert_eq!(count(&before), "4");

        // The principal of the sending school sees neither W1's page nor its list.
        let s1 = signed_in(&base, "tok-s1").await;
        let (status, other) = page(&s1, format!("{base}/schools/W1?as_of={AS_OF}")).await;
        assert_eq!(status, 404);
        assert!(other.contains("未找到或无权查看") && !other.contains("本校尚欠的考核"));
        let (status, _) = page(&s1, format!("{base}/schools/W1/owed.csv?as_of={AS_OF}")).await;
        assert_eq!(status, 404);
        // Its own page owes nothing (it receives nobody).
        let (_, own) = page(&s1, format!("{base}/schools/S1?as_of={AS_OF}")).await;
        assert!(own.contains("没有尚欠的考核"), "{own}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_show_the_ledger_as_recorded_up_to_an_entry() {
    bounded(120, async {
        let (_s, base) = server().await;
        let c = signed_in(&base, "tok-s1").await;
        // The registry is 11 entries: as recorded up to 11, nobody has been dispatched.
        let (status, now) = page(&c, format!("{base}/teachers/T1?as_of={AS_OF}")).await;
        assert_eq!(status, 200);
        assert!(now.contains("D1") && !now.contains("recorded-up-to"));
        let (status, then) = page(
            &c,
            format!("{base}/teachers/T1?as_of={AS_OF}&recorded_up_to=11"),
        )
        .await;
        assert_eq!(status, 200, "{then}");
        assert!(then.contains("按第 11 条记录时的账本显示"), "{then}");
        assert!(!then.contains(">D1<"), "{then}");
        assert!(then.contains("name=\"recorded_up_to\" value=\"11\""));

        let (status, school) = page(
            &c,
            format!("{base}/schools/S1?as_of={AS_OF}&recorded_up_to=11"),
        )
        .await;
        assert_eq!(status, 200);
        assert!(school.contains("按第 11 条记录时的账本显示"));
        assert!(school.contains("&recorded_up_to=11\">CSV</a>"), "{school}");
        let (status, group) = page(
            &c,
            format!("{base}/groups/G1?as_of={AS_OF}&recorded_up_to=11"),
        )
        .await;
        assert_eq!(status, 200);
        assert!(group.contains("按第 11 条记录时的账本显示"));
        let admin = signed_in(&base, "tok-admin").await;
        let (status, district) = page(
            &admin,
            format!("{base}/district?as_of={AS_OF}&recorded_up_to=11"),
        )
        .await;
        assert_eq!(status, 200);
        assert!(district.contains("按第 11 条记录时的账本显示"));
        assert!(!district.contains("TM1"), "no team before entry 11");

        // Bad values: the designed 400 page, naming the field.
        for (who, path) in [
            (&c, "/teachers/T1?recorded_up_to=abc"),
            (&c, "/schools/S1?recorded_up_to=-1"),
            (&c, "/groups/G1?recorded_up_to=1.5"),
            (&c, "/teachers/T1?recorded_up_to=9999"),
            (&admin, "/district?recorded_up_to=x"),
            (&c, "/schools/S1/due.csv?recorded_up_to=x"),
        ] {
            let (status, body) = page(who, format!("{base}{path}")).await;
            assert_eq!(status, 400, "{path}: {body}");
            assert!(
                body.contains("请求有误") && body.contains("<code>recorded_up_to</code>"),
                "{path}: {body}"
            );
        }
    })
    .await;
}

/// The audit page's script calls the JSON API with the session cookie: a signed-in session
/// stands for its token on reads, with that token's role (the admin reads checkpoints, the
/// principal is refused them), never on a POST; without a session, or after sign-out, the
/// API is 401. The page's scripts are served embedded, as JavaScript, and the page allows
/// same-origin scripts only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_a_signed_in_browser_on_reads_only() {
    bounded(120, async {
        let (_s, base) = server().await;
        let bare = client(false);
        let checkpoint = format!("{base}/api/v1/checkpoint");
        let r = bare.get(&checkpoint).send().await.unwrap();
        assert_eq!(r.status(), 401);

        let admin = signed_in(&base, "tok-admin").await;
        let r = admin.get(&checkpoint).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(
            body["checkpoint"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("\u{2014} ")),
            "{body}"
        );
        let r = admin
            .get(format!("{base}/api/v1/proofs/inclusion?seq=3"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        // A write is not read: the cookie alone does not authorize an append.
        let r = admin
            .post(format!("{base}/api/v1/append"))
            .json(&serde_json::json!({"request_id": "cookie-1", "events": [
                {"type":"school_registered","version":1,"school":"S9","name":"九","stage":"primary","standing":"ordinary","rural":false,"date":"2010-01-01"}
            ]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);

        // The principal's session has the principal's rights: no checkpoints.
        let head = signed_in(&base, "tok-s1").await;
        let r = head.get(&checkpoint).send().await.unwrap();
        assert_eq!(r.status(), 403);
        let r = head
            .get(format!("{base}/api/v1/schools/S1/duty"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);

        // The scripts: JavaScript, not sniffable as anything else; the page's policy.
        for path in [
            "/assets/audit.js",
            "/assets/verify.js",
            "/assets/vendor/noble-ed25519/index.js",
            "/assets/vendor/noble-hashes/blake3.js",
        ] {
            let r = bare.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            assert_eq!(
                r.headers()["content-type"],
                "text/javascript; charset=utf-8",
                "{path}"
            );
            assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        }
        let r = bare
            .get(format!("{base}/assets/vendor/noble-hashes/LICENSE"))
            .send()
            .await
            .unwrap();
        assert!(r.text().await.unwrap().contains("MIT License"));
        let r = admin.get(format!("{base}/audit")).send().await.unwrap();
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        let page = r.text().await.unwrap();
        assert!(
            page.contains("<script type=\"module\" src=\"/assets/audit.js\"></script>"),
            "{page}"
        );
        assert_eq!(page.matches("<script").count(), 1, "no inline script");

        // Signed out: the cookie is dead for the API too.
        let home = admin.get(format!("{base}/")).send().await.unwrap();
        let csrf = csrf_of(&home.text().await.unwrap());
        let r = admin
            .post(format!("{base}/logout"))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success() || r.status().is_redirection());
        let r = admin.get(&checkpoint).send().await.unwrap();
        assert_eq!(r.status(), 401);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_teacher_shows_as_erased_and_reads_are_recorded_as_the_consoles() {
    bounded(120, async {
        let (s, base) = server().await;
        let c = signed_in(&base, "tok-s1").await;
        // The school's due-to-rotate list names its teachers: one reveal for the whole list.
        let (status, school) = page(&c, format!("{base}/schools/S1?as_of={AS_OF}")).await;
        assert_eq!(status, 200);
        assert!(school.contains("李明"), "the list shows names");
        let mut q = s.connect(Some("tok-admin")).query().await.unwrap();
        let before = q
            .access_record(rotaledger::proto::AccessRecordRequest::default())
            .await
            .unwrap()
            .into_inner();
        let list = before
            .accesses
            .iter()
            .find(|a| a.actor == "head-s1" && a.via == "console")
            .expect("the console's reveal is recorded");
        assert!(list.teachers.len() > 1, "one record for the list: {list:?}");

        let mut admin = s.connect(Some("tok-admin")).ledger().await.unwrap();
        admin
            .append(AppendRequest {
                events: vec![r#"{"type":"personal_data_erased","version":1,"teacher":"T2","basis":"request 7","date":"2025-10-01"}"#.into()],
                request_id: "erase-t2".into(),
                expected_size: None,
            })
            .await
            .unwrap();
        let (status, t2) = page(&c, format!("{base}/teachers/T2?as_of={AS_OF}")).await;
        assert_eq!(status, 200);
        assert!(t2.contains("已删除") && t2.contains("个人信息已删除"), "{t2}");
        assert!(!t2.contains("李明"));
        let (_, school) = page(&c, format!("{base}/schools/S1?as_of={AS_OF}")).await;
        assert!(!school.contains("李明") && school.contains("已删除"));
        assert!(school.contains("王芳"), "the others' names still show");
        let (_, en) = page(&c, format!("{base}/teachers/T2?as_of={AS_OF}&lang=en")).await;
        assert!(en.contains("erased"), "{en}");
        // The record names what was shown, never what was erased.
        let after = q
            .access_record(rotaledger::proto::AccessRecordRequest {
                teacher: "T2".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let last = after.accesses.last().unwrap();
        assert!(after.total > before.total);
        let newer: Vec<_> = after.accesses.iter().filter(|a| a.seq >= before.total).collect();
        assert!(newer.is_empty(), "no reveal of T2 after its erasure: {newer:?} (last {last:?})");
    })
    .await;
}
