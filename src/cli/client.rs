//! Client commands against a running server: `append --file`, `head`, `tail`, `checkpoint`,
//! `verify --server`.
//!
//! Output is for people by default and one JSON object per line with `--json`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Request, Status};
use tonic_types::StatusExt;

use super::{CliError, Outcome, progress};
use crate::crypto::Profile;
use crate::log::{Entry, GENESIS_HASH};
use crate::merkle::{SignedCheckpoint, VerifierKey};
use crate::proto;
use crate::proto::audit_client::AuditClient;
use crate::proto::city_client::CityClient;
use crate::proto::ledger_client::LedgerClient;
use crate::proto::query_client::QueryClient;

/// How long one unary call may take before the client gives up (sent as `grpc-timeout`).
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Where the server is and how to authenticate to it.
#[derive(Args, Debug, Clone)]
pub struct Connect {
    /// The server's URL (`https://` needs --tls-ca).
    #[arg(
        long,
        env = "ROTALEDGER_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    pub server: String,
    /// A bearer token (from `rotaledger token new`).
    #[arg(long, env = "ROTALEDGER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A file holding the bearer token (must not be readable by group or others).
    #[arg(long, env = "ROTALEDGER_TOKEN_FILE", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// PEM file of the CA that signed the server's certificate.
    #[arg(long, env = "ROTALEDGER_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// Print JSON (one object per line) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// A Ledger client with the token attached.
pub type Ledger = LedgerClient<InterceptedService<Channel, Bearer>>;
/// An Audit client with the token attached.
pub type Audit = AuditClient<InterceptedService<Channel, Bearer>>;
/// A Query client with the token attached.
pub type Query = QueryClient<InterceptedService<Channel, Bearer>>;
/// A City client (a city view's service) with the token attached.
pub type City = CityClient<InterceptedService<Channel, Bearer>>;

impl Connect {
    async fn channel(&self) -> Result<(Channel, Bearer), CliError> {
        let mut ep = Endpoint::from_shared(self.server.clone())
            .map_err(CliError::ctx(format!("server URL {:?}", self.server)))?
            .connect_timeout(Duration::from_secs(10));
        if self.server.starts_with("https://") {
            let ca = self.tls_ca.as_ref().ok_or_else(|| {
                CliError("an https:// server needs --tls-ca FILE (the CA's certificate)".into())
            })?;
            let pem = std::fs::read(ca).map_err(CliError::ctx(ca.display()))?;
            ep = ep
                .tls_config(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)))
                .map_err(CliError::ctx("TLS"))?;
        }
        let channel = ep
            .connect()
            .await
            .map_err(|e| CliError(format!("cannot connect to {}: {e}", self.server)))?;
        let token = match (&self.token, &self.token_file) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(f)) => {
                crate::grpc::auth::check_private(f).map_err(|e| CliError(e.to_string()))?;
                Some(std::fs::read_to_string(f).map_err(CliError::ctx(f.display()))?)
            }
            (None, None) => None,
        };
        let bearer = match &token {
            Some(t) => Some(
                format!("Bearer {}", t.trim())
                    .parse()
                    .map_err(|_| CliError("the token is not valid header text".into()))?,
            ),
            None => None,
        };
        Ok((channel, Bearer(bearer)))
    }

    /// A connected Ledger client.
    pub async fn ledger(&self) -> Result<Ledger, CliError> {
        let (c, b) = self.channel().await?;
        Ok(LedgerClient::with_interceptor(c, b).max_decoding_message_size(usize::MAX))
    }

    /// The server's head and its log's crypto profile (`GetHead`). A server from before the
    /// profiles names none: its log is blake3.
    pub async fn head_and_profile(&self) -> Result<(proto::Head, Profile), CliError> {
        let answer = self
            .ledger()
            .await?
            .get_head(proto::GetHeadRequest {})
            .await
            .map_err(status_err("GetHead"))?
            .into_inner();
        let profile = match answer.crypto.as_str() {
            "" => Profile::Blake3,
            name => name
                .parse::<Profile>()
                .map_err(|e| CliError(format!("the server's GetHead: {e}")))?,
        };
        Ok((answer.head.unwrap_or_default(), profile))
    }

    /// A connected Audit client.
    pub async fn audit(&self) -> Result<Audit, CliError> {
        let (c, b) = self.channel().await?;
        Ok(AuditClient::with_interceptor(c, b).max_decoding_message_size(usize::MAX))
    }

    /// A connected Query client.
    pub async fn query(&self) -> Result<Query, CliError> {
        let (c, b) = self.channel().await?;
        Ok(QueryClient::with_interceptor(c, b).max_decoding_message_size(usize::MAX))
    }

    /// A connected City client (a city view, docs/CITY.md).
    pub async fn city(&self) -> Result<City, CliError> {
        let (c, b) = self.channel().await?;
        Ok(CityClient::with_interceptor(c, b).max_decoding_message_size(usize::MAX))
    }

    /// Waits until the server's health check (`grpc.health.v1.Health/Check`, the server as a
    /// whole) answers `SERVING`: a server accepts connections before its ledger is open and
    /// answers every call `UNAVAILABLE` until then. Gives up after `limit`.
    pub async fn wait_serving(&self, limit: Duration) -> Result<(), CliError> {
        use tonic_health::pb::HealthCheckRequest;
        use tonic_health::pb::health_check_response::ServingStatus;
        use tonic_health::pb::health_client::HealthClient;
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Ok((c, _)) = self.channel().await
                && let Ok(r) = HealthClient::new(c)
                    .check(call(HealthCheckRequest::default()))
                    .await
                && r.into_inner().status == ServingStatus::Serving as i32
            {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(CliError(format!(
                    "{} was not serving after {limit:?}",
                    self.server
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A request with the client's deadline: every call of the CLI's clients (and of the
/// benchmarks, which drive the server as these clients do) carries it.
pub fn call<T>(msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.set_timeout(CALL_TIMEOUT);
    r
}

/// A status as a person reads it: code, message and the structured details.
pub fn describe(s: &Status) -> String {
    let mut out = format!("{:?}: {}", s.code(), s.message());
    let d = s.get_error_details();
    if let Some(info) = d.error_info() {
        let mut md: Vec<_> = info.metadata.iter().collect();
        md.sort();
        let md: Vec<String> = md.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!(" [{}; {}]", info.reason, md.join(", ")));
    }
    out
}

pub(crate) fn status_err(what: &str) -> impl FnOnce(Status) -> CliError + '_ {
    move |s| CliError(format!("{what}: {}", describe(&s)))
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::ctx("starting the async runtime"))
}

fn json_head(h: &proto::Head) -> serde_json::Value {
    serde_json::json!({
        "size": h.size,
        "hash": hex::encode(&h.hash),
        "root": hex::encode(&h.root),
    })
}

/// `rotaledger head`.
pub fn head(c: &Connect) -> Result<Outcome, CliError> {
    runtime()?.block_on(async {
        let mut client = c.ledger().await?;
        let r = client
            .get_head(call(proto::GetHeadRequest {}))
            .await
            .map_err(status_err("GetHead"))?
            .into_inner();
        let h = r.head.unwrap_or_default();
        if c.json {
            let mut v = json_head(&h);
            if let Some(m) = &r.mirror {
                v["mirror"] = serde_json::json!({
                    "primary": m.primary,
                    "status": m.status,
                    "reason": m.reason,
                    "primary_size": m.primary_size,
                });
            }
            println!("{v}");
        } else {
            println!("size {}", h.size);
            println!("hash {}", hex::encode(&h.hash));
            println!("root {}", hex::encode(&h.root));
            // A mirror says whom it copies and how it stands.
            if let Some(m) = &r.mirror {
                println!("mirror of {}: {}", m.primary, m.status);
                if m.primary_size > 0 {
                    println!("primary size {}", m.primary_size);
                }
                if !m.reason.is_empty() {
                    println!("reason {}", m.reason);
                }
            }
        }
        Ok(Outcome::Ok)
    })
}

/// One batch of a bulk import.
struct Batch {
    /// 1-based line number of each event.
    lines: Vec<usize>,
    /// The events.
    events: Vec<String>,
    /// The request id a line of the append-request form gave (`rotaledger generate` writes
    /// them); `None` for batches of single-event lines.
    given_id: Option<String>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            lines: Vec::new(),
            events: Vec::new(),
            given_id: None,
        }
    }

    /// The request id: the one the file gave, or else derived from the batch's content and
    /// its position in the file, so a rerun of the same file sends the same ids and appends
    /// nothing twice.
    fn request_id(&self) -> String {
        if let Some(id) = &self.given_id {
            return id.clone();
        }
        let mut h = blake3::Hasher::new();
        h.update(b"rotaledger.import.v1\0");
        for e in &self.events {
            h.update(&(e.len() as u64).to_be_bytes());
            h.update(e.as_bytes());
        }
        let first = self.lines.first().copied().unwrap_or(0);
        format!(
            "import-{}-line{first}",
            &hex::encode(h.finalize().as_bytes())[..32]
        )
    }
}

/// A line of the append-request form: `{"request_id": "...", "events": [ ... ]}`, one whole
/// append that must not be split or merged (a team dispatch; a void naming a sequence number).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestLine {
    request_id: Option<String>,
    events: Vec<Box<serde_json::value::RawValue>>,
}

