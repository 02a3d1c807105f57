//! The escrow bucket: S3-compatible object storage where evidence is
//! written once and never replaced.
//!
//! Every evidence object is put create-only (`If-None-Match: *`). When the
//! name is already taken, the object there is read back: the same bytes
//! mean an earlier attempt finished (a restart after a crash, a lost
//! answer) and the put counts as done; other bytes are a conflict — some
//! other writer put something else under evidence's name — reported as
//! such and never overwritten.
//!
//! Stores differ: some ignore the create-only condition and overwrite.
//! [`Bucket::probe`] finds out at start-up by putting a probe object twice;
//! on such a store every put first looks for an object under the name and,
//! after writing, reads the object back and compares it, so an overwrite
//! by another writer is at least seen.

use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};
use sha2::{Digest, Sha256};

/// Where the escrow bucket is, from `[escrow]` in the site's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketConfig {
    /// The S3 endpoint, e.g. `https://store.example.org` or
    /// `http://127.0.0.1:8333`.
    pub endpoint: String,
    /// The bucket's name.
    pub bucket: String,
    /// The region the store expects in signatures.
    pub region: String,
    /// Where this site's objects go in the bucket, e.g. `sites/alpha`.
    pub prefix: String,
}

/// Why an escrow operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EscrowError {
    /// The bucket could not be set up from the configuration.
    #[error("escrow bucket {bucket} at {endpoint}: {reason}")]
    Config {
        /// The endpoint.
        endpoint: String,
        /// The bucket.
        bucket: String,
        /// Why.
        reason: String,
    },
    /// The store refused or failed an operation.
    #[error("{what} {path}: {source}")]
    Store {
        /// What was being done.
        what: &'static str,
        /// The object's full name in the bucket.
        path: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// An object already holds other bytes than the evidence meant for its
    /// name. It is left as it is.
    #[error(
        "{path} already holds other bytes (SHA-256 {found}) than this site's evidence \
         (SHA-256 {ours}); it was not overwritten"
    )]
    Conflict {
        /// The object's full name in the bucket.
        path: String,
        /// SHA-256 of the bytes found, hex.
        found: String,
        /// SHA-256 of the bytes meant for it, hex.
        ours: String,
    },
    /// The log or the site's records could not be read.
    #[error("{0}")]
    Local(String),
}

/// What a create-only put did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Put {
    /// The object was written; the store's ETag for it, if it gave one.
    Written(Option<String>),
    /// The same bytes were already there.
    AlreadyThere,
}

/// A site's prefix in the escrow bucket.
#[derive(Clone)]
pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    /// The same store, for uploads in parts.
    multipart: Arc<dyn MultipartStore>,
    prefix: String,
    /// Whether the store refuses a create-only put over an existing object.
    create_only_honoured: bool,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket")
            .field("prefix", &self.prefix)
            .field("create_only_honoured", &self.create_only_honoured)
            .finish()
    }
}

