//! Camera sources: RTSP cameras (through `retina`) and MP4 files played in
//! real time in a loop as if they were live cameras (through libavformat).
//!
//! Both yield the same items: the stream's parameters, then frames in the MP4
//! form (4-byte length-prefixed NAL units), never re-encoded.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use retina::client::{
    PlayOptions, SessionOptions, SetupOptions, TcpTransportOptions, Transport as RtspTransport,
    UdpTransportOptions,
};
use retina::codec::{CodecItem, FrameFormat, ParametersRef, VideoParametersCodec};
use tokio::sync::mpsc;
use url::Url;

use crate::fmp4::TIMESCALE;
use crate::params::{VideoCodec, VideoParams};
use crate::segment::Frame;

/// How RTP reaches us from an RTSP camera.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Transport {
    /// Interleaved in the RTSP TCP connection: works through NAT and firewalls.
    #[default]
    Tcp,
    Udp,
}

/// Where to read a camera from.
#[derive(Clone)]
pub struct SourceSpec {
    pub url: Url,
    pub transport: Transport,
    /// User name and password; kept out of `url` so that URLs can be logged.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSpec")
            .field("url", &redact_url(&self.url))
            .field("transport", &self.transport)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|(u, _)| (u, "***")),
            )
            .finish()
    }
}

/// The URL with any password replaced by `***`, for logs and API output.
pub fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.to_string()
}

/// Why a source could not be read, in terms an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("connection refused: {0}")]
    Refused(String),
    #[error("authentication failed: the camera rejected the user name or password")]
    AuthenticationFailed,
    #[error("the camera answered {status}: {detail}")]
    Rejected { status: u16, detail: String },
    #[error("no video track in the stream")]
    NoVideoTrack,
    #[error("unsupported codec {0}: Custos records H.264 and H.265")]
    UnsupportedCodec(String),
    #[error("stream ended")]
    Ended,
    #[error("stream error: {0}")]
    Stream(String),
    #[error("file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("unsupported URL scheme {0:?}: expected rtsp, rtsps or file")]
    Scheme(String),
}

/// One item from a source.
#[derive(Debug, Clone)]
pub enum SourceItem {
    /// Sent before the first frame and again whenever the parameters change.
    Params(VideoParams),
    Frame(Frame),
}

/// A connected source.
pub enum Source {
    Rtsp(Box<RtspSource>),
    File(FileSource),
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A live camera that sends nothing for this long is considered gone.
const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

impl Source {
    /// Connects and starts streaming.
    pub async fn connect(spec: &SourceSpec) -> Result<Source, SourceError> {
        match spec.url.scheme() {
            "rtsp" | "rtsps" => Ok(Source::Rtsp(Box::new(RtspSource::connect(spec).await?))),
            "file" => Ok(Source::File(FileSource::open(spec)?)),
            other => Err(SourceError::Scheme(other.to_owned())),
        }
    }

    /// The next item; `Err` ends the session.
    pub async fn next(&mut self) -> Result<SourceItem, SourceError> {
        match self {
            Source::Rtsp(s) => s.next().await,
            Source::File(s) => s.next().await,
        }
    }
}

/// An RTSP session in the PLAY state.
pub struct RtspSource {
    demuxed: retina::client::Demuxed,
    video_stream: usize,
    params: Option<VideoParams>,
    /// Parameters known before the first frame, announced by the first `next`.
    pending_params: Option<VideoParams>,
    queued: Option<Frame>,
}

fn classify_retina(e: retina::Error) -> SourceError {
    match e.status_code() {
        Some(401) => return SourceError::AuthenticationFailed,
        Some(status) => {
            let detail = e.to_string();
            let detail = detail.lines().next().unwrap_or_default().to_owned();
            return SourceError::Rejected { status, detail };
        }
        None => {}
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => SourceError::Refused(io.to_string()),
                _ => SourceError::Unreachable(io.to_string()),
            };
        }
        source = s.source();
    }
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default().to_owned();
    if first.starts_with("Unable to connect") {
        // retina keeps the io::Error inside its own error type; its text is
        // all that tells a refused connection from an unreachable host.
        if first.contains("Connection refused") {
            SourceError::Refused(first)
        } else {
            SourceError::Unreachable(first)
        }
    } else {
        SourceError::Stream(first)
    }
}

fn params_from_retina(v: &retina::codec::VideoParameters) -> Result<VideoParams, SourceError> {
    let codec = match v.codec_params() {
        VideoParametersCodec::H264 { .. } => VideoCodec::H264,
        VideoParametersCodec::H265 { .. } => VideoCodec::H265,
        _ => return Err(SourceError::UnsupportedCodec(v.rfc6381_codec().to_owned())),
    };
    let (w, h) = v.pixel_dimensions();
    let dim = |x: u32| {
        u16::try_from(x).map_err(|_| SourceError::Stream(format!("frame size {w}x{h} too large")))
    };
    let mut params =
        VideoParams::from_config_record(codec, dim(w)?, dim(h)?, v.extra_data().to_vec())
            .map_err(|e| SourceError::Stream(e.to_string()))?;
    params.rfc6381 = v.rfc6381_codec().to_owned();
    params.pixel_aspect = v.pixel_aspect_ratio().filter(|&(h, v)| h != v);
    Ok(params)
}