/// Splits a JSON Lines file into batches, skipping blank lines. A line is either one event
/// (consecutive ones are batched by `size`) or one whole append request, sent as it is.
fn batches(text: &str, size: usize) -> Vec<Batch> {
    let mut out = Vec::new();
    let mut cur = Batch::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Ok(req) = serde_json::from_str::<RequestLine>(line) {
            if !cur.events.is_empty() {
                out.push(std::mem::replace(&mut cur, Batch::new()));
            }
            out.push(Batch {
                lines: vec![i + 1; req.events.len()],
                events: req.events.iter().map(|e| e.get().to_owned()).collect(),
                given_id: req.request_id,
            });
            continue;
        }
        cur.lines.push(i + 1);
        cur.events.push(line.to_owned());
        if cur.events.len() == size {
            out.push(std::mem::replace(&mut cur, Batch::new()));
        }
    }
    if !cur.events.is_empty() {
        out.push(cur);
    }
    out
}

/// Names the file line of an event a status points at (`events[3]...` in the details).
fn locate(s: &Status, batch: &Batch) -> String {
    let d = s.get_error_details();
    let index = d
        .error_info()
        .and_then(|i| i.metadata.get("event_index"))
        .and_then(|v| v.parse::<usize>().ok());
    match index.and_then(|i| batch.lines.get(i)) {
        Some(line) => format!("line {line}: "),
        None => String::new(),
    }
}

