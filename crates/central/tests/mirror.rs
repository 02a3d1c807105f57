//! The centre's mirror of a site's log, proven against co-signed
//! checkpoints, and the sites' alerts read from it, against a real
//! PostgreSQL.

mod pg;

use custos_central::alerts::{self, LOG_REWRITTEN};
use custos_central::{db, mirror, register, reports, sites, witness};
use custos_ledger::catalogue::{leaf, AlertChanged, AlertRaised, CustodyEvent};
use custos_ledger::cosignature::CosigningKey;
use custos_ledger::merkle::{consistency_proof, leaf_hash, MemoryTree};
use custos_ledger::note::{sign_checkpoint, Checkpoint, SigningKey};
use custos_ledger::witness::add_checkpoint_body;
use deadpool_postgres::Pool;

fn site_key() -> SigningKey {
    SigningKey::from_seed("stacks.example/log", &[5; 32]).expect("key")
}

fn witness_key() -> CosigningKey {
    CosigningKey::from_seed("central.example/witness", &[9; 32]).expect("witness")
}

/// A site's log in memory: its leaves and tree, and what it had co-signed.
struct Log {
    key: SigningKey,
    leaves: Vec<Vec<u8>>,
    tree: MemoryTree,
    cosigned: u64,
}

impl Log {
    fn new() -> Log {
        Log::signed_by(site_key())
    }

    fn signed_by(key: SigningKey) -> Log {
        Log {
            key,
            leaves: Vec::new(),
            tree: MemoryTree::new(),
            cosigned: 0,
        }
    }

    fn append(&mut self, leaf: Vec<u8>) {
        self.tree.push(leaf_hash(&leaf));
        self.leaves.push(leaf);
    }

    async fn cosign(&mut self, pool: &Pool) {
        let note = sign_checkpoint(
            &Checkpoint {
                origin: self.key.verifier().name().to_owned(),
                size: self.tree.len(),
                root: self.tree.root(),
            },
            &self.key,
        );
        let proof = if self.cosigned > 0 {
            consistency_proof(&self.tree, self.cosigned, self.tree.len()).expect("proof")
        } else {
            Vec::new()
        };
        let body = add_checkpoint_body(self.cosigned, &proof, &note);
        let a = witness::add(pool, &witness_key(), &body)
            .await
            .expect("add");
        assert_eq!(a.status, 200, "{}", a.body);
        self.cosigned = self.tree.len();
    }

    fn batch(&self, from: usize, to: usize) -> String {
        custos_report::entries::sign(from as u64, &self.leaves[from..to], &self.key).expect("sign")
    }
}

fn raised(alert: i64, kind: &str) -> Vec<u8> {
    raised_at(1_796_540_000_000 + alert, alert, kind)
}

fn raised_at(time_ms: i64, alert: i64, kind: &str) -> Vec<u8> {
    leaf(
        time_ms,
        &AlertRaised {
            alert,
            kind,
            subject: "camera:door",
            summary: "Door camera covered",
            camera: Some("door"),
            barcode: None,
            details: &serde_json::json!({}),
        },
    )
    .expect("leaf")
}

async fn enrolled(pg: &pg::Postgres, name: &str) -> Pool {
    let pool = db::connect(&pg.create_db(name), 4).await.expect("pool");
    let new = sites::add(&pool, "stacks", "admin").await.expect("add");
    sites::enrol(&pool, &new.code, &site_key().verifier())
        .await
        .expect("enrol");
    pool
}

