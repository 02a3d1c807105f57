//! Sites' signed reports, and the alerts drawn from them, against a real
//! PostgreSQL.

mod pg;

use custos_central::alerts;
use custos_central::reports::{self, SITE_CLOCK_SKEW, SITE_ESCROW_LAGGING, SITE_SILENT};
use custos_central::{db, now_ms, sites};
use custos_ledger::note::SigningKey;
use custos_report::{CameraHealth, EscrowHealth, Health};
use deadpool_postgres::Pool;

fn site_key() -> SigningKey {
    SigningKey::from_seed("village-3.example/log", &[3; 32]).expect("key")
}

fn health(sent_ms: i64) -> Health {
    Health {
        sent_ms,
        version: "0.1.0".into(),
        cameras: vec![CameraHealth {
            id: "door".into(),
            name: "Door".into(),
            state: "recording".into(),
            since_ms: sent_ms - 1000,
            tamper: None,
            pictures_dropped: 0,
        }],
        ..Health::default()
    }
}

async fn enrolled(pg: &pg::Postgres, db_name: &str) -> Pool {
    let pool = db::connect(&pg.create_db(db_name), 4).await.expect("pool");
    let new = sites::add(&pool, "village-3", "admin").await.expect("add");
    sites::enrol(&pool, &new.code, &site_key().verifier())
        .await
        .expect("enrol");
    pool
}

async fn open_kinds(pool: &Pool) -> Vec<String> {
    let mut kinds: Vec<String> = alerts::list(pool, true)
        .await
        .expect("alerts")
        .into_iter()
        .map(|a| a.kind)
        .collect();
    kinds.sort();
    kinds
}

#[tokio::test]
async fn reports_are_taken_only_signed_by_the_site_and_never_replayed() {
    let pg = pg::Postgres::start();
    let pool = enrolled(&pg, "signed").await;
    let now = now_ms();
    let first = custos_report::sign(&health(now), 10, &site_key()).expect("sign");
    assert_eq!(
        reports::accept(&pool, &first).await.expect("accept").status,
        200
    );
    let replay = reports::accept(&pool, &first).await.expect("accept");
    assert_eq!((replay.status, replay.body.as_str()), (409, "10\n"));
    let next = custos_report::sign(&health(now), 11, &site_key()).expect("sign");
    assert_eq!(
        reports::accept(&pool, &next).await.expect("accept").status,
        200
    );

    let impostor = SigningKey::from_seed("village-3.example/log", &[4; 32]).expect("key");
    let forged = custos_report::sign(&health(now), 99, &impostor).expect("sign");
    assert_eq!(
        reports::accept(&pool, &forged)
            .await
            .expect("accept")
            .status,
        403
    );
    let stranger = SigningKey::from_seed("elsewhere.example/log", &[4; 32]).expect("key");
    let unknown = custos_report::sign(&health(now), 1, &stranger).expect("sign");
    assert_eq!(
        reports::accept(&pool, &unknown)
            .await
            .expect("accept")
            .status,
        404
    );
    assert_eq!(
        reports::accept(&pool, "hello")
            .await
            .expect("accept")
            .status,
        400
    );

    let last = reports::last_reports(&pool).await.expect("reports");
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].site, "village-3");
    assert_eq!(last[0].health, health(now));
    assert!(open_kinds(&pool).await.is_empty());
}

#[tokio::test]
async fn a_wrong_clock_and_a_silent_site_raise_alerts_that_clear_themselves() {
    let pg = pg::Postgres::start();
    let pool = enrolled(&pg, "alerts").await;
    let slow = custos_report::sign(&health(now_ms() - 120_000), 1, &site_key()).expect("sign");
    assert_eq!(
        reports::accept(&pool, &slow).await.expect("accept").status,
        200
    );
    assert_eq!(open_kinds(&pool).await, [SITE_CLOCK_SKEW]);
    let detail = &alerts::list(&pool, true).await.expect("alerts")[0].detail;
    assert!(detail.contains("behind"), "{detail}");

    // Nobody heard from it for ten minutes (the limit is five).
    assert_eq!(reports::raise_silent(&pool).await.expect("silent"), 0);
    pool.get()
        .await
        .expect("client")
        .execute(
            "UPDATE site_reports SET received_ms = received_ms - 600000",
            &[],
        )
        .await
        .expect("age the report");
    assert_eq!(reports::raise_silent(&pool).await.expect("silent"), 1);
    assert_eq!(
        reports::raise_silent(&pool).await.expect("silent"),
        0,
        "raised once"
    );
    assert_eq!(open_kinds(&pool).await, [SITE_CLOCK_SKEW, SITE_SILENT]);

    let good = custos_report::sign(&health(now_ms()), 2, &site_key()).expect("sign");
    assert_eq!(
        reports::accept(&pool, &good).await.expect("accept").status,
        200
    );
    assert!(open_kinds(&pool).await.is_empty());
    let all = alerts::list(&pool, false).await.expect("alerts");
    assert!(all
        .iter()
        .all(|a| a.resolved.as_ref().map(|r| r.1.as_str()) == Some("centre")));

    assert!(reports::set_silent_limit(&pool, "village-3", 1000, "admin")
        .await
        .is_err());
    reports::set_silent_limit(&pool, "village-3", 3_600_000, "admin")
        .await
        .expect("limit");
}

#[tokio::test]
async fn footage_waiting_a_day_to_go_off_site_raises_an_alert_until_it_has_gone() {
    let pg = pg::Postgres::start();
    let pool = enrolled(&pg, "escrow").await;
    let now = now_ms();
    let waiting = |hours: i64| Health {
        escrow: Some(EscrowHealth {
            pending_segments: 42,
            pending_bytes: 1_260_000_000,
            oldest_pending_ms: Some(now - hours * 3_600_000),
        }),
        ..health(now_ms())
    };
    // Half a day behind: a night without a link, not yet an alarm.
    let report = custos_report::sign(&waiting(12), 1, &site_key()).expect("sign");
    assert_eq!(
        reports::accept(&pool, &report)
            .await
            .expect("accept")
            .status,
        200
    );
    assert!(open_kinds(&pool).await.is_empty());
    let report = custos_report::sign(&waiting(30), 2, &site_key()).expect("sign");
    assert_eq!(
        reports::accept(&pool, &report)
            .await
            .expect("accept")
            .status,
        200
    );
    assert_eq!(open_kinds(&pool).await, [SITE_ESCROW_LAGGING]);
    let detail = &alerts::list(&pool, true).await.expect("alerts")[0].detail;
    assert!(detail.contains("42 segments (1260.0 MB)"), "{detail}");
    assert!(detail.contains("waited 30 h"), "{detail}");
    // Caught up: nothing pending any more.
    let caught_up = Health {
        escrow: Some(EscrowHealth::default()),
        ..health(now_ms())
    };
    let report = custos_report::sign(&caught_up, 3, &site_key()).expect("sign");
    assert_eq!(
        reports::accept(&pool, &report)
            .await
            .expect("accept")
            .status,
        200
    );
    assert!(open_kinds(&pool).await.is_empty());
}
