//! Checks on caller-supplied values, run before touching the database so bad
//! input is reported as [`StoreError::InvalidArgument`](crate::StoreError).

use crate::error::{ensure, Result};

/// Longest accepted camera, user or token name, in bytes.
const MAX_NAME_LEN: usize = 128;

/// A name (camera, user): non-empty, at most [`MAX_NAME_LEN`] bytes, no
/// control characters and no surrounding whitespace.
pub(crate) fn name(what: &str, value: &str) -> Result<()> {
    ensure(!value.is_empty(), || format!("{what} must not be empty"))?;
    ensure(value.len() <= MAX_NAME_LEN, || {
        format!("{what} {value:?} is longer than {MAX_NAME_LEN} bytes")
    })?;
    ensure(!value.chars().any(char::is_control), || {
        format!("{what} {value:?} contains control characters")
    })?;
    ensure(value.trim() == value, || {
        format!("{what} {value:?} has leading or trailing whitespace")
    })
}

/// A segment path: relative, `/`-separated, with no empty, `.` or `..`
/// parts, so it always stays inside the data directory.
pub(crate) fn relative_path(value: &str) -> Result<()> {
    ensure(!value.is_empty(), || {
        "segment path must not be empty".to_owned()
    })?;
    ensure(!value.chars().any(char::is_control), || {
        format!("segment path {value:?} contains control characters")
    })?;
    ensure(
        value
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != ".."),
        || {
            format!("segment path {value:?} must be relative to the data directory without '.' or '..' parts")
        },
    )
}

/// A SHA-256 digest as 64 lower-case hex digits.
pub(crate) fn sha256_hex(what: &str, value: &str) -> Result<()> {
    ensure(
        value.len() == 64
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        || format!("{what} {value:?} is not 64 lower-case hex digits"),
    )
}

/// A short free-form text field that must say something.
pub(crate) fn non_empty(what: &str, value: &str) -> Result<()> {
    ensure(!value.trim().is_empty(), || {
        format!("{what} must not be empty")
    })
}

/// A time range given as `start_ms..end_ms`, which must not run backwards.
pub(crate) fn range(start_ms: i64, end_ms: i64) -> Result<()> {
    ensure(end_ms >= start_ms, || {
        format!("time range ends ({end_ms}) before it starts ({start_ms})")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert!(relative_path("video/stacks/1764340000000.mp4").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "video//a.mp4",
            "video/../a.mp4",
            "./a",
            "a/",
            "a\nb",
        ] {
            assert!(relative_path(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn names_and_digests() {
        assert!(name("camera", "stacks").is_ok());
        for bad in ["", " stacks", "st\tacks", &"x".repeat(129)] {
            assert!(name("camera", bad).is_err(), "{bad:?} accepted");
        }
        assert!(sha256_hex("sha256", &"0a".repeat(32)).is_ok());
        assert!(sha256_hex("sha256", &"0A".repeat(32)).is_err());
        assert!(sha256_hex("sha256", &"0a".repeat(31)).is_err());
        assert!(sha256_hex("sha256", &"0g".repeat(32)).is_err());
    }
}
