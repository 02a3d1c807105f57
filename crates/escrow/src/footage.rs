//! Footage escrow: a sealed segment copied to the bucket under the same
//! relative name it has in the site's data directory
//! (`<prefix>/video/<camera>/…`), create-only, then read back and checked
//! against the SHA-256 the log sealed it with.
//!
//! A file whose bytes no longer have their sealed fingerprint is not sent:
//! the bucket must only ever hold what the log vouches for (the site's
//! integrity check reports such a file).
//!
//! A segment above [`MULTIPART_ABOVE`] goes in parts of [`PART_SIZE`], each
//! part's ETag recorded in the index as it is stored, so an upload cut by
//! the link, the store or a restart carries on from the next part; the
//! object appears under its name only when the store completes the upload,
//! whole. A store without create-only completion is looked at just before
//! completing, and the read-back after it catches what slipped between.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use custos_store::clock::now_ms;
use custos_store::Store;

use crate::bucket::{Bucket, EscrowError, Put};

/// Segments larger than this go in parts.
pub const MULTIPART_ABOVE: usize = 16 << 20;

/// Bytes per part (S3 wants at least 5 MiB for every part but the last).
pub const PART_SIZE: usize = 8 << 20;

/// Where an upload in parts is remembered between attempts.
#[derive(Clone, Copy)]
pub struct Progress<'a> {
    /// The site's index.
    pub store: &'a Store,
    /// The segment's row.
    pub segment_id: i64,
}

/// A segment to copy: what the site's index says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentToEscrow {
    /// Its camera.
    pub camera: String,
    /// Its path relative to the data directory (`video/<camera>/…`).
    pub path: String,
    /// The SHA-256 it was sealed with, lower-case hex.
    pub sha256: String,
}

/// Where a segment went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escrowed {
    /// Its full name in the bucket.
    pub object: String,
    /// The store's ETag, when this put wrote it and the store gave one.
    pub etag: Option<String>,
    /// Bytes sent (0 when the same bytes were there already).
    pub bytes_sent: u64,
}

