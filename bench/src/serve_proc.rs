//! The real `rotaledger serve` in a process of its own, as users run it: the product binary
//! (found next to `rotaledger-bench`, or given), on a loopback port the server picks, stopped
//! with SIGTERM (its graceful shutdown) and, failing that, killed.
//!
//! Benchmarks that need the server's own figures (its CPU time, its resident memory) start it
//! this way, so that what `/proc/PID/...` says is the server's alone.

use std::ffi::OsStr;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rotaledger::cli::CliError;
use rotaledger::cli::client::{Connect, call};
use rotaledger::proto;

/// How long a server may take to announce its address.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a graceful stop may take before the server is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The `rotaledger` binary beside this program's own executable: `cargo build --release
/// --workspace` puts both in `target/release/`.
pub(crate) fn default_server_bin() -> Result<PathBuf, CliError> {
    let exe = std::env::current_exe().map_err(CliError::ctx("this program's path"))?;
    let bin = exe.with_file_name("rotaledger");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(CliError(format!(
            "no server binary at {} (build both with `cargo build --release --workspace`, or \
             give --server-bin)",
            bin.display()
        )))
    }
}

/// The server binary to run: `given` (`--server-bin`), else [`default_server_bin`]; an
/// error when it is not a file.
pub(crate) fn server_bin(given: Option<&Path>) -> Result<PathBuf, CliError> {
    let bin = match given {
        Some(b) => b.to_path_buf(),
        None => default_server_bin()?,
    };
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(CliError(format!(
            "no server binary at {} (--server-bin)",
            bin.display()
        )))
    }
}

/// A running `rotaledger serve` child process; stopped when dropped.
pub(crate) struct ServeProcess {
    child: Child,
    /// Its process id, for `/proc/PID/...`.
    pub(crate) pid: u32,
    /// `http://127.0.0.1:PORT`, from the server's first line.
    pub(crate) url: String,
}

impl ServeProcess {
    /// Starts `BIN serve --data DATA --listen 127.0.0.1:0 --http off ARGS...`, its log (at
    /// `RUST_LOG`'s level, `info` unless set) written to `log` (or dropped with `None`), and
    /// waits for the address it announces.
    pub(crate) fn start<S: AsRef<OsStr>>(
        bin: &Path,
        data: &Path,
        args: &[S],
        log: Option<&Path>,
    ) -> Result<ServeProcess, CliError> {
        let stderr = match log {
            Some(p) => Stdio::from(std::fs::File::create(p).map_err(CliError::ctx(p.display()))?),
            None => Stdio::null(),
        };
        let mut child = Command::new(bin)
            .arg("serve")
            .arg("--data")
            .arg(data)
            .args(["--listen", "127.0.0.1:0", "--http", "off"])
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(CliError::ctx(format!("starting {}", bin.display())))?;
        let pid = child.id();
        let stdout = child.stdout.take();
        let mut proc = ServeProcess {
            child,
            pid,
            url: String::new(),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(out) = stdout {
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(out);
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let _ = tx.send(line);
                // Keep draining, so the server never blocks on a full pipe.
                let _ = std::io::copy(&mut reader, &mut std::io::sink());
            });
        }
        let line = rx.recv_timeout(START_TIMEOUT).map_err(|_| {
            CliError(format!(
                "{} did not announce its address within {} s",
                bin.display(),
                START_TIMEOUT.as_secs()
            ))
        })?;
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| CliError(format!("the server's first line was {line:?}")))?;
        proc.url = format!("http://{addr}");
        Ok(proc)
    }

    /// Client settings for this server with `token`.
    pub(crate) fn connect(&self, token: Option<String>) -> Connect {
        Connect {
            server: self.url.clone(),
            token,
            token_file: None,
            tls_ca: None,
            json: false,
        }
    }

    /// Waits (at most [`START_TIMEOUT`]) until the ledger answers `GetHead`; returns its size.
    pub(crate) async fn ready(&self, token: Option<String>) -> Result<u64, CliError> {
        let deadline = Instant::now() + START_TIMEOUT;
        let c = self.connect(token);
        let mut last = String::from("no answer");
        while Instant::now() < deadline {
            match c.ledger().await {
                Ok(mut l) => match l.get_head(call(proto::GetHeadRequest {})).await {
                    Ok(h) => return Ok(h.into_inner().head.map_or(0, |h| h.size)),
                    Err(s) => last = s.message().to_owned(),
                },
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(CliError(format!("the server did not serve: {last}")))
    }

    /// Stops the server gracefully (SIGTERM, then SIGKILL after [`STOP_TIMEOUT`]); true if
    /// it exited with status 0 on its own.
    pub(crate) fn stop(mut self) -> bool {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> bool {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status.success();
        }
        let pid = libc::pid_t::try_from(self.pid).unwrap_or(0);
        if pid > 0 {
            // SAFETY: kill(2) on our own child's id, which is not reaped yet (so the id cannot
            // have been reused); no memory is involved.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(status)) => return status.success(),
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// CPU time a process has used so far (user + system, all its threads), in seconds, from
/// `/proc/PID/stat` (fields 14 and 15, in clock ticks of `sysconf(_SC_CLK_TCK)`).
pub(crate) fn cpu_seconds(pid: u32) -> Result<f64, CliError> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).map_err(CliError::ctx(&path))?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| CliError(format!("{path}: no command name")))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    let tick = |i: usize| -> Result<u64, CliError> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| CliError(format!("{path}: field {} unreadable", i + 3)))
    };
    let ticks = tick(11)? + tick(12)?;
    Ok(ticks as f64 / clock_ticks_per_second())
}

/// `sysconf(_SC_CLK_TCK)`: the unit of `/proc/PID/stat`'s times (100 on Linux in practice).
fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf takes no pointers and has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}
