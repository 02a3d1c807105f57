//! The helper's loop: requests from stdin, each decoder or demuxer on a
//! thread of its own (so one camera's slow decode never holds up
//! another's), replies to stdout.

use std::collections::{HashMap, VecDeque};
use std::io::BufReader;
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};

use custos_media::av_wire::{self, ErrorKind, Reply, Request};

use crate::codec::{encode_jpeg, wire_packet, Decoder, FileDecoder, Input, Picture};
use crate::AvError;

type Out = Arc<Mutex<std::io::Stdout>>;

fn send(out: &Out, reply: &Reply) {
    let framed = reply.encode();
    let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
    if av_wire::write_message(&mut *out, &framed).is_err() {
        // The recorder is gone: nothing is left to do.
        std::process::exit(0);
    }
}

fn error(id: u32, e: AvError) -> Reply {
    Reply::Error {
        id,
        kind: e.kind,
        message: e.message,
    }
}

/// Serves requests from stdin until it closes; the process's exit code.
pub fn run() -> i32 {
    let out: Out = Arc::new(Mutex::new(std::io::stdout()));
    let mut input = BufReader::new(std::io::stdin().lock());
    let mut workers: HashMap<u32, mpsc::Sender<Request>> = HashMap::new();
    loop {
        let body = match av_wire::read_message(&mut input) {
            Ok(Some(body)) => body,
            Ok(None) => return 0,
            Err(e) => {
                eprintln!("custos-av: reading a request: {e}");
                return 2;
            }
        };
        let request = match Request::decode(&body) {
            Ok(r) => r,
            Err(e) => {
                // The two sides disagree about the messages: a restart
                // (by the recorder) is the only way back.
                eprintln!("custos-av: a request could not be read: {e}");
                return 2;
            }
        };
        let id = request.id();
        match request {
            Request::Close { .. } => {
                // Dropping the sender ends the worker.
                workers.remove(&id);
            }
            Request::OpenDecoder { .. }
            | Request::OpenFile { .. }
            | Request::OpenDemux { .. }
            | Request::DemoClip { .. } => {
                let (tx, rx) = mpsc::channel();
                let worker_out = Arc::clone(&out);
                let started = std::thread::Builder::new()
                    .name(format!("av-{id}"))
                    .spawn(move || work(request, rx, worker_out));
                match started {
                    Ok(_) => {
                        workers.insert(id, tx);
                    }
                    Err(e) => send(
                        &out,
                        &error(
                            id,
                            AvError {
                                kind: ErrorKind::Request,
                                message: format!("starting a thread: {e}"),
                            },
                        ),
                    ),
                }
            }
            other => {
                let delivered = workers.get(&id).is_some_and(|tx| tx.send(other).is_ok());
                if !delivered {
                    workers.remove(&id);
                    send(
                        &out,
                        &error(
                            id,
                            AvError {
                                kind: ErrorKind::Request,
                                message: format!("no open decoder or demuxer {id}"),
                            },
                        ),
                    );
                }
            }
        }
    }
}

/// Pictures decoded and not yet replaced, by number.
#[derive(Default)]
struct Pictures {
    next_seq: u64,
    /// The last batch (from one `Send` or `Eof`).
    batch: VecDeque<(u64, Picture)>,
    /// The picture last asked for.
    current: Option<(u64, Picture)>,
}

impl Pictures {
    /// Starts a new batch. The newest picture stays at hand: it is the one
    /// the recorder received last, whatever the next batch holds.
    fn new_batch(&mut self) {
        if let Some(newest) = self.batch.pop_back() {
            self.current = Some(newest);
        }
        self.batch.clear();
    }

    fn add(&mut self, picture: Picture) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.batch.push_back((seq, picture));
        seq
    }

    /// Makes picture `seq` the current one.
    fn select(&mut self, seq: u64) -> Result<&Picture, AvError> {
        if self.current.as_ref().is_none_or(|(s, _)| *s != seq) {
            let at = self
                .batch
                .iter()
                .position(|(s, _)| *s == seq)
                .ok_or_else(|| AvError {
                    kind: ErrorKind::Request,
                    message: format!("picture {seq} is no longer held"),
                })?;
            self.current = self.batch.remove(at);
        }
        match &self.current {
            Some((_, picture)) => Ok(picture),
            None => unreachable!("selected just above"),
        }
    }
}

enum Work {
    Stream(Decoder),
    File(FileDecoder),
    Demux(Input),
}

