//! Decoding pictures (for analysis and thumbnails) and demuxing files,
//! done by libavcodec and libavformat in the `custos-av` helper process.
//!
//! One helper serves the whole process: it is started on first use, holds
//! every decoder and demuxer by id on a thread of its own, and is started
//! again by the next request after it dies (the requests in flight then
//! fail with [`DecodeError::Helper`]). A helper that leaves a request
//! unanswered for [`reply_timeout`] (libav stuck on some input, the process
//! stopped) is taken for hung and killed, which fails every request in
//! flight the same way. Keeping libav out of this process
//! saves the recorder the ~23 MB that libav's libraries map, and keeps
//! libavcodec's parsing of camera data away from the signing key. The
//! messages are in [`crate::av_wire`].
//!
//! Two ways to decode: [`Decoder::for_params`] decodes a camera's frames as
//! the sources deliver them (H.264/H.265 in MP4 form, with the stream's
//! decoder configuration record), and [`FileDecoder`] reads any file
//! libavformat can open (MP4, MKV, AVI, …) with whatever codec it uses.

use std::collections::{HashMap, VecDeque};
use std::io::BufReader;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use crate::av_wire::{self, DemoScene, ErrorKind, Packet, Reply, Request};
use crate::params::{VideoCodec, VideoParams};

/// The helper's file name, looked for beside the running executable.
pub const HELPER_NAME: &str = "custos-av";
/// Names the helper to use instead (tests, unusual installs).
pub const HELPER_ENV: &str = "CUSTOS_AV";

/// Why decoding failed.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// This FFmpeg has no decoder for the codec.
    #[error("no {0} decoder in this FFmpeg")]
    NoDecoder(String),
    /// The file could not be opened or read.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The file has no video stream.
    #[error("{0}: no video stream")]
    NoVideo(PathBuf),
    /// libavcodec refused the stream or a frame.
    #[error("{0}")]
    Codec(String),
    /// The helper could not be started, stopped, or answered nonsense.
    #[error("decoding helper: {0}")]
    Helper(String),
}

impl DecodeError {
    /// Whether the helper process went away (a new decoder starts another).
    pub fn is_helper_gone(&self) -> bool {
        matches!(self, DecodeError::Helper(_))
    }
}

/// The luma plane of a decoded picture, borrowed from its decoder.
#[derive(Debug, Clone, Copy)]
pub struct Luma<'a> {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Bytes from one row to the next.
    pub stride: usize,
    /// `stride * height` bytes (the last row may be just `width`).
    pub data: &'a [u8],
}

/// The running helper.
struct Helper {
    stdin: Mutex<ChildStdin>,
    /// Where each id's replies go.
    waiting: Mutex<HashMap<u32, mpsc::Sender<Reply>>>,
    alive: AtomicBool,
    pid: u32,
    /// Reaped by the reply reader only, once its output ends; killing
    /// through the handle can therefore never reach a recycled pid.
    process: Mutex<Child>,
}

static HELPER: Mutex<Option<Arc<Helper>>> = Mutex::new(None);
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// Milliseconds a request may wait for its reply; see [`reply_timeout`].
static REPLY_TIMEOUT_MS: AtomicU64 = AtomicU64::new(60_000);

/// How long a request waits for the helper's reply before the helper is
/// taken for hung and killed (default 60 s: a picture takes milliseconds,
/// opening a file well under a second; encoding a demo clip has no limit).
pub fn reply_timeout() -> Duration {
    Duration::from_millis(REPLY_TIMEOUT_MS.load(Ordering::Relaxed))
}

