//! The site's log published in the escrow bucket as C2SP `tlog-tiles`,
//! under `<prefix>/log/`: entry bundles and hash tiles, then the
//! checkpoint note with the cosignatures the site holds for it.
//!
//! Tiles go first and the checkpoint last, so a reader who fetches the
//! checkpoint finds every tile it commits to. Each tile is put create-only
//! ([`Bucket::put_once`]); the checkpoint is the one object replaced, and
//! only ever by a larger checkpoint signed with the site's key.

use bytes::Bytes;
use custos_ledger::merkle;
use custos_ledger::note::{open_checkpoint, VerifierKey};
use custos_ledger::storage::LogStorage;
use custos_ledger::tiles::{self, Tile, TILE_WIDTH};

use crate::bucket::{Bucket, EscrowError};

/// The log's directory under the site's prefix.
pub const LOG_PREFIX: &str = "log";

/// The name of the checkpoint object under [`LOG_PREFIX`].
pub const CHECKPOINT: &str = "checkpoint";

/// What one call of [`LogPublisher::publish`] put.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Published {
    /// The published size before.
    pub from: u64,
    /// The published size after.
    pub to: u64,
    /// Tiles and bundles written (those already there not counted).
    pub objects_written: u64,
    /// Bytes of them, checkpoint included.
    pub bytes_written: u64,
}

/// Publishes one site's log into its prefix of the escrow bucket.
pub struct LogPublisher {
    bucket: Bucket,
    log: LogStorage,
    key: VerifierKey,
    published: u64,
}

fn local(what: impl std::fmt::Display) -> EscrowError {
    EscrowError::Local(what.to_string())
}

fn log_object(rel: &str) -> String {
    format!("{LOG_PREFIX}/{rel}")
}

impl LogPublisher {
    /// A publisher of the log in `log` (opened read-only: the site's writer
    /// keeps it open beside), signed by `key`, that carries on from the
    /// checkpoint already in the bucket, if any.
    ///
    /// Refuses a bucket whose checkpoint is not signed by `key` or is
    /// larger than the log: publishing over either would hide it.
    pub async fn start(
        bucket: Bucket,
        log: LogStorage,
        key: VerifierKey,
    ) -> Result<Self, EscrowError> {
        let mut publisher = LogPublisher {
            bucket,
            log,
            key,
            published: 0,
        };
        let name = log_object(CHECKPOINT);
        if let Some(found) = publisher.bucket.get(&name).await? {
            let text = std::str::from_utf8(&found).map_err(|_| {
                local(format!(
                    "{} is not text; it is not a checkpoint of this site's log",
                    publisher.bucket.full_name(&name)
                ))
            })?;
            let checkpoint = open_checkpoint(text, &publisher.key).map_err(|e| {
                local(format!(
                    "{} is not a checkpoint signed by this site's log key {}: {e}",
                    publisher.bucket.full_name(&name),
                    publisher.key.short()
                ))
            })?;
            let size = publisher
                .log
                .refresh_size()
                .map_err(|e| local(format!("reading the log: {e}")))?;
            if checkpoint.size > size {
                return Err(local(format!(
                    "{} commits to {} entries but this site's log holds {size}: the log was cut \
                     back or restored from an older copy; nothing is published over it",
                    publisher.bucket.full_name(&name),
                    checkpoint.size
                )));
            }
            publisher.published = checkpoint.size;
        }
        Ok(publisher)
    }

    /// The bucket it publishes to.
    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    /// The size of the log the bucket's checkpoint commits to.
    pub fn published_size(&self) -> u64 {
        self.published
    }

    /// Publishes the log up to the checkpoint `note` (signed by the site's
    /// key, cosignature lines after): the tiles the larger tree adds, then
    /// the note. `throttle` is called with the size of each object before
    /// it is sent. A checkpoint no larger than the published one changes
    /// nothing.
    pub async fn publish(
        &mut self,
        note: &str,
        throttle: &(dyn Fn(usize) + Send + Sync),
    ) -> Result<Published, EscrowError> {
        let checkpoint = open_checkpoint(note, &self.key)
            .map_err(|e| local(format!("the checkpoint to publish does not open: {e}")))?;
        let mut done = Published {
            from: self.published,
            to: self.published,
            ..Published::default()
        };
        if checkpoint.size <= self.published {
            return Ok(done);
        }
        let size = self
            .log
            .refresh_size()
            .map_err(|e| local(format!("reading the log: {e}")))?;
        if size < checkpoint.size {
            return Err(local(format!(
                "the checkpoint commits to {} entries but the log holds {size}",
                checkpoint.size
            )));
        }
        // The tiles are read from the log on disk: they must be the tree
        // the checkpoint signs, or the bucket would hold tiles no
        // checkpoint matches.
        let root = merkle::root(&self.log, checkpoint.size)
            .map_err(|e| local(format!("computing the log's root: {e}")))?;
        if root != checkpoint.root {
            return Err(local(format!(
                "the log on disk does not have the root of its checkpoint of size {}; nothing is \
                 published",
                checkpoint.size
            )));
        }
        for tile in tiles::tiles_to_publish(self.published, checkpoint.size) {
            let bytes = self.tile_bytes(&tile)?;
            throttle(bytes.len());
            let len = bytes.len() as u64;
            let put = self
                .bucket
                .put_once(&log_object(&tile.path()), bytes)
                .await?;
            if matches!(put, crate::bucket::Put::Written(_)) {
                done.objects_written += 1;
                done.bytes_written += len;
            }
        }
        throttle(note.len());
        self.bucket
            .replace(
                &log_object(CHECKPOINT),
                Bytes::copy_from_slice(note.as_bytes()),
            )
            .await?;
        done.bytes_written += note.len() as u64;
        self.published = checkpoint.size;
        done.to = checkpoint.size;
        Ok(done)
    }

