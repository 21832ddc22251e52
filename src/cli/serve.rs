//! `rotaledger serve`: binds, loads the access file, sets up logs and signals, and runs the
//! server until SIGINT or SIGTERM.

use std::path::PathBuf;

use clap::Args;

use super::generate::check_lines_with;
use super::{CliError, Outcome, progress};
use crate::grpc::auth::Access;
use crate::ledger::Ledger;
use crate::ledger::LedgerOptions;
use crate::server::{self, DEFAULT_MAX_MESSAGE_BYTES, ServerConfig, TlsFiles};

/// Options of `rotaledger serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// The data directory (created on first start, with the checkpoint signing key).
    #[arg(long, default_value = DEFAULT_DATA)]
    pub data: PathBuf,
    /// Address to listen on. Without --config only a loopback address is allowed.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: String,
    /// The HTTP face (health, the JSON API, the console; docs/HTTP.md): an address, or
    /// `off`. Same access file, tokens, roles and scopes as gRPC; without --config only
    /// loopback. When the default address is taken the server says so and serves gRPC alone;
    /// an address given here must be free.
    #[arg(long, default_value = DEFAULT_HTTP, value_name = "ADDR|off")]
    pub http: String,
    /// Access file (TOML) mapping token hashes to roles; must not be readable by others.
    #[arg(long, env = "ROTALEDGER_CONFIG")]
    pub config: Option<PathBuf>,
    /// TLS certificate chain (PEM).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The log's name in signed checkpoints (e.g. `rotaledger/minhang`; a gm ledger's
    /// checkpoints add `/gm`).
    #[arg(long, default_value = "rotaledger")]
    pub origin: String,
    /// The crypto profile of a new data directory, fixed for the log's life: `blake3`
    /// (blake3 hashes, Ed25519 signatures, XChaCha20-Poly1305) or `gm`, the national
    /// algorithms for a 密评-assessed deployment (SM3, SM2, SM4-GCM). Without it, a new
    /// directory takes $ROTALEDGER_CRYPTO, else blake3; an existing one keeps its own, and
    /// naming another refuses to start.
    #[arg(long, value_enum)]
    pub crypto: Option<crate::crypto::Profile>,
    /// Most events in one append.
    #[arg(long, default_value_t = 1000)]
    pub max_events: usize,
    /// Largest gRPC message, in bytes, either way.
    #[arg(long, default_value_t = DEFAULT_MAX_MESSAGE_BYTES)]
    pub max_message_bytes: usize,
    /// Serve a demo district: on first start, generate a Minhang-shaped district with five
    /// school years of rotation (docs/GENERATE.md) and append it before serving. Unless
    /// --data names another, the demo keeps its own data directory, `rotaledger-demo`, so it
    /// never mixes with real data; later starts serve what is there.
    #[arg(long)]
    pub demo: bool,
    /// Teachers in the demo district (with --demo).
    #[arg(long, default_value_t = 15_000, requires = "demo")]
    pub demo_teachers: u32,
    /// Ignore the state snapshot (<data>/state.snapshot): replay and verify every entry
    /// before serving, as after a snapshot is deleted. Without it, a valid snapshot is loaded,
    /// only the entries after it are replayed and verified before serving, and the entries
    /// before it are verified in the background (a failure stops all service with
    /// DATA_LOSS). A missing or bad snapshot always means the full check.
    #[arg(long)]
    pub full_check: bool,
    /// The master key that wraps the personal-data keys (docs/PRIVACY.md): a file holding
    /// 64 hex digits. Default: <data>/master.key, made (mode 0600) on the first start of a new
    /// data directory. A real deployment keeps it on another disk or in a secrets store and
    /// gives it here. The key itself can also come in the ROTALEDGER_MASTER_KEY variable.
    #[arg(long, env = "ROTALEDGER_MASTER_KEY_FILE", value_name = "FILE")]
    pub master_key: Option<PathBuf>,
    /// Save the state snapshot every N committed entries, in the background (and always at
    /// shutdown), resting after each write nine times as long as it took, so snapshots take
    /// at most a tenth of the time however large the state; 0: only at shutdown.
    #[arg(long, default_value_t = crate::ledger::DEFAULT_SNAPSHOT_EVERY, value_name = "N")]
    pub snapshot_every: u64,
    /// Run as a read-only mirror of the primary at URL (docs/MIRRORS.md): copy its log,
    /// verifying every entry, link and Merkle root against the primary's signed checkpoints
    /// before serving it, and answer Query and Audit from the copy at its own head. Appends
    /// are refused (FAILED_PRECONDITION naming the primary). If the primary shows a history
    /// inconsistent with the copy, the mirror stops following, keeps serving what it
    /// verified (flagged in health and metrics) and writes the evidence to
    /// <data>/fork-evidence-*.json. The data directory must be the mirror's own.
    ///
    /// Given more than once, the server is a city view (docs/CITY.md): it follows every
    /// log so, each copied and verified in <data>/sources/<host_port>/, and answers the City
    /// service (a teacher's history and eligibility across the districts) instead of one
    /// ledger's services; how each copy stands is in City.Sources, /readyz and the logs.
    #[arg(long, value_name = "URL", conflicts_with = "demo")]
    pub follow: Vec<String>,
    /// A file holding the token the mirror reads the primary with (an auditor's, from
    /// `rotaledger token new --role auditor` on the primary). For a city view: once per
    /// --follow, in the same order; or once, and the same token is sent to every district.
    /// With --etcd: the token (of the mirror role) a standby reads the elected primary with.
    #[arg(long, value_name = "FILE")]
    pub follow_token: Vec<PathBuf>,
    /// The CA certificate (PEM) of an https:// primary (once, or once per --follow; with
    /// --etcd, of every node).
    #[arg(long, value_name = "FILE")]
    pub follow_tls_ca: Vec<PathBuf>,
    /// The primary's checkpoint key (its verifier key line, as `rotaledger checkpoint
    /// --json` or the primary's log at start shows it), pinned in <data>/primary.pub. Without
    /// it, the key the primary names on first contact is pinned; either way, a primary
    /// under another key later is refused. For a city view: once per --follow, in the
    /// same order (every district signs with its own key), or not at all.
    #[arg(long, value_name = "KEY", requires = "follow")]
    pub follow_key: Vec<String>,
    /// A witness whose cosignatures this log keeps and serves (docs/WITNESSES.md): a file
    /// holding its verifier key line (`rotaledger witness new-key` and `witness public-key`
    /// print it), or the line. At most 99 (a note carries at most 100 signature lines).
    /// Repeat for each witness. Readers then ask for a checkpoint carrying k of them
    /// (`rotaledger checkpoint --cosigned K`).
    #[arg(long = "witness-key", value_name = "KEY", conflicts_with = "follow")]
    pub witness_keys: Vec<String>,
    /// How long the checkpoint offered to witnesses waits for all of them to cosign it
    /// before the offer moves to the newest checkpoint.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::ledger::DEFAULT_WITNESS_INTERVAL.as_secs())]
    pub witness_interval: u64,
    /// Acknowledge an append only once at least N mirrors hold it durably too (synchronous
    /// mirroring, docs/MIRRORS.md): the loss of this machine's disk then loses no
    /// acknowledged append. The mirrors report with tokens of the `mirror` role. An append
    /// not confirmed within --sync-timeout is answered UNAVAILABLE (durable here, not
    /// acknowledged; retry with the same request id). 0: asynchronous.
    #[arg(long, value_name = "N", default_value_t = 0, conflicts_with = "follow")]
    pub sync_mirrors: usize,
    /// How long an append waits for the mirrors --sync-mirrors requires.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::ledger::DEFAULT_SYNC_TIMEOUT.as_secs_f64())]
    pub sync_timeout: f64,
    /// Elect the primary through etcd (docs/FAILOVER.md): every node of the log runs
    /// `serve` with the same --etcd, --checkpoint-key, --master-key and access file and its
    /// own --advertise; the node etcd's leader key names is the primary, the others follow
    /// it as standbys, and when its lease lapses the standby holding every acknowledged
    /// append (the latest term, then the longest log) takes over. Repeat for each etcd
    /// endpoint (`http://host:2379`).
    #[arg(long, value_name = "URL", conflicts_with_all = ["follow", "demo"])]
    pub etcd: Vec<String>,
    /// The URL other nodes and clients reach this node's gRPC at (with --etcd); it names the
    /// node. Default: http:// (https:// with --tls-cert) and the --listen address, when that
    /// is not a wildcard.
    #[arg(long, value_name = "URL", requires = "etcd")]
    pub advertise: Option<String>,
    /// The etcd keys of this log live under it (with --etcd). Default: /rotaledger/ and
    /// the --origin.
    #[arg(long, value_name = "PREFIX", requires = "etcd")]
    pub etcd_prefix: Option<String>,
    /// How long an elected primary stays primary without renewing its lease in etcd; the
    /// longest a failover waits before a standby takes over. At least 2.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::failover::DEFAULT_LEASE_TTL.as_secs(), requires = "etcd")]
    pub lease_ttl: u64,
    /// The checkpoint signing key file (default <data>/checkpoint.key, made on the first
    /// start). With --etcd every node must sign with the same key: give each the same file.
    #[arg(long, value_name = "FILE")]
    pub checkpoint_key: Option<PathBuf>,
}

