//! The centre's witness and enrolment against a real PostgreSQL.

mod pg;

use std::sync::Arc;

use custos_central::alerts::{self, LOG_REWRITTEN};
use custos_central::http::{router, Central};
use custos_central::{db, sites, witness, CentralError};
use custos_ledger::cosignature::CosigningKey;
use custos_ledger::merkle::{consistency_proof, leaf_hash, Hash, MemoryTree};
use custos_ledger::note::{sign_checkpoint, Checkpoint, SigningKey};
use custos_ledger::witness::add_checkpoint_body;
use deadpool_postgres::Pool;

const ORIGIN: &str = "archive-7.example/log";

fn site_key() -> SigningKey {
    SigningKey::from_seed(ORIGIN, &[7; 32]).expect("site key")
}

fn witness_key() -> CosigningKey {
    CosigningKey::from_seed("central.example/witness", &[9; 32]).expect("witness key")
}

fn tree(prefix: &str, n: usize) -> MemoryTree {
    let hashes: Vec<Hash> = (0..n)
        .map(|i| leaf_hash(format!("{prefix}{i}").as_bytes()))
        .collect();
    MemoryTree::from_leaf_hashes(&hashes)
}

fn note(tree: &MemoryTree, key: &SigningKey) -> String {
    sign_checkpoint(
        &Checkpoint {
            origin: key.verifier().name().to_owned(),
            size: tree.len(),
            root: tree.root(),
        },
        key,
    )
}

/// The request body: `old`, the proof from `old` in `tree`, the note.
fn body(old: u64, tree: &MemoryTree, note: &str) -> String {
    let proof = if old == 0 {
        Vec::new()
    } else {
        consistency_proof(tree, old, tree.len()).expect("proof")
    };
    add_checkpoint_body(old, &proof, note)
}

async fn enrolled_site(pg: &pg::Postgres, db_name: &str) -> Pool {
    let pool = db::connect(&pg.create_db(db_name), 8).await.expect("pool");
    let new = sites::add(&pool, "archive-7", "test").await.expect("add");
    let name = sites::enrol(&pool, &new.code, &site_key().verifier())
        .await
        .expect("enrol");
    assert_eq!(name.site, "archive-7");
    assert_eq!(name.rotation, None);
    pool
}

#[tokio::test]
async fn a_growing_log_is_cosigned_and_a_stale_old_size_gets_the_latest() {
    let pg = pg::Postgres::start();
    let pool = enrolled_site(&pg, "grow").await;
    let w = witness_key();
    let t1 = tree("e", 5);
    let n1 = note(&t1, &site_key());
    let a = witness::add(&pool, &w, &body(0, &t1, &n1))
        .await
        .expect("add");
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(w.verifier().verify(&format!("{n1}{}", a.body)).is_ok());

    let t2 = tree("e", 12);
    let n2 = note(&t2, &site_key());
    // Claiming the old size is 0 again is answered with the size co-signed.
    let stale = witness::add(&pool, &w, &body(0, &t2, &n2))
        .await
        .expect("add");
    assert_eq!((stale.status, stale.body.as_str()), (409, "5\n"));
    assert_eq!(stale.content_type, "text/x.tlog.size");
    let a = witness::add(&pool, &w, &body(5, &t2, &n2))
        .await
        .expect("add");
    assert_eq!(a.status, 200, "{}", a.body);
    let latest = witness::latest_cosigned(&pool, "archive-7")
        .await
        .expect("latest")
        .expect("a cosigned checkpoint");
    assert!(latest.starts_with(&n2[..n2.find("\n\n").expect("note text")]));
    assert!(w.verifier().verify(&latest).is_ok());
    let list = sites::list(&pool).await.expect("list");
    assert_eq!(list[0].cosigned.map(|c| c.0), Some(12));
    assert!(alerts::list(&pool, true).await.expect("alerts").is_empty());
}

#[tokio::test]
async fn a_rewritten_log_is_refused_kept_alerted_and_suspended_until_an_auditor_acts() {
    let pg = pg::Postgres::start();
    let pool = enrolled_site(&pg, "rewrite").await;
    let w = witness_key();
    let honest = tree("e", 8);
    let n = note(&honest, &site_key());
    assert_eq!(
        witness::add(&pool, &w, &body(0, &honest, &n))
            .await
            .expect("add")
            .status,
        200
    );

    // Same key, history replaced: entries 0..8 differ, the log regrown to 10.
    let forged = tree("forged", 10);
    let fnote = note(&forged, &site_key());
    let a = witness::add(&pool, &w, &body(8, &forged, &fnote))
        .await
        .expect("add");
    assert_eq!(a.status, 422, "{}", a.body);
    let open = alerts::list(&pool, true).await.expect("alerts");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].kind, LOG_REWRITTEN);
    let kept = witness::refusals(&pool, "archive-7")
        .await
        .expect("refusals");
    assert_eq!(kept.len(), 1);
    assert!(
        kept[0].request.contains(&fnote),
        "the signed checkpoint is kept"
    );

    // Even a checkpoint consistent with the old history is not co-signed now.
    let grown = tree("e", 9);
    let g = note(&grown, &site_key());
    let a = witness::add(&pool, &w, &body(8, &grown, &g))
        .await
        .expect("add");
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.body.contains("suspended"));

    // The auditor accepts the new history: witnessed afresh from size 0.
    sites::resume(
        &pool,
        "archive-7",
        "auditor",
        "site rebuilt after disk loss",
        true,
    )
    .await
    .expect("resume");
    let a = witness::add(&pool, &w, &body(0, &forged, &fnote))
        .await
        .expect("add");
    assert_eq!(a.status, 200, "{}", a.body);
    // The earlier history and the refusal stay.
    assert_eq!(
        witness::refusals(&pool, "archive-7")
            .await
            .expect("r")
            .len(),
        1
    );
    let trail = sites::audit_trail(&pool).await.expect("audit");
    assert!(trail
        .iter()
        .any(|l| l.action == "site.resumed" && l.actor == "auditor"));
}

