//! The test object store itself (tests/common): `weed mini` starts, serves
//! the bucket through the filer without credentials, refuses unsigned S3
//! requests and writes through the filer, and comes back after an outage on
//! the same ports with the same bucket.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{http_get, http_get_url, http_request, S3Store};

#[test]
fn filer_serves_the_bucket_and_s3_wants_a_signature() {
    let t0 = Instant::now();
    let store = S3Store::start();
    eprintln!("weed mini served in {:?}", t0.elapsed());

    assert!(
        store.endpoint.starts_with("http://127.0.0.1:"),
        "{}",
        store.endpoint
    );
    assert!(
        store
            .filer_url
            .ends_with(&format!("/buckets/{}", store.bucket)),
        "{}",
        store.filer_url
    );
    assert!(!store.access_key.is_empty() && !store.secret_key.is_empty());

    // The bucket is a directory of the filer, listed without credentials.
    let r = http_get_url(&format!("{}/", store.filer_url)).expect("GET the bucket from the filer");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r =
        http_get_url(&format!("{}/no/such/object", store.filer_url)).expect("GET a missing object");
    assert_eq!(r.status, 404);

    // S3 refuses what is not signed.
    let key = format!("/{}/unsigned", store.bucket);
    let r = http_request(store.s3_addr, "PUT", &key, b"x").expect("unsigned S3 PUT");
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    let r = http_get(store.s3_addr, &format!("/{}/", store.bucket)).expect("unsigned S3 list");
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));

    // The filer is read-only from outside: writing takes the JWT that only
    // the S3 gateway has.
    let path = format!("/buckets/{}/through-the-filer", store.bucket);
    let r = http_request(store.filer_addr, "PUT", &path, b"x").expect("filer PUT");
    assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
    let r = http_get(store.filer_addr, &path).expect("GET after the refused PUT");
    assert_eq!(r.status, 404);
}

#[test]
fn restart_comes_back_on_the_same_ports() {
    let mut store = S3Store::start();
    let (endpoint, filer_url) = (store.endpoint.clone(), store.filer_url.clone());
    let pid = store.pid().expect("running");
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
        let rss = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .unwrap_or("");
        eprintln!("weed mini {rss}");
    }

    store.stop();
    assert!(!store.is_running());
    for addr in [store.s3_addr, store.filer_addr] {
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
            "{addr} still answers after stop"
        );
    }

    let t0 = Instant::now();
    store.restart();
    eprintln!("weed mini restarted in {:?}", t0.elapsed());
    assert!(store.is_running());
    assert_eq!(
        (store.endpoint.as_str(), store.filer_url.as_str()),
        (endpoint.as_str(), filer_url.as_str())
    );
    let r = http_get_url(&format!("{}/", store.filer_url)).expect("GET the bucket after restart");
    assert_eq!(r.status, 200);
    let r = http_get(store.s3_addr, "/").expect("S3 after restart");
    assert_eq!(r.status, 403);

    // A restart of a running store is a stop and a start.
    store.restart();
    let r = http_get_url(&format!("{}/", store.filer_url))
        .expect("GET the bucket after a second restart");
    assert_eq!(r.status, 200);
}
