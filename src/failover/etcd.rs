//! A small client of etcd's v3 gRPC API (proto/etcd/etcd.proto): the keys, the one
//! compare-and-create transaction and the leases that the election needs, each call bounded
//! in time.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

/// Code generated from `proto/etcd/etcd.proto` (package `etcdserverpb`).
#[allow(clippy::all, missing_docs)]
pub mod pb {
    tonic::include_proto!("etcdserverpb");
}

use pb::compare::{CompareResult, CompareTarget, TargetUnion};
use pb::kv_client::KvClient;
use pb::lease_client::LeaseClient;
use pb::request_op::Request;

/// A failed call to etcd.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    /// An endpoint given is not a URL.
    #[error("--etcd {endpoint}: {problem}")]
    Endpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Why it is refused.
        problem: String,
    },
    /// etcd did not answer, or answered with an error.
    #[error("etcd {call}: {status}")]
    Call {
        /// The call.
        call: &'static str,
        /// What came back (or did not).
        status: String,
    },
}

/// A key as etcd holds it: its value, the revision it was created at and its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The key.
    pub key: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
    /// The revision of the key's creation: a term number for a leader key, since a key
    /// deleted and created again gets a larger one.
    pub create_revision: i64,
    /// The revision of the key's last change.
    pub mod_revision: i64,
    /// The lease the key lives by (0: none).
    pub lease: i64,
}

impl From<pb::KeyValue> for Key {
    fn from(kv: pb::KeyValue) -> Key {
        Key {
            key: kv.key,
            value: kv.value,
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            lease: kv.lease,
        }
    }
}

/// The end of the range of every key that starts with `prefix` (etcd's prefix convention:
/// the prefix with its last byte plus one).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every key (etcd's "\0").
    vec![0]
}

/// A put, as one operation of a transaction.
fn put_op(key: &[u8], value: &[u8], lease: i64) -> pb::RequestOp {
    pb::RequestOp {
        request: Some(Request::RequestPut(pb::PutRequest {
            key: key.to_vec(),
            value: value.to_vec(),
            lease,
        })),
    }
}

/// A connection to an etcd cluster (one or more endpoints, balanced by the channel).
#[derive(Clone)]
pub struct Etcd {
    kv: KvClient<Channel>,
    lease: LeaseClient<Channel>,
    timeout: Duration,
}

