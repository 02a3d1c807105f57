//! MJPEG over HTTP: the `multipart/x-mixed-replace` stream that cheap and
//! old cameras serve from their web port (`/video.cgi`, `/mjpg/video.mjpg`,
//! …): one JPEG picture per part, each replacing the last.
//!
//! The parts carry no time stamps: a picture's presentation time is when
//! its last byte arrived. Parts come with or without `Content-Length`;
//! without it the picture ends where the next boundary begins. Cameras
//! differ in small ways this reader tolerates: a boundary parameter with or
//! without quotes and with or without the leading `--`, LF instead of CRLF,
//! a missing blank line before the boundary.

use std::io::{BufRead, BufReader, Read};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::fmp4::TIMESCALE;
use crate::params::VideoParams;
use crate::segment::Frame;
use crate::source::{SourceError, SourceItem, SourceSpec};

/// No picture for this long ends the session (as for RTSP cameras).
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// A part larger than this is not a camera picture.
const MAX_PICTURE: usize = 32 << 20;
/// Header lines of a part, at most.
const MAX_HEADER_LINES: usize = 64;

/// A connected MJPEG-over-HTTP camera.
pub struct HttpMjpegSource {
    rx: mpsc::Receiver<Result<SourceItem, SourceError>>,
}

impl HttpMjpegSource {
    /// Sends the request and checks the answer is a multipart stream; the
    /// pictures are then read on a thread of their own.
    pub async fn connect(spec: &SourceSpec) -> Result<Self, SourceError> {
        let spec = spec.clone();
        let (reader, boundary) = tokio::task::spawn_blocking(move || open(&spec))
            .await
            .map_err(|e| SourceError::Stream(format!("connecting: {e}")))??;
        let (tx, rx) = mpsc::channel(16);
        std::thread::Builder::new()
            .name("mjpeg-http".into())
            .spawn(move || {
                let mut parts =
                    PartReader::new(BufReader::with_capacity(64 << 10, reader), &boundary);
                read_pictures(&mut parts, &tx);
            })
            .map_err(|e| SourceError::Stream(format!("starting the MJPEG reader: {e}")))?;
        Ok(HttpMjpegSource { rx })
    }

    pub async fn next(&mut self) -> Result<SourceItem, SourceError> {
        self.rx.recv().await.unwrap_or(Err(SourceError::Ended))
    }
}

fn open(spec: &SourceSpec) -> Result<(Box<dyn Read + Send>, Vec<u8>), SourceError> {
    let mut builder = ureq::AgentBuilder::new()
        .timeout_connect(READ_TIMEOUT)
        .timeout_read(READ_TIMEOUT)
        .user_agent(&format!("Custos/{}", env!("CARGO_PKG_VERSION")));
    if let Some(pin) = spec.tls_fingerprint {
        builder = builder.tls_config(crate::tls_pin::client_config(pin)?);
    }
    let agent = builder.build();
    let mut url = spec.url.clone();
    // Credentials go in the Authorization header, never in the URL.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let mut request = agent.get(url.as_str());
    if let Some((user, password)) = &spec.credentials {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        request = request.set("Authorization", &format!("Basic {token}"));
    }
    let response = match request.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(401, _)) => return Err(SourceError::AuthenticationFailed),
        Err(ureq::Error::Status(status, r)) => {
            return Err(SourceError::Rejected {
                status,
                detail: r.status_text().to_owned(),
            })
        }
        Err(ureq::Error::Transport(t)) => {
            let text = t.to_string();
            return Err(match t.kind() {
                ureq::ErrorKind::ConnectionFailed if text.contains("refused") => {
                    SourceError::Refused(text)
                }
                ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Dns => {
                    SourceError::Unreachable(text)
                }
                _ => SourceError::Stream(text),
            });
        }
    };
    let content_type = response.header("Content-Type").unwrap_or("").to_owned();
    let boundary = multipart_boundary(&content_type).ok_or_else(|| {
        SourceError::Stream(if content_type.to_ascii_lowercase().starts_with("image/") {
            format!(
                "the URL gives a single picture ({content_type}), not a stream: use the \
                 camera's MJPEG stream URL"
            )
        } else {
            format!(
                "the answer is {:?}, not an MJPEG stream (multipart/x-mixed-replace)",
                if content_type.is_empty() {
                    "without a content type"
                } else {
                    &content_type
                }
            )
        })
    })?;
    Ok((Box::new(response.into_reader()), boundary))
}

/// The boundary of a `multipart/x-mixed-replace; boundary=…` content type,
/// without quotes or a leading `--`.
pub fn multipart_boundary(content_type: &str) -> Option<Vec<u8>> {
    let (mime, params) = content_type.split_once(';').unwrap_or((content_type, ""));
    if !mime
        .trim()
        .eq_ignore_ascii_case("multipart/x-mixed-replace")
    {
        return None;
    }
    params.split(';').find_map(|p| {
        let (name, value) = p.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim().trim_matches('"');
        let value = value.strip_prefix("--").unwrap_or(value);
        (!value.is_empty()).then(|| value.as_bytes().to_vec())
    })
}

