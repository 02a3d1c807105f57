//! The one wall clock of the site, in the units the index uses (the store
//! stamps its outbox with it; `custos_site::clock` is the same clock).

/// Milliseconds since the Unix epoch now (0 if the clock is before 1970,
/// which only a broken clock reports).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
