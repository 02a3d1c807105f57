//! The site's operations, below every way of reaching them.
//!
//! The HTTP API (`custos-server`) and the command line (`custos`) are
//! adapters over this crate: both call the same functions, so a rule holds
//! however an operation is asked for. Nothing here knows of HTTP (the crate
//! does not depend on axum; `tests/layering.rs` checks it).

pub mod alerts;
pub mod analysis;
pub mod analysis_events;
pub mod audit;
pub mod backoff;
pub mod camera;
pub mod cameras;
pub mod central_link;
pub mod central_mirror;
pub mod central_report;
pub mod central_wire;
pub mod clock;
pub mod commit;
pub mod coverage;
pub use custos_webapp::credentials;
pub mod data_dir;
pub mod disk;
pub mod evidence;
pub mod exports;
pub mod facts;
pub mod integrity;
pub mod live;
pub mod notifier;
pub mod open;
pub mod recording;
pub mod register;
pub mod reports;
pub mod rules;
pub mod scope;
pub mod segments;
pub mod settings;
pub mod sign_in;
pub mod sitelog;
pub mod storage;
pub mod thumbnails;
pub mod uplink;
pub mod users;
pub mod views;

/// A change whose log entry cannot be encoded is refused with its rows, as
/// an invalid argument of the write.
pub(crate) fn unloggable(e: custos_ledger::catalogue::LeafError) -> custos_store::StoreError {
    custos_store::StoreError::InvalidArgument(e.to_string())
}

/// Why a fact could not be logged; what it records is then not done (a
/// view not shown, an unlock not made, a change not applied).
#[derive(Debug, thiserror::Error)]
pub enum NotLogged {
    /// The entry could not be encoded.
    #[error("encoding the log entry: {0}")]
    Encoding(#[from] custos_ledger::catalogue::LeafError),
    /// The index refused it.
    #[error(transparent)]
    Store(#[from] custos_store::StoreError),
}
