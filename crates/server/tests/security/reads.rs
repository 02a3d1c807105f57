//! Reads: the GET table covers every GET route, and no GET changes
//! anything but the log's entries that record what was seen.

use std::collections::BTreeSet;

use axum::http::Method;
use custos_ledger::entry::Entry;

use crate::requests::{bearer, send, sign_in};
use crate::routes::{documented_operations, get_requests};
use crate::site::{site, ADMIN};
use crate::site_state::{dump, files};
use crate::TestResult;

#[tokio::test]
async fn the_get_table_lists_every_get_route() -> TestResult {
    let site = site().await?;
    let documented: BTreeSet<String> = documented_operations()
        .into_iter()
        .filter(|(m, _)| m == "GET")
        .map(|(_, p)| p)
        .chain(
            custos_server::openapi::WEB_ROUTES
                .iter()
                .map(|r| (*r).to_owned()),
        )
        .collect();
    let listed: BTreeSet<String> = get_requests(&site.ids)
        .into_iter()
        .map(|(route, _, _)| route.to_owned())
        .collect();
    assert_eq!(
        documented, listed,
        "GET routes (left) and the GET table (right) differ"
    );
    Ok(())
}

/// Log entries that record that something was seen: the only trace a GET
/// may leave.
const VIEW_ENTRIES: &[&str] = &["footage.viewed", "evidence.downloaded"];

#[tokio::test]
async fn no_get_changes_anything_but_the_audit_trail() -> TestResult {
    let site = site().await?;
    let session = sign_in(&site.app, &ADMIN).await?;
    let outbox_before = site.store.lock_writer().outbox(100_000)?.len();
    let before = (dump(&site.data, true)?, files(&site.data)?);
    for (_, uri, status) in get_requests(&site.ids) {
        // With the cookie and no CSRF token: what a cross-site page could do.
        let a = send(&site.app, Method::GET, &uri, &session.ambient(), None).await?;
        assert_eq!(a.status, status, "GET {uri}: {}", a.text());
        let a = send(&site.app, Method::GET, &uri, &bearer(&ADMIN), None).await?;
        assert_eq!(a.status, status, "GET {uri}: {}", a.text());
    }
    assert!(
        (dump(&site.data, true)?, files(&site.data)?) == before,
        "a GET changed the index or the files"
    );
    assert!(
        site.settings.calls().is_empty(),
        "{:?}",
        site.settings.calls()
    );
    let store = site.store.lock_writer();
    let added = store.outbox(100_000)?;
    assert!(added.len() > outbox_before, "views were not logged");
    for row in &added[outbox_before..] {
        let e = Entry::from_leaf_bytes(&row.leaf)?;
        assert!(
            VIEW_ENTRIES.contains(&e.kind.as_str()),
            "a GET logged {}",
            e.kind
        );
    }
    Ok(())
}
