//! The one wall clock of the site, in the units the index uses (defined
//! where the index is, which stamps its outbox with it).

pub use custos_store::clock::now_ms;
