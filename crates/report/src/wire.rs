//! How notes travel to the centre: gzipped (`Content-Encoding: gzip`), as
//! a slow uplink wants; the centre also takes them plain.
//!
//! Notes of log entries, JSON in base64, shrink about fivefold gzipped, so
//! a site that was offline for a week sends its backlog in a fifth of the
//! time (`custos bench catch-up`, figures in `docs/benchmarks.md`).

use std::io::{Read, Write};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

/// The `Content-Encoding` of a compressed note.
pub const GZIP: &str = "gzip";

/// Why a compressed note could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    /// It is not gzip, or is cut short.
    #[error("the body is not valid gzip: {0}")]
    NotGzip(String),
    /// It would decompress to more than the limit.
    #[error("the body decompresses to more than {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// The note is not UTF-8.
    #[error("the decompressed body is not UTF-8 text")]
    NotText,
}

/// `text` gzipped.
pub fn compress(text: &str) -> Vec<u8> {
    // The default level: level 9 saves a few per cent at several times the
    // CPU of a small box.
    let mut encoder = GzEncoder::new(Vec::with_capacity(text.len() / 3), Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(text.as_bytes());
    encoder.finish().unwrap_or_default()
}

/// `body` gunzipped, refused past `max` bytes (a small body may inflate
/// to gigabytes).
pub fn decompress(body: &[u8], max: usize) -> Result<String, WireError> {
    let mut out = Vec::new();
    GzDecoder::new(body)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| WireError::NotGzip(e.to_string()))?;
    if out.len() > max {
        return Err(WireError::TooLarge { max });
    }
    String::from_utf8(out).map_err(|_| WireError::NotText)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_comes_back_as_it_went() {
        let note = "custos-entries/v1\nsite\n0\neyJraW5kIjoieCJ9\n\n\u{2014} site abc=\n";
        let packed = compress(note);
        assert_eq!(decompress(&packed, 1024).as_deref(), Ok(note));
    }

    #[test]
    fn a_bomb_is_refused_at_the_limit() {
        let big = "a".repeat(1 << 20);
        let packed = compress(&big);
        assert!(packed.len() < 4096);
        assert_eq!(
            decompress(&packed, 64 * 1024),
            Err(WireError::TooLarge { max: 64 * 1024 })
        );
        assert_eq!(decompress(&packed, 1 << 20).map(|s| s.len()), Ok(1 << 20));
    }

    #[test]
    fn broken_bodies_are_named() {
        assert!(matches!(
            decompress(b"plain text", 1024),
            Err(WireError::NotGzip(_))
        ));
        let packed = compress("some text that is long enough");
        assert!(matches!(
            decompress(&packed[..packed.len() - 6], 1024),
            Err(WireError::NotGzip(_))
        ));
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(&[0xff, 0xfe, 0x00]).expect("write");
        let not_text = encoder.finish().expect("finish");
        assert_eq!(decompress(&not_text, 1024), Err(WireError::NotText));
    }
}
