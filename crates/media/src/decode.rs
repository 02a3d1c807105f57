//! Decoding pictures with libavcodec, for analysis: the luma plane of each
//! decoded frame, and a JPEG of the frame when asked.
//!
//! Two ways in: [`Decoder::for_params`] decodes a camera's frames as the
//! sources deliver them (H.264/H.265 in MP4 form, with the stream's
//! decoder configuration record as extradata), and [`FileDecoder`] reads any
//! file libavformat can open (MP4, MKV, AVI, …) with whatever codec the file
//! uses.

use std::path::{Path, PathBuf};

use ffmpeg_next as ffmpeg;
use ffmpeg_next::format::Pixel;
use ffmpeg_next::software::scaling;

use crate::params::{VideoCodec, VideoParams};

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
    #[error("{what}: {source}")]
    Codec {
        /// What was being done.
        what: &'static str,
        /// libavcodec's error.
        #[source]
        source: ffmpeg::Error,
    },
}

fn codec_err(what: &'static str) -> impl FnOnce(ffmpeg::Error) -> DecodeError {
    move |source| DecodeError::Codec { what, source }
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

/// A libavcodec video decoder that keeps its last decoded picture.
pub struct Decoder {
    decoder: ffmpeg::decoder::Video,
    frame: ffmpeg::frame::Video,
    /// Converts pictures whose first plane is not 8-bit luma.
    gray: Option<(scaling::Context, ffmpeg::frame::Video)>,
    codec: String,
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

impl Decoder {
    /// A decoder for a camera stream with these parameters; frames are then
    /// fed in MP4 form (length-prefixed NAL units), as the sources give them.
    /// `threads` bounds libavcodec's threads (1 for a live camera among many).
    pub fn for_params(params: &VideoParams, threads: usize) -> Result<Decoder, DecodeError> {
        ffmpeg::init().map_err(codec_err("initialising libavcodec"))?;
        let id = match params.codec {
            VideoCodec::H264 => ffmpeg::codec::Id::H264,
            VideoCodec::H265 => ffmpeg::codec::Id::HEVC,
            VideoCodec::Mjpeg => ffmpeg::codec::Id::MJPEG,
        };
        let codec = ffmpeg::decoder::find(id)
            .ok_or_else(|| DecodeError::NoDecoder(params.codec.to_string()))?;
        let mut ctx = ffmpeg::codec::context::Context::new_with_codec(codec);
        // SAFETY: the context is freshly allocated and not yet opened; its
        // extradata is set to a buffer from av_mallocz (with the padding
        // libavcodec requires), which the context then owns and frees.
        unsafe {
            let raw = ctx.as_mut_ptr();
            let len = params.config_record.len();
            let buf =
                ffmpeg::ffi::av_mallocz(len + ffmpeg::ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize)
                    as *mut u8;
            if buf.is_null() {
                return Err(DecodeError::Codec {
                    what: "allocating the decoder's extradata",
                    source: ffmpeg::Error::Other {
                        errno: ffmpeg::util::error::ENOMEM,
                    },
                });
            }
            std::ptr::copy_nonoverlapping(params.config_record.as_ptr(), buf, len);
            (*raw).extradata = buf;
            // A JPEG picture carries its own tables; the `esds` is no
            // extradata for libavcodec.
            (*raw).extradata_size = if params.codec == VideoCodec::Mjpeg {
                0
            } else {
                len as i32
            };
            (*raw).width = i32::from(params.width);
            (*raw).height = i32::from(params.height);
        }
        Self::open(ctx, threads, params.codec.to_string())
    }

    fn open(
        mut ctx: ffmpeg::codec::context::Context,
        threads: usize,
        codec: String,
    ) -> Result<Decoder, DecodeError> {
        let mut threading =
            ffmpeg::codec::threading::Config::kind(ffmpeg::codec::threading::Type::Frame);
        threading.count = threads;
        ctx.set_threading(threading);
        let decoder = ctx
            .decoder()
            .video()
            .map_err(codec_err("opening the video decoder"))?;
        Ok(Decoder {
            decoder,
            frame: ffmpeg::frame::Video::empty(),
            gray: None,
            codec,
        })
    }

    /// The codec's name.
    pub fn codec(&self) -> &str {
        &self.codec
    }

    /// Feeds one coded frame in decode order (`pts` and `dts` in any one
    /// unit; the pts comes back with the picture, in presentation order).
    pub fn send(&mut self, data: &[u8], pts: i64, dts: i64) -> Result<(), DecodeError> {
        let mut packet = ffmpeg::Packet::copy(data);
        packet.set_pts(Some(pts));
        packet.set_dts(Some(dts));
        self.decoder
            .send_packet(&packet)
            .map_err(codec_err("decoding a frame"))
    }

    /// Signals the end of the stream: the remaining pictures can then be
    /// received.
    pub fn send_eof(&mut self) -> Result<(), DecodeError> {
        self.decoder
            .send_eof()
            .map_err(codec_err("flushing the decoder"))
    }

    /// Takes the next decoded picture, if one is ready; its pts is returned
    /// and its pixels are then available from [`Decoder::luma`] and
    /// [`Decoder::jpeg`] until the next call.
    pub fn receive(&mut self) -> Result<Option<Option<i64>>, DecodeError> {
        match self.decoder.receive_frame(&mut self.frame) {
            Ok(()) => Ok(Some(self.frame.pts().or(self.frame.timestamp()))),
            Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => Ok(None),
            Err(ffmpeg::Error::Eof) => Ok(None),
            Err(e) => Err(DecodeError::Codec {
                what: "decoding a frame",
                source: e,
            }),
        }
    }

    /// The luma plane of the last received picture.
    pub fn luma(&mut self) -> Result<Luma<'_>, DecodeError> {
        let (w, h) = (self.frame.width(), self.frame.height());
        if luma_first(self.frame.format()) {
            return Ok(Luma {
                width: w as usize,
                height: h as usize,
                stride: self.frame.stride(0),
                data: self.frame.data(0),
            });
        }
        // Other formats (10-bit, RGB, …) are converted to 8-bit gray.
        let rebuild = match &self.gray {
            Some((sws, _)) => {
                sws.input().format != self.frame.format()
                    || sws.input().width != w
                    || sws.input().height != h
            }
            None => true,
        };
        if rebuild {
            let sws = scaling::Context::get(
                self.frame.format(),
                w,
                h,
                Pixel::GRAY8,
                w,
                h,
                scaling::Flags::POINT,
            )
            .map_err(codec_err("converting the picture to gray"))?;
            self.gray = Some((sws, ffmpeg::frame::Video::empty()));
        }
        let Some((sws, out)) = self.gray.as_mut() else {
            unreachable!("set just above");
        };
        sws.run(&self.frame, out)
            .map_err(codec_err("converting the picture to gray"))?;
        Ok(Luma {
            width: w as usize,
            height: h as usize,
            stride: out.stride(0),
            data: out.data(0),
        })
    }

    /// The last received picture as a JPEG, at most `max_width` wide.
    pub fn jpeg(&self, max_width: u32) -> Result<Vec<u8>, DecodeError> {
        encode_jpeg(&self.frame, max_width)
    }
}

/// Encodes `frame` as a JPEG with libavcodec's MJPEG encoder.
fn encode_jpeg(frame: &ffmpeg::frame::Video, max_width: u32) -> Result<Vec<u8>, DecodeError> {
    let (w, h) = (frame.width().max(1), frame.height().max(1));
    let (ow, oh) = if w > max_width {
        // Even sizes: 4:2:0 chroma needs them.
        let oh = (u64::from(h) * u64::from(max_width) / u64::from(w)) as u32;
        (max_width & !1, (oh & !1).max(2))
    } else {
        (w & !1, h & !1)
    };
    let (ow, oh) = (ow.max(2), oh.max(2));
    let mut sws = scaling::Context::get(
        frame.format(),
        w,
        h,
        Pixel::YUVJ420P,
        ow,
        oh,
        scaling::Flags::BILINEAR,
    )
    .map_err(codec_err("scaling the snapshot"))?;
    let mut scaled = ffmpeg::frame::Video::empty();
    sws.run(frame, &mut scaled)
        .map_err(codec_err("scaling the snapshot"))?;
    scaled.set_pts(Some(0));
    let codec = ffmpeg::encoder::find(ffmpeg::codec::Id::MJPEG)
        .ok_or_else(|| DecodeError::NoDecoder("MJPEG encoder".into()))?;
    let mut enc = ffmpeg::codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(codec_err("creating the JPEG encoder"))?;
    enc.set_width(ow);
    enc.set_height(oh);
    enc.set_format(Pixel::YUVJ420P);
    enc.set_time_base((1, 25));
    let mut opts = ffmpeg::Dictionary::new();
    // A fixed, good quality (2 is near the top of MJPEG's 2..31 scale).
    opts.set("qmin", "2");
    opts.set("qmax", "4");
    let mut encoder = enc
        .open_with(opts)
        .map_err(codec_err("opening the JPEG encoder"))?;
    encoder
        .send_frame(&scaled)
        .map_err(codec_err("encoding the snapshot"))?;
    encoder
        .send_eof()
        .map_err(codec_err("encoding the snapshot"))?;
    let mut packet = ffmpeg::Packet::empty();
    let mut jpeg = Vec::new();
    while encoder.receive_packet(&mut packet).is_ok() {
        if let Some(data) = packet.data() {
            jpeg.extend_from_slice(data);
        }
    }
    if jpeg.is_empty() {
        return Err(DecodeError::Codec {
            what: "encoding the snapshot",
            source: ffmpeg::Error::Eof,
        });
    }
    Ok(jpeg)
}

/// Decodes a video file's best video stream, picture by picture, as fast
/// as it can.
pub struct FileDecoder {
    input: ffmpeg::format::context::Input,
    stream_index: usize,
    decoder: Decoder,
    /// Stream time base (num, den).
    time_base: (i64, i64),
    path: PathBuf,
    eof_sent: bool,
}

impl FileDecoder {
    /// Opens `path` with libavformat and a decoder for its video stream.
    /// `threads` is libavcodec's thread count (0: as many as it likes).
    pub fn open(path: &Path, threads: usize) -> Result<FileDecoder, DecodeError> {
        let file_err = |reason: String| DecodeError::File {
            path: path.to_owned(),
            reason,
        };
        ffmpeg::init().map_err(|e| file_err(format!("initialising libavformat: {e}")))?;
        let input = ffmpeg::format::input(path).map_err(|e| file_err(e.to_string()))?;
        let stream = input
            .streams()
            .best(ffmpeg::media::Type::Video)
            .ok_or_else(|| DecodeError::NoVideo(path.to_owned()))?;
        let id = stream.parameters().id();
        let codec_name = format!("{id:?}").to_lowercase();
        if ffmpeg::decoder::find(id).is_none() {
            return Err(DecodeError::NoDecoder(codec_name));
        }
        let ctx = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
            .map_err(|e| file_err(format!("reading the {codec_name} stream's parameters: {e}")))?;
        let tb = stream.time_base();
        let time_base = if tb.numerator() > 0 && tb.denominator() > 0 {
            (i64::from(tb.numerator()), i64::from(tb.denominator()))
        } else {
            (1, 90_000)
        };
        let stream_index = stream.index();
        let decoder = Decoder::open(ctx, threads, codec_name)?;
        Ok(FileDecoder {
            input,
            stream_index,
            decoder,
            time_base,
            path: path.to_owned(),
            eof_sent: false,
        })
    }

    /// The video codec's name.
    pub fn codec(&self) -> &str {
        self.decoder.codec()
    }

    /// Decodes up to the next picture; returns its time in ms (from the
    /// stream's time base), or `None` at the end of the file. The picture
    /// is then in [`FileDecoder::decoder`].
    pub fn next_picture(&mut self) -> Result<Option<i64>, DecodeError> {
        loop {
            if let Some(pts) = self.decoder.receive()? {
                let (num, den) = self.time_base;
                return Ok(Some(pts.map_or(0, |t| t * num * 1000 / den)));
            }
            if self.eof_sent {
                return Ok(None);
            }
            let mut packet = ffmpeg::Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) => {
                    if packet.stream() != self.stream_index {
                        continue;
                    }
                    match self.decoder.decoder.send_packet(&packet) {
                        Ok(()) => {}
                        // A damaged packet: skip it, as players do.
                        Err(ffmpeg::Error::InvalidData) => continue,
                        Err(e) => {
                            return Err(DecodeError::Codec {
                                what: "decoding a frame",
                                source: e,
                            })
                        }
                    }
                }
                Err(ffmpeg::Error::Eof) => {
                    self.decoder.send_eof()?;
                    self.eof_sent = true;
                }
                Err(e) => {
                    return Err(DecodeError::File {
                        path: self.path.clone(),
                        reason: format!("reading: {e}"),
                    })
                }
            }
        }
    }

    /// The decoder holding the last picture.
    pub fn decoder(&mut self) -> &mut Decoder {
        &mut self.decoder
    }
}