/// `rotaledger append --file FILE`: a resumable bulk import.
pub fn append_file(c: &Connect, file: &Path, batch_size: usize) -> Result<Outcome, CliError> {
    if batch_size == 0 {
        return Err(CliError("--batch must be at least 1".into()));
    }
    let text = std::fs::read_to_string(file).map_err(CliError::ctx(file.display()))?;
    let batches = batches(&text, batch_size);
    let total: usize = batches.iter().map(|b| b.events.len()).sum();
    runtime()?.block_on(async {
        let mut client = c.ledger().await?;
        let bar = progress::entries(total as u64, "appending");
        let (mut appended, mut present) = (0u64, 0u64);
        let mut head = None;
        for b in &batches {
            let req = proto::AppendRequest {
                events: b.events.clone(),
                request_id: b.request_id(),
                expected_size: None,
            };
            let r = match client.append(call(req)).await {
                Ok(r) => r.into_inner(),
                Err(s) => {
                    bar.abandon();
                    let first = b.lines.first().copied().unwrap_or(0);
                    let last = b.lines.last().copied().unwrap_or(0);
                    return Err(CliError(format!(
                        "{}the batch of lines {first}..={last} was refused: {}\n\
                         {appended} events were appended before it ({present} were already present); \
                         fix the file and run the same command again: appended batches are skipped",
                        locate(&s, b),
                        describe(&s)
                    )));
                }
            };
            let n = b.events.len() as u64;
            if r.duplicate {
                present += n;
            } else {
                appended += n;
            }
            bar.inc(n);
            head = r.head;
        }
        bar.finish_and_clear();
        let h = head.unwrap_or_default();
        if c.json {
            println!(
                "{}",
                serde_json::json!({
                    "events": total,
                    "batches": batches.len(),
                    "appended": appended,
                    "already_present": present,
                    "head": json_head(&h),
                })
            );
        } else {
            println!(
                "appended {appended} events in {} batches ({present} already present); log size {}, head {}",
                batches.len(),
                h.size,
                hex::encode(&h.hash)
            );
        }
        Ok(Outcome::Ok)
    })
}

