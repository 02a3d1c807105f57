//! The site's append-only log: RFC 6962 / RFC 9162 Merkle tree hashing,
//! inclusion and consistency proofs, canonical entries, C2SP checkpoints
//! signed as C2SP signed notes with Ed25519 and co-signed by witnesses
//! (`cosignature/v1`), durable storage, the evidence bundle format with its
//! offline verifier, and the log published as C2SP `tlog-tiles`.
//!
//! This crate depends on nothing else in the workspace.

pub mod bundle;
pub mod catalogue;
pub mod cosignature;
pub mod entry;
mod key_string;
pub mod merkle;
pub mod note;
pub mod storage;
pub mod tiles;
pub mod witness;
