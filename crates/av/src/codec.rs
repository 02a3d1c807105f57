//! libavcodec decoders and libavformat inputs, in this process: the
//! pictures (kept as reference-counted frames), their luma planes, JPEG
//! snapshots of them, and a file's video packets.

use std::path::Path;

use custos_media::av_wire::{ErrorKind, Packet};
use ffmpeg_next as ffmpeg;
use ffmpeg_next::format::Pixel;
use ffmpeg_next::software::scaling;

use crate::AvError;

/// A decoded picture.
pub type Picture = ffmpeg::frame::Video;

fn init() -> Result<(), AvError> {
    ffmpeg::init().map_err(|e| AvError::codec("initialising libav", e))?;
    // libav's own messages go to stderr, the service's log; warnings about
    // each damaged packet of a lossy camera would drown it.
    ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Error);
    Ok(())
}

/// Pixel formats whose plane 0 is 8-bit luma, usable as it is.
fn luma_first(format: Pixel) -> bool {
    matches!(
        format,
        Pixel::YUV420P
            | Pixel::YUVJ420P
            | Pixel::YUV422P
            | Pixel::YUVJ422P
            | Pixel::YUV444P
            | Pixel::YUVJ444P
            | Pixel::YUV440P
            | Pixel::YUVJ440P
            | Pixel::YUV411P
            | Pixel::YUV410P
            | Pixel::NV12
            | Pixel::NV21
            | Pixel::GRAY8
    )
}

/// A libavcodec video decoder.
pub struct Decoder {
    decoder: ffmpeg::decoder::Video,
    /// Converts pictures whose first plane is not 8-bit luma.
    gray: Option<(scaling::Context, Picture)>,
    codec: String,
}

impl Decoder {
    /// A decoder for a camera stream (`codec` 0 H.264, 1 H.265, 2 MJPEG);
    /// frames are then fed in MP4 form with `extradata` the decoder
    /// configuration record.
    pub fn for_stream(
        codec: u8,
        width: u16,
        height: u16,
        threads: usize,
        extradata: &[u8],
    ) -> Result<Decoder, AvError> {
        init()?;
        let (id, name) = match codec {
            0 => (ffmpeg::codec::Id::H264, "H.264"),
            1 => (ffmpeg::codec::Id::HEVC, "H.265"),
            _ => (ffmpeg::codec::Id::MJPEG, "MJPEG"),
        };
        let found = ffmpeg::decoder::find(id).ok_or_else(|| AvError {
            kind: ErrorKind::NoDecoder,
            message: name.to_owned(),
        })?;
        let mut ctx = ffmpeg::codec::context::Context::new_with_codec(found);
        // SAFETY: the context is freshly allocated and not yet opened; its
        // extradata is set to a buffer from av_mallocz (with the padding
        // libavcodec requires), which the context then owns and frees.
        unsafe {
            let raw = ctx.as_mut_ptr();
            if !extradata.is_empty() {
                let len = extradata.len();
                let buf = ffmpeg::ffi::av_mallocz(
                    len + ffmpeg::ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize,
                ) as *mut u8;
                if buf.is_null() {
                    return Err(AvError::codec(
                        "allocating the decoder's extradata",
                        "out of memory",
                    ));
                }
                std::ptr::copy_nonoverlapping(extradata.as_ptr(), buf, len);
                (*raw).extradata = buf;
                (*raw).extradata_size = len as i32;
            }
            (*raw).width = i32::from(width);
            (*raw).height = i32::from(height);
        }
        Self::open(ctx, threads, name.to_owned())
    }

    fn open(
        mut ctx: ffmpeg::codec::context::Context,
        threads: usize,
        codec: String,
    ) -> Result<Decoder, AvError> {
        let mut threading =
            ffmpeg::codec::threading::Config::kind(ffmpeg::codec::threading::Type::Frame);
        threading.count = threads;
        ctx.set_threading(threading);
        let decoder = ctx
            .decoder()
            .video()
            .map_err(|e| AvError::codec("opening the video decoder", e))?;
        Ok(Decoder {
            decoder,
            gray: None,
            codec,
        })
    }

