//! What the libav helper answers, as the recorder reads it: the helper
//! parses camera data with libavcodec, so its replies are not trusted to
//! be well formed. Any bytes are refused or read, never a panic, and what
//! is read writes back to a message that reads the same. The helper's side
//! (requests) is held to the same.
#![no_main]

use custos_media::av_wire::{read_message, Reply, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The recorder's reader takes the body by value.
    match (Reply::decode(data), Reply::decode_owned(data.to_vec())) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("decode and decode_owned disagree: {a:?} / {b:?}"),
    }
    if let Ok(reply) = Reply::decode(data) {
        let framed = reply.encode();
        let body = read_message(&mut &framed[..])
            .expect("a written reply reads")
            .expect("a written reply is there");
        assert_eq!(Reply::decode(&body).expect("reads again"), reply);
    }
    if let Ok(request) = Request::decode(data) {
        let framed = request.encode();
        let body = read_message(&mut &framed[..])
            .expect("a written request reads")
            .expect("a written request is there");
        assert_eq!(Request::decode(&body).expect("reads again"), request);
    }
    // The framing: a length beyond the limit or the data is an error.
    let mut stream = data;
    while let Ok(Some(body)) = read_message(&mut stream) {
        assert!(body.len() <= custos_media::av_wire::MAX_MESSAGE);
    }
});