/// Sets [`reply_timeout`] for the whole process (at least 1 ms).
pub fn set_reply_timeout(timeout: Duration) {
    let ms = u64::try_from(timeout.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    REPLY_TIMEOUT_MS.store(ms, Ordering::Relaxed);
}

/// Where the helper is: `$CUSTOS_AV`, else beside this executable (or one
/// directory up, where cargo puts binaries for the test executables in
/// `deps/`).
pub fn helper_path() -> Result<PathBuf, DecodeError> {
    if let Some(path) = std::env::var_os(HELPER_ENV) {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()
        .map_err(|e| DecodeError::Helper(format!("finding this executable: {e}")))?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let candidates = [
        dir.join(HELPER_NAME),
        dir.parent().unwrap_or(dir).join(HELPER_NAME),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            DecodeError::Helper(format!(
                "{HELPER_NAME} (which decodes video) is not at {}; install it beside {} \
                 (`cargo build -p custos` builds both) or name it in ${HELPER_ENV}",
                candidates[0].display(),
                exe.display()
            ))
        })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running helper, started if there is none or the last one died.
fn helper() -> Result<Arc<Helper>, DecodeError> {
    let mut slot = lock(&HELPER);
    if let Some(h) = slot.as_ref().filter(|h| h.alive.load(Ordering::Acquire)) {
        return Ok(Arc::clone(h));
    }
    let path = helper_path()?;
    let mut child = Command::new(&path)
        .arg("serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| DecodeError::Helper(format!("starting {}: {e}", path.display())))?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(DecodeError::Helper("the helper's pipes are missing".into()));
    };
    // A picture's luma (230 KB at 640x360) then crosses in one or two
    // writes instead of four wake-ups of a 64 KiB pipe. Refused beyond
    // /proc/sys/fs/pipe-max-size, which changes nothing else.
    for fd in [stdin.as_raw_fd(), stdout.as_raw_fd()] {
        // SAFETY: F_SETPIPE_SZ on a pipe this process owns.
        unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, 1 << 20) };
    }
    let helper = Arc::new(Helper {
        stdin: Mutex::new(stdin),
        waiting: Mutex::new(HashMap::new()),
        alive: AtomicBool::new(true),
        pid: child.id(),
        process: Mutex::new(child),
    });
    tracing::debug!(pid = helper.pid, "started {}", path.display());
    let reader = Arc::clone(&helper);
    std::thread::Builder::new()
        .name("custos-av-replies".into())
        .spawn(move || {
            let mut from = BufReader::new(stdout);
            let why = loop {
                match av_wire::read_message(&mut from) {
                    Ok(Some(body)) => match Reply::decode_owned(body) {
                        Ok(reply) => {
                            let to = lock(&reader.waiting).get(&reply.id()).cloned();
                            if let Some(to) = to {
                                // The requester may have gone; nothing to do then.
                                let _ = to.send(reply);
                            }
                        }
                        Err(e) => break format!("a reply could not be read: {e}"),
                    },
                    Ok(None) => break "it closed its output".to_owned(),
                    Err(e) => break e.to_string(),
                }
            };
            // Marked dead before the waiting are dropped, so that a channel
            // opened in between sees it (see `Channel::open`).
            reader.alive.store(false, Ordering::Release);
            lock(&reader.waiting).clear();
            let status = {
                let mut process = lock(&reader.process);
                let _ = process.kill();
                process.wait().map(|s| s.to_string()).unwrap_or_default()
            };
            tracing::warn!(pid = reader.pid, %status, "the decoding helper stopped: {why}");
        })
        .map_err(|e| DecodeError::Helper(format!("starting the reply reader: {e}")))?;
    *slot = Some(Arc::clone(&helper));
    Ok(helper)
}

/// The running helper's process id, if one is running.
pub fn helper_pid() -> Option<u32> {
    lock(&HELPER)
        .as_ref()
        .filter(|h| h.alive.load(Ordering::Acquire))
        .map(|h| h.pid)
}

/// CPU time (user + system) the running helper has used, in seconds; for
/// benchmarks that measure the whole decoding path.
pub fn helper_cpu_seconds() -> Option<f64> {
    let pid = helper_pid()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks / hz as f64)
}

/// One id's conversation with the helper.
struct Channel {
    helper: Arc<Helper>,
    id: u32,
    replies: mpsc::Receiver<Reply>,
}

impl Channel {
    fn open() -> Result<Channel, DecodeError> {
        let helper = helper()?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let (tx, replies) = mpsc::channel();
        lock(&helper.waiting).insert(id, tx);
        if !helper.alive.load(Ordering::Acquire) {
            return Err(gone(&helper));
        }
        Ok(Channel {
            helper,
            id,
            replies,
        })
    }

    fn write(&self, request: &Request) -> Result<(), DecodeError> {
        self.write_framed(&request.encode())
    }

