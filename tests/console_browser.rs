//! The console in a real browser: headless Chromium signs in as a principal, opens a teacher
//! page and a school page, then as an admin the district page with its chart, and checks the
//! text a person would read. Screenshots go to the
//! directory named by `ROTALEDGER_SCREENSHOTS` (docs/console/ for the documentation), else to
//! a temporary directory.
//!
//! Without Chromium the test is skipped with the install line on stderr, unless
//! `ROTALEDGER_REQUIRE_BROWSER=1` (set by `.ci/run`) makes that a failure.
//! `ROTALEDGER_CHROMIUM=/path` names another browser binary.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use headless_chrome::protocol::cdp::Page;
use headless_chrome::{Browser, LaunchOptions, Tab};

use crate::console::{AS_OF, YEAR, server};
use crate::util::bounded;

/// Where Chromium is, if installed: `ROTALEDGER_CHROMIUM` when set (and only there), else
/// the usual Debian and Ubuntu paths.
pub fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ROTALEDGER_CHROMIUM") {
        return Some(PathBuf::from(p)).filter(|p| p.exists());
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// Chromium for a browser test named `test`, or `None` after saying on stderr that the test is
/// skipped (and failing instead when `ROTALEDGER_REQUIRE_BROWSER=1`, as CI sets it).
pub fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        let required = std::env::var("ROTALEDGER_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "ROTALEDGER_REQUIRE_BROWSER=1 but Chromium is not installed: apt-get install -y chromium"
        );
        // Straight to the process's stderr, not `eprintln!`: the test harness captures the
        // macros' output of a passing test, and this line must be seen.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "{test}: skipped, Chromium is not installed (install it with: apt-get install -y chromium)"
        );
    }
    found
}

/// The whole page as PNG (not just the window).
pub fn full_page_png(tab: &Tab) -> Vec<u8> {
    let height = tab
        .evaluate("document.documentElement.scrollHeight", false)
        .unwrap()
        .value
        .and_then(|v| v.as_f64())
        .unwrap_or(900.0);
    let shot = tab
        .call_method(Page::CaptureScreenshot {
            format: Some(Page::CaptureScreenshotFormatOption::Png),
            quality: None,
            clip: Some(Page::Viewport {
                x: 0.0,
                y: 0.0,
                width: 1280.0,
                height,
                scale: 1.0,
            }),
            from_surface: Some(true),
            capture_beyond_viewport: Some(true),
            optimize_for_speed: None,
        })
        .unwrap();
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(shot.data)
        .unwrap()
}

/// The page as PNG, `width` CSS pixels wide from the left edge.
fn page_png(tab: &Tab, width: f64) -> Vec<u8> {
    let height = tab
        .evaluate("document.documentElement.scrollHeight", false)
        .unwrap()
        .value
        .and_then(|v| v.as_f64())
        .unwrap_or(900.0);
    let shot = tab
        .call_method(Page::CaptureScreenshot {
            format: Some(Page::CaptureScreenshotFormatOption::Png),
            quality: None,
            clip: Some(Page::Viewport {
                x: 0.0,
                y: 0.0,
                width,
                height,
                scale: 1.0,
            }),
            from_surface: Some(true),
            capture_beyond_viewport: Some(true),
            optimize_for_speed: None,
        })
        .unwrap();
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(shot.data)
        .unwrap()
}

pub fn save(dir: &Path, name: &str, png: &[u8]) {
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    std::fs::write(dir.join(name), png).unwrap();
}

pub fn visible_text(tab: &Tab) -> String {
    tab.wait_for_element("main")
        .unwrap()
        .get_inner_text()
        .unwrap()
}

