//! `rotaledger.v1.Audit`: raw entries, live subscription, verification, checkpoints, proofs.
//!
//! **Contract (Subscribe).** A subscriber MUST receive every entry from its start position
//! on, in order, once each. The stream is driven by the committed head (`watch_head`) and reads
//! the entries themselves from storage, so a subscriber that falls behind is simply caught up
//! from storage on its next read: nothing is buffered per subscriber beyond one channel, and
//! nothing is dropped.

use std::pin::Pin;

use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::auth::Permission;
use super::status::invalid_argument;
use super::{Shared, convert};
use crate::ledger::{Ledger, LedgerError};
use crate::proto;
use crate::proto::audit_server::Audit;

/// Entries read from storage per blocking read.
const CHUNK: u64 = 256;
/// Messages buffered per stream before the sender waits for the client.
const CHANNEL: usize = 128;

/// A server stream of `T`.
type EntryStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// The Audit service.
pub struct AuditService {
    /// Ledger, access and the shutdown signal.
    shared: Shared,
}

impl AuditService {
    /// A service over `shared`.
    pub fn new(shared: Shared) -> AuditService {
        AuditService { shared }
    }
}

/// Reads entries `from..to` from storage off the async threads.
async fn read_chunk(
    ledger: &std::sync::Arc<Ledger>,
    from: u64,
    to: u64,
) -> Result<Vec<proto::Entry>, Status> {
    let l = ledger.clone();
    let entries = tokio::task::spawn_blocking(move || {
        l.entries(from, to)
            .map(|r| r.map(convert::entry))
            .collect::<Result<Vec<_>, LedgerError>>()
    })
    .await
    .map_err(|e| Status::internal(format!("reading entries: {e}")))??;
    // The store must hand back exactly the range asked for; anything else is a gap a
    // subscriber must never see silently.
    for (i, e) in entries.iter().enumerate() {
        if e.seq != from + i as u64 {
            return Err(Status::internal(format!(
                "storage returned entry {} where entry {} was expected",
                e.seq,
                from + i as u64
            )));
        }
    }
    if (entries.len() as u64) < to - from {
        return Err(Status::internal(format!(
            "storage returned {} entries for the range {from}..{to}",
            entries.len()
        )));
    }
    Ok(entries)
}

/// Completes when the server starts shutting down (or is gone).
async fn until_stopped(stopping: &mut tokio::sync::watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it before returning.
    let _ = stopping.wait_for(|s| *s).await.map(|_| ());
}

/// Sends entries `from..` (up to `to`, or forever when `follow`) into `tx`, wrapped by `wrap`.
/// Ends quietly when the client goes away, with `UNAVAILABLE` when the server stops.
async fn pump<T: Send + 'static>(
    shared: Shared,
    from: u64,
    to: Option<u64>,
    follow: bool,
    tx: mpsc::Sender<Result<T, Status>>,
    wrap: fn(proto::Entry) -> T,
) {
    let ledger = shared.ledger.clone();
    let mut heads = ledger.watch_head();
    let mut stopping = shared.stopping.clone();
    let mut next = from;
    loop {
        // Mark the head seen *before* reading, so a commit after this point wakes us below.
        let size = heads.borrow_and_update().size;
        let limit = to.map_or(size, |t| t.min(size));
        while next < limit {
            let end = (next + CHUNK).min(limit);
            let chunk = match read_chunk(&ledger, next, end).await {
                Ok(c) => c,
                Err(s) => {
                    let _ = tx.send(Err(s)).await;
                    return;
                }
            };
            for e in chunk {
                tokio::select! {
                    r = tx.send(Ok(wrap(e))) => if r.is_err() { return },
                    _ = until_stopped(&mut stopping) => {
                        let _ = tx.try_send(Err(Status::unavailable("the server is shutting down; resubscribe from the next sequence number")));
                        return;
                    }
                }
            }
            next = end;
        }
        if !follow || to.is_some_and(|t| next >= t) {
            return;
        }
        tokio::select! {
            r = heads.changed() => if r.is_err() {
                let _ = tx.send(Err(Status::unavailable("the ledger stopped; resubscribe from the next sequence number"))).await;
                return;
            },
            _ = until_stopped(&mut stopping) => {
                let _ = tx.send(Err(Status::unavailable("the server is shutting down; resubscribe from the next sequence number"))).await;
                return;
            }
            _ = tx.closed() => return,
        }
    }
}

