//! The centre's notifications, against a real PostgreSQL and a webhook
//! receiver on a real socket: each alert change goes to each destination
//! once, in order, signed, however many centre processes deliver; a
//! destination that is down is retried and holds the messages behind it.

mod hook;
mod pg;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Mutex;
use std::time::Duration;

use hook::{receiver, Received};

use custos_central::notify::{self, Outcome};
use custos_central::{alerts, db, now_ms, reports, sites};
use custos_ledger::note::SigningKey;
use custos_notify::{Destination, WebhookConfig};
use deadpool_postgres::Pool;

const SECRET: &str = "a webhook secret of the test";

fn webhook(url: &str) -> Destination {
    Destination::Webhook(WebhookConfig {
        url: url.to_owned(),
        secret: SECRET.to_owned(),
        timeout: Duration::from_secs(5),
    })
}

/// Enrols site `name` and has it report with a clock 2 minutes fast:
/// `site.clock_skew` is raised.
async fn skewed_site(pool: &Pool, name: &str, seed: u8) {
    let key = SigningKey::from_seed(&format!("{name}.example/log"), &[seed; 32]).expect("key");
    let new = sites::add(pool, name, "admin").await.expect("add");
    sites::enrol(pool, &new.code, &key.verifier())
        .await
        .expect("enrol");
    let health = custos_report::Health {
        sent_ms: now_ms() + 120_000,
        ..Default::default()
    };
    let note = custos_report::sign(&health, 1, &key).expect("sign");
    let answer = reports::accept(pool, &note).await.expect("report");
    assert_eq!(answer.status, 200, "{}", answer.body);
}

fn bodies(got: &Mutex<Vec<Received>>) -> Vec<serde_json::Value> {
    got.lock()
        .expect("lock")
        .iter()
        .map(Received::json)
        .collect()
}

async fn drain(pool: &Pool, name: &str, destination: &Destination) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    loop {
        let outcome = notify::deliver_next(pool, name, destination)
            .await
            .expect("deliver");
        let more = matches!(outcome, Outcome::Delivered(_) | Outcome::Failed(_));
        outcomes.push(outcome);
        if !more {
            return outcomes;
        }
    }
}

#[tokio::test]
async fn alert_changes_reach_a_webhook_signed_once_each_in_order() {
    let pg = pg::Postgres::start();
    let pool = db::connect(&pg.create_db("notify"), 8).await.expect("pool");
    let (url, got) = receiver();
    let hook = webhook(&url);
    // The destination is known before anything happens: it gets all.
    assert_eq!(drain(&pool, "ops", &hook).await, [Outcome::Idle]);

    skewed_site(&pool, "village-3", 3).await;
    let outcomes = drain(&pool, "ops", &hook).await;
    assert!(matches!(outcomes[0], Outcome::Delivered(_)), "{outcomes:?}");
    assert!(got.lock().expect("lock")[0].signed_with(SECRET));
    let sent = &bodies(&got)[0];
    assert_eq!(sent["site"], "village-3", "{sent}");
    assert_eq!(sent["kind"], "alert", "{sent}");
    assert_eq!(sent["body"]["kind"], reports::SITE_CLOCK_SKEW, "{sent}");
    assert_eq!(sent["body"]["state"], "open", "{sent}");
    assert_eq!(sent["body"]["from"], "centre", "{sent}");

    // A repeat of the open alert is no news; its resolution is.
    skewed_site_report_again(&pool).await;
    assert_eq!(drain(&pool, "ops", &hook).await, [Outcome::Idle]);
    let id = alerts::list(&pool, true).await.expect("alerts")[0].id;
    alerts::settle(&pool, id, "cli:ana", true, "clock fixed")
        .await
        .expect("resolve");
    drain(&pool, "ops", &hook).await;
    let sent = bodies(&got);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1]["body"]["state"], "resolved", "{}", sent[1]);
    assert_eq!(sent[1]["body"]["detail"], "clock fixed", "{}", sent[1]);

    // Ten alerts at once, two processes delivering: each once, in order.
    for i in 0..10u8 {
        skewed_site(&pool, &format!("site-{i}"), 10 + i).await;
    }
    let other = db::connect(&pg.url("notify"), 8).await.expect("pool");
    let (a, b) = tokio::join!(drain(&pool, "ops", &hook), drain(&other, "ops", &hook));
    // Whichever found the destination busy stopped; run both again so
    // everything left is sent.
    drop((a, b));
    drain(&pool, "ops", &hook).await;
    let ids: Vec<i64> = bodies(&got)
        .iter()
        .map(|b| b["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids.len(), 12, "{ids:?}");
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in order, no repeat: {ids:?}"
    );
    let states = notify::state(&pool).await.expect("state");
    assert_eq!((states[0].waiting, states[0].failed), (0, 0), "{states:?}");

    // Delivered messages are pruned once old enough; one a destination
    // has not had yet stays, however old.
    assert_eq!(
        notify::prune(&pool, now_ms() - 60_000)
            .await
            .expect("prune"),
        0
    );
    skewed_site(&pool, "late-site", 99).await;
    let waiting = notify::state(&pool).await.expect("state")[0].waiting;
    assert_eq!(waiting, 1);
    assert_eq!(notify::prune(&pool, now_ms() + 1).await.expect("prune"), 12);
    assert_eq!(notify::state(&pool).await.expect("state")[0].waiting, 1);
    drain(&pool, "ops", &hook).await;
    assert_eq!(bodies(&got).len(), 13);
    assert_eq!(notify::prune(&pool, now_ms() + 1).await.expect("prune"), 1);
}