impl RtspSource {
    async fn connect(spec: &SourceSpec) -> Result<Self, SourceError> {
        let creds = spec
            .credentials
            .clone()
            .map(|(username, password)| retina::client::Credentials { username, password });
        let mut url = spec.url.clone();
        // Credentials go through retina's auth, never in the request URL.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let options = SessionOptions::default()
            .creds(creds)
            .user_agent(format!("Custos/{}", env!("CARGO_PKG_VERSION")));
        let timed = |what: &'static str| {
            move |_| {
                SourceError::Unreachable(format!(
                    "no answer to {what} within {} s",
                    CONNECT_TIMEOUT.as_secs()
                ))
            }
        };
        let mut session = tokio::time::timeout(
            CONNECT_TIMEOUT,
            retina::client::Session::describe(url, options),
        )
        .await
        .map_err(timed("DESCRIBE"))?
        .map_err(classify_retina)?;
        let (video_stream, stream) = session
            .streams()
            .iter()
            .enumerate()
            .find(|(_, s)| s.media() == "video")
            .ok_or(SourceError::NoVideoTrack)?;
        let encoding = stream.encoding_name().to_ascii_lowercase();
        if encoding != "h264" && encoding != "h265" {
            return Err(SourceError::UnsupportedCodec(encoding));
        }
        let transport = match spec.transport {
            Transport::Tcp => RtspTransport::Tcp(TcpTransportOptions::default()),
            Transport::Udp => RtspTransport::Udp(UdpTransportOptions::default()),
        };
        tokio::time::timeout(
            CONNECT_TIMEOUT,
            session.setup(
                video_stream,
                SetupOptions::default()
                    .transport(transport)
                    .frame_format(FrameFormat::MP4),
            ),
        )
        .await
        .map_err(timed("SETUP"))?
        .map_err(classify_retina)?;
        let playing = tokio::time::timeout(CONNECT_TIMEOUT, session.play(PlayOptions::default()))
            .await
            .map_err(timed("PLAY"))?
            .map_err(classify_retina)?;
        let demuxed = playing.demuxed().map_err(classify_retina)?;
        let params = match demuxed.streams()[video_stream].parameters() {
            Some(ParametersRef::Video(v)) => Some(params_from_retina(v)?),
            _ => None,
        };
        Ok(RtspSource {
            demuxed,
            video_stream,
            params: None,
            pending_params: params,
            queued: None,
        })
    }

    async fn next(&mut self) -> Result<SourceItem, SourceError> {
        if let Some(p) = self.pending_params.take() {
            self.params = Some(p.clone());
            return Ok(SourceItem::Params(p));
        }
        if let Some(f) = self.queued.take() {
            return Ok(SourceItem::Frame(f));
        }
        loop {
            let item = tokio::time::timeout(FRAME_TIMEOUT, self.demuxed.next())
                .await
                .map_err(|_| {
                    SourceError::Stream(format!("no data for {} s", FRAME_TIMEOUT.as_secs()))
                })?;
            let item = match item {
                None => return Err(SourceError::Ended),
                Some(Err(e)) => return Err(classify_retina(e)),
                Some(Ok(item)) => item,
            };
            let CodecItem::VideoFrame(vf) = item else {
                continue;
            };
            if vf.stream_id() != self.video_stream {
                continue;
            }
            let new_params = if vf.has_new_parameters() || self.params.is_none() {
                match self.demuxed.streams()[self.video_stream].parameters() {
                    Some(ParametersRef::Video(v)) => Some(params_from_retina(v)?),
                    _ => None,
                }
            } else {
                None
            };
            let frame = Frame {
                pts: vf.timestamp().elapsed(),
                is_key: vf.is_random_access_point(),
                data: Bytes::from(vf.into_data()),
            };
            if let Some(p) = new_params {
                if self.params.as_ref() != Some(&p) {
                    self.params = Some(p.clone());
                    self.queued = Some(frame);
                    return Ok(SourceItem::Params(p));
                }
            }
            if self.params.is_none() {
                continue; // frames before parameters cannot be recorded
            }
            return Ok(SourceItem::Frame(frame));
        }
    }
}

/// An MP4 (or any file libavformat reads whose video carries an avcC/hvcC
/// record) played at its own frame rate, looped forever.
pub struct FileSource {
    rx: mpsc::Receiver<Result<SourceItem, SourceError>>,
}

impl FileSource {
    fn open(spec: &SourceSpec) -> Result<Self, SourceError> {
        let path = spec
            .url
            .to_file_path()
            .map_err(|_| SourceError::Scheme("file URL without a local absolute path".into()))?;
        // Open once here so that a bad file is reported at connect time.
        let first = open_file(&path)?;
        let (tx, rx) = mpsc::channel(64);
        std::thread::Builder::new()
            .name("file-source".into())
            .spawn(move || play_file_loop(path, first, tx))
            .map_err(|e| SourceError::Stream(format!("starting the file reader: {e}")))?;
        Ok(FileSource { rx })
    }