    fn write_framed(&self, framed: &[u8]) -> Result<(), DecodeError> {
        av_wire::write_message(&mut *lock(&self.helper.stdin), framed).map_err(|e| {
            DecodeError::Helper(format!(
                "the decoding helper (pid {}) stopped: writing to it: {e}",
                self.helper.pid
            ))
        })
    }

    /// Sends `request` and waits for its reply; an error reply is an `Err`.
    fn call(&self, request: Request) -> Result<Reply, DecodeError> {
        self.call_framed(&request.encode())
    }

    /// Sends an encoded request and waits for its reply, at most
    /// [`reply_timeout`].
    fn call_framed(&self, framed: &[u8]) -> Result<Reply, DecodeError> {
        self.call_framed_within(framed, Some(reply_timeout()))
    }

    /// Sends an encoded request and waits for its reply; `None` waits as
    /// long as the helper lives.
    fn call_framed_within(
        &self,
        framed: &[u8],
        timeout: Option<Duration>,
    ) -> Result<Reply, DecodeError> {
        self.write_framed(framed)?;
        let reply = match timeout {
            None => self.replies.recv().map_err(|_| gone(&self.helper)),
            Some(timeout) => self.replies.recv_timeout(timeout).map_err(|e| match e {
                mpsc::RecvTimeoutError::Timeout => self.helper.hung(timeout),
                mpsc::RecvTimeoutError::Disconnected => gone(&self.helper),
            }),
        }?;
        match reply {
            Reply::Error { kind, message, .. } => Err(match kind {
                ErrorKind::Codec => DecodeError::Codec(message),
                ErrorKind::NoDecoder => DecodeError::NoDecoder(message),
                // The file is named by the caller (`file_error`).
                ErrorKind::File => DecodeError::File {
                    path: PathBuf::new(),
                    reason: message,
                },
                ErrorKind::NoVideo => DecodeError::NoVideo(PathBuf::new()),
                ErrorKind::Request => DecodeError::Helper(message),
            }),
            reply => Ok(reply),
        }
    }
}

impl Helper {
    /// A request went unanswered for `waited`: kills the helper (its reply
    /// reader then fails whatever else was waiting, and the next request
    /// starts another) and says so.
    fn hung(&self, waited: Duration) -> DecodeError {
        tracing::warn!(
            pid = self.pid,
            "the decoding helper did not answer within {} s; stopping it",
            waited.as_secs_f64()
        );
        // Marked dead at once, so no new request goes to it meanwhile.
        self.alive.store(false, Ordering::Release);
        let _ = lock(&self.process).kill();
        DecodeError::Helper(format!(
            "the decoding helper (pid {}) did not answer within {} s and was stopped",
            self.pid,
            waited.as_secs_f64()
        ))
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        lock(&self.helper.waiting).remove(&self.id);
        if self.helper.alive.load(Ordering::Acquire) {
            let _ = self.write(&Request::Close { id: self.id });
        }
    }
}

fn gone(helper: &Helper) -> DecodeError {
    DecodeError::Helper(format!("the decoding helper (pid {}) stopped", helper.pid))
}

fn unexpected(reply: &Reply) -> DecodeError {
    DecodeError::Helper(format!("unexpected reply {reply:?}"))
}

/// Names the file in an error reply about it.
fn file_error(path: &Path, e: DecodeError) -> DecodeError {
    match e {
        DecodeError::File { reason, .. } => DecodeError::File {
            path: path.to_owned(),
            reason,
        },
        DecodeError::NoVideo(_) => DecodeError::NoVideo(path.to_owned()),
        other => other,
    }
}

/// A video decoder in the helper, and the pictures it has decoded.
pub struct Decoder {
    channel: Channel,
    codec: String,
    /// Pictures decoded but not yet received: (number, pts).
    ready: VecDeque<(u64, Option<i64>)>,
    /// An error that stopped decoding after the pictures in `ready`.
    error_after: Option<String>,
    /// The picture last received, whose pixels `luma` and `jpeg` give.
    current: Option<u64>,
    luma: Vec<u8>,
}