async fn skewed_site_report_again(pool: &Pool) {
    let key = SigningKey::from_seed("village-3.example/log", &[3; 32]).expect("key");
    let health = custos_report::Health {
        sent_ms: now_ms() + 120_000,
        ..Default::default()
    };
    let note = custos_report::sign(&health, 2, &key).expect("sign");
    assert_eq!(
        reports::accept(pool, &note).await.expect("report").status,
        200
    );
}

#[tokio::test]
async fn a_destination_that_is_down_is_retried_and_holds_its_messages() {
    let pg = pg::Postgres::start();
    let pool = db::connect(&pg.create_db("down"), 4).await.expect("pool");
    // Nothing listens on this port.
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}/hook", closed.local_addr().expect("addr"));
    drop(closed);
    let dead = webhook(&dead_url);
    let (url, got) = receiver();
    let live = webhook(&url);
    let mut destinations = BTreeMap::new();
    destinations.insert("dead".to_owned(), dead.clone());
    destinations.insert("live".to_owned(), live.clone());
    for (name, d) in &destinations {
        assert_eq!(drain(&pool, name, d).await, [Outcome::Idle]);
    }

    skewed_site(&pool, "village-3", 3).await;
    let outcomes = drain(&pool, "dead", &dead).await;
    assert!(
        matches!(outcomes[..], [Outcome::Retrying(_)]),
        "{outcomes:?}"
    );
    // Not again before its time.
    assert_eq!(drain(&pool, "dead", &dead).await, [Outcome::Idle]);
    // The other destination is not held up by it.
    drain(&pool, "live", &live).await;
    assert_eq!(bodies(&got).len(), 1);
    let states = notify::state(&pool).await.expect("state");
    let dead_state = states
        .iter()
        .find(|s| s.destination == "dead")
        .expect("dead");
    assert_eq!(
        (dead_state.waiting, dead_state.attempts),
        (1, 1),
        "{states:?}"
    );
    assert!(dead_state.last_error.is_some(), "{states:?}");

    // The worker loop delivers to the live one on its own.
    skewed_site(&pool, "village-4", 4).await;
    let worker = tokio::spawn(notify::run(pool.clone(), destinations));
    for _ in 0..50 {
        if bodies(&got).len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    worker.abort();
    assert_eq!(bodies(&got).len(), 2);
}
