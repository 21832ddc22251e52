//! The demo as a principal meets it: the real binary runs `serve --demo` (a small district),
//! the principal's token is read from what the demo prints, and headless Chromium signs in,
//! goes to the principal's school, finds a teacher from the due-to-rotate list by id, reads
//! the teacher's history and eligibility in Chinese, downloads the school's due-to-rotate
//! list, and is refused a teacher of another school. Then the demo's teacher signs in, sees
//! their own record, opens their certificate, and downloads it: it verifies against the
//! ledger's public key. Then SIGTERM, and a clean exit.
//!
//! Skipped without Chromium as `console_browser` is (a failure with
//! `ROTALEDGER_REQUIRE_BROWSER=1`).

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use headless_chrome::Tab;

use crate::console_browser::{chromium, chromium_or_skip, launch, visible_text};
use crate::util::{bin, bounded};

/// Teachers in the demo district: small, so that generating it takes seconds.
const TEACHERS: &str = "600";

/// How long the demo may take to generate, load and announce itself.
const READY_WITHIN: Duration = Duration::from_secs(120);

/// `rotaledger serve --demo` as a child process; SIGKILLed if the test fails before it stops
/// the server itself.
struct Demo {
    child: Child,
    /// The data directory the demo was given.
    data: PathBuf,
    /// Its stderr (the log), shown when something fails.
    log: PathBuf,
    /// What it printed on stdout so far.
    printed: Vec<String>,
}

impl Demo {
    fn output(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.printed.join("\n"),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }

    /// The value after `prefix` on a printed line.
    fn printed_after(&self, prefix: &str) -> Option<String> {
        self.printed
            .iter()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_owned()))
    }

    /// SIGTERM, then the exit status (bounded).
    fn terminate(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "kill -TERM {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return (st.code(), self.output());
            }
            assert!(
                Instant::now() < deadline,
                "the demo did not stop within 30 s of SIGTERM\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the demo on free loopback ports and waits until it has printed its sign-in tokens
/// (the lines that follow `listening on`), failing with its output after [`READY_WITHIN`].
fn start_demo(dir: &Path) -> Demo {
    let data = dir.join("demo");
    let log = dir.join("serve.log");
    let mut child = Command::new(bin())
        .arg("serve")
        .arg("--demo")
        .args(["--demo-teachers", TEACHERS])
        .arg("--data")
        .arg(&data)
        .args(["--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut demo = Demo {
        child,
        data,
        log,
        printed: Vec::new(),
    };
    let deadline = Instant::now() + READY_WITHIN;
    // The principal's line is the last the demo prints before it serves.
    while !demo
        .printed
        .iter()
        .any(|l| l.trim_start().starts_with("principal of school "))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => demo.printed.push(line),
            Err(_) => panic!(
                "the demo printed no principal token within {READY_WITHIN:?} (or exited)\n{}",
                demo.output()
            ),
        }
    }
    demo
}

/// The principal's school and token, from the line `  principal of school S: TOKEN`.
fn principal(demo: &Demo) -> (String, String) {
    let line = demo.printed_after("principal of school ").unwrap();
    let (school, token) = line
        .split_once(':')
        .unwrap_or_else(|| panic!("unexpected principal line {line:?}"));
    let (school, token) = (school.trim().to_owned(), token.trim().to_owned());
    assert!(
        !school.is_empty() && !token.is_empty(),
        "{line:?}\n{}",
        demo.output()
    );
    (school, token)
}

/// Waits (bounded) until `/readyz` answers 200.
async fn wait_ready(base: &str, demo: &Demo) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz never answered 200\n{}",
            demo.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A JSON API answer as the admin sees it.
