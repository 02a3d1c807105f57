//! Camera sources: RTSP cameras (through `retina`; H.264, H.265 and MJPEG),
//! MJPEG over HTTP (`multipart/x-mixed-replace`, [`crate::mjpeg_http`]) and
//! MP4 files played in real time in a loop as if they were live cameras
//! (through libavformat).
//!
//! Both yield the same items: the stream's parameters, then frames in the MP4
//! form (4-byte length-prefixed NAL units), never re-encoded.

use std::collections::VecDeque;
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

use crate::decode::{DecodeError, Demuxer};
use crate::decode_time::DecodeTimer;
use crate::fmp4::TIMESCALE;
use crate::params::{VideoCodec, VideoParams};
use crate::segment::Frame;
use crate::sps::reorder_depth;

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
    /// For `rtsps://` and `https://`: the one certificate to trust.
    pub tls_fingerprint: Option<crate::tls_pin::Fingerprint>,
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
            .field("tls_fingerprint", &self.tls_fingerprint)
            .finish()
    }
}

/// The URL as text with any password replaced by `***`; the user name
/// stays. Use this wherever a camera URL is logged, shown or debug-printed.
pub fn redact_url(url: &Url) -> String {
    if url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    match shown.set_password(Some("***")) {
        Ok(()) => shown.to_string(),
        // Cannot happen for a URL that holds a password, but never leak it.
        Err(()) => format!("{}://***", url.scheme()),
    }
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
    #[error("unsupported codec {0}: Custos records H.264, H.265 and MJPEG")]
    UnsupportedCodec(String),
    #[error("stream ended")]
    Ended,
    #[error("stream error: {0}")]
    Stream(String),
    #[error("file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("unsupported URL scheme {0:?}: expected rtsp, rtsps, http, https or file")]
    Scheme(String),
}

/// One item from a source.
#[derive(Debug, Clone)]
pub enum SourceItem {
    /// Sent before the first frame and again whenever the parameters change.
    Params(VideoParams),
    /// A frame, in decode order, with its decode time.
    Frame(Frame),
    /// This many pictures were lost on their way from the camera (RTP
    /// packets lost or out of order), before the next frame.
    Lost(u64),
    /// A picture arrived before the stream's parameters (a camera that
    /// sends them only in band, joined between two key frames): it cannot
    /// be recorded, and is counted as waiting for a key frame.
    BeforeParameters,
}

/// A connected source.
pub enum Source {
    Rtsp(Box<RtspSource>),
    HttpMjpeg(crate::mjpeg_http::HttpMjpegSource),
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
            "http" | "https" => Ok(Source::HttpMjpeg(
                crate::mjpeg_http::HttpMjpegSource::connect(spec).await?,
            )),
            "file" => Ok(Source::File(FileSource::open(spec)?)),
            other => Err(SourceError::Scheme(other.to_owned())),
        }
    }

    /// The next item; `Err` ends the session.
    pub async fn next(&mut self) -> Result<SourceItem, SourceError> {
        match self {
            Source::Rtsp(s) => s.next().await,
            Source::HttpMjpeg(s) => s.next().await,
            Source::File(s) => s.next().await,
        }
    }
}

/// An RTSP session in the PLAY state.
pub struct RtspSource {
    demuxed: retina::client::Demuxed,
    video_stream: usize,
    params: Option<VideoParams>,
    /// Items ready to hand out, in order.
    ready: VecDeque<SourceItem>,
    sequencer: Sequencer,
    /// The error that ended the session, handed out once the frames held
    /// back for their decode time are out.
    ended: Option<SourceError>,
    /// For `rtsps://`: the loopback relay that carries the session over TLS.
    _relay: Option<crate::tls_pin::Relay>,
}

/// Puts one RTSP session's frames in decode order with their decode times
/// (RTP gives presentation times only) and counts the pictures lost on the
/// way, as items ready to hand out.
#[derive(Debug)]
struct Sequencer {
    timer: DecodeTimer,
    loss: LossCounter,
}

