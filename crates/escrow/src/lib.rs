//! Evidence escrow: what a site copies off the box to S3-compatible object
//! storage the central office runs, so that its evidence outlives the box.
//!
//! - [`bucket`]: the bucket, where every evidence object is written once
//!   (create-only, checked where the store does not honour it) and never
//!   replaced.
//! - [`publish`]: the site's log published there as C2SP `tlog-tiles`,
//!   with the checkpoint and the cosignatures the site holds for it.
//! - [`footage`]: sealed segments copied there, checked against the
//!   fingerprint the log sealed them with.
//! - [`read`]: a published log read back and checked, trusting only the
//!   site's key (`custos verify --escrow`).
//! - [`export`]: an evidence bundle built from the bucket alone.
//! - [`run`]: the site's escrow thread.

pub mod bucket;
pub mod export;
pub mod footage;
pub mod publish;
pub mod read;
pub mod run;
