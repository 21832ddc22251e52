//! How `rotaledger serve` starts: an open server on a public address is refused before it
//! says it listens; while the ledger opens, health answers `NOT_SERVING` and every call
//! `UNAVAILABLE` at once; `ready` is logged and health turns `SERVING` when it serves.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use rotaledger::proto;

use crate::util::{ServeProc, TestServer, append_schools, bin, bounded};

/// Runs `rotaledger serve ARGS...` and expects it to exit within 60 s: exit code, stdout,
/// stderr.
fn serve_until_exit(args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(bin())
        .arg("serve")
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after 60 s: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn without_an_access_file_a_public_address_is_refused_before_anything_listens() {
    let dir = tempfile::tempdir().unwrap();
    for (listen, extra) in [
        ("0.0.0.0:0", &[][..]),
        ("[::]:0", &[][..]),
        // The demo would otherwise generate and load a district before refusing.
        ("0.0.0.0:0", &["--demo"][..]),
    ] {
        let data = dir.path().join(format!("data-{}", extra.len()));
        let data_s = data.to_str().unwrap();
        let mut args = vec!["--data", data_s, "--listen", listen];
        args.extend_from_slice(extra);
        let (code, out, err) = serve_until_exit(&args);
        let all = format!("{out}{err}");
        assert_eq!(code, 2, "{args:?}: {all}");
        assert!(!all.contains("listening"), "{args:?}: {all}");
        assert!(
            err.contains("refusing to listen on")
                && err.contains("without an access file")
                && err.contains("--config"),
            "{args:?}: {err}"
        );
        // Refused before the ledger was opened or created.
        assert!(!data.exists(), "{args:?}: {} was created", data.display());
    }
}

/// Replaces the checkpoint key file with a FIFO: opening the ledger blocks on reading the key
/// until the test writes it, however fast the machine. Returns the key's text.
pub(crate) fn key_as_fifo(data: &Path) -> Vec<u8> {
    let key_path = data.join("checkpoint.key");
    let key = std::fs::read(&key_path).unwrap();
    std::fs::remove_file(&key_path).unwrap();
    let made = Command::new("mkfifo")
        .args(["-m", "600"])
        .arg(&key_path)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo");
    key
}

/// Health of `service` ("" for the server), answered within 30 s or a panic.
async fn health(url: &str, service: &str) -> i32 {
    let ask = async {
        let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut h = HealthClient::new(channel);
        h.check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
    };
    tokio::time::timeout(Duration::from_secs(30), ask)
        .await
        .unwrap_or_else(|_| panic!("Health/Check of {service:?} did not answer"))
}

/// Waits (bounded) for a line containing `needle` in the file `log`.
pub(crate) async fn log_line(log: &Path, needle: &str) -> String {
    for _ in 0..3000 {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.contains(needle)) {
            return l.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no {needle:?} in the log");
}

pub(crate) const READY: &str = "ready: serving the ledger";

const SERVICES: [&str; 4] = [
    "",
    "rotaledger.v1.Ledger",
    "rotaledger.v1.Audit",
    "rotaledger.v1.Query",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_not_serving_while_the_ledger_opens_and_serving_once_ready() {
    bounded(180, async {
        // A store of 5 entries, closed.
        let s = TestServer::start().await;
        append_schools(&s, "seed", 0, 5).await;
        let dir = s.stop().await;
        let data = dir.path().join("data");
        let key = key_as_fifo(&data);
        let log = dir.path().join("serve.log");
        let p = ServeProc::start_logged(&data, &[], &log);

        // The open is blocked on the key: everything below is answered while it is.
        for service in SERVICES {
            assert_eq!(
                health(&p.url, service).await,
                ServingStatus::NotServing as i32,
                "{service:?}"
            );
        }
        let refused = tokio::time::timeout(Duration::from_secs(30), async {
            p.connect()
                .ledger()
                .await
                .unwrap()
                .get_head(proto::GetHeadRequest {})
                .await
        })
        .await
        .expect("GetHead answered while the ledger opens")
        .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
        assert!(refused.message().contains("opening"), "{refused:?}");
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            !text.contains(READY),
            "ready before the ledger opened: {text}"
        );

        // Let the open finish. Opening the FIFO for writing waits for the server's read,
        // which is waiting already.
        let key_path = data.join("checkpoint.key");
        let writer = std::thread::spawn(move || std::fs::write(key_path, key));
        let ready = log_line(&log, READY).await;
        assert!(ready.contains("entries=5"), "{ready}");
        writer.join().unwrap().unwrap();
        for service in SERVICES {
            assert_eq!(
                health(&p.url, service).await,
                ServingStatus::Serving as i32,
                "{service:?}"
            );
        }
        let head = p
            .connect()
            .ledger()
            .await
            .unwrap()
            .get_head(proto::GetHeadRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(head.head.unwrap().size, 5);
    })
    .await;
}

/// SIGTERM while the ledger opens: the server stops accepting, waits for the open to end,
/// closes the ledger and exits 0, leaving a store that verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_while_the_ledger_opens_closes_it_once_open() {
    bounded(180, async {
        let s = TestServer::start().await;
        append_schools(&s, "seed", 0, 3).await;
        let dir = s.stop().await;
        let data = dir.path().join("data");
        let key = key_as_fifo(&data);
        let log = dir.path().join("serve.log");
        let mut p = ServeProc::start_logged(&data, &[], &log);
        assert_eq!(health(&p.url, "").await, ServingStatus::NotServing as i32);
        let term = Command::new("kill")
            .args(["-TERM", &p.child.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        log_line(&log, "shutting down while the ledger opens").await;
        let key_path = data.join("checkpoint.key");
        let writer = std::thread::spawn(move || std::fs::write(key_path, key));
        let mut code = None;
        for _ in 0..3000 {
            if let Some(st) = p.child.try_wait().unwrap() {
                code = st.code();
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        writer.join().unwrap().unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(code, Some(0), "{text}");
        assert!(!text.contains(READY), "{text}");
        // The store was closed: it opens offline at once and verifies.
        let out = Command::new(bin())
            .arg("verify")
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("3 entries"));
    })
    .await;
}