fn open(request: Request) -> Result<(u32, Work, Reply), (u32, AvError)> {
    match request {
        Request::OpenDecoder {
            id,
            codec,
            width,
            height,
            threads,
            extradata,
        } => {
            let d = Decoder::for_stream(codec, width, height, threads as usize, &extradata)
                .map_err(|e| (id, e))?;
            let reply = Reply::Opened {
                id,
                codec: d.codec().to_owned(),
            };
            Ok((id, Work::Stream(d), reply))
        }
        Request::OpenFile { id, threads, path } => {
            let f = FileDecoder::open(Path::new(&path), threads as usize).map_err(|e| (id, e))?;
            let reply = Reply::Opened {
                id,
                codec: f.decoder.codec().to_owned(),
            };
            Ok((id, Work::File(f), reply))
        }
        Request::OpenDemux { id, path } => {
            let input = Input::open(Path::new(&path)).map_err(|e| (id, e))?;
            let reply = Reply::DemuxOpened {
                id,
                codec: input.codec.clone(),
                width: input.width,
                height: input.height,
                // The recorder refuses a stream without a time base.
                time_base: if input.time_base_missing {
                    (0, 0)
                } else {
                    input.time_base
                },
                extradata: input.extradata.clone(),
            };
            Ok((id, Work::Demux(input), reply))
        }
        other => {
            let id = other.id();
            Err((
                id,
                AvError {
                    kind: ErrorKind::Request,
                    message: "not an opening request".into(),
                },
            ))
        }
    }
}

/// One decoder's or demuxer's thread.
fn work(first: Request, requests: mpsc::Receiver<Request>, out: Out) {
    if let Request::DemoClip { id, scene, path } = first {
        let reply = match crate::clip::write_scene_clip(&scene, Path::new(&path)) {
            Ok(()) => Reply::Done { id },
            Err(e) => error(id, e),
        };
        send(&out, &reply);
        return;
    }
    let (id, mut work, reply) = match open(first) {
        Ok(opened) => opened,
        Err((id, e)) => {
            send(&out, &error(id, e));
            return;
        }
    };
    send(&out, &reply);
    let mut pictures = Pictures::default();
    while let Ok(request) = requests.recv() {
        let reply = handle(id, &mut work, &mut pictures, request).unwrap_or_else(|e| error(id, e));
        send(&out, &reply);
    }
}

fn handle(
    id: u32,
    work: &mut Work,
    pictures: &mut Pictures,
    request: Request,
) -> Result<Reply, AvError> {
    let wrong = || AvError {
        kind: ErrorKind::Request,
        message: format!("a request decoder/demuxer {id} cannot answer"),
    };
    match (request, work) {
        (Request::Send { pts, dts, data, .. }, Work::Stream(d)) => {
            d.send(&data, pts, dts)?;
            Ok(drain(id, d, pictures))
        }
        (Request::Eof { .. }, Work::Stream(d)) => {
            d.send_eof()?;
            Ok(drain(id, d, pictures))
        }
        (Request::NextPicture { .. }, Work::File(f)) => {
            let picture = f.next_picture()?.map(|(picture, ms)| {
                pictures.new_batch();
                let seq = pictures.add(picture);
                (seq, Some(ms))
            });
            Ok(Reply::Picture { id, picture })
        }
        (
            Request::Luma { seq, .. },
            Work::Stream(d) | Work::File(FileDecoder { decoder: d, .. }),
        ) => {
            let picture = pictures.select(seq)?;
            let (width, height, data) = d.luma(picture)?;
            Ok(Reply::Luma {
                id,
                width,
                height,
                data,
            })
        }
        (Request::Jpeg { seq, max_width, .. }, Work::Stream(_) | Work::File(_)) => {
            let data = encode_jpeg(pictures.select(seq)?, max_width)?;
            Ok(Reply::Jpeg { id, data })
        }
        (Request::NextPacket { .. }, Work::Demux(input)) => Ok(Reply::Packet {
            id,
            packet: input.next_packet()?.as_ref().map(wire_packet),
        }),
        _ => Err(wrong()),
    }
}

/// Takes every picture the decoder has ready into a new batch.
fn drain(id: u32, d: &mut Decoder, pictures: &mut Pictures) -> Reply {
    pictures.new_batch();
    let first_seq = pictures.next_seq;
    let mut pts = Vec::new();
    let error = loop {
        match d.receive() {
            Ok(Some(picture)) => {
                pts.push(picture.pts().or(picture.timestamp()));
                pictures.add(picture);
            }
            Ok(None) => break None,
            Err(e) => break Some(e.message),
        }
    };
    Reply::Pictures {
        id,
        first_seq,
        pts,
        error,
    }
}