/// The HTTP face's default address.
pub const DEFAULT_HTTP: &str = "127.0.0.1:8080";

/// Binds the HTTP face of `serve --http`: `None` for `off`, or when the default address is
/// taken (said on stderr); an address the user chose must be free.
fn bind_http(http: &str) -> Result<Option<std::net::TcpListener>, CliError> {
    if http == "off" {
        return Ok(None);
    }
    match std::net::TcpListener::bind(http) {
        Ok(l) => Ok(Some(l)),
        Err(e) if http == DEFAULT_HTTP => {
            tracing::warn!(
                error = %e,
                "HTTP face off: cannot listen on {DEFAULT_HTTP}; give --http ADDR (or --http off)"
            );
            Ok(None)
        }
        Err(e) => Err(CliError(format!("cannot listen on {http} (--http): {e}"))),
    }
}

/// The data directory `serve` uses by default.
pub const DEFAULT_DATA: &str = "rotaledger-data";
/// The data directory `serve --demo` uses unless `--data` names another.
pub const DEMO_DATA: &str = "rotaledger-demo";

/// Appends a generated demo district to an empty ledger; a ledger that holds entries is left
/// as it is. Refuses to serve a demo the ledger did not fully accept.
pub async fn load_demo(ledger: &Ledger, teachers: u32) -> Result<(), CliError> {
    if ledger.head().size > 0 {
        tracing::info!(
            entries = ledger.head().size,
            "demo: serving the existing log"
        );
        return Ok(());
    }
    let config = crate::generate::Config {
        teachers,
        ..Default::default()
    };
    let mut lines = Vec::new();
    let stats = crate::generate::generate(&config, &mut lines)
        .map_err(CliError::ctx("generating the demo district"))?;
    tracing::info!(
        teachers,
        events = stats.events,
        "demo: loading a generated district"
    );
    let bar = progress::entries(stats.events, "loading the demo district");
    let report = check_lines_with(ledger, lines.as_slice(), &mut |n| bar.set_position(n)).await;
    bar.finish_and_clear();
    let report = report?;
    if report.rejected > 0 {
        let first = report
            .first_rejections
            .first()
            .map(|(line, e)| format!("line {line}: {e}"))
            .unwrap_or_default();
        return Err(CliError(format!(
            "the ledger refused {} of {} demo lines (first: {first})",
            report.rejected, report.lines
        )));
    }
    tracing::info!(entries = report.entries, "demo: district loaded");
    Ok(())
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Completes on SIGINT or SIGTERM.
fn signalled() -> impl std::future::Future<Output = ()> + Send {
    // The handlers are installed now, not when the future is first polled: a SIGTERM that
    // comes while the ledger opens (or the demo loads) must find them, or it would kill the
    // process without a graceful shutdown.
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let int = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        async move {
            match (int, term) {
                (Ok(mut int), Ok(mut term)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                (int, term) => {
                    tracing::warn!(
                        interrupt = int.is_ok(),
                        terminate = term.is_ok(),
                        "cannot watch both SIGINT and SIGTERM; stopping on the one watched"
                    );
                    match (int, term) {
                        (Ok(mut s), _) | (_, Ok(mut s)) => {
                            s.recv().await;
                        }
                        _ => std::future::pending::<()>().await,
                    }
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The `n`-th of values given either once for every --follow or once per --follow.
fn nth<'a, T>(
    values: &'a [T],
    n: usize,
    follows: usize,
    flag: &str,
) -> Result<Option<&'a T>, CliError> {
    match values.len() {
        0 => Ok(None),
        1 if flag != "--follow-key" || follows == 1 => Ok(values.first()),
        k if k == follows => Ok(values.get(n)),
        k => Err(CliError(format!(
            "{k} {flag} given for {follows} --follow: give it once per --follow, in the same order{}",
            if flag == "--follow-key" {
                " (every district signs with its own key)"
            } else {
                ", or once for all"
            }
        ))),
    }
}

/// How to follow each log of `--follow`, its token, CA and key matched to it.
fn follow_configs(args: &ServeArgs) -> Result<Vec<crate::mirror::FollowConfig>, CliError> {
    let n = args.follow.len();
    args.follow
        .iter()
        .enumerate()
        .map(|(i, url)| {
            Ok(crate::mirror::FollowConfig {
                connect: crate::cli::client::Connect {
                    server: url.clone(),
                    token: None,
                    token_file: nth(&args.follow_token, i, n, "--follow-token")?.cloned(),
                    tls_ca: nth(&args.follow_tls_ca, i, n, "--follow-tls-ca")?.cloned(),
                    json: false,
                },
                key: nth(&args.follow_key, i, n, "--follow-key")?
                    .map(|k| {
                        k.trim()
                            .parse()
                            .map_err(|e| CliError(format!("--follow-key {url}: {e}")))
                    })
                    .transpose()?,
                retry: crate::mirror::DEFAULT_RETRY,
                term: None,
            })
        })
        .collect()
}

/// The election of `--etcd`, and how a standby reads the elected primary; `None` without
/// `--etcd`.
fn election_of(
    args: &ServeArgs,
) -> Result<Option<(crate::failover::Election, crate::failover::role::Peers)>, CliError> {
    if args.etcd.is_empty() {
        if args.follow.is_empty() {
            for (given, flag) in [
                (!args.follow_token.is_empty(), "--follow-token"),
                (!args.follow_tls_ca.is_empty(), "--follow-tls-ca"),
            ] {
                if given {
                    return Err(CliError(format!("{flag} needs --follow or --etcd")));
                }
            }
        }
        return Ok(None);
    }
    if args.follow_token.len() > 1 || args.follow_tls_ca.len() > 1 {
        return Err(CliError(
            "with --etcd, give --follow-token and --follow-tls-ca at most once (every primary is read alike)"
                .into(),
        ));
    }
    let Some(key_file) = &args.checkpoint_key else {
        return Err(CliError(
            "--etcd needs --checkpoint-key: every node signs with the same key (make it and a \
             master key with `rotaledger keys new-shared`, docs/FAILOVER.md)"
                .into(),
        ));
    };
    if args.master_key.is_none() && std::env::var_os(crate::privacy::MASTER_KEY_VAR).is_none() {
        return Err(CliError(
            "--etcd needs --master-key: every node holds the same master key, so that the \
             standby elected holds the teachers' data keys (docs/FAILOVER.md)"
                .into(),
        ));
    }
    // A deposed node sets its data directory aside whole: the keys every node shares must
    // live elsewhere.
    let inside = |p: &std::path::Path| {
        let abs = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
        abs(p).starts_with(abs(&args.data))
    };
    for (given, flag) in [
        (Some(key_file.as_path()), "--checkpoint-key"),
        (args.master_key.as_deref(), "--master-key"),
        (
            args.follow_token.first().map(|p| p.as_path()),
            "--follow-token",
        ),
        (
            args.follow_tls_ca.first().map(|p| p.as_path()),
            "--follow-tls-ca",
        ),
        (args.config.as_deref(), "--config"),
        (args.tls_cert.as_deref(), "--tls-cert"),
        (args.tls_key.as_deref(), "--tls-key"),
    ] {
        if let Some(p) = given
            && inside(p)
        {
            return Err(CliError(format!(
                "with --etcd, {flag} {} must not be inside --data {}: a node deposed with an \
                 unacknowledged tail sets its data directory aside whole, and the next run \
                 needs it",
                p.display(),
                args.data.display()
            )));
        }
    }
    let key = crate::merkle::CheckpointKey::load(key_file)
        .map_err(|e| CliError(format!("--checkpoint-key {}: {e}", key_file.display())))?;
    let advertise = match &args.advertise {
        Some(a) => a.clone(),
        None => match args.listen.parse::<std::net::SocketAddr>() {
            Ok(a) if !a.ip().is_unspecified() && a.port() != 0 => {
                let scheme = if args.tls_cert.is_some() {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{a}")
            }
            _ => {
                return Err(CliError(format!(
                    "--etcd needs --advertise URL: the address other nodes reach this one at \
                     (--listen {} does not say)",
                    args.listen
                )));
            }
        },
    };
    let ttl = std::time::Duration::from_secs(args.lease_ttl);
    if args.lease_ttl < 2 {
        return Err(CliError(format!(
            "--lease-ttl {}: at least 2 seconds",
            args.lease_ttl
        )));
    }
    let election = crate::failover::Election {
        endpoints: args.etcd.clone(),
        prefix: args
            .etcd_prefix
            .clone()
            .unwrap_or_else(|| format!("/rotaledger/{}", args.origin))
            .trim_end_matches('/')
            .to_owned(),
        advertise,
        ttl,
        sync_mirrors: args.sync_mirrors,
    };
    let peers = crate::failover::role::Peers {
        connect: crate::cli::client::Connect {
            server: String::new(),
            token: None,
            token_file: args.follow_token.first().cloned(),
            tls_ca: args.follow_tls_ca.first().cloned(),
            json: false,
        },
        key: key.verifier(),
    };
    Ok(Some((election, peers)))
}

/// `rotaledger serve`.
pub fn serve(args: ServeArgs) -> Result<Outcome, CliError> {
    init_logs();
    let election = election_of(&args)?;
    let mut follows = follow_configs(&args)?;
    let access = match &args.config {
        Some(p) => Access::load(p).map_err(|e| CliError(e.to_string()))?,
        None => Access::Open,
    };
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    let data = if args.demo && args.data == std::path::Path::new(DEFAULT_DATA) {
        PathBuf::from(DEMO_DATA)
    } else {
        args.data
    };
    let city = follows.len() > 1;
    let follow = if city { None } else { follows.pop() };
    let mirror_of = follow.as_ref().map(|f| f.connect.server.clone());
    let witness_keys = args
        .witness_keys
        .iter()
        .map(|k| crate::cli::audit::witness_key(k))
        .collect::<Result<Vec<_>, _>>()?;
    if witness_keys.len() >= crate::merkle::checkpoint::MAX_SIGNATURES {
        return Err(CliError(format!(
            "{} --witness-key given: at most {} (a checkpoint carries at most {} signature lines, the log's own among them)",
            witness_keys.len(),
            crate::merkle::checkpoint::MAX_SIGNATURES - 1,
            crate::merkle::checkpoint::MAX_SIGNATURES
        )));
    }
    let config = ServerConfig {
        data,
        follow,
        ledger: LedgerOptions {
            origin: args.origin,
            crypto: args.crypto,
            key_file: args.checkpoint_key.clone(),
            max_events_per_append: args.max_events,
            full_check: args.full_check,
            snapshot_every: args.snapshot_every,
            background_check: true,
            master_key: crate::cli::master_source(args.master_key.as_deref()),
            mirror_of,
            witnesses: crate::ledger::WitnessConfig {
                keys: witness_keys,
                interval: std::time::Duration::from_secs(args.witness_interval.max(1)),
            },
            sync: crate::ledger::SyncConfig {
                mirrors: args.sync_mirrors,
                timeout: std::time::Duration::try_from_secs_f64(args.sync_timeout)
                    .ok()
                    .filter(|t| !t.is_zero())
                    .ok_or_else(|| {
                        CliError(format!(
                            "--sync-timeout {}: a positive number of seconds",
                            args.sync_timeout
                        ))
                    })?,
            },
            lease: None,
        },
        access,
        tls,
        max_message_bytes: args.max_message_bytes,
        shutdown_grace: crate::server::DEFAULT_SHUTDOWN_GRACE,
        http: None,
        opened: None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::ctx("starting the async runtime"))?;
    rt.block_on(async {
        // Signal handlers first, so a stop request is never lost between binding and the
        // ledger serving.
        let stop = signalled();
        // Refused before binding (and before anything is printed or the demo generated): an
        // address without an access file that is not loopback. The listener is bound to the
        // very addresses checked.
        let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host(&args.listen)
            .await
            .map_err(CliError::ctx(format!("cannot listen on {}", args.listen)))?
            .collect();
        for a in &addrs {
            server::check_access(*a, &config.access).map_err(|e| CliError(e.to_string()))?;
        }
        let listener = tokio::net::TcpListener::bind(addrs.as_slice())
            .await
            .map_err(CliError::ctx(format!("cannot listen on {}", args.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(CliError::ctx("reading the bound address"))?;
        let http = bind_http(&args.http)?;
        let http_addr = http.as_ref().and_then(|l| l.local_addr().ok());
        if let Some(a) = http_addr {
            server::check_access(a, &config.access).map_err(|e| CliError(e.to_string()))?;
        }
        let config = ServerConfig {
            http: http.map(server::HttpListener::bound),
            ..config
        };
        // After the gRPC line (scripts read the first line for the gRPC port).
        let announce = move || {
            if let Some(a) = http_addr {
                say(&format!("http listening on {a}"));
            }
        };
        if !args.demo {
            // On stdout, so scripts (and tests) that listen on port 0 learn the port. Health
            // answers from now on; the ledger serves once `ready` is logged.
            say(&format!("listening on {addr}"));
            announce();
            if let Some((election, peers)) = election {
                return crate::failover::role::run(listener, config, election, peers, stop)
                    .await
                    .map_err(|e| CliError(e.to_string()));
            }
            if city {
                return crate::city::serve::run(listener, config, follows, stop)
                    .await
                    .map_err(|e| CliError(e.to_string()));
            }
            return server::run(listener, config, stop)
                .await
                .map_err(|e| CliError(e.to_string()));
        }
        let ledger = server::open_ledger(&config)
            .await
            .map_err(|e| CliError(e.to_string()))?;
        if let Err(e) = load_demo(&ledger, args.demo_teachers).await {
            let _ = tokio::task::spawn_blocking(move || ledger.shutdown()).await;
            return Err(e);
        }
        // Without an access file the demo signs people in with its own tokens, so that the
        // console can be tried as a principal and as bureau staff.
        let mut demo_tokens = Vec::new();
        let config = if args.config.is_none() {
            match super::demo_access::demo_access(&config.data, &ledger) {
                Ok((access, tokens)) => {
                    demo_tokens = super::demo_access::announce(&tokens, &config.data);
                    ServerConfig { access, ..config }
                }
                Err(e) => {
                    let _ = tokio::task::spawn_blocking(move || ledger.shutdown()).await;
                    return Err(e);
                }
            }
        } else {
            config
        };
        // Announced once the district is loaded, so a script that waits for it can query.
        say(&format!("listening on {addr}"));
        announce();
        for line in demo_tokens {
            say(&line);
        }
        server::serve_ledger(listener, config, ledger, stop)
            .await
            .map_err(|e| CliError(e.to_string()))
    })?;
    Ok(Outcome::Ok)
}

/// Writes an announcement line to stdout. A script may read the first line (the port) and
/// close its end of the pipe: the lines after it are then lost, never a reason for the
/// server to stop (`println!` would panic on the closed pipe).
fn say(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}