    /// The codec's name.
    pub fn codec(&self) -> &str {
        &self.codec
    }

    /// Feeds one coded frame in decode order.
    pub fn send(&mut self, data: &[u8], pts: i64, dts: i64) -> Result<(), AvError> {
        let mut packet = ffmpeg::Packet::copy(data);
        packet.set_pts(Some(pts));
        packet.set_dts(Some(dts));
        self.decoder
            .send_packet(&packet)
            .map_err(|e| AvError::codec("decoding a frame", e))
    }

    /// Signals the end of the stream.
    pub fn send_eof(&mut self) -> Result<(), AvError> {
        self.decoder
            .send_eof()
            .map_err(|e| AvError::codec("flushing the decoder", e))
    }

    /// The next decoded picture, if one is ready.
    pub fn receive(&mut self) -> Result<Option<Picture>, AvError> {
        let mut picture = Picture::empty();
        match self.decoder.receive_frame(&mut picture) {
            Ok(()) => Ok(Some(picture)),
            Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => Ok(None),
            Err(ffmpeg::Error::Eof) => Ok(None),
            Err(e) => Err(AvError::codec("decoding a frame", e)),
        }
    }

    /// The picture's luma plane, `width` bytes per row.
    pub fn luma(&mut self, picture: &Picture) -> Result<(u32, u32, Vec<u8>), AvError> {
        let (w, h) = (picture.width(), picture.height());
        let (stride, data) = if luma_first(picture.format()) {
            (picture.stride(0), picture.data(0))
        } else {
            // Other formats (10-bit, RGB, …) are converted to 8-bit gray.
            let rebuild = match &self.gray {
                Some((sws, _)) => {
                    sws.input().format != picture.format()
                        || sws.input().width != w
                        || sws.input().height != h
                }
                None => true,
            };
            if rebuild {
                let sws = scaling::Context::get(
                    picture.format(),
                    w,
                    h,
                    Pixel::GRAY8,
                    w,
                    h,
                    scaling::Flags::POINT,
                )
                .map_err(|e| AvError::codec("converting the picture to gray", e))?;
                self.gray = Some((sws, Picture::empty()));
            }
            let Some((sws, out)) = self.gray.as_mut() else {
                unreachable!("set just above");
            };
            sws.run(picture, out)
                .map_err(|e| AvError::codec("converting the picture to gray", e))?;
            (out.stride(0), out.data(0))
        };
        let width = w as usize;
        let mut packed = Vec::with_capacity(width * h as usize);
        for row in data.chunks(stride.max(1)).take(h as usize) {
            packed.extend_from_slice(&row[..width.min(row.len())]);
        }
        if packed.len() != width * h as usize {
            return Err(AvError::codec("reading the picture", "short luma plane"));
        }
        Ok((w, h, packed))
    }
}

