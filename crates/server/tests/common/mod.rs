//! What the in-process API tests share: recording a segment the way the
//! recorder does, and moving the outbox into the log the way the site's
//! log writer does.

// Each test binary uses its own part of this.
#![allow(dead_code)]

use std::path::Path;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use custos_ledger::catalogue::{self, SealedSegment as LoggedSegment, SegmentSealed};
use custos_ledger::entry::Entry;
use custos_ledger::note::{sign_checkpoint, Checkpoint, SigningKey};
use custos_ledger::storage::LogStorage;
use custos_media::segment::SegmentWriter;
use custos_media::synthetic;
use custos_store::{IndexedEntry, NewSegment, SealedSegment, Store};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

pub mod strict_json;

pub type Error = Box<dyn std::error::Error>;

/// 10 fps in 90 kHz units.
pub const FRAME: i64 = 9000;
/// A key frame every 10 frames: one fragment per second.
pub const GOP: i64 = 10;

/// Writes frames `first..first + count` of camera `cam`'s synthetic 640×360
/// stream as a segment file starting at wall-clock `start_ms`, and records
/// it as sealed with its `segment.sealed` entry in the outbox.
pub fn record_segment(
    store: &Store,
    data_dir: &Path,
    start_ms: i64,
    first: i64,
    count: i64,
) -> Result<(), Error> {
    let relative = format!("video/cam/{start_ms}.mp4");
    let params = synthetic::params(640, 360);
    let mut w = SegmentWriter::create(
        &data_dir.join(&relative),
        &params,
        synthetic::frame(first, GOP),
        start_ms,
        90_000,
        9000,
    )?;
    for n in first + 1..first + count {
        w.push(synthetic::frame(n, GOP))?;
    }
    let sealed = w.finish(Some((first + count) * FRAME))?;
    let sha256 = hex::encode(sealed.sha256);
    let leaf = catalogue::leaf(
        sealed.end_ms,
        &SegmentSealed {
            segment: LoggedSegment {
                camera: "cam",
                path: &relative,
                start_ms,
                end_ms: sealed.end_ms,
                bytes: sealed.bytes,
                frames: sealed.frames,
                sha256: &sha256,
            },
            recovered: None,
        },
    )?;
    let id = store.insert_recording_segment(&NewSegment {
        camera: "cam".to_owned(),
        path: relative,
        start_ms,
        codec: params.rfc6381.clone(),
        width: Some(640),
        height: Some(360),
    })?;
    store.write("sealing a segment", |tx| {
        tx.log(leaf);
        tx.seal_segments(&[SealedSegment {
            id,
            end_ms: sealed.end_ms,
            bytes: sealed.bytes,
            frames: sealed.frames,
            sha256: sha256.clone(),
            sealed_ms: sealed.end_ms,
            recovered: false,
        }])
    })?;
    Ok(())
}

/// Does what the site's log writer does: moves the outbox into the log at
/// `dir`, indexes the entries and signs a checkpoint dated `now_ms`.
pub fn write_log(store: &Store, dir: &Path, key: &SigningKey, now_ms: i64) -> Result<(), Error> {
    let mut log = LogStorage::open(dir)?;
    let rows = store.outbox(100_000)?;
    let first = log.size();
    let leaves: Vec<&[u8]> = rows.iter().map(|r| r.leaf.as_slice()).collect();
    log.append_batch(&leaves)?;
    let mut indexed = Vec::with_capacity(leaves.len());
    for (i, leaf) in leaves.iter().enumerate() {
        let e = Entry::from_leaf_bytes(leaf)?;
        indexed.push(IndexedEntry {
            index: first + i as u64,
            camera: e.str_field("camera").map(str::to_owned),
            path: e.str_field("path").map(str::to_owned),
            at_ms: e.int_field("at_ms"),
            kind: e.kind,
            time_ms: e.time_ms,
        });
    }
    if let Some(last) = rows.last() {
        store.outbox_applied(last.id, log.size(), &indexed)?;
    }
    let size = log.size();
    let note = sign_checkpoint(
        &Checkpoint {
            origin: key.name().to_owned(),
            size,
            root: log.root(size)?,
        },
        key,
    );
    store.insert_checkpoint(size, &note, now_ms)?;
    Ok(())
}

/// An argon2id PHC hash of `password`, as `custos user add` stores it.
pub fn password_hash(password: &str) -> Result<String, Error> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| e.to_string())?
        .to_string())
}

/// Response status, headers and body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Result<Value, Error> {
        Ok(serde_json::from_slice(&self.body)?)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `error` message of a JSON error answer ("" if there is none).
    pub fn error(&self) -> String {
        self.json()
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default()
    }
}

/// Sends a request to the router in process, with an optional bearer
/// token and JSON body.
pub async fn send_body(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    json: Option<&str>,
) -> Result<Answer, Error> {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .as_deref()
        .map(|b| (header::AUTHORIZATION.as_str(), b))
        .into_iter()
        .collect();
    send_with(app, method, uri, &headers, json).await
}

/// Sends a request with arbitrary headers and an optional JSON body.
pub async fn send_with(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    json: Option<&str>,
) -> Result<Answer, Error> {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match json {
        Some(json) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(json.to_owned())
        }
        None => Body::empty(),
    };
    let response = app.clone().oneshot(request.body(body)?).await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Answer {
        status,
        headers,
        body,
    })
}
