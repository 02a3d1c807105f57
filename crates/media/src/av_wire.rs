//! The messages between custos and its libav helper (`custos-av`), and
//! their framing on the helper's stdin and stdout.
//!
//! Every libavcodec/libavformat use — decoding for analysis, thumbnails,
//! demuxing `file://` sources, encoding the demo's clips — happens in the
//! helper, so the recorder process never maps libav: it records with less
//! memory, and libavcodec's parsing of camera data runs outside the
//! process that holds the site's signing key.
//!
//! A message is a little-endian `u32` length, then that many bytes: a tag
//! byte, the `u32` id of the decoder or demuxer it concerns, and the
//! fields. Each id has one request in flight at a time, so replies need no
//! sequence numbers.

use std::io::{Read, Write};

/// Messages longer than this are refused as garbage (a 4K picture's luma
/// is 8.3 MB).
pub const MAX_MESSAGE: usize = 64 << 20;

/// A request to the helper.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// A decoder for a camera stream: frames follow in MP4 form.
    OpenDecoder {
        id: u32,
        /// 0 H.264, 1 H.265, 2 MJPEG.
        codec: u8,
        width: u16,
        height: u16,
        threads: u32,
        /// The decoder configuration record (avcC/hvcC), empty for MJPEG.
        extradata: Vec<u8>,
    },
    /// A decoder reading a whole file with libavformat.
    OpenFile { id: u32, threads: u32, path: String },
    /// A demuxer handing out a file's video packets as they are stored.
    OpenDemux { id: u32, path: String },
    /// One coded frame for a decoder, in decode order.
    Send {
        id: u32,
        pts: i64,
        dts: i64,
        data: Vec<u8>,
    },
    /// The end of a decoder's stream: the pictures it holds come out.
    Eof { id: u32 },
    /// The luma plane of picture `seq`, which becomes the current picture.
    Luma { id: u32, seq: u64 },
    /// Picture `seq` as a JPEG at most `max_width` wide; it becomes the
    /// current picture.
    Jpeg { id: u32, seq: u64, max_width: u32 },
    /// A file decoder's next picture.
    NextPicture { id: u32 },
    /// A demuxer's next video packet.
    NextPacket { id: u32 },
    /// Forget the decoder or demuxer (no reply).
    Close { id: u32 },
    /// Encode a synthetic demo scene to an MP4 file (reply: `Done`).
    DemoClip {
        id: u32,
        scene: DemoScene,
        path: String,
    },
}

/// What the demo draws: a room of shelves, a figure crossing it, and a hand
/// covering the lens for a while.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoScene {
    /// Luma of the background and of the figure.
    pub background: u8,
    pub figure: u8,
    /// Seconds the figure takes to cross the picture.
    pub crossing_seconds: f64,
    /// Length of the clip in seconds.
    pub seconds: i32,
    /// When something covers the lens (start, end in seconds).
    pub covered: Option<(f64, f64)>,
}

/// A reply from the helper.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A decoder is open; the codec's name.
    Opened { id: u32, codec: String },
    /// A demuxer is open: the video stream's codec (libavcodec's name),
    /// size, time base and extradata.
    DemuxOpened {
        id: u32,
        codec: String,
        width: i32,
        height: i32,
        time_base: (i64, i64),
        extradata: Vec<u8>,
    },
    /// Pictures decoded after a `Send` or `Eof`, numbered from `first_seq`,
    /// with their pts; `error` when decoding stopped partway.
    Pictures {
        id: u32,
        first_seq: u64,
        pts: Vec<Option<i64>>,
        error: Option<String>,
    },
    /// A file decoder's next picture, its number and time in ms (`None`:
    /// the end of the file).
    Picture {
        id: u32,
        picture: Option<(u64, Option<i64>)>,
    },
    /// A picture's luma, `width` bytes per row with no padding.
    Luma {
        id: u32,
        width: u32,
        height: u32,
        data: Vec<u8>,
    },
    /// A JPEG.
    Jpeg { id: u32, data: Vec<u8> },
    /// A demuxer's next packet (`None`: the end of the file).
    Packet { id: u32, packet: Option<Packet> },
    /// Done (a demo clip).
    Done { id: u32 },
    /// The request failed.
    Error {
        id: u32,
        kind: ErrorKind,
        message: String,
    },
}