#[tokio::test]
async fn a_same_size_fork_and_a_new_key_are_both_caught() {
    let pg = pg::Postgres::start();
    let pool = enrolled_site(&pg, "fork").await;
    let w = witness_key();
    let t = tree("e", 6);
    assert_eq!(
        witness::add(&pool, &w, &body(0, &t, &note(&t, &site_key())))
            .await
            .expect("add")
            .status,
        200
    );
    let t9 = tree("e", 9);
    assert_eq!(
        witness::add(&pool, &w, &body(6, &t9, &note(&t9, &site_key())))
            .await
            .expect("add")
            .status,
        200
    );
    // A new key under the same name: refused, kept, alerted, not suspended
    // (anyone could have sent it).
    let stranger = SigningKey::from_seed(ORIGIN, &[8; 32]).expect("other key");
    let t10 = tree("e", 10);
    let a = witness::add(&pool, &w, &body(9, &t10, &note(&t10, &stranger)))
        .await
        .expect("add");
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(
        alerts::list(&pool, true).await.expect("alerts")[0].kind,
        LOG_REWRITTEN
    );
    assert!(sites::list(&pool).await.expect("list")[0]
        .suspended
        .is_none());

    // Size 6 again with another root, claiming old 0: the protocol says 409,
    // but a signed fork of a size co-signed before suspends the site.
    let fork = tree("x", 6);
    let a = witness::add(&pool, &w, &body(0, &fork, &note(&fork, &site_key())))
        .await
        .expect("add");
    assert_eq!(a.status, 409);
    let site = &sites::list(&pool).await.expect("list")[0];
    assert!(site.suspended.is_some(), "a signed fork suspends");
    assert_eq!(site.refusals, 2);
}