/// Reads parts of a multipart stream.
pub struct PartReader<R> {
    input: R,
    /// `--boundary`.
    marker: Vec<u8>,
    started: bool,
}

/// Why a part could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum PartError {
    Ended,
    Io(String),
    Malformed(String),
}

impl<R: BufRead> PartReader<R> {
    pub fn new(input: R, boundary: &[u8]) -> Self {
        let mut marker = b"--".to_vec();
        marker.extend_from_slice(boundary);
        PartReader {
            input,
            marker,
            started: false,
        }
    }

    fn line(&mut self, buf: &mut Vec<u8>) -> Result<(), PartError> {
        buf.clear();
        let n = (&mut self.input)
            .take(8192)
            .read_until(b'\n', buf)
            .map_err(|e| PartError::Io(e.to_string()))?;
        if n == 0 {
            return Err(PartError::Ended);
        }
        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            buf.pop();
        }
        Ok(())
    }

    /// The next part's body.
    pub fn next_part(&mut self) -> Result<Vec<u8>, PartError> {
        let mut line = Vec::new();
        if !self.started {
            // Skip to the first boundary (some cameras send a preamble).
            loop {
                self.line(&mut line)?;
                if line.starts_with(&self.marker) {
                    break;
                }
            }
            self.started = true;
        }
        // Headers up to the blank line.
        let mut length = None;
        let mut headers = 0;
        loop {
            self.line(&mut line)?;
            if line.is_empty() {
                if headers == 0 {
                    // A blank line before any header: tolerate it once more.
                    self.line(&mut line)?;
                    if line.is_empty() {
                        break;
                    }
                } else {
                    break;
                }
            }
            headers += 1;
            if headers > MAX_HEADER_LINES {
                return Err(PartError::Malformed(
                    "a part has too many header lines".into(),
                ));
            }
            if line.starts_with(&self.marker) {
                // An empty part; start again.
                headers = 0;
                continue;
            }
            let text = String::from_utf8_lossy(&line);
            if let Some((name, value)) = text.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    length = Some(value.trim().parse::<usize>().map_err(|_| {
                        PartError::Malformed(format!("bad Content-Length {:?}", value.trim()))
                    })?);
                }
            }
        }
        match length {
            Some(n) if n > MAX_PICTURE => Err(PartError::Malformed(format!(
                "a part of {n} bytes is larger than any camera picture"
            ))),
            Some(n) => {
                let mut body = vec![0u8; n];
                self.input
                    .read_exact(&mut body)
                    .map_err(|e| PartError::Io(e.to_string()))?;
                // Up to and including the next boundary line.
                loop {
                    self.line(&mut line)?;
                    if line.starts_with(&self.marker) {
                        break;
                    }
                }
                Ok(body)
            }
            None => self.body_until_marker(),
        }
    }

    /// A body without a length: everything up to the next boundary line.
    fn body_until_marker(&mut self) -> Result<Vec<u8>, PartError> {
        let mut body = Vec::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = (&mut self.input)
                .take(MAX_PICTURE as u64)
                .read_until(b'\n', &mut line)
                .map_err(|e| PartError::Io(e.to_string()))?;
            if n == 0 {
                return Err(PartError::Ended);
            }
            let trimmed = line
                .strip_suffix(b"\r\n")
                .or_else(|| line.strip_suffix(b"\n"))
                .unwrap_or(&line);
            if trimmed.starts_with(&self.marker) {
                // The line break before the boundary belongs to it.
                if body.ends_with(b"\r\n") {
                    body.truncate(body.len() - 2);
                } else if body.ends_with(b"\n") {
                    body.truncate(body.len() - 1);
                }
                return Ok(body);
            }
            body.extend_from_slice(&line);
            if body.len() > MAX_PICTURE {
                return Err(PartError::Malformed(
                    "a part without Content-Length never ended".into(),
                ));
            }
        }
    }
}

/// The width and height of a baseline or progressive JPEG, from its frame
/// header (SOF0–SOF15, except DHT, JPG and DAC).
pub fn jpeg_size(data: &[u8]) -> Option<(u16, u16)> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut at = 2;
    while at + 4 <= data.len() {
        if data[at] != 0xFF {
            return None;
        }
        let marker = data[at + 1];
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        if (0xD0..=0xD9).contains(&marker) || marker == 0x01 {
            at += 2;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([data[at + 2], data[at + 3]]));
        if len < 2 {
            return None;
        }
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let h = u16::from_be_bytes([*data.get(at + 5)?, *data.get(at + 6)?]);
            let w = u16::from_be_bytes([*data.get(at + 7)?, *data.get(at + 8)?]);
            return (w > 0 && h > 0).then_some((w, h));
        }
        at += 2 + len;
    }
    None
}

