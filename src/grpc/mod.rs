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
//! - [`convert`]: ledger types to proto messages.
//!
//! Every RPC starts with `access.authorize(&request, Permission::...)`: the permission an RPC
//! needs is visible at the top of its handler.

pub mod audit_service;
pub mod auth;
pub mod convert;
pub mod ledger_service;
pub mod query_convert;
pub mod query_service;
pub mod status;

use std::sync::Arc;

use tokio::sync::watch;

use crate::ledger::Ledger;
use auth::Access;

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