/// A video packet as the file stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub dts: Option<i64>,
    pub pts: Option<i64>,
    pub duration: i64,
    pub key: bool,
    pub data: Vec<u8>,
}

/// What kind of failure an `Error` reply reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// libavcodec refused the stream or a frame.
    Codec = 0,
    /// No decoder for the codec.
    NoDecoder = 1,
    /// The file could not be opened or read.
    File = 2,
    /// The file has no video stream.
    NoVideo = 3,
    /// The request made no sense (unknown id, bad message).
    Request = 4,
}

impl Request {
    /// The id of the decoder or demuxer the request concerns.
    pub fn id(&self) -> u32 {
        match self {
            Request::OpenDecoder { id, .. }
            | Request::OpenFile { id, .. }
            | Request::OpenDemux { id, .. }
            | Request::Send { id, .. }
            | Request::Eof { id }
            | Request::Luma { id, .. }
            | Request::Jpeg { id, .. }
            | Request::NextPicture { id }
            | Request::NextPacket { id }
            | Request::Close { id }
            | Request::DemoClip { id, .. } => *id,
        }
    }
}

impl Reply {
    /// The id the reply answers.
    pub fn id(&self) -> u32 {
        match self {
            Reply::Opened { id, .. }
            | Reply::DemuxOpened { id, .. }
            | Reply::Pictures { id, .. }
            | Reply::Picture { id, .. }
            | Reply::Luma { id, .. }
            | Reply::Jpeg { id, .. }
            | Reply::Packet { id, .. }
            | Reply::Done { id }
            | Reply::Error { id, .. } => *id,
        }
    }
}

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("reading from the pipe: {0}")]
    Io(#[from] std::io::Error),
    #[error("message of {0} bytes is longer than the {MAX_MESSAGE} allowed")]
    TooLong(usize),
    #[error("message ends inside its {0}")]
    Truncated(&'static str),
    #[error("unknown message tag {0}")]
    UnknownTag(u8),
    #[error("{0} is not UTF-8")]
    NotUtf8(&'static str),
    #[error("{0} bytes left over after the message")]
    Trailing(usize),
    #[error("{0} has an invalid value")]
    Invalid(&'static str),
}

struct Writer(Vec<u8>);

impl Writer {
    fn new(tag: u8, id: u32) -> Writer {
        Writer::sized(tag, id, 0)
    }
    /// A writer with room for `payload` bytes of data besides the fields,
    /// so that a picture is copied once, not through a growing buffer.
    fn sized(tag: u8, id: u32, payload: usize) -> Writer {
        let mut w = Writer(Vec::with_capacity(64 + payload));
        w.0.extend_from_slice(&[0; 4]);
        w.0.push(tag);
        w.u32(id);
        w
    }
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn opt_i64(&mut self, v: Option<i64>) {
        self.u8(u8::from(v.is_some()));
        self.i64(v.unwrap_or(0));
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.u32(v.len() as u32);
        self.0.extend_from_slice(v);
    }
    fn finish(mut self) -> Vec<u8> {
        let len = (self.0.len() - 4) as u32;
        self.0[..4].copy_from_slice(&len.to_le_bytes());
        self.0
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.0.len() < n {
            return Err(WireError::Truncated(what));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.take(1, what)?[0])
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], WireError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn i32(&mut self, what: &'static str) -> Result<i32, WireError> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn i64(&mut self, what: &'static str) -> Result<i64, WireError> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }
    fn f64(&mut self, what: &'static str) -> Result<f64, WireError> {
        let v = f64::from_le_bytes(self.array(what)?);
        if v.is_finite() {
            Ok(v)
        } else {
            Err(WireError::Invalid(what))
        }
    }
    fn bool(&mut self, what: &'static str) -> Result<bool, WireError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(WireError::Invalid(what)),
        }
    }
    fn opt_i64(&mut self, what: &'static str) -> Result<Option<i64>, WireError> {
        let some = self.bool(what)?;
        let v = self.i64(what)?;
        Ok(some.then_some(v))
    }
    fn bytes(&mut self, what: &'static str) -> Result<Vec<u8>, WireError> {
        let n = self.u32(what)? as usize;
        Ok(self.take(n, what)?.to_vec())
    }
    fn string(&mut self, what: &'static str) -> Result<String, WireError> {
        String::from_utf8(self.bytes(what)?).map_err(|_| WireError::NotUtf8(what))
    }
    fn end(self) -> Result<(), WireError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(WireError::Trailing(self.0.len()))
        }
    }
}