fn read_pictures<R: BufRead>(
    parts: &mut PartReader<R>,
    tx: &mpsc::Sender<Result<SourceItem, SourceError>>,
) {
    let started = Instant::now();
    let mut size: Option<(u16, u16)> = None;
    let mut last_pts = -1i64;
    loop {
        let body = match parts.next_part() {
            Ok(b) => b,
            Err(PartError::Ended) => {
                let _ = tx.blocking_send(Err(SourceError::Ended));
                return;
            }
            Err(PartError::Io(e)) => {
                let _ = tx.blocking_send(Err(SourceError::Stream(format!(
                    "reading the MJPEG stream: {e}"
                ))));
                return;
            }
            Err(PartError::Malformed(e)) => {
                let _ = tx.blocking_send(Err(SourceError::Stream(format!(
                    "the MJPEG stream is malformed: {e}"
                ))));
                return;
            }
        };
        let Some(dims) = jpeg_size(&body) else {
            // A part that is no JPEG (a text status some cameras send, a
            // damaged picture): skipped, the stream goes on.
            tracing::debug!(
                bytes = body.len(),
                "skipping an MJPEG part that is not a JPEG picture"
            );
            continue;
        };
        if size != Some(dims) {
            size = Some(dims);
            let params = match VideoParams::mjpeg(dims.0, dims.1) {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.blocking_send(Err(SourceError::Stream(e.to_string())));
                    return;
                }
            };
            if tx.blocking_send(Ok(SourceItem::Params(params))).is_err() {
                return;
            }
        }
        let elapsed = started.elapsed();
        let pts = (elapsed.as_micros() as i64 * i64::from(TIMESCALE) / 1_000_000).max(last_pts + 1);
        last_pts = pts;
        let frame = Frame {
            pts,
            dts: pts,
            data: Bytes::from(body),
            is_key: true,
        };
        if tx.blocking_send(Ok(SourceItem::Frame(frame))).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_are_read_as_cameras_write_them() {
        for (ct, want) in [
            ("multipart/x-mixed-replace;boundary=ffmpeg", Some("ffmpeg")),
            (
                "multipart/x-mixed-replace; boundary=\"--myboundary\"",
                Some("myboundary"),
            ),
            (
                "Multipart/X-Mixed-Replace; charset=x; Boundary=b1",
                Some("b1"),
            ),
            ("image/jpeg", None),
            ("multipart/x-mixed-replace", None),
        ] {
            assert_eq!(
                multipart_boundary(ct).as_deref(),
                want.map(str::as_bytes),
                "{ct}"
            );
        }
    }

    fn jpeg(w: u16, h: u16, fill: u8) -> Vec<u8> {
        let mut j = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0];
        j.extend_from_slice(&[0xFF, 0xC0, 0, 11, 8]);
        j.extend_from_slice(&h.to_be_bytes());
        j.extend_from_slice(&w.to_be_bytes());
        j.extend_from_slice(&[1, 1, 0x11, 0]);
        j.extend(std::iter::repeat_n(fill, 50));
        j.extend_from_slice(&[0xFF, 0xD9]);
        j
    }

    #[test]
    fn parts_with_and_without_length_crlf_and_lf() {
        let (a, b, c) = (jpeg(640, 480, 1), jpeg(640, 480, 0x0A), jpeg(320, 240, 3));
        let mut s = b"preamble\r\n--xx\r\nContent-Type: image/jpeg\r\n".to_vec();
        s.extend_from_slice(format!("Content-Length: {}\r\n\r\n", a.len()).as_bytes());
        s.extend_from_slice(&a);
        // No length, LF only, a body holding LF bytes.
        s.extend_from_slice(b"\r\n--xx\nContent-Type: image/jpeg\n\n");
        s.extend_from_slice(&b);
        s.extend_from_slice(b"\n--xx\r\nContent-type: image/jpeg\r\n\r\n");
        s.extend_from_slice(&c);
        s.extend_from_slice(b"\r\n--xx--\r\n");
        let mut r = PartReader::new(std::io::Cursor::new(s), b"xx");
        assert_eq!(r.next_part(), Ok(a));
        assert_eq!(r.next_part(), Ok(b));
        let last = r.next_part().expect("third");
        assert_eq!(jpeg_size(&last), Some((320, 240)));
        assert_eq!(last, c);
        assert_eq!(r.next_part(), Err(PartError::Ended));
    }

    #[test]
    fn hostile_streams_end_with_an_error_not_a_panic() {
        let cases: Vec<Vec<u8>> = vec![
            b"--b\r\nContent-Length: 99999999999\r\n\r\n".to_vec(),
            b"--b\r\nContent-Length: x\r\n\r\n".to_vec(),
            b"--b\r\nContent-Length: 10\r\n\r\nab".to_vec(),
            [b"--b\r\n".as_slice(), &vec![b'h'; 100_000]].concat(),
        ];
        for input in cases {
            let mut r = PartReader::new(std::io::Cursor::new(input), b"b");
            for _ in 0..3 {
                if r.next_part().is_err() {
                    break;
                }
            }
        }
        assert_eq!(jpeg_size(&[0xFF, 0xD8, 0xFF]), None);
        assert_eq!(jpeg_size(b"not a jpeg"), None);
    }
}