fn stream<T: Send + 'static>(
    shared: &Shared,
    from: u64,
    to: Option<u64>,
    follow: bool,
    wrap: fn(proto::Entry) -> T,
) -> Response<EntryStream<T>> {
    let (tx, rx) = mpsc::channel(CHANNEL);
    // A live subscription is counted while its pump runs (until the client goes or the
    // server stops).
    let counted = follow.then(|| shared.ledger.metrics().subscriber());
    let shared = shared.clone();
    tokio::spawn(async move {
        pump(shared, from, to, follow, tx, wrap).await;
        drop(counted);
    });
    Response::new(Box::pin(ReceiverStream::new(rx)))
}

#[tonic::async_trait]
impl Audit for AuditService {
    type ReadEntriesStream = EntryStream<proto::ReadEntriesResponse>;
    type SubscribeStream = EntryStream<proto::SubscribeResponse>;

    async fn read_entries(
        &self,
        request: Request<proto::ReadEntriesRequest>,
    ) -> Result<Response<Self::ReadEntriesStream>, Status> {
        self.shared.authorize(&request, Permission::Audit)?;
        let req = request.into_inner();
        let size = self.shared.ledger.head().size;
        let to = req.to_seq.unwrap_or(size);
        if req.from_seq > to || to > size {
            return Err(LedgerError::OutOfRange(format!(
                "cannot read entries {}..{to}: the log holds {size} entries",
                req.from_seq
            ))
            .into());
        }
        Ok(stream(&self.shared, req.from_seq, Some(to), false, |e| {
            proto::ReadEntriesResponse { entry: Some(e) }
        }))
    }

    async fn subscribe(
        &self,
        request: Request<proto::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        self.shared.authorize(&request, Permission::Audit)?;
        let from = request.into_inner().from_seq;
        let size = self.shared.ledger.head().size;
        if from > size {
            return Err(LedgerError::OutOfRange(format!(
                "cannot subscribe from entry {from}: the log holds {size} entries (subscribe from {size} at most)"
            ))
            .into());
        }
        Ok(stream(&self.shared, from, None, true, |e| {
            proto::SubscribeResponse { entry: Some(e) }
        }))
    }

    async fn verify(
        &self,
        request: Request<proto::VerifyRequest>,
    ) -> Result<Response<proto::VerifyResponse>, Status> {
        self.shared.authorize(&request, Permission::Audit)?;
        let req = request.into_inner();
        let size = self.shared.ledger.head().size;
        let to = req.to_seq.unwrap_or(size);
        if req.from_seq > to || to > size {
            return Err(LedgerError::OutOfRange(format!(
                "cannot verify entries {}..{to}: the log holds {size} entries",
                req.from_seq
            ))
            .into());
        }
        let range = (req.from_seq != 0 || req.to_seq.is_some()).then_some((req.from_seq, to));
        let ledger = self.shared.ledger.clone();
        let verdict = tokio::task::spawn_blocking(move || ledger.verify(range, &mut |_| {}))
            .await
            .map_err(|e| Status::internal(format!("verification task failed: {e}")))??;
        Ok(Response::new(match verdict {
            Ok(v) => proto::VerifyResponse {
                ok: true,
                from_seq: v.from,
                checked: v.checked,
                head: Some(convert::head(&v.head)),
                first_bad: None,
            },
            Err(f) => {
                tracing::error!(seq = f.seq, problem = %f.problem, "verification failed");
                proto::VerifyResponse {
                    ok: false,
                    from_seq: req.from_seq,
                    checked: f.seq.saturating_sub(req.from_seq),
                    head: None,
                    first_bad: Some(proto::BadEntry {
                        seq: f.seq,
                        problem: f.problem.to_string(),
                    }),
                }
            }
        }))
    }

