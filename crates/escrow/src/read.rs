//! Reading a site's published log back from the bucket, trusting only the
//! site's key (and, to rely on them, the witnesses' keys): the checkpoint
//! must open with it, the tree rebuilt from the entry bundles must have the
//! checkpoint's root, and every hash tile must hold that tree's hashes.

use custos_ledger::cosignature::CosignerKey;
use custos_ledger::merkle::{leaf_hash, MemoryTree};
use custos_ledger::note::{open_checkpoint, Checkpoint, VerifierKey};
use custos_ledger::tiles::{self, Tile, TILE_WIDTH};

use crate::bucket::{Bucket, EscrowError};
use crate::publish::{CHECKPOINT, LOG_PREFIX};

pub(crate) fn fail(what: impl std::fmt::Display) -> EscrowError {
    EscrowError::Local(what.to_string())
}

/// A published log as read back.
pub struct PublishedLog {
    /// The checkpoint note, cosignature lines included.
    pub note: String,
    /// The checkpoint it signs.
    pub checkpoint: Checkpoint,
    /// Every entry's leaf bytes, by index.
    pub leaves: Vec<Vec<u8>>,
    /// The tree over them, whose root is the checkpoint's.
    pub tree: MemoryTree,
}

/// Reads the checkpoint and every entry bundle of the log under `bucket`'s
/// prefix and checks them against `key`.
pub async fn read_published_log(
    bucket: &Bucket,
    key: &VerifierKey,
) -> Result<PublishedLog, EscrowError> {
    let checkpoint_name = format!("{LOG_PREFIX}/{CHECKPOINT}");
    let note = bucket.get(&checkpoint_name).await?.ok_or_else(|| {
        fail(format!(
            "{} is not there: nothing of this site's log was published",
            bucket.full_name(&checkpoint_name)
        ))
    })?;
    let note = String::from_utf8(note.to_vec()).map_err(|_| {
        fail(format!(
            "{} is not text",
            bucket.full_name(&checkpoint_name)
        ))
    })?;
    let checkpoint = open_checkpoint(&note, key).map_err(|e| {
        fail(format!(
            "{} does not open with the key {}: {e}",
            bucket.full_name(&checkpoint_name),
            key.short()
        ))
    })?;
    let mut leaves: Vec<Vec<u8>> = Vec::with_capacity(checkpoint.size as usize);
    for tile in tiles::tiles_to_publish(0, checkpoint.size) {
        let Tile::Entries { index, width } = tile else {
            continue;
        };
        let name = format!("{LOG_PREFIX}/{}", tile.path());
        let bytes = bucket
            .get(&name)
            .await?
            .ok_or_else(|| fail(format!("{} is missing", bucket.full_name(&name))))?;
        let entries = tiles::split_entry_bundle(&bytes)
            .map_err(|e| fail(format!("{}: {e}", bucket.full_name(&name))))?;
        if entries.len() as u64 != width || leaves.len() as u64 != index * TILE_WIDTH {
            return Err(fail(format!(
                "{} holds {} entries where {width} belong",
                bucket.full_name(&name),
                entries.len()
            )));
        }
        leaves.extend(entries.into_iter().map(<[u8]>::to_vec));
    }
    let hashes: Vec<_> = leaves.iter().map(|l| leaf_hash(l)).collect();
    let tree = MemoryTree::from_leaf_hashes(&hashes);
    if tree.root() != checkpoint.root {
        return Err(fail(format!(
            "the entries in the bucket do not have the root of its checkpoint of {} entries",
            checkpoint.size
        )));
    }
    Ok(PublishedLog {
        note,
        checkpoint,
        leaves,
        tree,
    })
}

/// What checking a whole published log found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedLogReport {
    /// The log's origin.
    pub origin: String,
    /// Entries the checkpoint commits to, all read and hashed.
    pub size: u64,
    /// Hash tiles read and found to hold the tree's hashes.
    pub tiles_checked: usize,
    /// The witnesses whose cosignature verified, with its time (seconds).
    pub cosigned_by: Vec<(String, u64)>,
    /// The witnesses given whose cosignature is not there or does not
    /// verify, with why.
    pub not_cosigned_by: Vec<(String, String)>,
}

/// Checks the whole log under `bucket`'s prefix: [`read_published_log`],
/// every hash tile of the checkpoint's tree, and which of `witnesses`
/// co-signed the checkpoint (the caller decides how many must have).
pub async fn verify_published_log(
    bucket: &Bucket,
    key: &VerifierKey,
    witnesses: &[CosignerKey],
) -> Result<PublishedLogReport, EscrowError> {
    let log = read_published_log(bucket, key).await?;
    let mut cosigned_by = Vec::new();
    let mut not_cosigned_by = Vec::new();
    for w in witnesses {
        match w.verify(&log.note) {
            Ok(time) => cosigned_by.push((w.short(), time)),
            Err(e) => not_cosigned_by.push((w.short(), e.to_string())),
        }
    }
    let mut tiles_checked = 0;
    for tile in tiles::tiles_to_publish(0, log.checkpoint.size) {
        let Tile::Hashes {
            level,
            index,
            width,
        } = tile
        else {
            continue;
        };
        let name = format!("{LOG_PREFIX}/{}", tile.path());
        let found = bucket
            .get(&name)
            .await?
            .ok_or_else(|| fail(format!("{} is missing", bucket.full_name(&name))))?;
        let expected = tiles::hash_tile(&log.tree, level, index, width).map_err(fail)?;
        if found.as_ref() != expected.as_slice() {
            return Err(fail(format!(
                "{} does not hold the hashes of the tree the entries make",
                bucket.full_name(&name)
            )));
        }
        tiles_checked += 1;
    }
    Ok(PublishedLogReport {
        origin: log.checkpoint.origin,
        size: log.checkpoint.size,
        tiles_checked,
        cosigned_by,
        not_cosigned_by,
    })
}