/// Encodes `picture` as a JPEG at most `max_width` wide with libavcodec's
/// MJPEG encoder.
pub fn encode_jpeg(picture: &Picture, max_width: u32) -> Result<Vec<u8>, AvError> {
    let snapshot = |e: ffmpeg::Error| AvError::codec("encoding the snapshot", e);
    let (w, h) = (picture.width().max(1), picture.height().max(1));
    let (ow, oh) = if w > max_width {
        // Even sizes: 4:2:0 chroma needs them.
        let oh = (u64::from(h) * u64::from(max_width) / u64::from(w)) as u32;
        (max_width & !1, (oh & !1).max(2))
    } else {
        (w & !1, h & !1)
    };
    let (ow, oh) = (ow.max(2), oh.max(2));
    let mut sws = scaling::Context::get(
        picture.format(),
        w,
        h,
        Pixel::YUVJ420P,
        ow,
        oh,
        scaling::Flags::BILINEAR,
    )
    .map_err(|e| AvError::codec("scaling the snapshot", e))?;
    let mut scaled = Picture::empty();
    sws.run(picture, &mut scaled)
        .map_err(|e| AvError::codec("scaling the snapshot", e))?;
    scaled.set_pts(Some(0));
    let codec = ffmpeg::encoder::find(ffmpeg::codec::Id::MJPEG).ok_or_else(|| AvError {
        kind: ErrorKind::NoDecoder,
        message: "MJPEG encoder".into(),
    })?;
    let mut enc = ffmpeg::codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(snapshot)?;
    enc.set_width(ow);
    enc.set_height(oh);
    enc.set_format(Pixel::YUVJ420P);
    enc.set_time_base((1, 25));
    let mut opts = ffmpeg::Dictionary::new();
    // A fixed, good quality (2 is near the top of MJPEG's 2..31 scale).
    opts.set("qmin", "2");
    opts.set("qmax", "4");
    let mut encoder = enc.open_with(opts).map_err(snapshot)?;
    encoder.send_frame(&scaled).map_err(snapshot)?;
    encoder.send_eof().map_err(snapshot)?;
    let mut packet = ffmpeg::Packet::empty();
    let mut jpeg = Vec::new();
    while encoder.receive_packet(&mut packet).is_ok() {
        if let Some(data) = packet.data() {
            jpeg.extend_from_slice(data);
        }
    }
    if jpeg.is_empty() {
        return Err(AvError::codec("encoding the snapshot", "no output"));
    }
    Ok(jpeg)
}

/// A file opened with libavformat, at its best video stream.
pub struct Input {
    input: ffmpeg::format::context::Input,
    stream_index: usize,
    /// Stream time base (num, den); (1, 90000) when the file has none.
    pub time_base: (i64, i64),
    /// Whether the stream's time base was missing.
    pub time_base_missing: bool,
    /// libavcodec's name of the codec.
    pub codec: String,
    pub width: i32,
    pub height: i32,
    pub extradata: Vec<u8>,
    parameters: ffmpeg::codec::Parameters,
}

impl Input {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<Input, AvError> {
        init()?;
        let input = ffmpeg::format::input(path).map_err(|e| AvError::file(e.to_string()))?;
        let stream = input
            .streams()
            .best(ffmpeg::media::Type::Video)
            .ok_or(AvError {
                kind: ErrorKind::NoVideo,
                message: "no video stream".into(),
            })?;
        let parameters = stream.parameters();
        let codec = format!("{:?}", parameters.id()).to_lowercase();
        // SAFETY: `parameters` wraps a valid AVCodecParameters owned by the
        // open input; ffmpeg-next exposes no accessor for these fields, so
        // they are copied out here.
        let (width, height, extradata) = unsafe {
            let p = &*parameters.as_ptr();
            let extradata = if p.extradata.is_null() || p.extradata_size <= 0 {
                Vec::new()
            } else {
                std::slice::from_raw_parts(p.extradata, p.extradata_size as usize).to_vec()
            };
            (p.width, p.height, extradata)
        };
        let tb = stream.time_base();
        let time_base_missing = tb.numerator() <= 0 || tb.denominator() <= 0;
        let time_base = if time_base_missing {
            (1, 90_000)
        } else {
            (i64::from(tb.numerator()), i64::from(tb.denominator()))
        };
        let stream_index = stream.index();
        Ok(Input {
            input,
            stream_index,
            time_base,
            time_base_missing,
            codec,
            width,
            height,
            extradata,
            parameters,
        })
    }