/// `rotaledger tail [--from N] [--limit N]`: follows the log, checking each entry's hash and
/// link as it arrives.
pub fn tail(c: &Connect, from: u64, limit: Option<u64>) -> Result<Outcome, CliError> {
    runtime()?.block_on(async {
        let (_, profile) = c.head_and_profile().await?;
        let mut client = c.audit().await?;
        let mut stream = client
            .subscribe(proto::SubscribeRequest { from_seq: from })
            .await
            .map_err(status_err("Subscribe"))?
            .into_inner();
        let mut seen = 0u64;
        let mut prev: Option<[u8; 32]> = None;
        let mut next = from;
        while limit.is_none_or(|l| seen < l) {
            let Some(msg) = stream.message().await.map_err(status_err("Subscribe"))? else {
                break;
            };
            let e = msg
                .entry
                .ok_or_else(|| CliError("the server sent a message without an entry".into()))?;
            let entry = to_entry(e)?;
            if entry.seq != next {
                return Err(CliError(format!(
                    "expected entry {next}, the server sent entry {}",
                    entry.seq
                )));
            }
            if entry.computed_hash(profile) != entry.hash {
                println!("BAD: entry {}: hash mismatch", entry.seq);
                return Ok(Outcome::Problem);
            }
            let expected_prev = prev.or((entry.seq == 0).then_some(GENESIS_HASH));
            if expected_prev.is_some_and(|p| p != entry.prev_hash) {
                println!("BAD: entry {}: broken link", entry.seq);
                return Ok(Outcome::Problem);
            }
            print_entry(&entry, c.json)?;
            prev = Some(entry.hash);
            next += 1;
            seen += 1;
        }
        Ok(Outcome::Ok)
    })
}

pub(super) fn to_entry(e: proto::Entry) -> Result<Entry, CliError> {
    crate::grpc::convert::entry_from(e).map_err(CliError)
}

fn print_entry(e: &Entry, json: bool) -> Result<(), CliError> {
    let m = e
        .meta()
        .map_err(|err| CliError(format!("entry {}: {err}", e.seq)))?;
    if json {
        let payload: serde_json::Value =
            serde_json::from_str(&m.payload).unwrap_or(serde_json::Value::String(m.payload));
        println!(
            "{}",
            serde_json::json!({
                "seq": e.seq,
                "recorded_at": crate::log::entry::format_time(m.recorded_at),
                "actor": m.actor,
                "request_id": m.request_id,
                "hash": hex::encode(e.hash),
                "event": payload,
            })
        );
    } else {
        println!(
            "{}\t{}\t{}\t{}",
            e.seq,
            crate::log::entry::format_time(m.recorded_at),
            m.actor,
            m.payload
        );
    }
    Ok(())
}

/// `rotaledger checkpoint [--size N | --cosigned K]`: fetches a checkpoint and checks its
/// signature with the server's public key (or `--key`, the verifier key an auditor already
/// trusts), and the cosignatures of the witnesses named.
pub fn checkpoint(
    c: &Connect,
    size: Option<u64>,
    cosigned: Option<u32>,
    key: Option<&str>,
    witnesses: &super::audit::WitnessPolicy,
) -> Result<Outcome, CliError> {
    runtime()?.block_on(async {
        let mut client = c.audit().await?;
        let which = proto::GetCheckpointRequest {
            size,
            min_cosignatures: cosigned.unwrap_or(0),
            for_witness: false,
        };
        let cp = client
            .get_checkpoint(call(which))
            .await
            .map_err(status_err("GetCheckpoint"))?
            .into_inner()
            .checkpoint
            .unwrap_or_default();
        let key_text = match key {
            Some(k) => k.to_owned(),
            None => {
                client
                    .get_public_key(call(proto::GetPublicKeyRequest {}))
                    .await
                    .map_err(status_err("GetPublicKey"))?
                    .into_inner()
                    .verifier_key
            }
        };
        let vk: VerifierKey = key_text
            .parse()
            .map_err(CliError::ctx("the verifier key"))?;
        let signed = SignedCheckpoint::parse(&cp.text).map_err(CliError::ctx("the checkpoint"))?;
        let verdict = signed.verify(&vk).map(|_| ());
        // Printed to stderr, so that standard output stays the checkpoint file.
        let (witnessed, why) = match witnesses.verdict(&signed)? {
            _ if verdict.is_err() => (true, String::new()),
            None => (true, String::new()),
            Some(Ok(said)) => (true, said),
            Some(Err(e)) => (false, e),
        };
        if c.json {
            println!(
                "{}",
                serde_json::json!({
                    "size": cp.size,
                    "root": hex::encode(&cp.root),
                    "text": cp.text,
                    "signature_ok": verdict.is_ok(),
                    "verifier_key": key_text,
                    "witnesses_ok": witnessed,
                })
            );
        } else {
            print!("{}", cp.text);
            match &verdict {
                Ok(()) => eprintln!("signature verified with {key_text}"),
                Err(e) => eprintln!("BAD signature: {e}"),
            }
            if !why.is_empty() {
                eprintln!("{}{why}", if witnessed { "" } else { "BAD: " });
            }
        }
        Ok(if verdict.is_ok() && witnessed {
            Outcome::Ok
        } else {
            Outcome::Problem
        })
    })
}

