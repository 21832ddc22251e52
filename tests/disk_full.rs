//! A full disk through the real server: the server runs on a small tmpfs until it fills.
//! The append that meets the full disk, and every one after it until a restart, is answered
//! `RESOURCE_EXHAUSTED` with reason `STORAGE_FULL` (not "retry now", not `INTERNAL`), and the
//! log holds exactly the appends that were acknowledged.
//!
//! Mounting a tmpfs needs root; elsewhere the test says so and passes without running, unless
//! `ROTALEDGER_REQUIRE_TMPFS=1` asks for it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rotaledger::proto;
use tonic_types::StatusExt;

use crate::util::{ServeProc, bounded, school_event};

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_resource_exhausted_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let _fs = match Tmpfs::mount(&mnt, "6m") {
        Ok(fs) => fs,
        Err(why) if std::env::var("ROTALEDGER_REQUIRE_TMPFS").as_deref() != Ok("1") => {
            eprintln!("skipped: cannot mount a tmpfs ({why}); run as root to test a full disk");
            return;
        }
        Err(why) => panic!("cannot mount a tmpfs ({why}) and ROTALEDGER_REQUIRE_TMPFS=1"),
    };
    let data = mnt.join("data");
    let mut server = ServeProc::start_with(&data, &[]);
    bounded(240, async {
        server.ready().await;
        let mut ledger = server.connect().ledger().await.unwrap();
        let mut acked = 0u64;
        let mut full = None;
        // Appends of 50 schools (~25 KiB of entries) until the disk is full: 6 MiB holds a
        // few hundred of them at most.
        for i in 0..2000u64 {
            let events = (i * 50..(i + 1) * 50).map(school_event).collect();
            match ledger
                .append(proto::AppendRequest {
                    events,
                    request_id: format!("r{i}"),
                    expected_size: None,
                })
                .await
            {
                Ok(r) => acked += r.into_inner().seqs.len() as u64,
                Err(s) => {
                    full = Some((i, s));
                    break;
                }
            }
        }
        let (at, status) = full.expect("6 MiB never filled up");
        let reason = |s: &tonic::Status| {
            s.get_error_details()
                .error_info()
                .map(|i| i.reason.clone())
                .unwrap_or_default()
        };
        assert_eq!(
            (status.code(), reason(&status).as_str()),
            (tonic::Code::ResourceExhausted, "STORAGE_FULL"),
            "append {at}: {status:?}"
        );
        assert!(
            status.message().contains("disk full"),
            "{}",
            status.message()
        );
        // The writer takes nothing more until restarted, and says why the same way.
        let again = ledger
            .append(proto::AppendRequest {
                events: vec![school_event(1_000_000)],
                request_id: "after".into(),
                expected_size: None,
            })
            .await
            .expect_err("appends after a full disk are refused");
        assert_eq!(
            (again.code(), reason(&again).as_str()),
            (tonic::Code::ResourceExhausted, "STORAGE_FULL"),
            "{again:?}"
        );
        assert!(acked > 0, "some appends fit before the disk filled");
        eprintln!("disk full at append {at}, after {acked} acknowledged entries");
        // Nothing acknowledged is missing, nothing unacknowledged is there: the committed
        // head is exactly the acknowledged entries.
        let head = ledger
            .get_head(proto::GetHeadRequest {})
            .await
            .unwrap()
            .into_inner()
            .head
            .unwrap();
        assert_eq!(head.size, acked);
    })
    .await;
    server.kill();
    // Let the killed process release the mount before it is unmounted.
    std::thread::sleep(Duration::from_millis(200));
}