#[tokio::test]
async fn entries_are_mirrored_in_order_proven_at_cosigned_sizes_and_read_for_alerts() {
    let pg = pg::Postgres::start();
    let pool = enrolled(&pg, "mirror").await;
    let mut log = Log::new();
    for i in 0..7u8 {
        log.append(vec![b'x', i]);
    }
    log.append(raised(1, "tamper.covered"));
    log.cosign(&pool).await;
    for i in 0..4u8 {
        log.append(vec![b'y', i]);
    }
    log.cosign(&pool).await;

    // Out of order: the centre says where it is.
    let a = mirror::accept(&pool, &log.batch(3, 6))
        .await
        .expect("accept");
    assert_eq!((a.status, a.body.as_str()), (409, "0\n"));
    // In two batches, the first ending between co-signed sizes.
    let a = mirror::accept(&pool, &log.batch(0, 5))
        .await
        .expect("accept");
    assert_eq!((a.status, a.body.as_str()), (200, "5\n"));
    assert_eq!(
        mirror::mirror_size(&pool, "stacks").await.expect("size"),
        (5, 0)
    );
    let a = mirror::accept(&pool, &log.batch(5, 12))
        .await
        .expect("accept");
    assert_eq!((a.status, a.body.as_str()), (200, "12\n"));
    assert_eq!(
        mirror::mirror_size(&pool, "stacks").await.expect("size"),
        (12, 12)
    );

    // Not beyond what was co-signed.
    log.append(vec![b'z']);
    let a = mirror::accept(&pool, &log.batch(12, 13))
        .await
        .expect("accept");
    assert_eq!(a.status, 400, "{}", a.body);

    let open = alerts::site_alerts(&pool, true).await.expect("alerts");
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].site.as_str(), open[0].alert), ("stacks", 1));
    assert_eq!(open[0].kind, "tamper.covered");
    assert_eq!(open[0].log_index, 7);

    // Acknowledged at the centre: the site hears of it in its report's
    // answer, does it (its log says so), and reports it done.
    let id = alerts::request_site_alert_change(
        &pool,
        "stacks",
        1,
        "acknowledged",
        "central:ana",
        Some("on my way"),
    )
    .await
    .expect("request");
    let health = custos_report::Health {
        sent_ms: custos_central::now_ms(),
        ..Default::default()
    };
    let r = reports::accept(
        &pool,
        &custos_report::sign(&health, 1, &site_key()).expect("sign"),
    )
    .await
    .expect("report");
    let answer: custos_report::ReportAnswer = serde_json::from_str(&r.body).expect("json");
    assert_eq!(answer.actions.len(), 1);
    assert_eq!((answer.actions[0].id, answer.actions[0].alert), (id, 1));
    assert_eq!(answer.actions[0].by, "central:ana");
    assert_eq!(
        alerts::site_alerts(&pool, true).await.expect("alerts")[0]
            .pending
            .as_deref(),
        Some("acknowledged by central:ana")
    );
    log.append(
        leaf(
            1_796_540_100_000,
            &AlertChanged {
                alert: 1,
                kind: "tamper.covered",
                state: "acknowledged",
                by: "central:ana",
                note: Some("on my way"),
            },
        )
        .expect("leaf"),
    );
    log.cosign(&pool).await;
    let a = mirror::accept(&pool, &log.batch(12, 14))
        .await
        .expect("accept");
    assert_eq!(a.status, 200, "{}", a.body);
    let done = custos_report::Health {
        actions_done: vec![id],
        ..health
    };
    let r = reports::accept(
        &pool,
        &custos_report::sign(&done, 2, &site_key()).expect("sign"),
    )
    .await
    .expect("report");
    let answer: custos_report::ReportAnswer = serde_json::from_str(&r.body).expect("json");
    assert!(answer.actions.is_empty());
    let now = &alerts::site_alerts(&pool, true).await.expect("alerts")[0];
    assert_eq!(
        (now.state.as_str(), now.log_index, now.pending.clone()),
        ("acknowledged", 13, None)
    );
}

#[tokio::test]
async fn entries_that_do_not_hash_to_the_cosigned_root_are_refused_and_suspend_the_site() {
    let pg = pg::Postgres::start();
    let pool = enrolled(&pg, "forged").await;
    let mut log = Log::new();
    for i in 0..10u8 {
        log.append(vec![b'x', i]);
    }
    log.cosign(&pool).await;
    // The site (or whoever holds its key) sends other entries than it had.
    let mut forged = Log::new();
    for i in 0..10u8 {
        forged.append(vec![b'f', i]);
    }
    let a = mirror::accept(&pool, &forged.batch(0, 10))
        .await
        .expect("accept");
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(
        mirror::mirror_size(&pool, "stacks").await.expect("size"),
        (0, 0)
    );
    assert_eq!(
        alerts::list(&pool, true).await.expect("alerts")[0].kind,
        LOG_REWRITTEN
    );
    // Suspended: not even the true entries are taken until an auditor acts.
    let a = mirror::accept(&pool, &log.batch(0, 10))
        .await
        .expect("accept");
    assert_eq!(a.status, 403, "{}", a.body);
    sites::resume(
        &pool,
        "stacks",
        "auditor",
        "a test of the site's key holder",
        false,
    )
    .await
    .expect("resume");
    let a = mirror::accept(&pool, &log.batch(0, 10))
        .await
        .expect("accept");
    assert_eq!(a.status, 200, "{}", a.body);
    // A batch signed by another key is refused outright.
    let other = SigningKey::from_seed("stacks.example/log", &[6; 32]).expect("key");
    let stranger = custos_report::entries::sign(10, &[b"q".to_vec()], &other).expect("sign");
    assert_eq!(
        mirror::accept(&pool, &stranger)
            .await
            .expect("accept")
            .status,
        403
    );
}