impl Sequencer {
    fn new(depth: u32) -> Self {
        Sequencer {
            timer: DecodeTimer::new(depth),
            loss: LossCounter::default(),
        }
    }

    /// New stream parameters: call [`release_all`](Self::release_all) first.
    fn set_depth(&mut self, depth: u32) {
        self.timer.set_depth(depth);
    }

    /// Takes the next frame as received (`dts` ignored); `packets_lost` when
    /// RTP packets were lost before it.
    fn push(&mut self, frame: Frame, packets_lost: bool, ready: &mut VecDeque<SourceItem>) {
        if packets_lost {
            // Look at the current window: a stream that reorders deeper than
            // it declared has deepened it by now.
            self.loss.packets_lost(self.timer.depth() as usize);
        }
        let mut out = Vec::new();
        if let Some(jump) = self.timer.push(frame, &mut out) {
            tracing::warn!(
                from = jump.from,
                to = jump.to,
                "the camera's time stamps jumped"
            );
            // A gap across a jump is no loss.
            let after = out.split_off(jump.released_before.min(out.len()));
            self.enqueue(out, ready);
            self.loss.reset();
            self.enqueue(after, ready);
        } else {
            self.enqueue(out, ready);
        }
    }

    /// Hands out every frame held for its decode time (new parameters, or
    /// the end of the session).
    fn release_all(&mut self, ready: &mut VecDeque<SourceItem>) {
        let mut out = Vec::new();
        self.timer.drain(&mut out);
        self.enqueue(out, ready);
    }

    fn enqueue(&mut self, frames: Vec<Frame>, ready: &mut VecDeque<SourceItem>) {
        for f in frames {
            let missing = self.loss.missing_before(f.dts);
            if missing > 0 {
                ready.push_back(SourceItem::Lost(missing));
            }
            ready.push_back(SourceItem::Frame(f));
        }
    }
}

/// Counts pictures lost in transit from the gaps they leave in the
/// presentation times, while retina reports lost packets. A gap of `n`
/// frame intervals where the interval is the usual gap seen lately is
/// `n - 1` lost pictures (so loss before the session has shown its frame
/// interval goes uncounted). Without reported loss a long gap is the camera's
/// own doing (a lower frame rate at night) and counts nothing.
#[derive(Debug, Default)]
struct LossCounter {
    last_dts: Option<i64>,
    /// The last gaps between decode times, for the frame interval.
    gaps: VecDeque<i64>,
    /// Frames still to examine since the last reported loss.
    watch: usize,
}

impl LossCounter {
    const HISTORY: usize = 32;

    /// Retina reported lost packets before the frame about to be pushed,
    /// with the stream reordering `depth` pictures. The gap a lost picture
    /// leaves shows once every picture presented before it has its decode
    /// time. Without reordering that is the very next frame. With it, the
    /// pictures presented before a lost reference picture may arrive up to
    /// a whole run of B-frames after it (x264 allows 16; a pyramid of 8
    /// sends 7 after its P-frame), and each is handed out `depth` frames
    /// after it arrives.
    fn packets_lost(&mut self, depth: usize) {
        self.watch = if depth == 0 {
            2
        } else {
            crate::sps::MAX_REORDER_DEPTH as usize + depth + 2
        };
    }

    fn reset(&mut self) {
        *self = LossCounter::default();
    }

    /// Pictures missing before `dts` (the next decode time in order).
    fn missing_before(&mut self, dts: i64) -> u64 {
        let Some(last) = self.last_dts.replace(dts) else {
            return 0;
        };
        let gap = dts - last;
        if gap <= 0 {
            return 0;
        }
        let mut missing = 0;
        if self.watch > 0 {
            self.watch -= 1;
            if let Some(interval) = self.interval() {
                if gap * 2 > interval * 3 {
                    missing = ((gap + interval / 2) / interval - 1).max(0) as u64;
                }
            }
        }
        if missing == 0 {
            if self.gaps.len() == Self::HISTORY {
                self.gaps.pop_front();
            }
            self.gaps.push_back(gap);
        }
        missing
    }

