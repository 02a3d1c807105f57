//! Live view with a slow viewer, over a real connection: the router served
//! on a loopback socket, a real WebSocket client that first reads nothing
//! while the camera's frames keep coming (so the server's socket fills and
//! the viewer falls more than its queue behind), then reads
//! slowly while frames keep coming, then catches up.
//!
//! The viewer must skip ahead to the next key frame instead of buffering
//! what it missed, and what it receives must stay valid for Media Source
//! Extensions: each fragment one frame, sequence numbers without holes,
//! decode times increasing and never overlapping, and every fragment after
//! a skip a sync sample.

use std::sync::Arc;
use std::time::Duration;

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderValue;
use bytes::Bytes;
use custos_ledger::note::SigningKey;
use custos_media::fmp4::{NON_SYNC_SAMPLE_FLAGS, SYNC_SAMPLE_FLAGS};
use custos_media::mp4box::{children, find_child, BoxHeader};
use custos_media::segment::Frame;
use custos_media::synthetic;
use custos_server::auth::token_digest;
use custos_server::{AppState, LogAccess};
use custos_site::cameras::{CameraRegistry, LiveState};
use custos_site::live::LiveHub;
use custos_store::pool::StorePool;
use custos_store::{Role, Store, DB_FILE_NAME};
use futures::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const T0: i64 = 1_764_340_000_000;
const TOKEN: &str = "cst_live0001_viewer-secret";

/// What `live.rs` queues for a viewer that falls behind: a viewer further
/// behind than this loses frames.
const QUEUE_FRAMES: i64 = custos_site::live::VIEWER_QUEUE_FRAMES as i64;
/// 25 fps in 90 kHz units.
const FRAME_TICKS: i64 = 3600;
/// A key frame every second.
const GOP: i64 = 25;
/// Bytes of each frame: large enough that a few hundred frames fill the
/// socket's buffers.
const FRAME_BYTES: usize = 32 * 1024;
/// Frames published, paced, while the viewer reads nothing: far more than
/// the sockets hold, so the server ends up waiting in a send.
const PACED: i64 = 1200;
/// Frames published in one burst while the server still waits: more than
/// the viewer's queue holds, so the viewer must lose frames.
const BURST: i64 = 600;
/// Frames published while the viewer reads slowly.
const SLOW: i64 = 600;
/// Frames published at the end, slower than the viewer reads: a whole GOP
/// and then some, so that a viewer that skipped near the end of the slow
/// part (and waits for a key frame) gets one and reaches the end.
const TAIL: i64 = GOP + 2;
const TOTAL: i64 = PACED + BURST + SLOW + TAIL;
const _: () = assert!(
    (TOTAL - TAIL) % GOP == 0,
    "the tail starts with a key frame"
);

/// Frame `n`: one NAL unit (IDR for key frames) that carries `n`.
fn frame(n: i64) -> Frame {
    let is_key = n % GOP == 0;
    let nal_len = FRAME_BYTES - 4;
    let mut data = Vec::with_capacity(FRAME_BYTES);
    data.extend_from_slice(&(nal_len as u32).to_be_bytes());
    data.push(if is_key { 0x65 } else { 0x41 });
    data.extend_from_slice(&(n as u32).to_be_bytes());
    data.resize(FRAME_BYTES, 0xAB);
    Frame {
        pts: n * FRAME_TICKS,
        dts: n * FRAME_TICKS,
        data: Bytes::from(data),
        is_key,
    }
}

fn be_u32(b: &[u8], at: usize) -> Result<u32, Box<dyn std::error::Error>> {
    let bytes = b.get(at..at + 4).ok_or("truncated")?;
    Ok(u32::from_be_bytes(bytes.try_into()?))
}

fn be_u64(b: &[u8], at: usize) -> Result<u64, Box<dyn std::error::Error>> {
    let bytes = b.get(at..at + 8).ok_or("truncated")?;
    Ok(u64::from_be_bytes(bytes.try_into()?))
}