/// `rotaledger verify --server URL`: asks the server to verify its whole log.
pub fn verify_remote(c: &Connect) -> Result<Outcome, CliError> {
    runtime()?.block_on(async {
        let mut client = c.audit().await?;
        let mut req = Request::new(proto::VerifyRequest {
            from_seq: 0,
            to_seq: None,
        });
        // Verification of a large log takes a while; give it more than a normal call.
        req.set_timeout(CALL_TIMEOUT * 10);
        let r = client
            .verify(req)
            .await
            .map_err(status_err("Verify"))?
            .into_inner();
        let what = &c.server;
        if r.ok {
            let h = r.head.unwrap_or_default();
            if c.json {
                println!(
                    "{}",
                    serde_json::json!({"ok": true, "checked": r.checked, "head": json_head(&h)})
                );
            } else {
                println!(
                    "verified: {what}: {} entries, head {}",
                    r.checked,
                    hex::encode(&h.hash)
                );
            }
            Ok(Outcome::Ok)
        } else {
            let bad = r.first_bad.unwrap_or_default();
            if c.json {
                println!(
                    "{}",
                    serde_json::json!({"ok": false, "first_bad": bad.seq, "problem": bad.problem})
                );
            } else {
                println!("BAD: {what}: first bad entry {}: {}", bad.seq, bad.problem);
            }
            Ok(Outcome::Problem)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_skip_blank_lines_and_keep_line_numbers() {
        let b = batches("{\"a\":1}\n\n{\"a\":2}\n{\"a\":3}\n", 2);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].lines, vec![1, 3]);
        assert_eq!(b[1].lines, vec![4]);
        // Same content and position, same id; different position, different id.
        let again = batches("{\"a\":1}\n\n{\"a\":2}\n{\"a\":3}\n", 2);
        assert_eq!(b[0].request_id(), again[0].request_id());
        let shifted = batches("\n{\"a\":1}\n\n{\"a\":2}\n{\"a\":3}\n", 2);
        assert_ne!(b[0].request_id(), shifted[0].request_id());
        assert!(b[0].request_id().len() <= crate::log::entry::MAX_ID_LEN);
    }

    #[test]
    fn append_request_lines_stay_whole_with_their_ids() {
        let text = "{\"a\":1}\n\
                    {\"request_id\":\"gen-1-0\",\"events\":[{\"a\":2},{\"a\":3},{\"a\":4}]}\n\
                    {\"a\":5}\n{\"a\":6}\n{\"events\":[{\"a\":7}]}\n";
        let b = batches(text, 10);
        let shape: Vec<(usize, Vec<usize>)> = b
            .iter()
            .map(|b| (b.events.len(), b.lines.clone()))
            .collect();
        assert_eq!(
            shape,
            vec![
                (1, vec![1]),
                (3, vec![2, 2, 2]),
                (2, vec![3, 4]),
                (1, vec![5])
            ]
        );
        assert_eq!(b[1].request_id(), "gen-1-0");
        assert_eq!(b[1].events, vec!["{\"a\":2}", "{\"a\":3}", "{\"a\":4}"]);
        // A request line without an id gets one derived from its content and position.
        assert!(b[3].request_id().starts_with("import-"));
    }
}
