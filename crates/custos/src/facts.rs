//! The log entries Custos writes, one constructor per kind of fact. Each
//! returns the entry's canonical leaf bytes, ready for `Store::with_log`.
//!
//! Field names here are part of the evidence format
//! (`docs/evidence-format.md`): change them only with a new entry type.

use custos_ledger::entry::Entry;
pub use custos_ledger::entry::SealedSegment;
use serde_json::{json, Value};

use crate::clock::now_ms;

fn leaf(kind: &str, fields: Value) -> Vec<u8> {
    let mut entry = Entry::new(kind, now_ms());
    if let Value::Object(map) = fields {
        for (k, v) in map {
            entry = entry.with(&k, v);
        }
    }
    // Every field is a string, integer, boolean or null: always encodable.
    match entry.to_leaf_bytes() {
        Ok(bytes) => bytes,
        Err(e) => unreachable!("entry {kind} is canonical by construction: {e}"),
    }
}

/// A segment file was sealed: the custody fingerprint of its bytes.
/// `recovered` says crash recovery, not the recorder, sealed it.
pub fn segment_sealed(segment: &SealedSegment<'_>, recovered: bool) -> Vec<u8> {
    let entry = Entry::segment_sealed(now_ms(), segment).with("recovered", recovered.into());
    match entry.to_leaf_bytes() {
        Ok(bytes) => bytes,
        Err(e) => unreachable!("segment.sealed is canonical by construction: {e}"),
    }
}

/// A sealed segment's bytes were deleted; the entry that sealed it stays.
pub fn segment_deleted(
    camera: &str,
    path: &str,
    sha256: Option<&str>,
    reason: &str,
    by: &str,
) -> Vec<u8> {
    leaf(
        "segment.deleted",
        json!({"camera": camera, "path": path, "sha256": sha256, "reason": reason, "by": by}),
    )
}

/// A segment's file was found missing at start.
pub fn segment_missing(camera: &str, path: &str, sha256: Option<&str>) -> Vec<u8> {
    leaf(
        "segment.missing",
        json!({"camera": camera, "path": path, "sha256": sha256}),
    )
}

pub fn camera_state(camera: &str, at_ms: i64, state: &str, detail: Option<&str>) -> Vec<u8> {
    leaf(
        "camera.state",
        json!({"camera": camera, "at_ms": at_ms, "state": state, "detail": detail}),
    )
}

pub fn config_loaded(sha256: &str, cameras: usize) -> Vec<u8> {
    leaf(
        "config.loaded",
        json!({"sha256": sha256, "cameras": cameras}),
    )
}

pub fn user_created(name: &str, role: &str, by: &str) -> Vec<u8> {
    leaf(
        "user.created",
        json!({"name": name, "role": role, "by": by}),
    )
}

pub fn token_created(id: &str, user: &str, by: &str) -> Vec<u8> {
    leaf("token.created", json!({"id": id, "user": user, "by": by}))
}

pub fn token_revoked(id: &str, by: &str) -> Vec<u8> {
    leaf("token.revoked", json!({"id": id, "by": by}))
}

pub fn footage_exported(
    user: &str,
    camera: &str,
    start_ms: i64,
    end_ms: i64,
    reason: &str,
    segments: usize,
) -> Vec<u8> {
    leaf(
        "footage.exported",
        json!({"user": user, "camera": camera, "start_ms": start_ms, "end_ms": end_ms, "reason": reason, "segments": segments}),
    )
}

/// Who is at the keyboard of a command-line action: the operating-system user.
pub fn cli_actor() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}