/// The framed `Request::Send` of a frame the caller holds: what the
/// recorder sends for every frame it analyses, written without first
/// copying the frame into a `Request`.
pub fn encode_send(id: u32, pts: i64, dts: i64, data: &[u8]) -> Vec<u8> {
    let mut w = Writer::sized(4, id, data.len());
    w.i64(pts);
    w.i64(dts);
    w.bytes(data);
    w.finish()
}

impl Request {
    /// The framed message.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Request::OpenDecoder {
                id,
                codec,
                width,
                height,
                threads,
                extradata,
            } => {
                let mut w = Writer::new(1, *id);
                w.u8(*codec);
                w.0.extend_from_slice(&width.to_le_bytes());
                w.0.extend_from_slice(&height.to_le_bytes());
                w.u32(*threads);
                w.bytes(extradata);
                w.finish()
            }
            Request::OpenFile { id, threads, path } => {
                let mut w = Writer::new(2, *id);
                w.u32(*threads);
                w.bytes(path.as_bytes());
                w.finish()
            }
            Request::OpenDemux { id, path } => {
                let mut w = Writer::new(3, *id);
                w.bytes(path.as_bytes());
                w.finish()
            }
            Request::Send { id, pts, dts, data } => encode_send(*id, *pts, *dts, data),
            Request::Eof { id } => Writer::new(5, *id).finish(),
            Request::Luma { id, seq } => {
                let mut w = Writer::new(6, *id);
                w.u64(*seq);
                w.finish()
            }
            Request::Jpeg { id, seq, max_width } => {
                let mut w = Writer::new(7, *id);
                w.u64(*seq);
                w.u32(*max_width);
                w.finish()
            }
            Request::NextPicture { id } => Writer::new(8, *id).finish(),
            Request::NextPacket { id } => Writer::new(9, *id).finish(),
            Request::Close { id } => Writer::new(10, *id).finish(),
            Request::DemoClip { id, scene, path } => {
                let mut w = Writer::new(11, *id);
                w.u8(scene.background);
                w.u8(scene.figure);
                w.f64(scene.crossing_seconds);
                w.u32(scene.seconds as u32);
                w.u8(u8::from(scene.covered.is_some()));
                let (from, to) = scene.covered.unwrap_or((0.0, 0.0));
                w.f64(from);
                w.f64(to);
                w.bytes(path.as_bytes());
                w.finish()
            }
        }
    }

    /// Parses a message body (without its length).
    pub fn decode(body: &[u8]) -> Result<Request, WireError> {
        let mut r = Reader(body);
        let tag = r.u8("tag")?;
        let id = r.u32("id")?;
        let request = match tag {
            1 => Request::OpenDecoder {
                id,
                codec: match r.u8("codec")? {
                    c @ 0..=2 => c,
                    _ => return Err(WireError::Invalid("codec")),
                },
                width: r.u16("width")?,
                height: r.u16("height")?,
                threads: r.u32("threads")?,
                extradata: r.bytes("extradata")?,
            },
            2 => Request::OpenFile {
                id,
                threads: r.u32("threads")?,
                path: r.string("path")?,
            },
            3 => Request::OpenDemux {
                id,
                path: r.string("path")?,
            },
            4 => Request::Send {
                id,
                pts: r.i64("pts")?,
                dts: r.i64("dts")?,
                data: r.bytes("frame")?,
            },
            5 => Request::Eof { id },
            6 => Request::Luma {
                id,
                seq: r.u64("picture number")?,
            },
            7 => Request::Jpeg {
                id,
                seq: r.u64("picture number")?,
                max_width: r.u32("width")?,
            },
            8 => Request::NextPicture { id },
            9 => Request::NextPacket { id },
            10 => Request::Close { id },
            11 => {
                let background = r.u8("background")?;
                let figure = r.u8("figure")?;
                let crossing_seconds = r.f64("crossing time")?;
                let seconds =
                    i32::try_from(r.u32("length")?).map_err(|_| WireError::Invalid("length"))?;
                let covered = r.bool("cover")?;
                let (from, to) = (r.f64("cover start")?, r.f64("cover end")?);
                Request::DemoClip {
                    id,
                    scene: DemoScene {
                        background,
                        figure,
                        crossing_seconds,
                        seconds,
                        covered: covered.then_some((from, to)),
                    },
                    path: r.string("path")?,
                }
            }
            other => return Err(WireError::UnknownTag(other)),
        };
        r.end()?;
        Ok(request)
    }
}