/// A custody event of item `barcode` at `at_ms`.
fn custody(event: i64, barcode: &str, action: &str, at_ms: i64, person: &str) -> Vec<u8> {
    let holder = (action == "check_out").then_some(person);
    leaf(
        at_ms,
        &CustodyEvent {
            event,
            barcode,
            action,
            at_ms,
            by: "clerk",
            person: Some(person),
            holder,
            location: (action != "check_out").then_some("stacks/shelf-4"),
            details: &serde_json::json!({}),
            cameras: &serde_json::json!([{"camera": "door", "zone": null}]),
        },
    )
    .expect("leaf")
}

#[tokio::test]
async fn the_register_across_sites_answers_where_an_item_is_who_handled_what_and_what_has_no_footage(
) {
    let pg = pg::Postgres::start();
    let pool = enrolled(&pg, "register").await;
    let north_key = SigningKey::from_seed("north.example/log", &[6; 32]).expect("key");
    let north = sites::add(&pool, "north", "admin").await.expect("add");
    sites::enrol(&pool, &north.code, &north_key.verifier())
        .await
        .expect("enrol");
    let t = 1_796_540_000_000;

    // At stacks: B-1 out to ana, back; B-2 out to ana with no footage.
    let mut stacks = Log::new();
    stacks.append(custody(1, "B-1", "check_out", t, "ana"));
    stacks.append(custody(2, "B-1", "check_in", t + 60_000, "ana"));
    stacks.append(custody(3, "B-2", "check_out", t + 120_000, "ana"));
    stacks.append(
        leaf(
            t + 150_000,
            &AlertRaised {
                alert: 4,
                kind: "custody.no_footage",
                subject: "custody:3",
                summary: "No camera recorded B-2 going out",
                camera: None,
                barcode: Some("B-2"),
                details: &serde_json::json!({}),
            },
        )
        .expect("leaf"),
    );
    // At north: B-1 (the same barcode, another archive's box) moved by bo.
    let mut north_log = Log::signed_by(north_key);
    north_log.append(custody(1, "B-1", "move", t + 30_000, "bo"));
    for log in [&mut stacks, &mut north_log] {
        log.cosign(&pool).await;
        let a = mirror::accept(&pool, &log.batch(0, log.leaves.len()))
            .await
            .expect("accept");
        assert_eq!(a.status, 200, "{}", a.body);
    }

    let at = register::where_is(&pool, "B-1").await.expect("where");
    let summary: Vec<_> = at
        .iter()
        .map(|r| (r.site.as_str(), r.action.as_str(), r.log_index))
        .collect();
    assert_eq!(summary, [("stacks", "check_in", 1), ("north", "move", 0)]);
    assert_eq!(at[0].location.as_deref(), Some("stacks/shelf-4"));
    assert_eq!(at[1].cameras[0]["camera"], "door");
    assert!(register::where_is(&pool, "B-9")
        .await
        .expect("where")
        .is_empty());

    let history = register::item_history(&pool, "B-1", 10)
        .await
        .expect("history");
    assert_eq!(history.len(), 3);
    assert_eq!(
        register::item_history(&pool, "B-1", 2)
            .await
            .expect("history")
            .len(),
        2
    );

    let ana = register::handled_by(&pool, "ana", 0, 100)
        .await
        .expect("ana");
    let events: Vec<_> = ana.iter().map(|r| (r.barcode.as_str(), r.event)).collect();
    assert_eq!(events, [("B-2", 3), ("B-1", 2), ("B-1", 1)]);
    // Recorded by the clerk: every event.
    assert_eq!(
        register::handled_by(&pool, "clerk", 0, 100)
            .await
            .expect("clerk")
            .len(),
        4
    );
    // Since a time.
    assert_eq!(
        register::handled_by(&pool, "ana", t + 60_000, 100)
            .await
            .expect("ana")
            .len(),
        2
    );

    let missing = register::without_footage(&pool, 0)
        .await
        .expect("no footage");
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(
        (missing[0].site.as_str(), missing[0].barcode.as_str()),
        ("stacks", "B-2")
    );
    assert!(missing[0].no_footage);
    assert!(register::without_footage(&pool, t + 130_000)
        .await
        .expect("later")
        .is_empty());
    assert!(!at[0].no_footage);
}

