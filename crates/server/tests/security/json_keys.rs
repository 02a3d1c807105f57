//! One meaning per key: no JSON answer of a GET route names a key twice in
//! one object.

use axum::http::Method;

use crate::requests::{bearer, send};
use crate::routes::get_requests;
use crate::site::{site, ADMIN};
use crate::TestResult;

/// Every JSON answer of every GET route names each key of an object once:
/// a repeated key (custody events once had `no_footage` twice) means
/// whatever the client's parser keeps.
#[tokio::test]
async fn every_json_answer_names_each_key_once() -> TestResult {
    use crate::common::strict_json::parse_strict;

    // The reader itself: a repeated key is refused at any depth.
    assert!(parse_strict(br#"{"a":1,"b":[true,null,"x",-2,0.5,{"c":{}}]}"#).is_ok());
    assert!(parse_strict(br#"[{"a":1},{"a":2}]"#).is_ok());
    for repeated in [
        &br#"{"a":1,"a":2}"#[..],
        br#"{"a":{"b":1,"c":2,"b":3}}"#,
        br#"[1,{"x":[{"no_footage":false,"id":1,"no_footage":true}]}]"#,
    ] {
        let e = parse_strict(repeated).expect_err("a repeated key");
        assert!(e.contains("appears twice in one object"), "{e}");
    }

    let site = site().await?;
    let mut problems = Vec::new();
    let mut parsed = Vec::new();
    for (_, uri, status) in get_requests(&site.ids) {
        let a = send(&site.app, Method::GET, &uri, &bearer(&ADMIN), None).await?;
        assert_eq!(a.status, status, "GET {uri}: {}", a.text());
        let is_json = a
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"));
        if !is_json {
            continue;
        }
        match parse_strict(&a.body) {
            Ok(_) => parsed.push(uri),
            Err(e) => problems.push(format!("GET {uri}: {e}")),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The answers that list custody events with their footage were read.
    for uri in [
        "/api/v1/items/A1",
        "/api/v1/custody",
        "/api/v1/reports/item-custody?barcode=A1",
        "/api/v1/reports/person-history?staff_id=P1",
    ] {
        assert!(
            parsed.iter().any(|p| p == uri),
            "{uri} not read: {parsed:?}"
        );
    }
    let a = send(
        &site.app,
        Method::GET,
        "/api/v1/items/A1",
        &bearer(&ADMIN),
        None,
    )
    .await?;
    let custody = a.json()?["custody"].clone();
    assert_eq!(custody[0]["action"], "view", "{custody}");
    assert!(custody[0]["footage"][0]["camera"] == "cam", "{custody}");
    Ok(())
}