impl Reply {
    /// The framed message.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Reply::Opened { id, codec } => {
                let mut w = Writer::new(128, *id);
                w.bytes(codec.as_bytes());
                w.finish()
            }
            Reply::DemuxOpened {
                id,
                codec,
                width,
                height,
                time_base,
                extradata,
            } => {
                let mut w = Writer::new(129, *id);
                w.bytes(codec.as_bytes());
                w.0.extend_from_slice(&width.to_le_bytes());
                w.0.extend_from_slice(&height.to_le_bytes());
                w.i64(time_base.0);
                w.i64(time_base.1);
                w.bytes(extradata);
                w.finish()
            }
            Reply::Pictures {
                id,
                first_seq,
                pts,
                error,
            } => {
                let mut w = Writer::new(130, *id);
                w.u64(*first_seq);
                w.u32(pts.len() as u32);
                for p in pts {
                    w.opt_i64(*p);
                }
                w.u8(u8::from(error.is_some()));
                w.bytes(error.as_deref().unwrap_or("").as_bytes());
                w.finish()
            }
            Reply::Picture { id, picture } => {
                let mut w = Writer::new(131, *id);
                w.u8(u8::from(picture.is_some()));
                let (seq, pts) = picture.unwrap_or((0, None));
                w.u64(seq);
                w.opt_i64(pts);
                w.finish()
            }
            Reply::Luma {
                id,
                width,
                height,
                data,
            } => {
                let mut w = Writer::sized(132, *id, data.len());
                w.u32(*width);
                w.u32(*height);
                w.bytes(data);
                w.finish()
            }
            Reply::Jpeg { id, data } => {
                let mut w = Writer::sized(133, *id, data.len());
                w.bytes(data);
                w.finish()
            }
            Reply::Packet { id, packet } => {
                let mut w = Writer::new(134, *id);
                match packet {
                    None => w.u8(0),
                    Some(p) => {
                        w.0.reserve(p.data.len());
                        w.u8(1);
                        w.opt_i64(p.dts);
                        w.opt_i64(p.pts);
                        w.i64(p.duration);
                        w.u8(u8::from(p.key));
                        w.bytes(&p.data);
                    }
                }
                w.finish()
            }
            Reply::Done { id } => Writer::new(135, *id).finish(),
            Reply::Error { id, kind, message } => {
                let mut w = Writer::new(136, *id);
                w.u8(*kind as u8);
                w.bytes(message.as_bytes());
                w.finish()
            }
        }
    }

    /// Parses a message body it may keep: a picture's luma or a JPEG is
    /// then moved out of it rather than copied.
    pub fn decode_owned(mut body: Vec<u8>) -> Result<Reply, WireError> {
        // Luma: tag, id, width, height, then the length and the bytes.
        const LUMA_DATA: usize = 1 + 4 + 4 + 4 + 4;
        if body.first() == Some(&132) && body.len() >= LUMA_DATA {
            let mut r = Reader(&body);
            let (_, id, width, height, len) = (
                r.u8("tag")?,
                r.u32("id")?,
                r.u32("width")?,
                r.u32("height")?,
                r.u32("luma")? as usize,
            );
            if len != body.len() - LUMA_DATA {
                return Reply::decode(&body);
            }
            body.drain(..LUMA_DATA);
            return Ok(Reply::Luma {
                id,
                width,
                height,
                data: body,
            });
        }
        Reply::decode(&body)
    }

    /// Parses a message body (without its length).
    pub fn decode(body: &[u8]) -> Result<Reply, WireError> {
        let mut r = Reader(body);
        let tag = r.u8("tag")?;
        let id = r.u32("id")?;
        let reply = match tag {
            128 => Reply::Opened {
                id,
                codec: r.string("codec")?,
            },
            129 => Reply::DemuxOpened {
                id,
                codec: r.string("codec")?,
                width: r.i32("width")?,
                height: r.i32("height")?,
                time_base: (r.i64("time base")?, r.i64("time base")?),
                extradata: r.bytes("extradata")?,
            },
            130 => {
                let first_seq = r.u64("picture number")?;
                let n = r.u32("picture count")? as usize;
                // Each entry takes 9 bytes: a count beyond the message is garbage.
                if n > body.len() / 9 {
                    return Err(WireError::Truncated("pictures"));
                }
                let mut pts = Vec::with_capacity(n);
                for _ in 0..n {
                    pts.push(r.opt_i64("pts")?);
                }
                let has_error = r.bool("error flag")?;
                let error = r.string("error")?;
                Reply::Pictures {
                    id,
                    first_seq,
                    pts,
                    error: has_error.then_some(error),
                }
            }
            131 => {
                let some = r.bool("picture flag")?;
                let seq = r.u64("picture number")?;
                let pts = r.opt_i64("pts")?;
                Reply::Picture {
                    id,
                    picture: some.then_some((seq, pts)),
                }
            }
            132 => Reply::Luma {
                id,
                width: r.u32("width")?,
                height: r.u32("height")?,
                data: r.bytes("luma")?,
            },
            133 => Reply::Jpeg {
                id,
                data: r.bytes("jpeg")?,
            },
            134 => Reply::Packet {
                id,
                packet: if r.bool("packet flag")? {
                    Some(Packet {
                        dts: r.opt_i64("dts")?,
                        pts: r.opt_i64("pts")?,
                        duration: r.i64("duration")?,
                        key: r.bool("key flag")?,
                        data: r.bytes("packet")?,
                    })
                } else {
                    None
                },
            },
            135 => Reply::Done { id },
            136 => Reply::Error {
                id,
                kind: match r.u8("error kind")? {
                    0 => ErrorKind::Codec,
                    1 => ErrorKind::NoDecoder,
                    2 => ErrorKind::File,
                    3 => ErrorKind::NoVideo,
                    4 => ErrorKind::Request,
                    _ => return Err(WireError::Invalid("error kind")),
                },
                message: r.string("message")?,
            },
            other => return Err(WireError::UnknownTag(other)),
        };
        r.end()?;
        Ok(reply)
    }
}