    async fn get_checkpoint(
        &self,
        request: Request<proto::GetCheckpointRequest>,
    ) -> Result<Response<proto::GetCheckpointResponse>, Status> {
        let caller = self.shared.authorize(&request, Permission::Audit)?;
        let mirror = caller.role.allows(Permission::Replicate);
        let req = request.into_inner();
        let ledger = &self.shared.ledger;
        if (req.for_witness || req.min_cosignatures > 0) && req.size.is_some() {
            return Err(invalid_argument(
                "size",
                "give either a size or for_witness / min_cosignatures, not both",
            ));
        }
        if req.for_witness && req.min_cosignatures > 0 {
            return Err(invalid_argument(
                "for_witness",
                "for_witness asks for the checkpoint to cosign, min_cosignatures for a cosigned one: give one",
            ));
        }
        let cp = match req.size {
            _ if req.for_witness => ledger.offered_checkpoint()?,
            _ if req.min_cosignatures > 0 => {
                // The first call reads and verifies every stored cosignature: off the workers.
                let ledger = ledger.clone();
                let k = req.min_cosignatures as usize;
                tokio::task::spawn_blocking(move || ledger.latest_witnessed(k))
                    .await
                    .map_err(|e| Status::internal(format!("GetCheckpoint: {e}")))??
            }
            // A mirror copies by the checkpoint over the head (not from a deposed primary);
            // anyone else is given one over what the mirrors `--sync-mirrors` requires hold
            // (`Ledger::default_size_for`).
            None => {
                let r = ledger.default_size_for(mirror)?;
                match ledger.latest_checkpoint()? {
                    latest if latest.checkpoint.size == r => latest,
                    _ => ledger.checkpoint_at(r)?,
                }
            }
            Some(size) => {
                ledger.check_checkpoint_for(size, mirror)?;
                ledger.checkpoint_at(size)?
            }
        };
        Ok(Response::new(proto::GetCheckpointResponse {
            checkpoint: Some(convert::checkpoint(&cp)),
        }))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<proto::GetInclusionProofRequest>,
    ) -> Result<Response<proto::GetInclusionProofResponse>, Status> {
        let caller = self.shared.authorize(&request, Permission::Audit)?;
        let mirror = caller.role.allows(Permission::Replicate);
        let req = request.into_inner();
        let ledger = &self.shared.ledger;
        let size = match req.size {
            Some(size) => size,
            None => {
                let size = ledger.default_size_for(mirror)?;
                // A reader's entry beyond what the mirrors hold is refused as not held yet,
                // not as beyond the log.
                if req.seq >= size {
                    ledger.check_checkpoint_for(req.seq.saturating_add(1), mirror)?;
                }
                size
            }
        };
        ledger.check_checkpoint_for(size, mirror)?;
        let hashes = ledger.inclusion_proof(req.seq, size)?;
        let entry = ledger.entry(req.seq)?;
        let cp = ledger.checkpoint_at(size)?;
        Ok(Response::new(proto::GetInclusionProofResponse {
            proof: Some(convert::inclusion(req.seq, size, &entry.hash, &hashes)),
            checkpoint: Some(convert::checkpoint(&cp)),
        }))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<proto::GetConsistencyProofRequest>,
    ) -> Result<Response<proto::GetConsistencyProofResponse>, Status> {
        let caller = self.shared.authorize(&request, Permission::Audit)?;
        let mirror = caller.role.allows(Permission::Replicate);
        let req = request.into_inner();
        let ledger = &self.shared.ledger;
        let new_size = match req.new_size {
            Some(size) => size,
            None => ledger.default_size_for(mirror)?,
        };
        ledger.check_checkpoint_for(new_size, mirror)?;
        let hashes = ledger.consistency_proof(req.old_size, new_size)?;
        let old = ledger.checkpoint_at(req.old_size)?;
        let new = ledger.checkpoint_at(new_size)?;
        Ok(Response::new(proto::GetConsistencyProofResponse {
            old_size: req.old_size,
            new_size,
            hashes: hashes.iter().map(|h| h.to_vec()).collect(),
            old_checkpoint: Some(convert::checkpoint(&old)),
            new_checkpoint: Some(convert::checkpoint(&new)),
        }))
    }