/// One fragment as a viewer's Media Source sees it.
#[derive(Debug)]
struct Fragment {
    /// `mfhd` sequence number.
    sequence: u32,
    /// `tfdt` base media decode time.
    decode_time: u64,
    /// The one sample's duration, flags and the frame number its bytes carry.
    duration: u32,
    sync: bool,
    frame: i64,
    idr: bool,
}

fn child(msg: &[u8], parent: &BoxHeader, fourcc: &[u8; 4]) -> Result<BoxHeader, String> {
    find_child(msg, parent.body_range(), fourcc)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no {} box", String::from_utf8_lossy(fourcc)))
}

/// Reads a live fragment: `prft`, `moof` (`mfhd`, `traf` with `tfhd`,
/// `tfdt` and a one-sample `trun`) and `mdat` holding the frame as sent.
fn parse_fragment(msg: &[u8]) -> Result<Fragment, Box<dyn std::error::Error>> {
    let tops: Vec<BoxHeader> = children(msg, 0..msg.len()).collect::<Result<_, _>>()?;
    let kinds: Vec<[u8; 4]> = tops.iter().map(|b| b.fourcc).collect();
    if kinds != [*b"prft", *b"moof", *b"mdat"] {
        return Err(format!("fragment boxes {kinds:?}").into());
    }
    let (moof, mdat) = (tops[1], tops[2]);
    let mfhd = child(msg, &moof, b"mfhd")?;
    let sequence = be_u32(msg, mfhd.body_range().start + 4)?;
    let traf = child(msg, &moof, b"traf")?;
    let tfdt = child(msg, &traf, b"tfdt")?;
    if msg[tfdt.body_range().start] != 1 {
        return Err("tfdt is not version 1".into());
    }
    let decode_time = be_u64(msg, tfdt.body_range().start + 4)?;
    let trun = child(msg, &traf, b"trun")?;
    let t = trun.body_range().start;
    if be_u32(msg, t)? & 0x00FF_FFFF != 0x0701 {
        return Err("trun flags: expected data offset, duration, size and flags".into());
    }
    if be_u32(msg, t + 4)? != 1 {
        return Err("a live fragment holds one frame".into());
    }
    let data_offset = be_u32(msg, t + 8)? as usize;
    let duration = be_u32(msg, t + 12)?;
    let size = be_u32(msg, t + 16)? as usize;
    let flags = be_u32(msg, t + 20)?;
    let sync = match flags {
        SYNC_SAMPLE_FLAGS => true,
        NON_SYNC_SAMPLE_FLAGS => false,
        other => return Err(format!("sample flags {other:#x}").into()),
    };
    // default-base-is-moof: the offset counts from the moof's first byte.
    let data = moof.offset + data_offset;
    if data != mdat.body_range().start || size != mdat.body_range().len() {
        return Err("the sample is not exactly the mdat's payload".into());
    }
    if size != FRAME_BYTES {
        return Err(format!("sample of {size} bytes, sent {FRAME_BYTES}").into());
    }
    let frame = i64::from(be_u32(msg, data + 5)?);
    let idr = msg[data + 4] == 0x65;
    Ok(Fragment {
        sequence,
        decode_time,
        duration,
        sync,
        frame,
        idr,
    })
}

/// The router on a loopback port, with camera `cam` and a viewer's token.
async fn serve() -> Result<
    (
        tempfile::TempDir,
        Arc<LiveHub>,
        std::net::SocketAddr,
        tokio::sync::oneshot::Sender<()>,
    ),
    Box<dyn std::error::Error>,
> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join(DB_FILE_NAME))?;
    let user = store.create_user("vera", Role::Viewer, "$argon2id$test", T0)?;
    store.create_token("live0001", user.id, None, &token_digest(TOKEN), T0)?;
    let cameras = Arc::new(CameraRegistry::new([("cam", "Front door")], T0));
    cameras.set_state("cam", LiveState::Recording, None, T0);
    let live = Arc::new(LiveHub::default());
    let state = AppState {
        store: Arc::new(StorePool::with_writer(
            store,
            &dir.path().join(DB_FILE_NAME),
            2,
        )?),
        data_dir: dir.path().to_owned(),
        cameras,
        site: "test".to_owned(),
        log: LogAccess {
            dir: dir.path().join("log"),
            verifier: SigningKey::generate("test")?.verifier(),
        },
        login_throttle: Default::default(),
        secure_cookies: false,
        alert_destinations: Vec::new(),
        live: Arc::clone(&live),
        metrics: None,
        settings: None,
        jobs: Default::default(),
        escrow: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(custos_server::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    Ok((dir, live, addr, stop))
}

/// The next binary message, skipping pings.
async fn next_binary<S>(ws: &mut S) -> Result<Vec<u8>, Box<dyn std::error::Error>>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .map_err(|_| "no message from the server for 30 s")?
            .ok_or("the server closed the stream")??;
        match msg {
            Message::Binary(b) => return Ok(b.to_vec()),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => return Err(format!("unexpected message {other:?}").into()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_viewer_skips_to_the_next_key_frame_and_its_stream_stays_valid() -> TestResult {
    let (_dir, hub, addr, stop) = serve().await?;
    hub.params("cam", &synthetic::params(640, 360));

    // A client whose socket takes little before the server has to wait.
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(8 * 1024)?;
    let stream = socket.connect(addr).await?;
    let mut request = format!("ws://{addr}/api/v1/cameras/cam/live").into_client_request()?;
    request.headers_mut().insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {TOKEN}"))?,
    );
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream).await?;

    // The header and the init segment come once the viewer is subscribed.
    let header = match ws.next().await.ok_or("closed")?? {
        Message::Text(t) => serde_json::from_str::<serde_json::Value>(&t)?,
        other => return Err(format!("expected the JSON header, got {other:?}").into()),
    };
    assert_eq!(header["width"], 640, "{header}");
    assert_eq!(
        header["codec"],
        synthetic::params(640, 360).rfc6381,
        "{header}"
    );
    let init = next_binary(&mut ws).await?;
    assert_eq!(&init[4..8], b"ftyp");

    // The viewer reads nothing: the server sends until the sockets are
    // full, then waits in a send while the camera goes on.
    for n in 0..PACED {
        hub.frame("cam", &frame(n));
        if n % 8 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // More than the viewer's queue holds, while the server still waits.
    for n in PACED..PACED + BURST {
        hub.frame("cam", &frame(n));
    }

    // Then frames keep coming, faster than the viewer reads; at the end
    // slower than it reads (the tail), starting with a key frame.
    let publisher = {
        let hub = Arc::clone(&hub);
        tokio::spawn(async move {
            for n in PACED + BURST..TOTAL {
                hub.frame("cam", &frame(n));
                let pause = if n < TOTAL - TAIL { 1 } else { 5 };
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        })
    };
    let mut fragments = Vec::new();
    loop {
        let f = parse_fragment(&next_binary(&mut ws).await?)?;
        let last = f.frame;
        fragments.push(f);
        // The last frame stays held until a next one gives its duration.
        if last == TOTAL - 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    publisher.await?;
    let _ = ws.close(None).await;
    let _ = stop.send(());

    // Every fragment on its own is one frame as published, flagged as it
    // was, at the decode time of its presentation time.
    for f in &fragments {
        assert_eq!(f.sync, f.frame % GOP == 0, "{f:?}");
        assert_eq!(f.idr, f.sync, "{f:?}");
        assert_eq!(f.decode_time, (f.frame * FRAME_TICKS) as u64, "{f:?}");
        assert_eq!(i64::from(f.duration), FRAME_TICKS, "{f:?}");
    }
    assert_eq!(fragments[0].frame, 0);
    // In order for the Media Source: sequence numbers without holes,
    // decode times increasing without overlaps; after every skip, a sync
    // sample (a decoder can start there).
    let mut gaps = 0;
    for pair in fragments.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!(b.sequence, a.sequence + 1, "{a:?} then {b:?}");
        assert!(
            a.decode_time + u64::from(a.duration) <= b.decode_time,
            "{a:?} overlaps {b:?}"
        );
        if b.frame != a.frame + 1 {
            gaps += 1;
            assert!(b.frame > a.frame, "{a:?} then {b:?}");
            assert!(b.sync && b.idr, "after a skip from {a:?}: {b:?}");
        }
    }
    assert!(gaps >= 1, "the viewer never fell behind");
    // Once the server could send again, the viewer went on from within the
    // queue's last frames (a key frame), not from where it had stopped:
    // nothing older than the queue was kept for it.
    let resumed = fragments
        .iter()
        .find(|f| f.frame >= PACED)
        .ok_or("nothing after the stall")?;
    assert!(
        resumed.frame >= PACED + BURST - QUEUE_FRAMES,
        "resumed at frame {} although {} had been published",
        resumed.frame,
        PACED + BURST
    );
    assert!(
        fragments
            .iter()
            .all(|f| !(PACED..PACED + BURST - QUEUE_FRAMES).contains(&f.frame)),
        "frames older than the queue were sent"
    );
    // And it ended at the live edge.
    assert_eq!(fragments.last().map(|f| f.frame), Some(TOTAL - 2));
    assert!((fragments.len() as i64) < TOTAL - QUEUE_FRAMES);
    Ok(())
}

/// A frame of `len` bytes whose content depends on `n` and on each byte's
/// place, so a piece out of place or missing shows.
fn large_frame(n: i64, len: usize) -> Frame {
    let mut data = Vec::with_capacity(len);
    data.extend_from_slice(&((len - 4) as u32).to_be_bytes());
    data.push(if n == 0 { 0x65 } else { 0x41 });
    data.extend((5..len).map(|i| (i as i64 * 31 + n) as u8));
    Frame {
        pts: n * FRAME_TICKS,
        dts: n * FRAME_TICKS,
        data: Bytes::from(data),
        is_key: n == 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_larger_than_a_wire_frame_arrives_whole_in_frames_of_at_most_64_kib() -> TestResult
{
    let (_dir, hub, addr, stop) = serve().await?;
    hub.params("cam", &synthetic::params(1920, 1080));
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let mut request = format!("ws://{addr}/api/v1/cameras/cam/live").into_client_request()?;
    request.headers_mut().insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {TOKEN}"))?,
    );
    // The client refuses any WebSocket frame over 64 KiB: a message sent as
    // one frame (a key frame of a 1080p camera is ~400 KB) fails the test.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_frame_size(Some(custos_server::live::WIRE_FRAME_BYTES));
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await?;
    match ws.next().await.ok_or("closed")?? {
        Message::Text(_) => {}
        other => return Err(format!("expected the JSON header, got {other:?}").into()),
    }
    let init = next_binary(&mut ws).await?;
    assert_eq!(&init[4..8], b"ftyp");
    // A key frame of several wire frames and not a multiple of their size,
    // a frame of exactly one, and one that closes (its successor gives
    // its duration).
    let sizes = [
        6 * custos_server::live::WIRE_FRAME_BYTES + 1234,
        custos_server::live::WIRE_FRAME_BYTES,
        900,
        100,
    ];
    let frames: Vec<Frame> = sizes
        .iter()
        .enumerate()
        .map(|(n, &len)| large_frame(n as i64, len))
        .collect();
    for f in &frames {
        hub.frame("cam", f);
    }
    for f in &frames[..frames.len() - 1] {
        let msg = next_binary(&mut ws).await?;
        let tops: Vec<BoxHeader> = children(&msg, 0..msg.len()).collect::<Result<_, _>>()?;
        let mdat = tops
            .iter()
            .find(|b| &b.fourcc == b"mdat")
            .ok_or("no mdat")?;
        assert_eq!(mdat.body_range().end, msg.len(), "bytes after the mdat");
        assert!(
            msg[mdat.body_range()] == f.data[..],
            "the frame of {} bytes arrived changed",
            f.data.len()
        );
    }
    let _ = ws.close(None).await;
    let _ = stop.send(());
    Ok(())
}