/// Reads one message body; `None` at a clean end of the stream (before a
/// message starts).
pub fn read_message(from: &mut impl Read) -> Result<Option<Vec<u8>>, WireError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match from.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(WireError::Truncated("length")),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_MESSAGE {
        return Err(WireError::TooLong(len));
    }
    let mut body = vec![0u8; len];
    from.read_exact(&mut body).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            WireError::Truncated("message")
        } else {
            WireError::Io(e)
        }
    })?;
    Ok(Some(body))
}

/// Writes one framed message and flushes it.
pub fn write_message(to: &mut impl Write, framed: &[u8]) -> std::io::Result<()> {
    to.write_all(framed)?;
    to.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requests() -> Vec<Request> {
        vec![
            Request::OpenDecoder {
                id: 7,
                codec: 1,
                width: 1920,
                height: 1080,
                threads: 1,
                extradata: vec![1, 2, 3],
            },
            Request::OpenFile {
                id: 1,
                threads: 0,
                path: "/tmp/ä.mp4".into(),
            },
            Request::OpenDemux {
                id: 2,
                path: "/x".into(),
            },
            Request::Send {
                id: 3,
                pts: -5,
                dts: i64::MIN,
                data: vec![9; 1000],
            },
            Request::Eof { id: 3 },
            Request::Luma { id: 3, seq: 42 },
            Request::Jpeg {
                id: 3,
                seq: 9,
                max_width: 320,
            },
            Request::NextPicture { id: 4 },
            Request::NextPacket { id: 5 },
            Request::Close { id: 6 },
            Request::DemoClip {
                id: 8,
                scene: DemoScene {
                    background: 70,
                    figure: 200,
                    crossing_seconds: 6.5,
                    seconds: 300,
                    covered: Some((20.0, 35.0)),
                },
                path: "/d/c.mp4".into(),
            },
        ]
    }

    fn replies() -> Vec<Reply> {
        vec![
            Reply::Opened {
                id: 1,
                codec: "h264".into(),
            },
            Reply::DemuxOpened {
                id: 2,
                codec: "hevc".into(),
                width: 768,
                height: 576,
                time_base: (1, 90_000),
                extradata: vec![0xAA; 30],
            },
            Reply::Pictures {
                id: 3,
                first_seq: 10,
                pts: vec![Some(3), None, Some(-1)],
                error: Some("broken".into()),
            },
            Reply::Pictures {
                id: 3,
                first_seq: 0,
                pts: vec![],
                error: None,
            },
            Reply::Picture {
                id: 4,
                picture: Some((5, Some(1000))),
            },
            Reply::Picture {
                id: 4,
                picture: None,
            },
            Reply::Luma {
                id: 5,
                width: 2,
                height: 2,
                data: vec![1, 2, 3, 4],
            },
            Reply::Jpeg {
                id: 6,
                data: vec![0xFF, 0xD8],
            },
            Reply::Packet {
                id: 7,
                packet: Some(Packet {
                    dts: Some(-1),
                    pts: None,
                    duration: 6000,
                    key: true,
                    data: vec![0, 0, 0, 1],
                }),
            },
            Reply::Packet {
                id: 7,
                packet: None,
            },
            Reply::Done { id: 8 },
            Reply::Error {
                id: 9,
                kind: ErrorKind::NoVideo,
                message: "no video".into(),
            },
        ]
    }

    #[test]
    fn every_message_reads_back_as_written() {
        for request in requests() {
            let framed = request.encode();
            let body = read_message(&mut &framed[..]).unwrap().unwrap();
            assert_eq!(Request::decode(&body).unwrap(), request);
        }
        for reply in replies() {
            let framed = reply.encode();
            let body = read_message(&mut &framed[..]).unwrap().unwrap();
            assert_eq!(Reply::decode(&body).unwrap(), reply);
            assert_eq!(Reply::decode_owned(body).unwrap(), reply);
        }
    }

    #[test]
    fn damaged_messages_are_errors_not_panics() {
        let all: Vec<Vec<u8>> = requests()
            .iter()
            .map(Request::encode)
            .chain(replies().iter().map(Reply::encode))
            .collect();
        for framed in &all {
            let body = &framed[4..];
            // Every truncation fails cleanly.
            for cut in 0..body.len() {
                assert!(Request::decode(&body[..cut]).is_err());
                assert!(Reply::decode(&body[..cut]).is_err());
                assert!(Reply::decode_owned(body[..cut].to_vec()).is_err());
            }
            // Trailing bytes are refused.
            let mut long = body.to_vec();
            long.push(0);
            let result = if body[0] < 128 {
                Request::decode(&long).map(|_| ())
            } else {
                Reply::decode(&long).map(|_| ())
            };
            assert!(matches!(result, Err(WireError::Trailing(1))), "{result:?}");
            // Every single flipped byte either fails or parses to something.
            for i in 0..body.len().min(64) {
                let mut bad = body.to_vec();
                bad[i] ^= 0xFF;
                let _ = Request::decode(&bad);
                let _ = Reply::decode(&bad);
            }
        }
        assert!(matches!(
            read_message(&mut &[0xFF, 0xFF, 0xFF, 0x7F][..]),
            Err(WireError::TooLong(_))
        ));
        assert!(matches!(
            read_message(&mut &[5, 0][..]),
            Err(WireError::Truncated("length"))
        ));
        assert!(matches!(
            read_message(&mut &[5, 0, 0, 0, 1][..]),
            Err(WireError::Truncated("message"))
        ));
        assert!(read_message(&mut &[][..]).unwrap().is_none());
    }
}