fn config_error(config: &BucketConfig, reason: String) -> EscrowError {
    EscrowError::Config {
        endpoint: config.endpoint.clone(),
        bucket: config.bucket.clone(),
        reason,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Bucket {
    /// The bucket of `config`, with the credentials of the environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optionally
    /// `AWS_SESSION_TOKEN`). Until [`Bucket::probe`] says otherwise, the
    /// store is not trusted to honour create-only puts.
    pub fn open(config: &BucketConfig) -> Result<Bucket, EscrowError> {
        let mut keys = Vec::new();
        for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            match std::env::var(var) {
                Ok(value) if !value.is_empty() => keys.push(value),
                _ => {
                    return Err(config_error(
                        config,
                        format!(
                            "the environment variable {var} is not set; the escrow's credentials \
                             come from the environment"
                        ),
                    ))
                }
            }
        }
        let token = std::env::var("AWS_SESSION_TOKEN").ok();
        Bucket::open_with_keys(config, &keys[0], &keys[1], token.as_deref())
    }

    /// The bucket of `config` with these credentials.
    pub fn open_with_keys(
        config: &BucketConfig,
        access_key_id: &str,
        secret_access_key: &str,
        session_token: Option<&str>,
    ) -> Result<Bucket, EscrowError> {
        let url = url::Url::parse(&config.endpoint)
            .map_err(|e| config_error(config, format!("endpoint is not a URL: {e}")))?;
        let mut builder = AmazonS3Builder::new()
            .with_access_key_id(access_key_id)
            .with_secret_access_key(secret_access_key);
        if let Some(token) = session_token {
            builder = builder.with_token(token);
        }
        let store = builder
            .with_endpoint(config.endpoint.trim_end_matches('/'))
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_allow_http(url.scheme() == "http")
            // Each put and part carries its SHA-256, which a store that
            // supports it checks on receipt (the read-back checks anyway).
            .with_checksum_algorithm(object_store::aws::Checksum::SHA256)
            .with_virtual_hosted_style_request(false)
            .build()
            .map_err(|e| config_error(config, e.to_string()))?;
        Ok(Bucket::from_store(Arc::new(store), &config.prefix))
    }

    /// A bucket over any store (tests use an in-memory one).
    pub fn from_store<S: ObjectStore + MultipartStore>(store: Arc<S>, prefix: &str) -> Bucket {
        Bucket {
            store: store.clone(),
            multipart: store,
            prefix: prefix.trim_matches('/').to_owned(),
            create_only_honoured: false,
        }
    }

    /// The full name in the bucket of `rel`, an object under the prefix.
    pub fn full_name(&self, rel: &str) -> String {
        if self.prefix.is_empty() {
            rel.to_owned()
        } else {
            format!("{}/{rel}", self.prefix)
        }
    }

    fn path(&self, rel: &str) -> ObjectPath {
        ObjectPath::from(self.full_name(rel))
    }

    /// Whether the store was found to refuse create-only puts over existing
    /// objects.
    pub fn create_only_honoured(&self) -> bool {
        self.create_only_honoured
    }

    /// Finds out whether the store honours create-only puts, by putting a
    /// fresh probe object twice under `probe/`: the second put must be
    /// refused. Returns the answer, which later puts go by.
    pub async fn probe(&mut self) -> Result<bool, EscrowError> {
        let name = format!("probe/{:016x}", rand_u64());
        let path = self.path(&name);
        let create = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let put = |body: &'static [u8]| {
            self.store
                .put_opts(&path, PutPayload::from_static(body), create.clone())
        };
        put(b"first")
            .await
            .map_err(|source| self.store_error("putting the probe object", &name, source))?;
        let honoured = match put(b"second").await {
            Err(object_store::Error::AlreadyExists { .. }) => true,
            Ok(_) => false,
            // A store without conditional puts at all.
            Err(object_store::Error::NotImplemented | object_store::Error::NotSupported { .. }) => {
                false
            }
            Err(source) => {
                return Err(self.store_error("putting the probe object again", &name, source))
            }
        };
        // The probe is no evidence; a store with object lock may keep it.
        let _ = self.store.delete(&path).await;
        self.create_only_honoured = honoured;
        Ok(honoured)
    }

    fn store_error(
        &self,
        what: &'static str,
        rel: &str,
        source: object_store::Error,
    ) -> EscrowError {
        EscrowError::Store {
            what,
            path: self.full_name(rel),
            source,
        }
    }

    /// The bytes of `rel`, or `None` when there is no such object.
    pub async fn get(&self, rel: &str) -> Result<Option<Bytes>, EscrowError> {
        match self.store.get(&self.path(rel)).await {
            Ok(r) => r
                .bytes()
                .await
                .map(Some)
                .map_err(|source| self.store_error("reading", rel, source)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(source) => Err(self.store_error("reading", rel, source)),
        }
    }

    /// Puts `bytes` under `rel` unless an object is there: the same bytes
    /// count as written, other bytes are a [`EscrowError::Conflict`].
    pub async fn put_once(&self, rel: &str, bytes: Bytes) -> Result<Put, EscrowError> {
        if self.create_only_honoured {
            let create = PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            };
            return match self
                .store
                .put_opts(&self.path(rel), bytes.clone().into(), create)
                .await
            {
                Ok(result) => Ok(Put::Written(result.e_tag)),
                Err(object_store::Error::AlreadyExists { .. }) => self
                    .same_as_there(rel, &bytes)
                    .await
                    .map(|()| Put::AlreadyThere),
                Err(source) => Err(self.store_error("writing", rel, source)),
            };
        }
        // The store would overwrite: look first, and read back after.
        if self.get(rel).await?.is_some() {
            return self
                .same_as_there(rel, &bytes)
                .await
                .map(|()| Put::AlreadyThere);
        }
        let result = self
            .store
            .put(&self.path(rel), bytes.clone().into())
            .await
            .map_err(|source| self.store_error("writing", rel, source))?;
        self.same_as_there(rel, &bytes).await?;
        Ok(Put::Written(result.e_tag))
    }

    async fn same_as_there(&self, rel: &str, ours: &[u8]) -> Result<(), EscrowError> {
        let found = self.get(rel).await?.unwrap_or_default();
        if found.as_ref() == ours {
            Ok(())
        } else {
            Err(EscrowError::Conflict {
                path: self.full_name(rel),
                found: sha256_hex(&found),
                ours: sha256_hex(ours),
            })
        }
    }

    /// Starts an upload in parts of `rel`; its id.
    pub async fn create_multipart(&self, rel: &str) -> Result<String, EscrowError> {
        self.multipart
            .create_multipart(&self.path(rel))
            .await
            .map_err(|source| self.store_error("starting an upload in parts of", rel, source))
    }

    /// Stores part `index` (from 0) of upload `id` of `rel`; its ETag.
    pub async fn put_part(
        &self,
        rel: &str,
        id: &str,
        index: usize,
        bytes: Bytes,
    ) -> Result<String, EscrowError> {
        self.multipart
            .put_part(&self.path(rel), &id.to_owned(), index, bytes.into())
            .await
            .map(|p| p.content_id)
            .map_err(|source| self.store_error("storing a part of", rel, source))
    }

    /// Makes the object `rel` of the parts of upload `id` (by their ETags,
    /// in order); the object's ETag, if the store gives one.
    pub async fn complete_multipart(
        &self,
        rel: &str,
        id: &str,
        parts: &[String],
    ) -> Result<Option<String>, EscrowError> {
        let parts = parts
            .iter()
            .map(|p| PartId {
                content_id: p.clone(),
            })
            .collect();
        self.multipart
            .complete_multipart(&self.path(rel), &id.to_owned(), parts)
            .await
            .map(|r| r.e_tag)
            .map_err(|source| self.store_error("completing the upload in parts of", rel, source))
    }

    /// Gives up upload `id` of `rel` (the store frees its parts).
    pub async fn abort_multipart(&self, rel: &str, id: &str) -> Result<(), EscrowError> {
        self.multipart
            .abort_multipart(&self.path(rel), &id.to_owned())
            .await
            .map_err(|source| self.store_error("abandoning the upload in parts of", rel, source))
    }

    /// Whether the object's bytes are `ours`: `Ok(true)` when they are,
    /// `Ok(false)` when there is no such object, a conflict otherwise.
    pub async fn holds(&self, rel: &str, ours: &[u8]) -> Result<bool, EscrowError> {
        match self.get(rel).await? {
            None => Ok(false),
            Some(found) if found.as_ref() == ours => Ok(true),
            Some(found) => Err(EscrowError::Conflict {
                path: self.full_name(rel),
                found: sha256_hex(&found),
                ours: sha256_hex(ours),
            }),
        }
    }

    /// Puts `bytes` under `rel`, replacing what is there: only for the
    /// checkpoint, which a growing log replaces.
    pub async fn replace(&self, rel: &str, bytes: Bytes) -> Result<(), EscrowError> {
        self.store
            .put(&self.path(rel), bytes.into())
            .await
            .map(|_| ())
            .map_err(|source| self.store_error("writing", rel, source))
    }
}