#[tokio::test]
async fn a_backlog_of_old_alerts_is_told_in_one_message_and_a_fresh_one_alone() {
    let pg = pg::Postgres::start();
    let pool = enrolled(&pg, "backlog").await;
    let mut log = Log::new();
    let now = custos_central::now_ms();
    for alert in 1..=5 {
        let days_ago = 6 - alert;
        log.append(raised_at(
            now - days_ago * 86_400_000,
            alert,
            "camera.offline",
        ));
    }
    log.append(raised_at(now - 5_000, 6, "tamper.covered"));
    log.cosign(&pool).await;
    let a = mirror::accept(&pool, &log.batch(0, 6))
        .await
        .expect("accept");
    assert_eq!(a.status, 200, "{}", a.body);
    let client = pool.get().await.expect("client");
    let rows = client
        .query("SELECT subject, body FROM notify_messages ORDER BY id", &[])
        .await
        .expect("messages");
    let subjects: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(
        subjects[0].starts_with("tamper.covered at the site (open)"),
        "{subjects:?}"
    );
    assert!(
        subjects[1].starts_with("5 alerts from the site's backlog"),
        "{subjects:?}"
    );
    let body: serde_json::Value = serde_json::from_str(&rows[1].get::<_, String>(1)).expect("json");
    assert_eq!(body["backlog"], 5, "{body}");
    assert_eq!(body["alerts"].as_array().map(Vec::len), Some(5), "{body}");
    assert_eq!(body["oldest_ms"], now - 5 * 86_400_000, "{body}");
    // Every alert is at the centre all the same.
    let listed = alerts::site_alerts(&pool, true).await.expect("alerts");
    assert_eq!(listed.len(), 6);
}

#[tokio::test]
async fn the_sites_registers_are_read_from_their_logs() {
    use custos_ledger::catalogue::{RegisterItem, RegisterLocation, RegisterPerson};
    let pg = pg::Postgres::start();
    let pool = enrolled(&pg, "registers").await;
    let mut log = Log::new();
    let at = 1_796_540_000_000;
    let coverage = serde_json::json!([]);
    log.append(
        leaf(
            at,
            &RegisterLocation {
                change: "created",
                by: "ana",
                code: "S9",
                name: "Store room",
                kind: "room",
                room: None,
                coverage: &coverage,
                retired: false,
            },
        )
        .expect("leaf"),
    );
    log.append(
        leaf(
            at + 1,
            &RegisterPerson {
                change: "created",
                by: "ana",
                staff_id: "S1",
                name: "Ada Reader",
                role: "researcher",
                badge: None,
                retired: false,
            },
        )
        .expect("leaf"),
    );
    let item = |holder: Option<&'static str>, status: &'static str| RegisterItem {
        change: "updated",
        by: "ana",
        barcode: "B2",
        title: "Box B2",
        reference: "F-12/3",
        classification: "",
        home_location: "S9",
        location: "S9",
        status,
        holder,
        due_ms: None,
        disposed_reason: None,
    };
    log.append(leaf(at + 2, &item(None, "in_place")).expect("leaf"));
    log.append(leaf(at + 3, &item(Some("S1"), "out")).expect("leaf"));
    log.cosign(&pool).await;
    let a = mirror::accept(&pool, &log.batch(0, 4))
        .await
        .expect("accept");
    assert_eq!(a.status, 200, "{}", a.body);

    let items = register::register_items(&pool, "B2").await.expect("items");
    assert_eq!(items.len(), 1, "{items:?}");
    let b2 = &items[0];
    assert_eq!(
        (b2.site.as_str(), b2.title.as_str(), b2.status.as_deref()),
        ("stacks", "Box B2", Some("out"))
    );
    assert_eq!(b2.holder_name.as_deref(), Some("Ada Reader"));
    assert_eq!(b2.location_name.as_deref(), Some("Store room"));
    assert_eq!(b2.log_index, 3, "the latest entry's");
    let ada = register::people(&pool, "ada reader").await.expect("people");
    assert_eq!(ada.len(), 1);
    assert_eq!((ada[0].staff_id.as_str(), ada[0].log_index), ("S1", 1));
    assert!(register::register_items(&pool, "B3")
        .await
        .expect("items")
        .is_empty());
}