#[tokio::test]
async fn concurrent_submissions_from_one_old_size_advance_the_state_once() {
    let pg = pg::Postgres::start();
    let pool = enrolled_site(&pg, "race").await;
    let w = witness_key();
    let t = tree("e", 3);
    assert_eq!(
        witness::add(&pool, &w, &body(0, &t, &note(&t, &site_key())))
            .await
            .expect("add")
            .status,
        200
    );
    // Eight different checkpoints, all from old size 3: one wins.
    let mut tasks = Vec::new();
    for n in 4..12 {
        let (pool, w) = (pool.clone(), w.clone());
        tasks.push(tokio::spawn(async move {
            let t = tree("e", n);
            witness::add(&pool, &w, &body(3, &t, &note(&t, &site_key())))
                .await
                .expect("add")
                .status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    statuses.sort_unstable();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn enrolment_over_http_pins_the_key_once_and_the_code_is_spent() {
    let pg = pg::Postgres::start();
    let pool = db::connect(&pg.create_db("enrol"), 4).await.expect("pool");
    // Two processes' migrations at once apply each migration once.
    let (a, b) = tokio::join!(db::migrate(&pool), db::migrate(&pool));
    let version = a.expect("a");
    assert!(version >= 2);
    assert_eq!(b.expect("b"), version);
    let new = sites::add(&pool, "village-3", "admin").await.expect("add");
    assert!(matches!(
        sites::add(&pool, "village-3", "admin").await,
        Err(CentralError::Invalid(_))
    ));
    assert!(sites::add(&pool, "Bad Name", "admin").await.is_err());
    let central = Arc::new(Central {
        pool: pool.clone(),
        witness: witness_key(),
        witness_url: "http://central.example/witness".to_owned(),
        public_url: "http://central.example".to_owned(),
        tls_fingerprint: None,
        secure_cookies: false,
        sign_in_throttle: Default::default(),
        tls_fingerprints: Vec::new(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router(central)).await });
    let url = format!("http://{addr}");
    let code = new.code.clone();
    let answers = tokio::task::spawn_blocking(move || {
        let agent = ureq::agent();
        let post = |code: &str, key: &str| match agent
            .post(&format!("{url}/api/v1/enrol"))
            .send_json(serde_json::json!({ "code": code, "log_key": key }))
        {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap_or_default()),
            Err(e) => panic!("{e}"),
        };
        let key = site_key().verifier().to_string();
        let bad_key = post(&code, "not a key");
        // Typed by a person: upper case and without dashes.
        let first = post(&code.replace('-', "").to_uppercase(), &key);
        let again = post(&code, &key);
        let cp = tree("e", 2);
        let add = agent
            .post(&format!("{url}/witness/add-checkpoint"))
            .send_string(&body(0, &cp, &note(&cp, &site_key())))
            .map(|r| (r.status(), r.into_string().unwrap_or_default()));
        let garbage = match agent
            .post(&format!("{url}/witness/add-checkpoint"))
            .send_string("hello")
        {
            Err(ureq::Error::Status(s, _)) => s,
            other => panic!("{other:?}"),
        };
        (bad_key, first, again, add, garbage)
    })
    .await
    .expect("client");
    let (bad_key, first, again, add, garbage) = answers;
    assert_eq!(bad_key.0, 400, "{}", bad_key.1);
    assert_eq!(first.0, 200, "{}", first.1);
    let answer: serde_json::Value = serde_json::from_str(&first.1).expect("json");
    assert_eq!(answer["site"], "village-3");
    assert_eq!(answer["witness_key"], witness_key().verifier().to_string());
    assert_eq!(again.0, 403, "a spent code: {}", again.1);
    let (status, line) = add.expect("add-checkpoint over HTTP");
    assert_eq!(status, 200);
    assert!(line.starts_with("\u{2014} central.example/witness "));
    assert_eq!(garbage, 400);
    let trail = sites::audit_trail(&pool).await.expect("audit");
    let actions: Vec<&str> = trail.iter().map(|l| l.action.as_str()).collect();
    assert_eq!(actions, ["site.added", "site.enrolled"]);
}

#[tokio::test]
async fn a_site_enrols_again_with_an_admins_code_a_new_box_witnessed_afresh() {
    let pg = pg::Postgres::start();
    let pool = enrolled_site(&pg, "rekey").await;
    let w = witness_key();
    let old_log = tree("e", 6);
    let a = witness::add(&pool, &w, &body(0, &old_log, &note(&old_log, &site_key())))
        .await
        .expect("add");
    assert_eq!(a.status, 200, "{}", a.body);

    // Only an enrolled site gets a re-key code, and only with a reason.
    assert!(sites::rekey(&pool, "archive-7", "ines", " ").await.is_err());
    let code = sites::rekey(&pool, "archive-7", "ines", "the box's disk died")
        .await
        .expect("rekey");
    // The old key is still pinned until the code is used.
    let grown = tree("e", 8);
    let a = witness::add(&pool, &w, &body(6, &grown, &note(&grown, &site_key())))
        .await
        .expect("add");
    assert_eq!(a.status, 200, "{}", a.body);
    // The same key again is no rotation: the site pins the centre afresh
    // and its history goes on.
    let again = sites::enrol(&pool, &code.code, &site_key().verifier())
        .await
        .expect("enrol again");
    assert_eq!(again.rotation, None);
    let grown = tree("e", 9);
    let a = witness::add(&pool, &w, &body(8, &grown, &note(&grown, &site_key())))
        .await
        .expect("add");
    assert_eq!(a.status, 200, "{}", a.body);
    let code = sites::rekey(&pool, "archive-7", "ines", "the box's disk died")
        .await
        .expect("rekey");
    let new_key = SigningKey::from_seed(ORIGIN, &[8; 32]).expect("new key");
    let enrolled = sites::enrol(&pool, &code.code, &new_key.verifier())
        .await
        .expect("enrol again");
    let rotation = enrolled.rotation.expect("a rotation");
    assert_eq!(rotation.replaces_key, site_key().verifier().to_string());
    assert_eq!(rotation.rotated_by, "ines");
    assert_eq!(rotation.reason, "the box's disk died");
    assert!(matches!(
        sites::enrol(&pool, &code.code, &new_key.verifier()).await,
        Err(CentralError::BadEnrolCode)
    ));

    // The new box's log is witnessed from size 0; the old key signs nothing.
    let new_log = tree("n", 3);
    let a = witness::add(&pool, &w, &body(0, &new_log, &note(&new_log, &new_key)))
        .await
        .expect("add");
    assert_eq!(a.status, 200, "{}", a.body);
    let old_again = tree("e", 10);
    let a = witness::add(
        &pool,
        &w,
        &body(9, &old_again, &note(&old_again, &site_key())),
    )
    .await
    .expect("add");
    assert_ne!(
        a.status, 200,
        "the old key is no longer the site's: {}",
        a.body
    );
    let trail = sites::audit_trail(&pool).await.expect("audit");
    let rotated = trail
        .iter()
        .find(|l| l.action == "site.key_rotated")
        .expect("the rotation in the audit trail");
    assert_eq!(rotated.actor, "ines");
    assert!(
        rotated.detail.contains("the box's disk died"),
        "{rotated:?}"
    );
    assert!(trail.iter().any(|l| l.action == "site.rekey_code_issued"));
    assert!(trail
        .iter()
        .any(|l| l.action == "site.reenrolled" && l.actor == "ines"));
}