    async fn get_public_key(
        &self,
        request: Request<proto::GetPublicKeyRequest>,
    ) -> Result<Response<proto::GetPublicKeyResponse>, Status> {
        self.shared.authorize(&request, Permission::Audit)?;
        let (key, origin) = self.shared.ledger.public_key()?;
        Ok(Response::new(proto::GetPublicKeyResponse {
            verifier_key: key.to_string(),
            origin,
            public_key: key.public_key().to_vec(),
        }))
    }

    async fn report_replicated(
        &self,
        request: Request<proto::ReportReplicatedRequest>,
    ) -> Result<Response<proto::ReportReplicatedResponse>, Status> {
        let caller = self.shared.authorize(&request, Permission::Replicate)?;
        let req = request.into_inner();
        let root: crate::merkle::Digest = req
            .root
            .as_slice()
            .try_into()
            .map_err(|_| invalid_argument("root", "a Merkle root is 32 bytes"))?;
        let ledger = self.shared.ledger.clone();
        // The root at the size reads the store: off the async workers.
        let confirmed = tokio::task::spawn_blocking(move || {
            ledger.report_replicated(&caller.name, &req.mirror_id, req.size, root, req.term)
        })
        .await
        .map_err(|e| Status::internal(format!("a mirror's report: {e}")))??;
        Ok(Response::new(proto::ReportReplicatedResponse {
            confirmed_size: confirmed.min(self.shared.ledger.head().size),
        }))
    }

    async fn read_data_keys(
        &self,
        request: Request<proto::ReadDataKeysRequest>,
    ) -> Result<Response<proto::ReadDataKeysResponse>, Status> {
        self.shared.authorize(&request, Permission::Replicate)?;
        let req = request.into_inner();
        let ledger = self.shared.ledger.clone();
        let r = tokio::task::spawn_blocking(move || {
            ledger.data_key_records(req.from, Some(req.master_key_id.as_slice()))
        })
        .await
        .map_err(|e| Status::internal(format!("reading the data keys: {e}")))??;
        Ok(Response::new(proto::ReadDataKeysResponse {
            master_key_id: r.master_key_id.to_vec(),
            records: r.records.iter().map(|x| x.to_vec()).collect(),
            total: r.total,
        }))
    }

    async fn add_cosignature(
        &self,
        request: Request<proto::AddCosignatureRequest>,
    ) -> Result<Response<proto::AddCosignatureResponse>, Status> {
        // A cosignature is checked against the witness keys the log is configured with, so
        // an auditor's token suffices: nobody else can make one the log keeps.
        self.shared.authorize(&request, Permission::Audit)?;
        let text = request.into_inner().checkpoint;
        let ledger = self.shared.ledger.clone();
        // Kept durably (an fsync) before the answer: off the async workers.
        let kept = tokio::task::spawn_blocking(move || ledger.add_cosignatures(&text))
            .await
            .map_err(|e| Status::internal(format!("adding a cosignature: {e}")))??;
        Ok(Response::new(proto::AddCosignatureResponse {
            size: kept.size,
            cosignatures: u32::try_from(kept.cosignatures).unwrap_or(u32::MAX),
            added: u32::try_from(kept.added).unwrap_or(u32::MAX),
        }))
    }
}