    async fn next(&mut self) -> Result<SourceItem, SourceError> {
        self.rx.recv().await.unwrap_or(Err(SourceError::Ended))
    }
}

struct OpenedFile {
    input: ffmpeg_next::format::context::Input,
    stream_index: usize,
    params: VideoParams,
    /// Stream time base as (num, den).
    time_base: (i64, i64),
}

fn file_err(path: &std::path::Path, reason: impl Into<String>) -> SourceError {
    SourceError::File {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn open_file(path: &std::path::Path) -> Result<OpenedFile, SourceError> {
    ffmpeg_next::init().map_err(|e| file_err(path, format!("initialising libavformat: {e}")))?;
    let input = ffmpeg_next::format::input(path).map_err(|e| file_err(path, e.to_string()))?;
    let stream = input
        .streams()
        .best(ffmpeg_next::media::Type::Video)
        .ok_or(SourceError::NoVideoTrack)?;
    let codec = match stream.parameters().id() {
        ffmpeg_next::codec::Id::H264 => VideoCodec::H264,
        ffmpeg_next::codec::Id::HEVC => VideoCodec::H265,
        other => {
            return Err(SourceError::UnsupportedCodec(
                format!("{other:?}").to_lowercase(),
            ))
        }
    };
    let params = stream.parameters();
    // SAFETY: `params` wraps a valid AVCodecParameters owned by the open input;
    // ffmpeg-next exposes no accessor for these fields, so they are read directly
    // and copied out before the input can be dropped.
    let (width, height, extradata) = unsafe {
        let p = &*params.as_ptr();
        let extradata = if p.extradata.is_null() || p.extradata_size <= 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts(p.extradata, p.extradata_size as usize).to_vec()
        };
        (p.width, p.height, extradata)
    };
    let dim = |x: i32| {
        u16::try_from(x)
            .map_err(|_| file_err(path, format!("frame size {width}x{height} out of range")))
    };
    let params = VideoParams::from_config_record(codec, dim(width)?, dim(height)?, extradata)
        .map_err(|e| file_err(path, format!("{e}; use an MP4 or MKV file")))?;
    let tb = stream.time_base();
    if tb.numerator() <= 0 || tb.denominator() <= 0 {
        return Err(file_err(path, "video stream has no time base"));
    }
    let stream_index = stream.index();
    Ok(OpenedFile {
        input,
        stream_index,
        params,
        time_base: (i64::from(tb.numerator()), i64::from(tb.denominator())),
    })
}

/// Reads the file in real time, forever, shifting timestamps on each loop so
/// that they keep increasing as a live camera's do.
fn play_file_loop(
    path: PathBuf,
    first: OpenedFile,
    tx: mpsc::Sender<Result<SourceItem, SourceError>>,
) {
    let started = Instant::now();
    let mut offset_ticks: i64 = 0;
    let mut next: Option<OpenedFile> = Some(first);
    let mut announced: Option<VideoParams> = None;
    loop {
        let mut opened = match next.take() {
            Some(o) => o,
            None => match open_file(&path) {
                Ok(o) => o,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            },
        };
        if announced.as_ref() != Some(&opened.params) {
            announced = Some(opened.params.clone());
            if tx
                .blocking_send(Ok(SourceItem::Params(opened.params.clone())))
                .is_err()
            {
                return;
            }
        }
        let (num, den) = opened.time_base;
        let to_ticks = |t: i64| t * num * i64::from(TIMESCALE) / den;
        let mut first_ticks: Option<i64> = None;
        let mut last_ticks = 0i64;
        let mut last_duration = i64::from(TIMESCALE) / 10;
        let mut frames = 0u64;
        for (stream, packet) in opened.input.packets() {
            if stream.index() != opened.stream_index {
                continue;
            }
            let Some(data) = packet.data() else { continue };
            // Decode order and decode time: B-frames would need composition
            // offsets, which the recorder does not keep.
            let Some(ts) = packet.dts().or(packet.pts()) else {
                continue;
            };
            let ticks = to_ticks(ts);
            let base = *first_ticks.get_or_insert(ticks);
            if packet.duration() > 0 {
                last_duration = to_ticks(packet.duration());
            }
            last_ticks = ticks - base;
            let pts = offset_ticks + last_ticks;
            let due = started
                + Duration::from_micros((pts.max(0) as u64) * 1_000_000 / u64::from(TIMESCALE));
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let frame = Frame {
                pts,
                data: Bytes::copy_from_slice(data),
                is_key: packet.is_key(),
            };
            if tx.blocking_send(Ok(SourceItem::Frame(frame))).is_err() {
                return;
            }
            frames += 1;
        }
        if frames == 0 {
            let _ = tx.blocking_send(Err(file_err(&path, "no video frames")));
            return;
        }
        offset_ticks += last_ticks + last_duration.max(1);
    }
}