    /// The frame interval: the median of the recent gaps. Not their
    /// smallest: where the stream reorders deeper than its SPS says, the
    /// decode-time window deepens and hands out a decode time one tick
    /// after the last, a gap that would make every later gap look like
    /// thousands of lost pictures.
    fn interval(&self) -> Option<i64> {
        let mut gaps: Vec<i64> = self.gaps.iter().copied().collect();
        gaps.sort_unstable();
        gaps.get(gaps.len() / 2).copied().filter(|&i| i > 0)
    }
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
    if first.starts_with("RTSP framing error") && answered_http(&text) {
        return SourceError::Stream(
            "the port answered HTTP, not RTSP: this looks like the camera's web port \
             (RTSP is usually port 554; see the camera's network settings)"
                .to_owned(),
        );
    }
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

/// True when the bytes retina could not frame (quoted in its error, with
/// their text beside the hex) are an HTTP answer: a status line, or the
/// HTML page a camera's web server sends with it.
fn answered_http(error_text: &str) -> bool {
    let text = error_text.to_ascii_lowercase();
    ["http/1.", "http/2", "<html", "<!doctype", "<head>"]
        .iter()
        .any(|mark| text.contains(mark))
}

fn params_from_retina(v: &retina::codec::VideoParameters) -> Result<VideoParams, SourceError> {
    let codec = match v.codec_params() {
        VideoParametersCodec::H264 { .. } => VideoCodec::H264,
        VideoParametersCodec::H265 { .. } => VideoCodec::H265,
        VideoParametersCodec::Jpeg => VideoCodec::Mjpeg,
        _ => return Err(SourceError::UnsupportedCodec(v.rfc6381_codec().to_owned())),
    };
    let (w, h) = v.pixel_dimensions();
    let dim = |x: u32| {
        u16::try_from(x).map_err(|_| SourceError::Stream(format!("frame size {w}x{h} too large")))
    };
    if codec == VideoCodec::Mjpeg {
        return VideoParams::mjpeg(dim(w)?, dim(h)?)
            .map_err(|e| SourceError::Stream(e.to_string()));
    }
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
        let relay = if url.scheme() == "rtsps" {
            let pin = spec.tls_fingerprint.ok_or_else(|| {
                SourceError::Stream(
                    "an rtsps camera needs tls_fingerprint: the SHA-256 fingerprint of its \
                     certificate"
                        .into(),
                )
            })?;
            if spec.transport == Transport::Udp {
                return Err(SourceError::Stream(
                    "rtsps carries the video inside its TLS connection: use transport \"tcp\""
                        .into(),
                ));
            }
            let host = url.host_str().unwrap_or_default().to_owned();
            let port = url.port().unwrap_or(322);
            let relay = tokio::time::timeout(
                CONNECT_TIMEOUT,
                crate::tls_pin::Relay::start(&host, port, pin),
            )
            .await
            .map_err(|_| {
                SourceError::Unreachable(format!(
                    "no TLS answer from {host}:{port} within {} s",
                    CONNECT_TIMEOUT.as_secs()
                ))
            })??;
            // retina speaks to the relay in plain RTSP; the camera sees
            // the same requests over TLS.
            let rewritten = url
                .set_scheme("rtsp")
                .and_then(|()| url.set_host(Some("127.0.0.1")).map_err(|_| ()))
                .and_then(|()| url.set_port(Some(relay.port)));
            if rewritten.is_err() {
                return Err(SourceError::Stream("cannot relay this rtsps URL".into()));
            }
            Some(relay)
        } else {
            None
        };
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
        if !matches!(encoding.as_str(), "h264" | "h265" | "jpeg") {
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
        let mut source = RtspSource {
            demuxed,
            video_stream,
            params: None,
            ready: Default::default(),
            sequencer: Sequencer::new(0),
            ended: None,
            _relay: relay,
        };
        if let Some(p) = params {
            source.announce(p);
        }
        Ok(source)
    }

    /// New parameters: frames held under the old ones go out first, then
    /// the parameters, and the decode-time window follows the new SPS.
    fn announce(&mut self, params: VideoParams) {
        self.release_all();
        let depth = reorder_depth(&params);
        tracing::debug!(codec = %params.rfc6381, reorder = depth.pictures, source = ?depth.source, "stream parameters");
        self.sequencer.set_depth(depth.pictures);
        self.params = Some(params.clone());
        self.ready.push_back(SourceItem::Params(params));
    }

    fn release_all(&mut self) {
        self.sequencer.release_all(&mut self.ready);
    }

    async fn next(&mut self) -> Result<SourceItem, SourceError> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Ok(item);
            }
            if let Some(e) = self.ended.take() {
                return Err(e);
            }
            if let Err(e) = self.receive().await {
                // Frames held for their decode time are the camera's too:
                // hand them out before the error ends the session.
                self.release_all();
                self.ended = Some(e);
            }
        }
    }

    /// Reads from the camera until something is ready to hand out.
    async fn receive(&mut self) -> Result<(), SourceError> {
        while self.ready.is_empty() {
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
            let packets_lost = vf.loss() > 0;
            if vf.has_new_parameters() || self.params.is_none() {
                if let Some(ParametersRef::Video(v)) =
                    self.demuxed.streams()[self.video_stream].parameters()
                {
                    let p = params_from_retina(v)?;
                    if self.params.as_ref() != Some(&p) {
                        self.announce(p);
                    }
                }
            }
            if self.params.is_none() {
                // Nothing is held for its decode time yet: in order.
                self.ready.push_back(SourceItem::BeforeParameters);
                continue;
            }
            let pts = vf.timestamp().elapsed();
            let retina_key = vf.is_random_access_point();
            let mut data = vf.into_data();
            let codec = self.params.as_ref().map_or(VideoCodec::H264, |p| p.codec);
            // retina knows only IDR pictures; open GOPs start at CRA (H.265)
            // or recovery-point I pictures (H.264).
            let is_key = retina_key || crate::nal::is_random_access(codec, &data);
            if codec == VideoCodec::Mjpeg && !data.ends_with(&[0xFF, 0xD9]) {
                // RTP/JPEG carries no JPEG markers: retina rebuilds the
                // headers, but omits the end-of-image marker when the scan
                // happens to end in 0xFF or 0xD9. A JPEG ends with one.
                data.extend_from_slice(&[0xFF, 0xD9]);
            }
            let frame = Frame {
                pts,
                dts: pts,
                is_key,
                data: Bytes::from(data),
            };
            self.sequencer.push(frame, packets_lost, &mut self.ready);
        }
        Ok(())
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
    demuxer: Demuxer,
    params: VideoParams,
}