impl Decoder {
    /// A decoder for a camera stream with these parameters; frames are then
    /// fed in MP4 form (length-prefixed NAL units), as the sources give them.
    /// `threads` bounds libavcodec's threads (1 for a live camera among many).
    pub fn for_params(params: &VideoParams, threads: usize) -> Result<Decoder, DecodeError> {
        let channel = Channel::open()?;
        let codec = match params.codec {
            VideoCodec::H264 => 0,
            VideoCodec::H265 => 1,
            VideoCodec::Mjpeg => 2,
        };
        let reply = channel.call(Request::OpenDecoder {
            id: channel.id,
            codec,
            width: params.width,
            height: params.height,
            threads: threads as u32,
            // A JPEG picture carries its own tables; the `esds` is no
            // extradata for libavcodec.
            extradata: if params.codec == VideoCodec::Mjpeg {
                Vec::new()
            } else {
                params.config_record.clone()
            },
        })?;
        match reply {
            Reply::Opened { codec, .. } => Ok(Decoder::new(channel, codec)),
            other => Err(unexpected(&other)),
        }
    }

    fn new(channel: Channel, codec: String) -> Decoder {
        Decoder {
            channel,
            codec,
            ready: VecDeque::new(),
            error_after: None,
            current: None,
            luma: Vec::new(),
        }
    }

    /// The codec's name.
    pub fn codec(&self) -> &str {
        &self.codec
    }

    fn take_pictures(&mut self, reply: Reply) -> Result<(), DecodeError> {
        match reply {
            Reply::Pictures {
                first_seq,
                pts,
                error,
                ..
            } => {
                self.ready
                    .extend((first_seq..).zip(pts.iter().copied()).take(pts.len()));
                self.error_after = error;
                Ok(())
            }
            other => Err(unexpected(&other)),
        }
    }

    /// Feeds one coded frame in decode order (`pts` and `dts` in any one
    /// unit; the pts comes back with the picture, in presentation order).
    pub fn send(&mut self, data: &[u8], pts: i64, dts: i64) -> Result<(), DecodeError> {
        let reply =
            self.channel
                .call_framed(&av_wire::encode_send(self.channel.id, pts, dts, data))?;
        self.take_pictures(reply)
    }

    /// Signals the end of the stream: the remaining pictures can then be
    /// received.
    pub fn send_eof(&mut self) -> Result<(), DecodeError> {
        let reply = self.channel.call(Request::Eof {
            id: self.channel.id,
        })?;
        self.take_pictures(reply)
    }

    /// Takes the next decoded picture, if one is ready; its pts is returned
    /// and its pixels are then available from [`Decoder::luma`] and
    /// [`Decoder::jpeg`] until the next call.
    pub fn receive(&mut self) -> Result<Option<Option<i64>>, DecodeError> {
        if let Some((seq, pts)) = self.ready.pop_front() {
            self.current = Some(seq);
            return Ok(Some(pts));
        }
        match self.error_after.take() {
            Some(e) => Err(DecodeError::Codec(e)),
            None => Ok(None),
        }
    }

    fn current(&self) -> Result<u64, DecodeError> {
        self.current
            .ok_or_else(|| DecodeError::Codec("no picture has been received yet".into()))
    }

    /// The luma plane of the last received picture.
    pub fn luma(&mut self) -> Result<Luma<'_>, DecodeError> {
        let seq = self.current()?;
        let reply = self.channel.call(Request::Luma {
            id: self.channel.id,
            seq,
        })?;
        let Reply::Luma {
            width,
            height,
            data,
            ..
        } = reply
        else {
            return Err(unexpected(&reply));
        };
        let (width, height) = (width as usize, height as usize);
        if data.len() != width * height {
            return Err(DecodeError::Helper(format!(
                "a {width}x{height} luma plane of {} bytes",
                data.len()
            )));
        }
        self.luma = data;
        Ok(Luma {
            width,
            height,
            stride: width,
            data: &self.luma,
        })
    }

    /// The last received picture as a JPEG, at most `max_width` wide.
    pub fn jpeg(&self, max_width: u32) -> Result<Vec<u8>, DecodeError> {
        let seq = self.current()?;
        match self.channel.call(Request::Jpeg {
            id: self.channel.id,
            seq,
            max_width,
        })? {
            Reply::Jpeg { data, .. } => Ok(data),
            other => Err(unexpected(&other)),
        }
    }
}

/// Decodes a video file's best video stream, picture by picture, as fast
/// as it can.
pub struct FileDecoder {
    decoder: Decoder,
    path: PathBuf,
}