    fn tile_bytes(&self, tile: &Tile) -> Result<Bytes, EscrowError> {
        let bytes = match *tile {
            Tile::Hashes {
                level,
                index,
                width,
            } => tiles::hash_tile(&self.log, level, index, width).map_err(local)?,
            Tile::Entries { index, width } => {
                let first = index * TILE_WIDTH;
                let entries = (first..first + width)
                    .map(|i| {
                        self.log
                            .entry(i)
                            .map_err(|e| local(format!("reading log entry {i}: {e}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                tiles::entry_bundle(first, &entries).map_err(local)?
            }
        };
        Ok(Bytes::from(bytes))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use custos_ledger::note::{sign_checkpoint, Checkpoint, SigningKey};
    use object_store::memory::InMemory;

    use super::*;

    fn checkpoint_of(log: &LogStorage, size: u64, key: &SigningKey) -> String {
        let root = merkle::root(log, size).expect("root");
        sign_checkpoint(
            &Checkpoint {
                origin: "example.org/custos/alpha".to_owned(),
                size,
                root,
            },
            key,
        )
    }

    #[tokio::test]
    async fn tiles_then_checkpoint_and_only_what_is_new() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = LogStorage::open(dir.path()).expect("log");
        let entries: Vec<Vec<u8>> = (0..300u32)
            .map(|i| format!("entry {i}").into_bytes())
            .collect();
        log.append_batch(&entries).expect("append");
        let key = SigningKey::generate("example.org/custos/alpha").expect("key");
        let store = Arc::new(InMemory::new());
        let mut bucket = Bucket::from_store(store.clone(), "sites/alpha");
        bucket.probe().await.expect("probe");
        let reader = LogStorage::open_read_only(dir.path()).expect("reader");
        let mut publisher = LogPublisher::start(bucket.clone(), reader, key.verifier())
            .await
            .expect("start");
        let none = |_: usize| {};
        let first = publisher
            .publish(&checkpoint_of(&log, 100, &key), &none)
            .await
            .expect("publish");
        // One partial level-0 tile and its bundle.
        assert_eq!((first.from, first.to, first.objects_written), (0, 100, 2));
        let bundle = bucket
            .get("log/tile/entries/000.p/100")
            .await
            .expect("get")
            .expect("bundle");
        let split = tiles::split_entry_bundle(&bundle).expect("split");
        assert_eq!(split[99], b"entry 99");
        let second = publisher
            .publish(&checkpoint_of(&log, 300, &key), &none)
            .await
            .expect("publish");
        // Full tile 0 and bundle, partial tile 1 and bundle, level-1 tile.
        assert_eq!(
            (second.from, second.to, second.objects_written),
            (100, 300, 5)
        );
        let level1 = bucket
            .get("log/tile/1/000.p/1")
            .await
            .expect("get")
            .expect("tile");
        assert_eq!(level1.as_ref(), &merkle::root(&log, 256).expect("root")[..]);
        // An older checkpoint changes nothing.
        let old = publisher
            .publish(&checkpoint_of(&log, 50, &key), &none)
            .await
            .expect("publish");
        assert_eq!(old.objects_written, 0);
        // A restart carries on from the bucket's checkpoint.
        let reader = LogStorage::open_read_only(dir.path()).expect("reader");
        let again = LogPublisher::start(bucket.clone(), reader, key.verifier())
            .await
            .expect("start");
        assert_eq!(again.published_size(), 300);
        // Another key's checkpoint in the bucket is refused, not overwritten.
        let other = SigningKey::generate("example.org/custos/alpha").expect("key");
        let reader = LogStorage::open_read_only(dir.path()).expect("reader");
        let refused = LogPublisher::start(bucket.clone(), reader, other.verifier()).await;
        let err = refused.err().expect("refused").to_string();
        assert!(
            err.contains("sites/alpha/log/checkpoint is not a checkpoint signed"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_checkpoint_the_log_does_not_match_publishes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = LogStorage::open(dir.path()).expect("log");
        log.append_batch(&[b"a".to_vec(), b"b".to_vec()])
            .expect("append");
        let key = SigningKey::generate("example.org/custos/alpha").expect("key");
        let forged = sign_checkpoint(
            &Checkpoint {
                origin: "example.org/custos/alpha".to_owned(),
                size: 2,
                root: [7u8; 32],
            },
            &key,
        );
        let bucket = Bucket::from_store(Arc::new(InMemory::new()), "s");
        let reader = LogStorage::open_read_only(dir.path()).expect("reader");
        let mut publisher = LogPublisher::start(bucket.clone(), reader, key.verifier())
            .await
            .expect("start");
        let err = publisher
            .publish(&forged, &|_| {})
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("does not have the root"), "{err}");
        assert_eq!(bucket.get("log/checkpoint").await.expect("get"), None);
        assert_eq!(bucket.get("log/tile/0/000.p/2").await.expect("get"), None);
    }
}
