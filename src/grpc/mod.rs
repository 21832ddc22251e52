//! The gRPC layer: the Ledger and Audit services, access control, and the mapping of errors
//! to `Status`.
//!
//! # Layout
//!
//! - [`ledger_service`]: `rotaledger.v1.Ledger` (writers: `Append`, `GetHead`).
//! - [`audit_service`]: `rotaledger.v1.Audit` (auditors: entries, live subscription,
//!   verification, checkpoints, proofs, public key).
//! - [`query_service`]: `rotaledger.v1.Query` (principals, scoped to their schools; admins):
//!   the projections as of a date; [`query_convert`] turns them into messages.
//! - [`auth`]: bearer tokens, roles and permissions.
//! - [`status`]: the one place where errors become `tonic::Status`.
//! - [`wire`]: the transport's refusals of undecodable and oversized requests, in this
//!   API's codes.
//! - [`gate`]: `UNAVAILABLE` for every call while the ledger is still opening.
//! - [`convert`]: ledger types to proto messages.
//!
//! Every RPC starts with `shared.authorize(&request, Permission::...)`: the permission an RPC
//! needs is visible at the top of its handler, and a ledger whose background check found the
//! log damaged refuses every RPC there with `DATA_LOSS`.

pub mod audit_service;
pub mod auth;
pub mod city_service;
pub mod convert;
pub mod gate;
pub mod ledger_service;
pub mod query_convert;
pub mod query_service;
pub mod status;
pub mod wire;

use std::sync::Arc;

use tokio::sync::watch;
use tonic::{Request, Status};

use crate::ledger::Ledger;
use auth::{Access, Caller, Permission};

/// What every service handler shares.
#[derive(Clone)]
pub struct Shared {
    /// The ledger.
    pub ledger: Arc<Ledger>,
    /// Who may do what.
    pub access: Arc<Access>,
    /// Most events in one append, checked before the events are decoded.
    pub max_events: usize,
    /// Turns true when the server shuts down, so live streams end instead of holding the
    /// graceful shutdown open forever.
    pub stopping: watch::Receiver<bool>,
}

impl Shared {
    /// Refuses every request once the log is known not to verify (`DATA_LOSS`), then checks
    /// the caller's permission. Marks the request as having reached its handler first, so
    /// that `wire` leaves the handler's own errors as they are.
    pub fn authorize<T>(&self, req: &Request<T>, need: Permission) -> Result<Caller, Status> {
        wire::reached(req);
        self.ledger
            .check_integrity()
            .map_err(|e| status::ledger_status(&e))?;
        self.access.authorize(req, need)
    }
}