fn file_err(path: &std::path::Path, reason: impl Into<String>) -> SourceError {
    SourceError::File {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn demux_err(path: &std::path::Path, e: DecodeError) -> SourceError {
    match e {
        DecodeError::NoVideo(_) => SourceError::NoVideoTrack,
        DecodeError::File { reason, .. } => file_err(path, reason),
        other => file_err(path, other.to_string()),
    }
}

/// Opens the file's video stream (demuxed by the libav helper).
fn open_file(path: &std::path::Path) -> Result<OpenedFile, SourceError> {
    let demuxer = Demuxer::open(path).map_err(|e| demux_err(path, e))?;
    let codec = match demuxer.codec.as_str() {
        "h264" => VideoCodec::H264,
        "hevc" => VideoCodec::H265,
        "mjpeg" => VideoCodec::Mjpeg,
        other => return Err(SourceError::UnsupportedCodec(other.to_owned())),
    };
    let (width, height) = (demuxer.width, demuxer.height);
    let dim = |x: i32| {
        u16::try_from(x)
            .map_err(|_| file_err(path, format!("frame size {width}x{height} out of range")))
    };
    let params = match codec {
        VideoCodec::Mjpeg => VideoParams::mjpeg(dim(width)?, dim(height)?),
        _ => VideoParams::from_config_record(
            codec,
            dim(width)?,
            dim(height)?,
            demuxer.extradata.clone(),
        ),
    }
    .map_err(|e| file_err(path, format!("{e}; use an MP4 or MKV file")))?;
    Ok(OpenedFile { demuxer, params })
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
        let (num, den) = opened.demuxer.time_base;
        let to_ticks = |t: i64| t * num * i64::from(TIMESCALE) / den;
        // Time 0 of this pass is the first packet's decode time; a file
        // with B-frames has presentation times ahead of it.
        let mut first_ticks: Option<i64> = None;
        let mut last_dts = 0i64;
        let mut max_pts = 0i64;
        let mut last_duration = i64::from(TIMESCALE) / 10;
        let mut frames = 0u64;
        loop {
            let packet = match opened.demuxer.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.blocking_send(Err(demux_err(&path, e)));
                    return;
                }
            };
            // Packets come in decode order with the container's decode and
            // presentation times, B-frames' composition offsets included.
            let (Some(dts), Some(pts)) = (packet.dts.or(packet.pts), packet.pts.or(packet.dts))
            else {
                continue;
            };
            let base = *first_ticks.get_or_insert(to_ticks(dts));
            if packet.duration > 0 {
                last_duration = to_ticks(packet.duration);
            }
            let dts_rel = to_ticks(dts) - base;
            let pts_rel = to_ticks(pts) - base;
            // A damaged file could step back; decode times must not.
            if frames > 0 && dts_rel <= last_dts {
                continue;
            }
            last_dts = dts_rel;
            max_pts = max_pts.max(pts_rel);
            // Sent when it is due, by decode time, as a camera sends.
            let due = started
                + Duration::from_micros(
                    ((offset_ticks + dts_rel).max(0) as u64) * 1_000_000 / u64::from(TIMESCALE),
                );
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let frame = Frame {
                pts: offset_ticks + pts_rel,
                dts: offset_ticks + dts_rel,
                data: Bytes::from(packet.data),
                is_key: packet.key,
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
        // The next pass starts after everything of this one, in decode
        // and in presentation order.
        offset_ticks += last_dts.max(max_pts) + last_duration.max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_passwords() {
        let url = Url::parse("rtsp://admin:s3cr%40t@10.0.0.5:554/s?x=1").expect("a URL");
        assert_eq!(redact_url(&url), "rtsp://admin:***@10.0.0.5:554/s?x=1");
        let plain = Url::parse("rtsp://admin@h/s").expect("a URL");
        assert_eq!(redact_url(&plain), "rtsp://admin@h/s");
    }

    /// 15 fps at 90 kHz.
    const INTERVAL: i64 = 6000;

    /// Picture `n` (in frame intervals) as received: no decode time yet.
    fn picture(n: i64, is_key: bool) -> Frame {
        Frame {
            pts: n * INTERVAL,
            dts: 0,
            is_key,
            data: Bytes::new(),
        }
    }

    /// Presentation times (in frame intervals) of `gops` hierarchical GOPs
    /// of eight, in decode order: I0 P8 B4 B2 b1 b3 B6 b5 b7 P16 B12 …
    /// (reorder depth 3, as x264 writes with 7 B-frames and a pyramid).
    fn pyramid_of_eight(gops: i64) -> Vec<i64> {
        let mut order = vec![0];
        for g in 0..gops {
            let b = 8 * g;
            order.extend([8, 4, 2, 1, 3, 6, 5, 7].map(|n| b + n));
        }
        order
    }

    /// Two plain B-frames between references: I0 P3 B1 B2 P6 B4 B5 …
    /// (reorder depth 1).
    fn two_b_frames(minis: i64) -> Vec<i64> {
        let mut order = vec![0];
        for m in 0..minis {
            let b = 3 * m;
            order.extend([3, 1, 2].map(|n| b + n));
        }
        order
    }

    /// Runs a session through a sequencer with the frames at `lost`
    /// (positions in decode order) missing and the loss reported on the
    /// next frame received, as retina does. Returns (frames handed out,
    /// pictures counted as lost).
    fn run(depth: u32, order: &[i64], lost: &[usize]) -> (usize, u64) {
        let mut seq = Sequencer::new(depth);
        let mut ready = VecDeque::new();
        let mut loss_pending = false;
        for (i, &n) in order.iter().enumerate() {
            if lost.contains(&i) {
                loss_pending = true;
                continue;
            }
            let frame = picture(n, i == 0);
            seq.push(frame, std::mem::take(&mut loss_pending), &mut ready);
        }
        seq.release_all(&mut ready);
        let mut frames = 0;
        let mut counted = 0;
        let mut last_dts = None;
        for item in ready {
            match item {
                SourceItem::Frame(f) => {
                    assert!(last_dts < Some(f.dts), "decode times increase");
                    last_dts = Some(f.dts);
                    frames += 1;
                }
                SourceItem::Lost(n) => counted += n,
                SourceItem::Params(_) | SourceItem::BeforeParameters => {}
            }
        }
        (frames, counted)
    }

    #[test]
    fn every_lost_picture_is_counted_whatever_its_place_in_a_pyramid() {
        let order = pyramid_of_eight(6);
        // Not the first GOP (the frame interval is not known yet) nor the
        // last (what is lost at the very end leaves no gap before a later
        // picture).
        for burst in 1..=4 {
            for at in 9..order.len() - 8 - burst {
                let lost: Vec<usize> = (at..at + burst).collect();
                let (frames, counted) = run(3, &order, &lost);
                assert_eq!(frames, order.len() - burst, "lost {lost:?}");
                assert_eq!(counted, burst as u64, "lost {lost:?} of {order:?}");
            }
        }
    }

    #[test]
    fn loss_is_counted_when_the_stream_reorders_deeper_than_it_declared() {
        // The SPS says no reordering; the decode-time window deepens at the
        // first B-frame.
        let order = two_b_frames(20);
        for at in 8..order.len() - 4 {
            let (frames, counted) = run(0, &order, &[at]);
            assert_eq!((frames, counted), (order.len() - 1, 1), "lost #{at}");
        }
    }

    #[test]
    fn two_losses_close_together_are_both_counted() {
        let order = pyramid_of_eight(4);
        for first in 9..order.len() - 14 {
            let lost = [first, first + 3];
            assert_eq!(run(3, &order, &lost).1, 2, "lost {lost:?}");
        }
    }

    #[test]
    fn a_slower_frame_rate_without_reported_loss_is_no_loss() {
        // A camera going from 15 to 5 fps at night: gaps of three intervals
        // with nothing lost on the network.
        let mut order: Vec<i64> = (0..30).collect();
        order.extend((10..30).map(|n| n * 3));
        let (frames, counted) = run(0, &order, &[]);
        assert_eq!((frames, counted), (order.len(), 0));
    }

    #[test]
    fn a_gap_far_from_reported_loss_is_not_counted() {
        // Loss reported with no picture missing (the lost packet held only
        // a parameter set before a picture that arrived whole), and the
        // frame rate drops long after.
        let mut seq = Sequencer::new(0);
        let mut ready = VecDeque::new();
        let pts = (0..20).chain((7..20).map(|n| n * 3));
        for (i, n) in pts.enumerate() {
            seq.push(picture(n, i == 0), i == 5, &mut ready);
        }
        seq.release_all(&mut ready);
        assert!(!ready.iter().any(|i| matches!(i, SourceItem::Lost(_))));
    }
}
