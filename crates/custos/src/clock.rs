//! Wall-clock time in the units the index uses: the site's one clock.

pub use custos_site::clock::now_ms;
