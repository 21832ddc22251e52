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

/// The whole page as PNG (not just the window).
fn full_page_png(tab: &Tab) -> Vec<u8> {
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

fn save(dir: &Path, name: &str, png: &[u8]) {
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    std::fs::write(dir.join(name), png).unwrap();
}

fn visible_text(tab: &Tab) -> String {
    tab.wait_for_element("main")
        .unwrap()
        .get_inner_text()
        .unwrap()
}

/// The browser's walk through the console (blocking: headless_chrome drives Chromium over
/// a WebSocket on its own threads).
fn walk(browser_path: PathBuf, base: String, shots: PathBuf) {
    let profile = tempfile::tempdir().unwrap();
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
        .user_data_dir(Some(profile.path().to_owned()))
        .window_size(Some((1280, 900)))
        .idle_browser_timeout(Duration::from_secs(60))
        .args(args)
        .build()
        .unwrap();
    let browser = Browser::new(options).expect("Chromium starts");
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
    // The click starts the navigation asynchronously: wait for the URL to change.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !tab.get_url().contains("/schools/S1") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(tab.get_url().contains("/schools/S1"), "{}", tab.get_url());
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
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !tab.get_url().ends_with("/login") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(tab.get_url().ends_with("/login"), "{}", tab.get_url());
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
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while tab.get_url().ends_with("/login") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    tab.wait_until_navigated().unwrap();
    let text = visible_text(&tab);
    assert!(text.contains("按教师编号查找"), "{text}");
    // The district page, reached by the home page's link, then asked about 2024/25.
    tab.wait_for_element("p.district-link a")
        .unwrap()
        .click()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !tab.get_url().contains("/district") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(tab.get_url().contains("/district"), "{}", tab.get_url());
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_in_a_real_browser() {
    let Some(path) = chromium() else {
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
            "console_browser: skipped, Chromium is not installed (install it with: apt-get install -y chromium)"
        );
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