impl FileDecoder {
    /// Opens `path` with libavformat and a decoder for its video stream.
    /// `threads` is libavcodec's thread count (0: as many as it likes).
    pub fn open(path: &Path, threads: usize) -> Result<FileDecoder, DecodeError> {
        let channel = Channel::open()?;
        let reply = channel
            .call(Request::OpenFile {
                id: channel.id,
                threads: threads as u32,
                path: path_string(path)?,
            })
            .map_err(|e| file_error(path, e))?;
        match reply {
            Reply::Opened { codec, .. } => Ok(FileDecoder {
                decoder: Decoder::new(channel, codec),
                path: path.to_owned(),
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// The video codec's name.
    pub fn codec(&self) -> &str {
        self.decoder.codec()
    }

    /// Decodes up to the next picture; returns its time in ms (from the
    /// stream's time base), or `None` at the end of the file. The picture
    /// is then in [`FileDecoder::decoder`].
    pub fn next_picture(&mut self) -> Result<Option<i64>, DecodeError> {
        let reply = self
            .decoder
            .channel
            .call(Request::NextPicture {
                id: self.decoder.channel.id,
            })
            .map_err(|e| file_error(&self.path, e))?;
        match reply {
            Reply::Picture { picture, .. } => Ok(picture.map(|(seq, ms)| {
                self.decoder.current = Some(seq);
                ms.unwrap_or(0)
            })),
            other => Err(unexpected(&other)),
        }
    }

    /// The decoder holding the last picture.
    pub fn decoder(&mut self) -> &mut Decoder {
        &mut self.decoder
    }
}

fn path_string(path: &Path) -> Result<String, DecodeError> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| DecodeError::File {
            path: path.to_owned(),
            reason: "the path is not UTF-8".into(),
        })
}

/// A file's video stream, packet by packet as stored (no decoding).
pub struct Demuxer {
    channel: Channel,
    path: PathBuf,
    /// libavcodec's name of the codec ("h264", "hevc", "mjpeg", …).
    pub codec: String,
    pub width: i32,
    pub height: i32,
    /// The stream's time base (num, den), both positive.
    pub time_base: (i64, i64),
    /// The codec's extradata (avcC/hvcC for H.264/H.265 in MP4 or MKV).
    pub extradata: Vec<u8>,
}

impl Demuxer {
    /// Opens `path`'s best video stream.
    pub fn open(path: &Path) -> Result<Demuxer, DecodeError> {
        let channel = Channel::open()?;
        let reply = channel
            .call(Request::OpenDemux {
                id: channel.id,
                path: path_string(path)?,
            })
            .map_err(|e| file_error(path, e))?;
        match reply {
            Reply::DemuxOpened {
                codec,
                width,
                height,
                time_base,
                extradata,
                ..
            } => {
                if time_base.0 <= 0 || time_base.1 <= 0 {
                    return Err(DecodeError::File {
                        path: path.to_owned(),
                        reason: "video stream has no time base".into(),
                    });
                }
                Ok(Demuxer {
                    channel,
                    path: path.to_owned(),
                    codec,
                    width,
                    height,
                    time_base,
                    extradata,
                })
            }
            other => Err(unexpected(&other)),
        }
    }

    /// The next video packet, in decode order; `None` at the end.
    pub fn next_packet(&mut self) -> Result<Option<Packet>, DecodeError> {
        let reply = self
            .channel
            .call(Request::NextPacket {
                id: self.channel.id,
            })
            .map_err(|e| file_error(&self.path, e))?;
        match reply {
            Reply::Packet { packet, .. } => Ok(packet),
            other => Err(unexpected(&other)),
        }
    }
}

/// Encodes a synthetic demo scene to an H.264 MP4 at `path` (libx264).
pub fn write_demo_clip(scene: &DemoScene, path: &Path) -> Result<(), DecodeError> {
    let channel = Channel::open()?;
    let request = Request::DemoClip {
        id: channel.id,
        scene: scene.clone(),
        path: path_string(path)?,
    };
    // Encoding a clip takes as long as the clip needs.
    match channel.call_framed_within(&request.encode(), None)? {
        Reply::Done { .. } => Ok(()),
        other => Err(unexpected(&other)),
    }
}
