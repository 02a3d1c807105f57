//! Everything Custos does with libavcodec and libavformat, run in the
//! `custos-av` helper process: decoding camera frames and files for
//! analysis, JPEG snapshots and thumbnails, demuxing `file://` sources,
//! and encoding the demo's synthetic clips.
//!
//! The recorder talks to it through `custos_media::decode` over the
//! messages of `custos_media::av_wire`; nothing else in the workspace may
//! depend on this crate (a test checks that the `custos` binary does not
//! load libav).

pub mod clip;
pub mod codec;
pub mod serve;

/// A failure to report back, with its kind.
#[derive(Debug)]
pub struct AvError {
    pub kind: custos_media::av_wire::ErrorKind,
    pub message: String,
}

impl AvError {
    fn codec(what: &str, e: impl std::fmt::Display) -> AvError {
        AvError {
            kind: custos_media::av_wire::ErrorKind::Codec,
            message: format!("{what}: {e}"),
        }
    }
    fn file(reason: impl Into<String>) -> AvError {
        AvError {
            kind: custos_media::av_wire::ErrorKind::File,
            message: reason.into(),
        }
    }
}

impl std::fmt::Display for AvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
