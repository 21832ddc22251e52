//! Conversions between ledger types and the generated proto messages: generated types stop at
//! the gRPC layer, so the rest of the crate never sees them.

use crate::ledger::Receipt;
use crate::log::{Entry, Head};
use crate::merkle::{Digest, SignedCheckpoint};
use crate::proto;

/// A head as sent on the wire.
pub fn head(h: &Head) -> proto::Head {
    proto::Head {
        size: h.size,
        hash: h.hash.to_vec(),
        root: h.root.to_vec(),
    }
}

/// A signed checkpoint as sent on the wire.
pub fn checkpoint(c: &SignedCheckpoint) -> proto::Checkpoint {
    proto::Checkpoint {
        text: c.to_text(),
        size: c.checkpoint.size,
        root: c.checkpoint.root.to_vec(),
    }
}

/// How a mirror stands with its primary, as sent on the wire.
pub fn mirror_state(m: &crate::ledger::Mirror) -> proto::MirrorState {
    let status = m.status();
    proto::MirrorState {
        primary: m.primary.clone(),
        status: status.word().into(),
        reason: status
            .reason()
            .map(|(r, _)| r.to_owned())
            .unwrap_or_default(),
        primary_size: m.primary_size(),
    }
}

/// An inclusion proof as sent on the wire.
pub fn inclusion(
    seq: u64,
    size: u64,
    entry_hash: &Digest,
    hashes: &[Digest],
) -> proto::InclusionProof {
    proto::InclusionProof {
        seq,
        size,
        entry_hash: entry_hash.to_vec(),
        hashes: hashes.iter().map(|h| h.to_vec()).collect(),
    }
}

/// A stored entry as sent on the wire (the exact stored bytes, so a client can re-hash them).
pub fn entry(e: Entry) -> proto::Entry {
    proto::Entry {
        seq: e.seq,
        prev_hash: e.prev_hash.to_vec(),
        hash: e.hash.to_vec(),
        body: e.body,
    }
}

/// An entry as received from the wire; an error names the field that is not 32 bytes.
pub fn entry_from(e: proto::Entry) -> Result<Entry, String> {
    let h = |b: &[u8], what: &str| -> Result<[u8; 32], String> {
        b.try_into()
            .map_err(|_| format!("entry {}: {what} is not 32 bytes", e.seq))
    };
    Ok(Entry {
        seq: e.seq,
        prev_hash: h(&e.prev_hash, "prev_hash")?,
        hash: h(&e.hash, "hash")?,
        body: e.body,
    })
}

/// The answer to an accepted append.
pub fn append_response(r: &Receipt) -> proto::AppendResponse {
    let size = r.checkpoint.checkpoint.size;
    let seqs: Vec<u64> = (0..r.hashes.len() as u64)
        .map(|i| r.first_seq + i)
        .collect();
    let proofs = seqs
        .iter()
        .zip(&r.hashes)
        .zip(&r.proofs)
        .map(|((seq, h), p)| inclusion(*seq, size, h, p))
        .collect();
    proto::AppendResponse {
        seqs,
        entry_hashes: r.hashes.iter().map(|h| h.to_vec()).collect(),
        head: Some(head(&r.head)),
        duplicate: r.duplicate,
        receipt: Some(proto::Receipt {
            checkpoint: Some(checkpoint(&r.checkpoint)),
            proofs,
        }),
    }
}

/// A 32-byte digest from the wire, if it is one.
pub fn digest(bytes: &[u8]) -> Option<Digest> {
    bytes.try_into().ok()
}