/// The browser's walk through the console (blocking: headless_chrome drives Chromium over
/// a WebSocket on its own threads).
fn walk(browser_path: PathBuf, base: String, shots: PathBuf) {
    let profile = tempfile::tempdir().unwrap();
    let browser = launch(browser_path, profile.path(), Duration::from_secs(60));
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(20));

    // Sign in as the principal of 第一实验小学.
    tab.navigate_to(&format!("{base}/teachers/T1?as_of={AS_OF}"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    assert!(tab.get_url().ends_with("/login"), "{}", tab.get_url());
    let text = visible_text(&tab);
    assert!(text.contains("访问令牌"), "{text}");
    save(&shots, "login.png", &full_page_png(&tab));
    tab.wait_for_element("input[name=token]")
        .unwrap()
        .click()
        .unwrap();
    tab.type_str("tok-s1").unwrap();
    tab.wait_for_element("button[type=submit]")
        .unwrap()
        .click()
        .unwrap();
    tab.wait_until_navigated().unwrap();
    let text = visible_text(&tab);
    assert!(
        text.contains("您负责的学校") && text.contains("S1"),
        "{text}"
    );
    save(&shots, "home.png", &full_page_png(&tab));

    // The teacher page.
    tab.navigate_to(&format!("{base}/teachers/T1?as_of={AS_OF}"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    let text = visible_text(&tab);
    for want in [
        "王芳",
        "交流期限进度",
        "最短期满日期",
        "晋升资格",
        "全部记录",
        "2025-09-01",
    ] {
        assert!(
            text.contains(want),
            "the teacher page shows no {want}: {text}"
        );
    }
    save(&shots, "teacher.png", &full_page_png(&tab));

    // The school page, reached by the link on the profile.
    tab.wait_for_element("dl.profile a")
        .unwrap()
        .click()
        .unwrap();
    let url = wait_for_url(&tab, |u| u.contains("/schools/S1"));
    assert!(url.contains("/schools/S1"), "{url}");
    tab.wait_until_navigated().unwrap();
    tab.navigate_to(&format!("{base}/schools/S1?as_of={AS_OF}&year={YEAR}"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    let text = visible_text(&tab);
    for want in [
        "应交流教师",
        "刘洋",
        "年度交流比例",
        "符合条件教师名单",
        "本校派出的教师",
    ] {
        assert!(
            text.contains(want),
            "the school page shows no {want}: {text}"
        );
    }
    save(&shots, "school.png", &full_page_png(&tab));

    // An id outside the principal's schools.
    tab.navigate_to(&format!("{base}/teachers/X1"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    let text = visible_text(&tab);
    assert!(text.contains("未找到或无权查看"), "{text}");
    assert!(!text.contains("赵强"));
    save(&shots, "not-found.png", &full_page_png(&tab));

    // The same teacher page in English.
    tab.navigate_to(&format!("{base}/teachers/T1?as_of={AS_OF}&lang=en"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    let text = visible_text(&tab);
    assert!(
        text.contains("Term progress") && text.contains("王芳"),
        "{text}"
    );
    save(&shots, "teacher-en.png", &full_page_png(&tab));

    // Sign out with the header's button (a POST carrying the CSRF token), then in as the
    // bureau's admin for the district and audit pages.
    tab.wait_for_element("header form button")
        .unwrap()
        .click()
        .unwrap();
    let url = wait_for_url(&tab, |u| u.ends_with("/login"));
    assert!(url.ends_with("/login"), "{url}");
    tab.navigate_to(&format!("{base}/login?lang=zh"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    tab.wait_for_element("input[name=token]")
        .unwrap()
        .click()
        .unwrap();
    tab.type_str("tok-admin").unwrap();
    tab.press_key("Enter").unwrap();
    wait_for_url(&tab, |u| !u.ends_with("/login"));
    tab.wait_until_navigated().unwrap();
    let text = visible_text(&tab);
    assert!(text.contains("按教师编号查找"), "{text}");
    // The district page, reached by the home page's link, then asked about 2024/25.
    tab.wait_for_element("p.district-link a")
        .unwrap()
        .click()
        .unwrap();
    let url = wait_for_url(&tab, |u| u.contains("/district"));
    assert!(url.contains("/district"), "{url}");
    tab.wait_until_navigated().unwrap();
    tab.navigate_to(&format!("{base}/district?as_of={AS_OF}&year=2024"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    let text = visible_text(&tab);
    for want in [
        "全区交流轮岗概览",
        "各学年交流轮岗人数",
        "学区与教育集团",
        "第一学区",
        "各校交流比例完成情况",
        "未完成，尚缺 1 人",
        "低于最少人数的交流团队",
        "TM1",
    ] {
        assert!(
            text.contains(want),
            "the district page shows no {want}: {text}"
        );
    }
    // The chart is drawn: it has a size on screen, a bar per school year and labelled axes.
    let chart = tab.wait_for_element("#outflow-chart").unwrap();
    let model = chart.get_box_model().unwrap();
    assert!(
        model.width > 300.0 && model.height > 150.0,
        "{}x{}",
        model.width,
        model.height
    );
    let labels = tab
        .evaluate(
            "Array.from(document.querySelectorAll('#outflow-chart text')).map(t => t.textContent).join('|')",
            false,
        )
        .unwrap()
        .value
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    for want in ["学年", "人数", "2022/23", "2024/25"] {
        assert!(
            labels.split('|').any(|l| l == want),
            "{want} not in {labels}"
        );
    }
    save(&shots, "district.png", &full_page_png(&tab));
    tab.navigate_to(&format!("{base}/groups/G1?as_of={AS_OF}&year=2024"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    let text = visible_text(&tab);
    assert!(
        text.contains("第一学区") && text.contains("成员学校"),
        "{text}"
    );
    save(&shots, "group.png", &full_page_png(&tab));
    tab.navigate_to(&format!("{base}/audit"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    let text = visible_text(&tab);
    assert!(text.contains("最新签名检查点"), "{text}");
    save(&shots, "audit.png", &full_page_png(&tab));
    sheets_walk(&tab, &base, &shots);
}

/// The admin loads a roster as a clerk would: picks the file, checks it, reads which row is
/// refused and why, loads the rows that pass, and finds the new teacher.
fn sheets_walk(tab: &Tab, base: &str, shots: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("花名册.csv");
    std::fs::write(
        &file,
        "工号,姓名,学校,学科,职称,骨干级别,入校日期\n\
         T900,周晓梅,S1,语文,中级,,2016/9/1\n\
         T901,吴刚,S404,数学,高级,,2015年9月1日\n",
    )
    .unwrap();
    goto(tab, &format!("{base}/sheets"));
    let input = tab.wait_for_element("input[type=file]").unwrap();
    tab.call_method(headless_chrome::protocol::cdp::DOM::SetFileInputFiles {
        files: vec![file.display().to_string()],
        node_id: None,
        backend_node_id: Some(input.backend_node_id),
        object_id: None,
    })
    .unwrap();
    tab.wait_for_element("button[value=check]")
        .unwrap()
        .click()
        .unwrap();
    wait_for_text(tab, "S404");
    let text = visible_text(tab);
    assert!(
        text.contains("3\t学校\tschool.unknown"),
        "row, column, rule: {text}"
    );
    save(shots, "sheets.png", &full_page_png(tab));
    tab.wait_for_element("button[value=load]")
        .unwrap()
        .click()
        .unwrap();
    wait_for_text(tab, "已导入：1");
    let text = visible_text(tab);
    assert!(text.contains("拒绝：1"), "{text}");
    save(shots, "sheets-loaded.png", &full_page_png(tab));
    goto(tab, &format!("{base}/teachers/T900"));
    let text = visible_text(tab);
    assert!(text.contains("周晓梅"), "the loaded teacher: {text}");
}

/// Waits (at most 20 s) until the page's visible text holds `want`.
pub fn wait_for_text(tab: &Tab, want: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if js(tab, "document.readyState") == "complete" && visible_text(tab).contains(want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{want} never appeared: {}", visible_text(tab));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_in_a_real_browser() {
    let Some(path) = chromium_or_skip("console_browser") else {
        return;
    };
    bounded(180, async {
        let (_s, base) = server().await;
        let tmp = tempfile::tempdir().unwrap();
        let shots = match std::env::var_os("ROTALEDGER_SCREENSHOTS") {
            Some(d) => PathBuf::from(d),
            None => tmp.path().to_owned(),
        };
        std::fs::create_dir_all(&shots).unwrap();
        tokio::task::spawn_blocking(move || walk(path, base, shots))
            .await
            .unwrap();
    })
    .await;
}

// The auditor's checks on /audit, run by the page's JavaScript in the browser.

/// A server with the console's district and an auditor's token (besides the HR system that
/// appends the district, and a principal).
async fn auditor_server() -> (crate::util::TestServer, String) {
    let dir = tempfile::tempdir().unwrap();
    let text = crate::util::access_text(&[
        ("hr-system", "writer", "", "tok-writer"),
        ("auditor-1", "auditor", "", "tok-auditor"),
        ("head-s1", "principal", "S1", "tok-s1"),
    ]);
    let access =
        rotaledger::grpc::auth::Access::load(&crate::util::write_access_file(dir.path(), &text))
            .unwrap();
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", http.local_addr().unwrap());
    let witness =
        rotaledger::merkle::WitnessKey::from_seed("witness.audit.example/w1", &[3; 32]).unwrap();
    let keys = vec![witness.verifier()];
    let s = crate::util::TestServer::start_in(dir, |c| {
        c.access = access;
        c.http = Some(rotaledger::server::HttpListener::bound(http));
        c.ledger.witnesses.keys = keys;
    })
    .await;
    crate::console::scenario(&s).await;
    // A witness has cosigned the head: the audit page shows it (and its screenshots too).
    crate::util::cosign_offered(&s.connect(Some("tok-auditor")), &witness, 1_800_000_000).await;
    (s, base)
}

/// What an auditor's checks need to know, found out of band (not through the page).
struct AuditFacts {
    /// The ledger's verifier key, read from its key file on disk.
    key: rotaledger::merkle::CheckpointKey,
    /// The log's origin and size.
    origin: String,
    size: u64,
    /// Entry 3's hash and the log's root, as the server's JSON API states them.
    entry3_hash: String,
    root: String,
}

/// Headless Chromium on a fresh `profile`, in Chinese, 1280x900; `idle`: how long
/// headless_chrome keeps a connection that has had no browser event.
pub fn launch(browser_path: PathBuf, profile: &Path, idle: Duration) -> Browser {
    let args: Vec<&OsStr> = [
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--lang=zh-CN",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    let options = LaunchOptions::default_builder()
        .path(Some(browser_path))
        .headless(true)
        .sandbox(false)
        .user_data_dir(Some(profile.to_owned()))
        .window_size(Some((1280, 900)))
        .idle_browser_timeout(idle)
        .args(args)
        .build()
        .unwrap();
    Browser::new(options).expect("Chromium starts")
}

/// Waits (at most 20 s) until the tab's URL satisfies `arrived`: a click or a key starts
/// its navigation asynchronously, so the next step must not read the page being left.
pub fn wait_for_url(tab: &Tab, arrived: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !arrived(&tab.get_url()) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    tab.get_url()
}

/// Opens `url` and waits until its new document has loaded (polled: a navigation's events
/// can be missed by the time the wait starts).
pub fn goto(tab: &Tab, url: &str) {
    // Marks the page being left, so its own "complete" is not taken for the new one's.
    tab.evaluate("window.leaving = 1", false).unwrap();
    tab.navigate_to(url).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let here = tab.get_url();
        let ready = js(tab, "window.leaving === 1 ? 'old' : document.readyState");
        if here == url && ready == "complete" {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{url} did not load: at {here}, {ready}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn sign_in(tab: &Tab, base: &str, token: &str) {
    goto(tab, &format!("{base}/login?lang=zh"));
    tab.wait_for_element("input[name=token]")
        .unwrap()
        .click()
        .unwrap();
    tab.type_str(token).unwrap();
    tab.press_key("Enter").unwrap();
    wait_for_url(tab, |u| !u.ends_with("/login?lang=zh"));
    tab.wait_until_navigated().unwrap();
}

/// The value of a JavaScript expression as a string.
pub fn js(tab: &Tab, expr: &str) -> String {
    tab.evaluate(expr, false)
        .unwrap()
        .value
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Replaces a field's text the way a person does: click it, select all, type.
fn type_into(tab: &Tab, selector: &str, text: &str) {
    tab.evaluate(
        &format!("document.querySelector('{selector}').value = ''"),
        false,
    )
    .unwrap();
    tab.wait_for_element(selector).unwrap().click().unwrap();
    tab.type_str(text).unwrap();
}

/// Clicks a button and waits for the verdict under it: (`pass`/`fail`, reason code, text).
fn run_check(tab: &Tab, button: &str, result: &str) -> (String, String, String) {
    tab.evaluate(
        &format!("document.getElementById('{result}').dataset.verdict = 'clicked'"),
        false,
    )
    .unwrap();
    tab.wait_for_element(&format!("#{button}"))
        .unwrap()
        .click()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let v = js(
            tab,
            &format!("document.getElementById('{result}').dataset.verdict"),
        );
        if v == "pass" || v == "fail" {
            return (
                v,
                js(
                    tab,
                    &format!("document.getElementById('{result}').dataset.reason"),
                ),
                js(
                    tab,
                    &format!("document.getElementById('{result}').innerText"),
                ),
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no verdict in #{result}: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The auditor's walk: the right key passes, a wrong key fails, a checkpoint whose root was
/// altered (signed by a key the auditor chose to trust) fails the inclusion check.
fn audit_walk(browser_path: PathBuf, base: String, shots: PathBuf, facts: AuditFacts) {
    let profile = tempfile::tempdir().unwrap();
    // The walk types many keys without a navigation: a long idle allowance.
    let browser = launch(browser_path, profile.path(), Duration::from_secs(600));
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(20));
    sign_in(&tab, &base, "tok-auditor");
    goto(&tab, &format!("{base}/audit"));
    let text = visible_text(&tab);
    assert!(
        text.contains("在浏览器中核验") && text.contains("服务器以外的渠道"),
        "{text}"
    );
    let vk = facts.key.verifier().to_string();

    // The right key, pasted: the signature passes, with the values of the verified note.
    type_into(&tab, "#verifier-key", &vk);
    let (v, why, text) = run_check(&tab, "check-signature", "signature-result");
    assert_eq!((v.as_str(), why.as_str()), ("pass", ""), "{text}");
    for want in [
        "通过",
        vk.as_str(),
        "您提供的公钥",
        "服务器的最新检查点",
        facts.origin.as_str(),
        facts.root.as_str(),
    ] {
        assert!(text.contains(want), "the verdict shows no {want}: {text}");
    }
    assert!(text.contains(&facts.size.to_string()), "{text}");

    // Entry 3: its hash computed in the page, its proof walked to the signed root.
    type_into(&tab, "#entry-seq", "3");
    let (v, _, text) = run_check(&tab, "check-inclusion", "inclusion-result");
    assert_eq!(v, "pass", "{text}");
    assert!(
        text.contains("第 3 条记录包含在已签名的")
            && text.contains(&facts.entry3_hash)
            && text.contains(&facts.root),
        "{text}"
    );
    save(&shots, "audit-verified.png", &full_page_png(&tab));

    // The key is remembered in this browser: a fresh load of the page has it.
    goto(&tab, &format!("{base}/audit"));
    tab.wait_for_element("#verifier-key").unwrap();
    assert_eq!(
        js(&tab, "document.getElementById('verifier-key').value"),
        vk
    );

    // An entry past the end of the signed log: refused before anything is fetched.
    type_into(&tab, "#entry-seq", &facts.size.to_string());
    let (v, why, text) = run_check(&tab, "check-inclusion", "inclusion-result");
    assert_eq!(
        (v.as_str(), why.as_str()),
        ("fail", "seq_out_of_range"),
        "{text}"
    );

    // A wrong key: another key under the ledger's own name, and a key of another name.
    let same_name =
        rotaledger::merkle::CheckpointKey::generate_for(crate::util::profile(), facts.key.name())
            .unwrap();
    type_into(&tab, "#verifier-key", &same_name.verifier().to_string());
    let (v, why, text) = run_check(&tab, "check-signature", "signature-result");
    assert_eq!(
        (v.as_str(), why.as_str()),
        ("fail", "key_id_differs"),
        "{text}"
    );
    assert!(
        text.contains("未通过") && text.contains("密钥编号不同"),
        "{text}"
    );
    type_into(&tab, "#entry-seq", "3");
    let (v, why, text) = run_check(&tab, "check-inclusion", "inclusion-result");
    assert_eq!(
        (v.as_str(), why.as_str()),
        ("fail", "checkpoint_unverified"),
        "{text}"
    );
    let stranger =
        rotaledger::merkle::CheckpointKey::generate_for(crate::util::profile(), "stranger.example")
            .unwrap();
    type_into(&tab, "#verifier-key", &stranger.verifier().to_string());
    let (v, why, text) = run_check(&tab, "check-signature", "signature-result");
    assert_eq!(
        (v.as_str(), why.as_str()),
        ("fail", "no_signature"),
        "{text}"
    );
    // A key with one character changed no longer matches its key id.
    let mut typo = vk.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == 'A' { 'B' } else { 'A' });
    type_into(&tab, "#verifier-key", &typo);
    let (v, why, text) = run_check(&tab, "check-signature", "signature-result");
    assert_eq!(v, "fail", "{text}");
    assert!(
        ["key_id_mismatch", "key_malformed", "key_invalid_point"].contains(&why.as_str()),
        "{why}: {text}"
    );

    // The server's own key, offered as a convenience, says it proves nothing.
    tab.wait_for_element("#use-server-key")
        .unwrap()
        .click()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while js(&tab, "document.getElementById('verifier-key').value") != vk
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let (v, _, text) = run_check(&tab, "check-signature", "signature-result");
    assert_eq!(v, "pass", "{text}");
    assert!(
        text.contains("本服务器提供的公钥，不能证明任何事"),
        "{text}"
    );
    assert!(visible_text(&tab).contains("什么也证明不了"));

    // The proof walk itself: a witness key the auditor trusts signs two checkpoints of the
    // log's size, one with the true root, one with the root altered. Both signatures pass;
    // the inclusion of entry 3 passes against the first and fails against the second, so the
    // page computes the root from the entry and the proof rather than taking it on trust.
    // A key of the log's type: its profile is the hash the page checks the entry with.
    let witness =
        rotaledger::merkle::CheckpointKey::generate_for(crate::util::profile(), "witness.example")
            .unwrap();
    let mut root = hex::decode(&facts.root).unwrap();
    let note = |root: &[u8]| {
        rotaledger::merkle::Checkpoint::new(
            &facts.origin,
            facts.size,
            root.try_into().unwrap(),
            chrono::Utc::now(),
        )
        .unwrap()
        .sign(&witness)
        .unwrap()
        .to_text()
    };
    let honest = note(&root);
    root[31] ^= 1;
    let altered = note(&root);
    type_into(&tab, "#verifier-key", &witness.verifier().to_string());
    tab.wait_for_element("#advanced summary")
        .unwrap()
        .click()
        .unwrap();
    for (text_of_note, want, reason) in [(&honest, "pass", ""), (&altered, "fail", "root_mismatch")]
    {
        // Pasted: a paste sets the text area's value at once.
        tab.evaluate(
            &format!(
                "document.getElementById('note-text').value = {}",
                serde_json::to_string(text_of_note).unwrap()
            ),
            false,
        )
        .unwrap();
        let (v, why, text) = run_check(&tab, "check-signature", "signature-result");
        assert_eq!((v.as_str(), why.as_str()), ("pass", ""), "{text}");
        assert!(text.contains("粘贴的检查点"), "{text}");
        let (v, why, text) = run_check(&tab, "check-inclusion", "inclusion-result");
        assert_eq!((v.as_str(), why.as_str()), (want, reason), "{text}");
        if want == "fail" {
            assert!(
                text.contains("树根不同") && text.contains(&facts.root),
                "{text}"
            );
            save(&shots, "audit-root-altered.png", &full_page_png(&tab));
        }
    }

    // In English: the same check, the same verdict, in English words.
    goto(&tab, &format!("{base}/audit?lang=en"));
    type_into(&tab, "#verifier-key", &vk);
    let (v, _, text) = run_check(&tab, "check-signature", "signature-result");
    assert_eq!(v, "pass", "{text}");
    assert!(
        text.contains("Passed") && text.contains("the key you supplied"),
        "{text}"
    );
    // A principal's session reaches neither the page nor, through its cookie, the API.
    goto(&tab, &format!("{base}/audit?lang=zh"));
    tab.wait_for_element("header form button")
        .unwrap()
        .click()
        .unwrap();
    wait_for_url(&tab, |u| u.ends_with("/login"));
    sign_in(&tab, &base, "tok-s1");
    goto(&tab, &format!("{base}/audit"));
    let text = visible_text(&tab);
    assert!(!text.contains("在浏览器中核验"), "{text}");
    assert!(!text.contains("\u{2014} "), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_checks_the_log_in_a_real_browser() {
    let Some(path) = chromium_or_skip("console_browser") else {
        return;
    };
    bounded(420, async {
        let (s, base) = auditor_server().await;
        let key =
            rotaledger::merkle::CheckpointKey::load(&s.dir.path().join("data/checkpoint.key"))
                .unwrap();
        let api = |path: &str| {
            let url = format!("{base}{path}");
            async move {
                reqwest::Client::new()
                    .get(url)
                    .bearer_auth("tok-auditor")
                    .send()
                    .await
                    .unwrap()
                    .json::<serde_json::Value>()
                    .await
                    .unwrap()
            }
        };
        let pk = api("/api/v1/public-key").await;
        assert_eq!(pk["verifier_key"], key.verifier().to_string());
        let head = api("/api/v1/head").await;
        let entries = api("/api/v1/entries?from=3&to=4").await;
        let facts = AuditFacts {
            origin: pk["origin"].as_str().unwrap().to_owned(),
            size: head["head"]["size"].as_u64().unwrap(),
            entry3_hash: entries["entries"][0]["hash"].as_str().unwrap().to_owned(),
            root: head["head"]["root"].as_str().unwrap().to_owned(),
            key,
        };
        assert!(facts.size > 4, "the district has entries");
        let tmp = tempfile::tempdir().unwrap();
        let shots = match std::env::var_os("ROTALEDGER_SCREENSHOTS") {
            Some(d) => PathBuf::from(d),
            None => tmp.path().to_owned(),
        };
        std::fs::create_dir_all(&shots).unwrap();
        tokio::task::spawn_blocking(move || audit_walk(path, base, shots, facts))
            .await
            .unwrap();
    })
    .await;
}

// A teacher signs in, sees their own record and prints their certificate.

/// A server with the console's district and a token for 王芳 (T1) herself.
async fn teacher_server() -> (crate::util::TestServer, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut text = crate::util::access_text(&[("hr-system", "writer", "", "tok-writer")]);
    text.push_str(&format!(
        "[[token]]\nname = \"teacher-T1\"\nrole = \"teacher\"\nteacher = \"T1\"\nhash = \"{}\"\n",
        rotaledger::grpc::auth::hash_token("tok-t1")
    ));
    let access =
        rotaledger::grpc::auth::Access::load(&crate::util::write_access_file(dir.path(), &text))
            .unwrap();
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", http.local_addr().unwrap());
    let s = crate::util::TestServer::start_in(dir, |c| {
        c.access = access;
        c.http = Some(rotaledger::server::HttpListener::bound(http));
    })
    .await;
    crate::console::scenario(&s).await;
    (s, base)
}

/// The pages of a PDF (its `/Type /Page` objects) and their media boxes, read from the
/// uncompressed object headers Chromium writes.
fn pdf_pages(pdf: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(pdf);
    let mut pages = Vec::new();
    let mut rest = text.as_ref();
    while let Some(at) = rest.find("/Type /Page") {
        rest = &rest[at + "/Type /Page".len()..];
        if rest.starts_with('s') {
            continue; // `/Type /Pages`: the page tree, not a page.
        }
        let end = rest.find("endobj").unwrap_or(rest.len());
        let object = &rest[..end];
        let media = object
            .find("/MediaBox")
            .map(|m| object[m..].split(']').next().unwrap_or("").to_owned())
            .unwrap_or_default();
        pages.push(media);
    }
    pages
}

fn teacher_walk(browser_path: PathBuf, base: String, shots: PathBuf, key: PathBuf) {
    let profile = tempfile::tempdir().unwrap();
    let browser = launch(browser_path, profile.path(), Duration::from_secs(60));
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(20));

    // Signed in, the teacher's home is her own record.
    sign_in(&tab, &base, "tok-t1");
    let url = wait_for_url(&tab, |u| u.contains("/teachers/T1"));
    assert!(url.ends_with("/teachers/T1"), "{url}");
    let text = visible_text(&tab);
    for want in [
        "王芳",
        "交流期限进度",
        "晋升资格",
        "全部记录",
        "查看并打印交流轮岗证明",
    ] {
        assert!(
            text.contains(want),
            "the teacher's page shows no {want}: {text}"
        );
    }
    // Nobody else's: another teacher's page is the "not found" page.
    goto(&tab, &format!("{base}/teachers/T2"));
    assert!(!visible_text(&tab).contains("李明"));

    // The printable certificate.
    goto(
        &tab,
        &format!("{base}/teachers/T1/certificate?as_of={AS_OF}"),
    );
    let text = visible_text(&tab);
    for want in [
        "交流轮岗证明",
        "王芳",
        "第一实验小学",
        "阳光小学",
        "2022-09-01",
        "2025-09-01",
        "2022/2023",
        "良好",
        "优秀",
        "晋升资格结论",
        "符合",
        "证明哈希",
    ] {
        assert!(
            text.contains(want),
            "the certificate shows no {want}: {text}"
        );
    }
    let qr = js(
        &tab,
        "String(document.querySelectorAll('figure.qr svg rect, figure.qr svg path').length)",
    );
    assert_ne!(qr, "0", "no QR code drawn");
    save(&shots, "certificate.png", &full_page_png(&tab));

    // Printed: one A4 page (595 x 842 points), without the console's header.
    let pdf = tab
        .print_to_pdf(Some(headless_chrome::types::PrintToPdfOptions {
            prefer_css_page_size: Some(true),
            print_background: Some(true),
            ..Default::default()
        }))
        .unwrap();
    std::fs::write(profile.path().join("certificate.pdf"), &pdf).unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    // How the page looks on paper, for a person to look at: print styles, the width of A4
    // inside its margins (210 - 2 x 14 mm = 182 mm, 688 CSS pixels).
    tab.call_method(
        headless_chrome::protocol::cdp::Emulation::SetEmulatedMedia {
            media: Some("print".into()),
            features: None,
        },
    )
    .unwrap();
    tab.evaluate("document.body.style.width = '182mm'", false)
        .unwrap();
    save(&shots, "certificate-print.png", &page_png(&tab, 688.0));
    tab.evaluate("document.body.style.width = ''", false)
        .unwrap();
    tab.call_method(
        headless_chrome::protocol::cdp::Emulation::SetEmulatedMedia {
            media: Some(String::new()),
            features: None,
        },
    )
    .unwrap();
    let pages = pdf_pages(&pdf);
    assert_eq!(
        pages.len(),
        1,
        "the certificate prints on {} pages",
        pages.len()
    );
    let size: Vec<f64> = pages[0]
        .trim_start_matches("/MediaBox [")
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    let a4 = size.len() == 4 && (size[2] - 595.3).abs() < 2.0 && (size[3] - 841.9).abs() < 2.0;
    assert!(a4, "not A4 (595 x 842 points): {}", pages[0]);

    // The JSON download, as the page links it, verifies offline.
    let file = tab
        .evaluate(
            "(async () => { const a = document.querySelector('a[download]'); \
             return await (await fetch(a.href)).text(); })()",
            true,
        )
        .unwrap()
        .value
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let path = profile.path().join("certificate.json");
    std::fs::write(&path, file).unwrap();
    let out = std::process::Command::new(crate::util::bin())
        .args(["audit", "certificate"])
        .arg(&path)
        .arg("--key")
        .arg(&key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("姓名: 王芳"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teacher_prints_their_certificate_in_a_real_browser() {
    let Some(path) = chromium_or_skip("console_browser") else {
        return;
    };
    bounded(180, async {
        let (s, base) = teacher_server().await;
        let tmp = tempfile::tempdir().unwrap();
        let key = rotaledger::merkle::CheckpointKey::load(
            &s.dir.path().join("data").join("checkpoint.key"),
        )
        .unwrap();
        let key_file = tmp.path().join("ledger.pub");
        std::fs::write(&key_file, format!("{}\n", key.verifier())).unwrap();
        let shots = match std::env::var_os("ROTALEDGER_SCREENSHOTS") {
            Some(d) => PathBuf::from(d),
            None => tmp.path().to_owned(),
        };
        std::fs::create_dir_all(&shots).unwrap();
        tokio::task::spawn_blocking(move || teacher_walk(path, base, shots, key_file))
            .await
            .unwrap();
    })
    .await;
}