async fn admin_json(base: &str, admin: &str, path: &str) -> serde_json::Value {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

fn str_at<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// A teacher the admin can see whose home and posting are both outside `school` (so
/// outside its principal's scope), from the district's terms.
async fn teacher_elsewhere(base: &str, admin: &str, school: &str) -> String {
    let terms = admin_json(base, admin, "/api/v1/terms").await;
    let terms = terms["terms"].as_array().cloned().unwrap_or_default();
    for t in terms
        .iter()
        .filter(|t| str_at(t, &["from_school"]) != Some(school))
        .filter(|t| str_at(t, &["to_school"]) != Some(school))
    {
        let Some(id) = str_at(t, &["teacher"]) else {
            continue;
        };
        let h = admin_json(base, admin, &format!("/api/v1/teachers/{id}/history")).await;
        let home = str_at(&h, &["summary", "home_school"]);
        let posted = str_at(&h, &["summary", "posted_at"]);
        if home.is_some() && home != Some(school) && posted != Some(school) {
            return id.to_owned();
        }
    }
    panic!("no teacher outside {school} among the demo's terms");
}

/// Waits (bounded) until the tab's URL satisfies `ok` and the page has loaded.
fn wait_for_url(tab: &Tab, what: &str, ok: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok(&tab.get_url()) {
        assert!(
            Instant::now() < deadline,
            "the browser did not reach {what}: at {}",
            tab.get_url()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    tab.wait_until_navigated().unwrap();
}

fn eval_string(tab: &Tab, js: &str) -> String {
    tab.evaluate(js, false)
        .unwrap()
        .value
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The path of `url` (after the origin).
fn path_of(url: &str) -> &str {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("")
}

/// What the walk found, for the checks done outside the browser.
struct Walked {
    /// The teacher found from the due-to-rotate list: id and name.
    teacher: (String, String),
    /// The due-to-rotate list's CSV link, as on the school page.
    csv_href: String,
    /// The session cookie (`name=value`) the browser holds.
    cookie: String,
}

/// The principal's walk in headless Chromium (blocking).
fn walk(browser_path: PathBuf, base: &str, school: &str, token: &str, other: &str) -> Walked {
    let profile = tempfile::tempdir().unwrap();
    let browser = launch(browser_path, profile.path(), Duration::from_secs(60));
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(20));

    // The console's address, as printed: it sends a stranger to the sign-in form.
    tab.navigate_to(&format!("{base}/"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    assert_eq!(path_of(&tab.get_url()), "/login", "{}", tab.get_url());
    let text = visible_text(&tab);
    assert!(text.contains("访问令牌"), "{text}");
    tab.wait_for_element("input[name=token]")
        .unwrap()
        .click()
        .unwrap();
    tab.type_str(token).unwrap();
    tab.wait_for_element("button[type=submit]")
        .unwrap()
        .click()
        .unwrap();
    wait_for_url(&tab, "the home page", |u| path_of(u) == "/");
    let text = visible_text(&tab);
    assert!(
        text.contains("您负责的学校") && text.contains(school),
        "signed in, the principal does not see their school {school}: {text}"
    );

    // To the school by the home page's link.
    tab.wait_for_element("ul.schools a")
        .unwrap()
        .click()
        .unwrap();
    let school_path = format!("/schools/{school}");
    wait_for_url(&tab, &school_path, |u| path_of(u).starts_with(&school_path));
    let text = visible_text(&tab);
    assert!(
        text.contains("应交流教师") && !text.contains("未找到或无权查看"),
        "{text}"
    );
    // The due-to-rotate list: the table after its heading, each row's id and name.
    let due = eval_string(
        &tab,
        r#"(() => {
            const h = Array.from(document.querySelectorAll('main h2'))
                .find(h => h.textContent.startsWith('应交流教师'));
            let e = h && h.nextElementSibling;
            while (e && e.tagName !== 'TABLE' && e.tagName !== 'H2') e = e.nextElementSibling;
            if (!e || e.tagName !== 'TABLE') return '';
            return Array.from(e.querySelectorAll('tbody tr'))
                .map(r => Array.from(r.cells).slice(0, 2).map(c => c.innerText.trim()).join('\t'))
                .join('\n');
        })()"#,
    );
    let due: Vec<(String, String)> = due
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(id, name)| (id.to_owned(), name.to_owned()))
        .collect();
    assert!(
        !due.is_empty(),
        "the demo's school {school} has nobody due to rotate: {text}"
    );
    let (teacher, name) = due[0].clone();
    assert_ne!(teacher, name, "the due list shows no name for {teacher}");
    let csv_href = eval_string(
        &tab,
        "(document.querySelector('p.downloads a[href*=\"/due.csv\"]') || {}).href || ''",
    );
    assert!(
        csv_href.contains(&format!("/schools/{school}/due.csv")),
        "no CSV link for the due-to-rotate list: {csv_href:?}"
    );

    // Back home, and find that teacher by id in the find box.
    tab.navigate_to(&format!("{base}/"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    tab.wait_for_element("form.find input[name=teacher]")
        .expect("the principal's home page has a find box for teachers")
        .click()
        .unwrap();
    tab.type_str(&teacher).unwrap();
    tab.press_key("Enter").unwrap();
    let teacher_path = format!("/teachers/{teacher}");
    wait_for_url(&tab, &teacher_path, |u| {
        path_of(u).starts_with(&teacher_path)
    });
    let text = visible_text(&tab);
    for want in [
        name.as_str(),
        "人事关系所在学校",
        school,
        "晋升资格",
        "交流轮岗经历（职称、职级晋升）",
        "已服务天数",
        "尚缺天数",
        "全部记录",
        "教师登记",
    ] {
        assert!(
            text.contains(want),
            "the teacher page of {teacher} shows no {want}: {text}"
        );
    }
    // Each eligibility verdict is a badge in Chinese, with its reasons beside it.
    let verdicts = eval_string(
        &tab,
        "Array.from(document.querySelectorAll('main .credit')).map(c => \
           (c.querySelector('h3 .ok, h3 .no') || {}).textContent + '|' \
           + (c.querySelector('p') || {}).textContent).join('\\n')",
    );
    let verdicts: Vec<&str> = verdicts.lines().collect();
    assert_eq!(verdicts.len(), 4, "{verdicts:?}");
    for v in &verdicts {
        let (badge, reasons) = v.split_once('|').unwrap();
        assert!(badge == "✔ 符合" || badge == "✘ 不符合", "{v}");
        assert!(
            reasons.contains("最低考核等次") || reasons.contains("已服务天数"),
            "a verdict without its reasons: {v}"
        );
    }
    // The timeline: one row per entry, the event named in Chinese, with its dates.
    let timeline = eval_string(
        &tab,
        r#"(() => {
            const h = Array.from(document.querySelectorAll('main h2'))
                .find(h => h.textContent.startsWith('全部记录'));
            let e = h && h.nextElementSibling;
            while (e && e.tagName !== 'TABLE') e = e.nextElementSibling;
            return e ? Array.from(e.querySelectorAll('tbody tr')).map(r => r.innerText).join('\n') : '';
        })()"#,
    );
    assert!(!timeline.is_empty(), "no timeline: {text}");
    assert!(
        !timeline.contains("teacher_registered"),
        "events not named in Chinese: {timeline}"
    );

    // Back to the school page by the profile's link.
    tab.wait_for_element("dl.profile a")
        .unwrap()
        .click()
        .unwrap();
    wait_for_url(&tab, &school_path, |u| path_of(u).starts_with(&school_path));
    assert!(visible_text(&tab).contains("应交流教师"));

    // A teacher of another school, by the same find box: the one "not found" page.
    tab.navigate_to(&format!("{base}/"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    tab.wait_for_element("form.find input[name=teacher]")
        .unwrap()
        .click()
        .unwrap();
    tab.type_str(other).unwrap();
    tab.press_key("Enter").unwrap();
    let other_path = format!("/teachers/{other}");
    wait_for_url(&tab, &other_path, |u| path_of(u).starts_with(&other_path));
    let text = visible_text(&tab);
    assert!(
        text.contains("未找到或无权查看") && !text.contains("全部记录"),
        "{other} of another school: {text}"
    );

    let cookie = tab
        .get_cookies()
        .unwrap()
        .into_iter()
        .map(|c| format!("{}={}", c.name, c.value))
        .collect::<Vec<_>>()
        .join("; ");
    Walked {
        teacher: (teacher, name),
        csv_href,
        cookie,
    }
}

/// The demo's teacher in headless Chromium (blocking): signed in, their home is their own
/// record, which links to their printable certificate.
fn teacher_walk(browser_path: PathBuf, base: &str, token: &str, teacher: &str) {
    let profile = tempfile::tempdir().unwrap();
    let browser = launch(browser_path, profile.path(), Duration::from_secs(60));
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(20));
    tab.navigate_to(&format!("{base}/"))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    tab.wait_for_element("input[name=token]")
        .unwrap()
        .click()
        .unwrap();
    tab.type_str(token).unwrap();
    tab.wait_for_element("button[type=submit]")
        .unwrap()
        .click()
        .unwrap();
    let own = format!("/teachers/{teacher}");
    wait_for_url(&tab, &own, |u| path_of(u) == own);
    let text = visible_text(&tab);
    assert!(
        text.contains(teacher)
            && text.contains("全部记录")
            && text.contains("查看并打印交流轮岗证明"),
        "{text}"
    );
    tab.wait_for_element("p.cert-link a")
        .unwrap()
        .click()
        .unwrap();
    let cert = format!("{own}/certificate");
    wait_for_url(&tab, &cert, |u| path_of(u).starts_with(&cert));
    let text = visible_text(&tab);
    assert!(
        text.contains("交流轮岗证明") && text.contains("证明哈希") && text.contains("晋升资格结论"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_walks_the_demo_in_a_browser() {
    let Some(browser_path) = chromium_or_skip("demo_walk") else {
        return;
    };
    bounded(300, async {
        let dir = tempfile::tempdir().unwrap();
        let demo = {
            let dir = dir.path().to_owned();
            tokio::task::spawn_blocking(move || start_demo(&dir))
                .await
                .unwrap()
        };
        let http = demo
            .printed_after("http listening on ")
            .unwrap_or_else(|| panic!("no console address printed\n{}", demo.output()));
        let base = format!("http://{http}");
        let (school, token) = principal(&demo);
        let admin = demo
            .printed_after("admin (bureau staff, /district):")
            .unwrap_or_else(|| panic!("no admin token printed\n{}", demo.output()));
        // The tokens printed are the ones the demo keeps for later starts.
        let kept = std::fs::read_to_string(demo.data.join("demo-tokens.txt")).unwrap();
        assert!(
            kept.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>()
                    == ["principal", school.as_str(), token.as_str()]),
            "{kept}"
        );
        wait_ready(&base, &demo).await;
        let other = teacher_elsewhere(&base, &admin, &school).await;

        let walked = {
            let (base, school, token, other) =
                (base.clone(), school.clone(), token.clone(), other.clone());
            tokio::task::spawn_blocking(move || walk(browser_path, &base, &school, &token, &other))
                .await
                .unwrap()
        };

        // The due-to-rotate list, downloaded with the browser's session.
        let r = reqwest::Client::new()
            .get(&walked.csv_href)
            .header("cookie", &walked.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", walked.csv_href);
        let disposition = r
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(disposition.contains("attachment"), "{disposition}");
        let bytes = r.bytes().await.unwrap();
        let csv = std::str::from_utf8(&bytes).expect("the CSV is UTF-8");
        let csv = csv.strip_prefix('\u{feff}').expect("a UTF-8 BOM for Excel");
        let mut lines = csv.lines();
        let header = lines.next().unwrap_or_default();
        assert!(header.starts_with("教师编号,姓名,"), "{header}");
        let (teacher, name) = &walked.teacher;
        assert!(
            lines.any(|l| l.starts_with(&format!("{teacher},{name},"))),
            "{teacher} {name} of {school} is not in the downloaded list:\n{csv}"
        );
        // The same link without the session is refused: the file is the principal's.
        let r = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(&walked.csv_href)
            .send()
            .await
            .unwrap();
        assert_ne!(r.status(), 200);

        // The demo's teacher: their record in the console, and a certificate that verifies
        // against the ledger's public key; another teacher's record refused.
        let line = demo
            .printed_after("teacher ")
            .unwrap_or_else(|| panic!("no teacher token printed\n{}", demo.output()));
        let (who, teacher_token) = line.split_once(':').unwrap();
        let teacher = who.split_whitespace().next().unwrap().to_owned();
        let teacher_token = teacher_token.trim().to_owned();
        {
            let (base, token, teacher) = (base.clone(), teacher_token.clone(), teacher.clone());
            let path = chromium().unwrap();
            tokio::task::spawn_blocking(move || teacher_walk(path, &base, &token, &teacher))
                .await
                .unwrap();
        }
        let http = reqwest::Client::new();
        let r = http
            .get(format!("{base}/api/v1/teachers/{teacher}/certificate"))
            .bearer_auth(&teacher_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let file = r.bytes().await.unwrap();
        let key = admin_json(&base, &admin, "/api/v1/public-key").await;
        let key: rotaledger::merkle::VerifierKey =
            str_at(&key, &["verifier_key"]).unwrap().parse().unwrap();
        let v = rotaledger::certificate::verify(&file, &key).unwrap();
        assert_eq!(v.statement.teacher, teacher);
        assert!(
            v.summary.name.is_some(),
            "the teacher's own certificate has no name"
        );
        assert!(!v.summary.dispatches.is_empty());
        let someone_else = [&other, &walked.teacher.0]
            .into_iter()
            .find(|t| **t != teacher)
            .unwrap();
        let r = http
            .get(format!("{base}/api/v1/teachers/{someone_else}/history"))
            .bearer_auth(&teacher_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);

        let (code, output) = tokio::task::spawn_blocking(move || demo.terminate())
            .await
            .unwrap();
        assert_eq!(code, Some(0), "SIGTERM is a clean exit\n{output}");
    })
    .await;
}