    /// A decoder for the video stream.
    pub fn decoder(&self, threads: usize) -> Result<Decoder, AvError> {
        if ffmpeg::decoder::find(self.parameters.id()).is_none() {
            return Err(AvError {
                kind: ErrorKind::NoDecoder,
                message: self.codec.clone(),
            });
        }
        let ctx = ffmpeg::codec::context::Context::from_parameters(self.parameters.clone())
            .map_err(|e| {
                AvError::file(format!(
                    "reading the {} stream's parameters: {e}",
                    self.codec
                ))
            })?;
        Decoder::open(ctx, threads, self.codec.clone())
    }

    /// The next packet of the video stream; `None` at the end of the file.
    pub fn next_packet(&mut self) -> Result<Option<ffmpeg::Packet>, AvError> {
        loop {
            let mut packet = ffmpeg::Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) if packet.stream() == self.stream_index && packet.data().is_some() => {
                    return Ok(Some(packet))
                }
                Ok(()) => continue,
                Err(ffmpeg::Error::Eof) => return Ok(None),
                Err(e) => return Err(AvError::file(format!("reading: {e}"))),
            }
        }
    }
}

/// A packet as the wire carries it.
pub fn wire_packet(packet: &ffmpeg::Packet) -> Packet {
    Packet {
        dts: packet.dts(),
        pts: packet.pts(),
        duration: packet.duration(),
        key: packet.is_key(),
        data: packet.data().unwrap_or_default().to_vec(),
    }
}

/// Decodes a file picture by picture.
pub struct FileDecoder {
    input: Input,
    pub decoder: Decoder,
    eof_sent: bool,
}

impl FileDecoder {
    /// Opens `path` and a decoder (`threads`: 0 for as many as libavcodec likes).
    pub fn open(path: &Path, threads: usize) -> Result<FileDecoder, AvError> {
        let input = Input::open(path)?;
        let decoder = input.decoder(threads)?;
        Ok(FileDecoder {
            input,
            decoder,
            eof_sent: false,
        })
    }

    /// The next picture and its time in ms; `None` at the end.
    pub fn next_picture(&mut self) -> Result<Option<(Picture, i64)>, AvError> {
        loop {
            if let Some(picture) = self.decoder.receive()? {
                let (num, den) = self.input.time_base;
                let ms = picture
                    .pts()
                    .or(picture.timestamp())
                    .map_or(0, |t| t * num * 1000 / den);
                return Ok(Some((picture, ms)));
            }
            if self.eof_sent {
                return Ok(None);
            }
            match self.input.next_packet()? {
                Some(packet) => match self.decoder.decoder.send_packet(&packet) {
                    Ok(()) => {}
                    // A damaged packet: skip it, as players do.
                    Err(ffmpeg::Error::InvalidData) => {}
                    Err(e) => return Err(AvError::codec("decoding a frame", e)),
                },
                None => {
                    self.decoder.send_eof()?;
                    self.eof_sent = true;
                }
            }
        }
    }
}

/// Decodes all of `path` on this thread as the helper does for a file
/// decoder, taking every picture's luma; returns (pictures, CPU seconds of
/// this thread). The peer `custos bench analysis` measures the path
/// through the helper against.
pub fn decode_cpu(path: &Path) -> Result<(u64, f64), AvError> {
    let cpu = || {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage fills the struct we pass; RUSAGE_THREAD is Linux's.
        if unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) } != 0 {
            return 0.0;
        }
        // SAFETY: initialised by the successful call above.
        let u = unsafe { usage.assume_init() };
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(u.ru_utime) + tv(u.ru_stime)
    };
    let start = cpu();
    let mut file = FileDecoder::open(path, 1)?;
    let mut pictures = 0u64;
    let mut checksum = 0u64;
    while let Some((picture, _)) = file.next_picture()? {
        let (_, _, luma) = file.decoder.luma(&picture)?;
        checksum = checksum.wrapping_add(u64::from(luma[luma.len() / 2]));
        pictures += 1;
    }
    std::hint::black_box(checksum);
    Ok((pictures, cpu() - start))
}
