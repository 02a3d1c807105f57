//! Camera sources, fragmented MP4 writing and reading, and segment files.
//!
//! This crate knows nothing of HTTP or of the database: it turns a camera's
//! frames into files and tells its caller what the index must record.

pub mod av_wire;
pub mod decode;
pub mod decode_time;
pub mod fmp4;
pub mod layout;
pub mod mjpeg_http;
pub mod mp4box;
pub mod nal;
pub mod params;
pub mod recorder;
pub mod recovery;
pub mod segment;
pub mod source;
pub mod span;
pub mod sps;
pub mod synthetic;
pub mod tls_pin;
