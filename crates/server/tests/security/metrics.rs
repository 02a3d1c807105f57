//! Metrics: `GET /metrics` takes the scraper's own token or an admin's or
//! auditor's credentials, and refuses everyone else.

use axum::http::{Method, StatusCode};

use crate::requests::{bearer, send};
use crate::site::{site, ADMIN, METRICS_TOKEN, VIEWER};
use crate::TestResult;

/// `GET /metrics`: the scraper's token, or an admin's or auditor's
/// credentials; everyone else is refused, and the counters are there.
#[tokio::test]
async fn metrics_take_their_own_token_or_an_admin_and_refuse_the_rest() -> TestResult {
    let site = site().await?;
    let app = &site.app;
    let scraper = vec![("authorization", format!("Bearer {METRICS_TOKEN}"))];
    let a = send(app, Method::GET, "/metrics", &scraper, None).await?;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let text = a.text();
    assert!(text.ends_with("# EOF\n"), "OpenMetrics text: {text}");
    for family in [
        "custos_pictures_received_total{camera=\"cam\"}",
        "custos_pictures_dropped_total{camera=\"cam\",reason=\"write_error\"}",
        "custos_alerts_unresolved",
        "custos_disk_used_bytes",
    ] {
        assert!(text.contains(family), "{family} missing:\n{text}");
    }
    let a = send(app, Method::GET, "/metrics", &bearer(&ADMIN), None).await?;
    assert_eq!(a.status, StatusCode::OK);
    let a = send(app, Method::GET, "/metrics", &bearer(&VIEWER), None).await?;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text());
    let wrong = vec![("authorization", format!("Bearer {METRICS_TOKEN}x"))];
    let a = send(app, Method::GET, "/metrics", &wrong, None).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text());
    let a = send(app, Method::GET, "/metrics", &[], None).await?;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    Ok(())
}