/// Why a segment could not be escrowed.
#[derive(Debug, thiserror::Error)]
pub enum FootageError {
    /// The file on the site is missing, unreadable or no longer the one
    /// that was sealed: this segment is skipped, others go on.
    #[error("{path}: {reason}")]
    Local {
        /// The segment's path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The bucket failed or holds other bytes under the name.
    #[error(transparent)]
    Escrow(#[from] EscrowError),
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A relative segment path that stays under the prefix: no absolute path,
/// no `..`, no empty part.
fn safe_relative(path: &str) -> bool {
    !path.starts_with('/')
        && path
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

/// Copies one sealed segment of the site whose data directory is
/// `data_dir` into `bucket`; `throttle` is called with its size first.
pub async fn escrow_segment(
    bucket: &Bucket,
    data_dir: &Path,
    segment: &SegmentToEscrow,
    progress: Option<Progress<'_>>,
    throttle: &(dyn Fn(usize) + Send + Sync),
) -> Result<Escrowed, FootageError> {
    let local = |reason: String| FootageError::Local {
        path: segment.path.clone(),
        reason,
    };
    if !safe_relative(&segment.path) {
        return Err(local("not a path inside the data directory".into()));
    }
    let file: PathBuf = data_dir.join(&segment.path);
    let bytes = tokio::fs::read(&file)
        .await
        .map_err(|e| local(format!("reading {}: {e}", file.display())))?;
    let found = sha256_hex(&bytes);
    if !found.eq_ignore_ascii_case(&segment.sha256) {
        return Err(local(format!(
            "the file's SHA-256 is {found}, not the {} it was sealed with; it is not escrowed",
            segment.sha256
        )));
    }
    let len = bytes.len();
    let put = if len > MULTIPART_ABOVE {
        put_in_parts(bucket, segment, Bytes::from(bytes), progress, throttle).await?
    } else {
        throttle(len);
        bucket.put_once(&segment.path, Bytes::from(bytes)).await?
    };
    // Read back whole: what the bucket holds is what the log sealed.
    let stored = bucket.get(&segment.path).await?.ok_or_else(|| {
        EscrowError::Local(format!(
            "{} vanished after it was written",
            bucket.full_name(&segment.path)
        ))
    })?;
    let stored_sha = sha256_hex(&stored);
    if !stored_sha.eq_ignore_ascii_case(&segment.sha256) {
        return Err(EscrowError::Conflict {
            path: bucket.full_name(&segment.path),
            found: stored_sha,
            ours: segment.sha256.clone(),
        }
        .into());
    }
    let (etag, bytes_sent) = match put {
        Put::Written(etag) => (etag, len as u64),
        Put::AlreadyThere => (None, 0),
    };
    Ok(Escrowed {
        object: bucket.full_name(&segment.path),
        etag,
        bytes_sent,
    })
}

fn index_error(e: custos_store::StoreError) -> FootageError {
    FootageError::Escrow(EscrowError::Local(format!(
        "recording an upload's progress: {e}"
    )))
}

/// Puts `bytes` under the segment's name in parts, carrying on from the
/// parts `progress` remembers.
async fn put_in_parts(
    bucket: &Bucket,
    segment: &SegmentToEscrow,
    bytes: Bytes,
    progress: Option<Progress<'_>>,
    throttle: &(dyn Fn(usize) + Send + Sync),
) -> Result<Put, FootageError> {
    let rel = segment.path.as_str();
    // Already there (an earlier attempt completed but was not recorded).
    if bucket.holds(rel, &bytes).await? {
        return Ok(Put::AlreadyThere);
    }
    let remembered = match progress {
        Some(p) => p.store.escrow_upload(p.segment_id).map_err(index_error)?,
        None => None,
    }
    .filter(|u| u.object == rel && u.part_size == PART_SIZE as u64);
    let (upload_id, mut parts) = match remembered {
        Some(u) => (u.upload_id, u.parts),
        None => {
            let id = bucket.create_multipart(rel).await?;
            if let Some(p) = progress {
                p.store
                    .write("starting an upload in parts", |tx| {
                        tx.begin_escrow_upload(p.segment_id, rel, &id, PART_SIZE as u64, now_ms())
                    })
                    .map_err(index_error)?;
            }
            (id, Vec::new())
        }
    };
    let count = bytes.len().div_ceil(PART_SIZE);
    for index in parts.len()..count {
        let part = bytes.slice(index * PART_SIZE..((index + 1) * PART_SIZE).min(bytes.len()));
        throttle(part.len());
        let etag = match bucket.put_part(rel, &upload_id, index, part).await {
            Ok(etag) => etag,
            Err(EscrowError::Store {
                source: object_store::Error::NotFound { .. },
                ..
            }) => {
                // The store no longer knows the upload (it expired, or was
                // aborted): the next attempt starts it afresh.
                forget(progress)?;
                return Err(EscrowError::Local(format!(
                    "the store no longer knows the upload of {rel}; it starts again"
                ))
                .into());
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(p) = progress {
            p.store
                .write("recording a stored part", |tx| {
                    tx.escrow_part_stored(p.segment_id, &etag)
                })
                .map_err(index_error)?;
        }
        parts.push(etag);
    }
    // Someone else's object under the name by now is a conflict, and the
    // parts are given up rather than completed over it.
    if let Err(e) = bucket.holds(rel, &bytes).await {
        let _ = bucket.abort_multipart(rel, &upload_id).await;
        forget(progress)?;
        return Err(e.into());
    }
    let etag = bucket.complete_multipart(rel, &upload_id, &parts).await?;
    forget(progress)?;
    Ok(Put::Written(etag))
}

fn forget(progress: Option<Progress<'_>>) -> Result<(), FootageError> {
    if let Some(p) = progress {
        p.store
            .write("forgetting an upload in parts", |tx| {
                tx.end_escrow_upload(p.segment_id)
            })
            .map_err(index_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use object_store::memory::InMemory;

    use super::*;

    #[tokio::test]
    async fn a_segment_goes_once_and_only_with_its_sealed_fingerprint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let video = dir.path().join("video/door");
        std::fs::create_dir_all(&video).expect("mkdir");
        std::fs::write(video.join("1.mp4"), b"moov and mdat").expect("write");
        let mut bucket = Bucket::from_store(Arc::new(InMemory::new()), "sites/a");
        bucket.probe().await.expect("probe");
        let mut segment = SegmentToEscrow {
            camera: "door".into(),
            path: "video/door/1.mp4".into(),
            sha256: sha256_hex(b"moov and mdat"),
        };
        let none = |_: usize| {};
        let first = escrow_segment(&bucket, dir.path(), &segment, None, &none)
            .await
            .expect("escrow");
        assert_eq!(first.object, "sites/a/video/door/1.mp4");
        assert_eq!(first.bytes_sent, 13);
        let again = escrow_segment(&bucket, dir.path(), &segment, None, &none)
            .await
            .expect("again");
        assert_eq!(again.bytes_sent, 0, "the same bytes are there already");

        // Edited on disk after sealing: not sent.
        std::fs::write(video.join("2.mp4"), b"edited").expect("write");
        segment.path = "video/door/2.mp4".into();
        let err = escrow_segment(&bucket, dir.path(), &segment, None, &none)
            .await
            .expect_err("edited");
        assert!(matches!(err, FootageError::Local { .. }), "{err}");
        assert!(err.to_string().contains("not the"), "{err}");
        assert_eq!(bucket.get("video/door/2.mp4").await.expect("get"), None);

        segment.path = "../keys/log.key".into();
        let err = escrow_segment(&bucket, dir.path(), &segment, None, &none)
            .await
            .expect_err("outside");
        assert!(err.to_string().contains("not a path inside"), "{err}");
    }
}