impl Etcd {
    /// Connects lazily to `endpoints` (`http://host:2379`); every call gives up after
    /// `timeout`.
    pub fn connect(endpoints: &[String], timeout: Duration) -> Result<Etcd, EtcdError> {
        let endpoints = endpoints
            .iter()
            .map(|e| {
                Endpoint::from_shared(e.clone())
                    .map(|ep| ep.connect_timeout(timeout).timeout(timeout))
                    .map_err(|err| EtcdError::Endpoint {
                        endpoint: e.clone(),
                        problem: err.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let channel = match endpoints.as_slice() {
            [one] => one.connect_lazy(),
            _ => Channel::balance_list(endpoints.into_iter()),
        };
        Ok(Etcd {
            kv: KvClient::new(channel.clone()),
            lease: LeaseClient::new(channel),
            timeout,
        })
    }

    /// Bounds `fut` by the call timeout (a lazy channel's first connection included).
    async fn bounded<T>(
        &self,
        call: &'static str,
        fut: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, EtcdError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(r)) => Ok(r.into_inner()),
            Ok(Err(s)) => Err(EtcdError::Call {
                call,
                status: format!("{:?}: {}", s.code(), s.message()),
            }),
            Err(_) => Err(EtcdError::Call {
                call,
                status: format!("no answer within {:?}", self.timeout),
            }),
        }
    }

    /// The key `key`, if it exists, and the store's revision when it was read.
    pub async fn get(&self, key: &[u8]) -> Result<(Option<Key>, i64), EtcdError> {
        let mut kv = self.kv.clone();
        let req = pb::RangeRequest {
            key: key.to_vec(),
            ..Default::default()
        };
        let r = self.bounded("Range", kv.range(req)).await?;
        let revision = r.header.as_ref().map(|h| h.revision).unwrap_or_default();
        Ok((r.kvs.into_iter().next().map(Key::from), revision))
    }

    /// Every key under `prefix`.
    pub async fn prefixed(&self, prefix: &[u8]) -> Result<Vec<Key>, EtcdError> {
        let mut kv = self.kv.clone();
        let req = pb::RangeRequest {
            key: prefix.to_vec(),
            range_end: prefix_end(prefix),
            limit: 0,
        };
        let r = self.bounded("Range", kv.range(req)).await?;
        Ok(r.kvs.into_iter().map(Key::from).collect())
    }

    /// Sets `key` to `value`, living by `lease` (0: none).
    pub async fn put(&self, key: &[u8], value: &[u8], lease: i64) -> Result<(), EtcdError> {
        let mut kv = self.kv.clone();
        let req = pb::PutRequest {
            key: key.to_vec(),
            value: value.to_vec(),
            lease,
        };
        self.bounded("Put", kv.put(req)).await.map(|_| ())
    }

    /// Creates `key` with `value` under `lease` only if no such key exists, and in the same
    /// transaction sets `also` (a key and value, no lease): the revision it was created at,
    /// or `None` when another holds it.
    pub async fn create(
        &self,
        key: &[u8],
        value: &[u8],
        lease: i64,
        also: (&[u8], &[u8]),
    ) -> Result<Option<i64>, EtcdError> {
        let mut kv = self.kv.clone();
        let req = pb::TxnRequest {
            compare: vec![pb::Compare {
                result: CompareResult::Equal as i32,
                target: CompareTarget::Create as i32,
                key: key.to_vec(),
                target_union: Some(TargetUnion::CreateRevision(0)),
            }],
            success: vec![put_op(key, value, lease), put_op(also.0, also.1, 0)],
            failure: vec![],
        };
        let r = self.bounded("Txn", kv.txn(req)).await?;
        // One transaction, one revision: the header's is the key's create revision.
        Ok(r.succeeded
            .then(|| r.header.map(|h| h.revision).unwrap_or_default()))
    }

    /// Deletes `key` if it still lives by `lease` (a leader stepping down deletes its own
    /// key, never a successor's).
    pub async fn delete_if_leased(&self, key: &[u8], lease: i64) -> Result<bool, EtcdError> {
        let mut kv = self.kv.clone();
        let req = pb::TxnRequest {
            compare: vec![pb::Compare {
                result: CompareResult::Equal as i32,
                target: CompareTarget::Lease as i32,
                key: key.to_vec(),
                target_union: Some(TargetUnion::Lease(lease)),
            }],
            success: vec![pb::RequestOp {
                request: Some(Request::RequestDeleteRange(pb::DeleteRangeRequest {
                    key: key.to_vec(),
                    range_end: vec![],
                })),
            }],
            failure: vec![],
        };
        Ok(self.bounded("Txn", kv.txn(req)).await?.succeeded)
    }

    /// A new lease of `ttl` seconds: its id and the time to live etcd chose.
    pub async fn grant(&self, ttl: i64) -> Result<(i64, i64), EtcdError> {
        let mut lease = self.lease.clone();
        let r = self
            .bounded(
                "LeaseGrant",
                lease.lease_grant(pb::LeaseGrantRequest { ttl, id: 0 }),
            )
            .await?;
        if !r.error.is_empty() {
            return Err(EtcdError::Call {
                call: "LeaseGrant",
                status: r.error,
            });
        }
        Ok((r.id, r.ttl))
    }

    /// Renews lease `id`: the seconds it now has left, 0 if it is gone.
    pub async fn keep_alive(&self, id: i64) -> Result<i64, EtcdError> {
        let mut lease = self.lease.clone();
        let request = tokio_stream::once(pb::LeaseKeepAliveRequest { id });
        let fut = async move {
            let mut answers = lease.lease_keep_alive(request).await?.into_inner();
            let first = answers.message().await?;
            Ok(tonic::Response::new(first))
        };
        match self.bounded("LeaseKeepAlive", fut).await? {
            Some(r) => Ok(r.ttl.max(0)),
            None => Err(EtcdError::Call {
                call: "LeaseKeepAlive",
                status: "the stream ended without an answer".into(),
            }),
        }
    }

    /// Ends lease `id` now, and with it every key that lives by it.
    pub async fn revoke(&self, id: i64) -> Result<(), EtcdError> {
        let mut lease = self.lease.clone();
        self.bounded(
            "LeaseRevoke",
            lease.lease_revoke(pb::LeaseRevokeRequest { id }),
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_ends_at_its_last_byte_plus_one() {
        assert_eq!(prefix_end(b"/r/nodes/"), b"/r/nodes0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
    }
}