/// A random number for a probe object's name, so that probes of sites
/// sharing a prefix, or of restarts, never meet.
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    #[tokio::test]
    async fn a_name_takes_its_first_bytes_for_good() {
        let mut bucket = Bucket::from_store(Arc::new(InMemory::new()), "/sites/alpha/");
        assert!(
            bucket.probe().await.expect("probe"),
            "InMemory refuses a second create"
        );
        assert_eq!(
            bucket.full_name("log/checkpoint"),
            "sites/alpha/log/checkpoint"
        );
        let put = bucket
            .put_once("log/tile/0/000", Bytes::from_static(b"one"))
            .await;
        assert!(matches!(put.expect("put"), Put::Written(_)));
        let again = bucket
            .put_once("log/tile/0/000", Bytes::from_static(b"one"))
            .await;
        assert_eq!(again.expect("put"), Put::AlreadyThere);
        let other = bucket
            .put_once("log/tile/0/000", Bytes::from_static(b"two"))
            .await
            .expect_err("other bytes");
        assert!(matches!(other, EscrowError::Conflict { .. }), "{other}");
        assert!(
            other.to_string().contains("sites/alpha/log/tile/0/000"),
            "{other}"
        );
        let kept = bucket.get("log/tile/0/000").await.expect("get");
        assert_eq!(kept.as_deref(), Some(&b"one"[..]));
        assert_eq!(bucket.get("log/none").await.expect("get"), None);
    }

    #[tokio::test]
    async fn without_create_only_it_looks_first_and_reads_back() {
        let bucket = Bucket::from_store(Arc::new(InMemory::new()), "p");
        assert!(!bucket.create_only_honoured());
        let put = bucket.put_once("x", Bytes::from_static(b"one")).await;
        assert!(matches!(put.expect("put"), Put::Written(_)));
        let other = bucket.put_once("x", Bytes::from_static(b"two")).await;
        assert!(matches!(other, Err(EscrowError::Conflict { .. })));
        let kept = bucket.get("x").await.expect("get");
        assert_eq!(kept.as_deref(), Some(&b"one"[..]));
    }
}
