//! The centre's web API as the app and an attacker use it, on a real
//! PostgreSQL and two centre processes sharing it: sign-in, the lock after
//! repeated failures (set by one process, holding in the other), CSRF,
//! sign-out, disabled users, roles, and regions limiting what a user sees
//! and changes.

#[path = "pg/mod.rs"]
mod pg;

use std::sync::Arc;

use custos_central::http::{serve, Central};
use custos_central::users::{self, Role};
use custos_central::{alerts, db, reports, sites};
use custos_ledger::cosignature::CosigningKey;
use custos_ledger::note::SigningKey;
use custos_webapp::credentials::hash_password;
use deadpool_postgres::Pool;
use serde_json::{json, Value};

/// A centre process on `pool`, serving on a free port; its base URL.
async fn centre(pool: &Pool) -> String {
    let central = Arc::new(Central {
        pool: pool.clone(),
        witness: CosigningKey::from_seed("central.test/witness", &[9; 32]).expect("witness key"),
        witness_url: "http://central.test/witness".to_owned(),
        public_url: "http://central.test".to_owned(),
        tls_fingerprint: None,
        tls_fingerprints: Vec::new(),
        secure_cookies: false,
        sign_in_throttle: Default::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve(
        central,
        listener,
        std::collections::BTreeMap::new(),
        std::future::pending(),
    ));
    format!("http://{addr}")
}

/// An answer: status, JSON body (or null), `Set-Cookie` and `Retry-After`.
struct Answer {
    status: u16,
    body: Value,
    cookie: Option<String>,
    retry_after: Option<String>,
}

fn answer(r: ureq::Response) -> Answer {
    let status = r.status();
    let cookie = r.header("set-cookie").map(str::to_owned);
    let retry_after = r.header("retry-after").map(str::to_owned);
    let body = r.into_json().unwrap_or(Value::Null);
    Answer {
        status,
        body,
        cookie,
        retry_after,
    }
}

/// A browser-like client: one session cookie, and its CSRF token.
#[derive(Clone, Default)]
struct Client {
    base: String,
    cookie: Option<String>,
    csrf: Option<String>,
}

impl Client {
    fn new(base: &str) -> Client {
        Client {
            base: base.to_owned(),
            ..Client::default()
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<Value>, csrf: bool) -> Answer {
        let mut request = ureq::request(method, &format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            request = request.set("Cookie", c);
        }
        if let (true, Some(t)) = (csrf, &self.csrf) {
            request = request.set("X-CSRF-Token", t);
        }
        let result = match body {
            Some(b) => request.send_json(b),
            None => request.call(),
        };
        match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => answer(r),
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None, false)
    }

    fn post(&self, path: &str, body: Value) -> Answer {
        self.send("POST", path, Some(body), true)
    }

    /// Signs in; the answer of the sign-in.
    fn sign_in(&mut self, user: &str, password: &str) -> Answer {
        let a = self.send(
            "POST",
            "/api/v1/login",
            Some(json!({ "user": user, "password": password })),
            false,
        );
        if a.status == 200 {
            let cookie = a.cookie.clone().expect("a session cookie");
            self.cookie = cookie.split(';').next().map(str::to_owned);
            self.csrf = a.body["csrf_token"].as_str().map(str::to_owned);
        }
        a
    }
}

async fn add_user(pool: &Pool, name: &str, role: Role, region: Option<&str>) {
    let hash = hash_password(&format!("{name}'s long password")).expect("hash");
    users::add(pool, name, role, region, &hash, "test")
        .await
        .expect("add user");
}

/// Two enrolled sites, north-1 and south-1, each with an open
/// `site.silent` alert: (north alert, south alert).
async fn two_regions(pool: &Pool) -> (i64, i64) {
    for (seed, name, region) in [(1u8, "north-1", "north"), (2, "south-1", "south")] {
        let new = sites::add(pool, name, "test").await.expect("add site");
        let key = SigningKey::from_seed(&format!("{name}.example/log"), &[seed; 32]).expect("key");
        sites::enrol(pool, &new.code, &key.verifier())
            .await
            .expect("enrol");
        let place = sites::Place {
            region: Some(region.to_owned()),
            latitude: None,
            longitude: None,
        };
        sites::place(pool, name, &place, "test")
            .await
            .expect("place");
    }
    // Enrolled an hour ago and silent since: both raise site.silent.
    let client = pool.get().await.expect("client");
    client
        .execute("UPDATE sites SET enrolled_ms = enrolled_ms - 3600000", &[])
        .await
        .expect("backdate");
    assert_eq!(reports::raise_silent(pool).await.expect("silent"), 2);
    let open = alerts::list(pool, true).await.expect("alerts");
    let id = |site: &str| {
        open.iter()
            .find(|a| a.site == site)
            .map(|a| a.id)
            .expect("an alert")
    };
    (id("north-1"), id("south-1"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_roles_regions_and_csrf_hold_across_centre_processes() {
    let pg = pg::Postgres::start();
    let pool = db::connect(&pg.create_db("web"), 8).await.expect("pool");
    let (north_alert, south_alert) = two_regions(&pool).await;
    add_user(&pool, "ines", Role::Admin, None).await;
    add_user(&pool, "nora", Role::Auditor, Some("north")).await;
    add_user(&pool, "vic", Role::Viewer, None).await;
    assert!(
        users::add(&pool, "root", Role::Admin, Some("north"), "x", "test")
            .await
            .is_err(),
        "an admin has no region"
    );
    let (one, two) = (centre(&pool).await, centre(&pool).await);

    let checks = tokio::task::spawn_blocking(move || {
        // The files come with the strict policy.
        let index = ureq::get(&format!("{one}/")).call().expect("index");
        assert!(index
            .header("content-security-policy")
            .is_some_and(|p| p.contains("default-src 'self'")));
        assert_eq!(Client::new(&one).get("/app/../Cargo.toml").status, 404);
        assert_eq!(Client::new(&one).get("/api/v1/sites").status, 401);

        // Five wrong passwords on one process lock the account on both.
        let mut guesser = Client::new(&one);
        for i in 0..5 {
            let a = guesser.sign_in("nora", &format!("guess {i}"));
            assert_eq!(a.status, 401, "{}", a.body);
            assert_eq!(a.body["error"], "wrong user name or password");
        }
        let mut elsewhere = Client::new(&two);
        let locked = elsewhere.sign_in("nora", "nora's long password");
        assert_eq!(locked.status, 429, "{}", locked.body);
        assert!(locked.body["locked_until_ms"].is_i64(), "{}", locked.body);
        assert!(locked
            .retry_after
            .and_then(|s| s.parse::<u64>().ok())
            .is_some_and(|s| s > 800 && s <= 900));
        // An unknown name gets the same answer as a wrong password.
        let unknown = guesser.sign_in("nobody", "whatever password");
        assert_eq!(unknown.status, 401);
        assert_eq!(unknown.body["error"], "wrong user name or password");
        (one, two, north_alert, south_alert)
    })
    .await
    .expect("checks");
    let (one, two, north_alert, south_alert) = checks;

    users::change(&pool, "nora", None, true, "test")
        .await
        .expect("unlock");
    let trail = sites::audit_trail(&pool).await.expect("audit");
    let count = |action: &str| trail.iter().filter(|l| l.action == action).count();
    assert_eq!(count("sign_in.failed"), 6, "five guesses and one unknown");
    assert_eq!(count("user.locked"), 1);
    assert_eq!(count("user.unlocked"), 1);

    let pool2 = pool.clone();
    let vic_client = tokio::task::spawn_blocking(move || {
        // The region's auditor sees and changes only the region.
        let mut nora = Client::new(&two);
        let a = nora.sign_in("nora", "nora's long password");
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["region"], "north");
        assert!(a.cookie.as_deref().is_some_and(|c| c.contains("HttpOnly")
            && c.contains("SameSite=Strict")
            && !c.contains("Secure")));
        let listed = nora.get("/api/v1/sites").body;
        let names: Vec<&str> = listed["sites"]
            .as_array()
            .expect("sites")
            .iter()
            .filter_map(|s| s["name"].as_str())
            .collect();
        assert_eq!(names, ["north-1"]);
        assert_eq!(nora.get("/api/v1/sites/south-1").status, 404);
        assert_eq!(nora.get("/api/v1/sites/north-1").status, 200);
        let alerts = nora.get("/api/v1/alerts").body;
        assert_eq!(
            alerts["centre"].as_array().map(Vec::len),
            Some(1),
            "{alerts}"
        );
        assert_eq!(alerts["centre"][0]["site"], "north-1");
        // Without the CSRF token a change is refused, whatever the role.
        let forged = nora.send(
            "POST",
            &format!("/api/v1/alerts/{north_alert}/acknowledge"),
            Some(json!({ "note": "" })),
            false,
        );
        assert_eq!(forged.status, 403, "{}", forged.body);
        let other = nora.post(
            &format!("/api/v1/alerts/{south_alert}/acknowledge"),
            json!({ "note": "" }),
        );
        assert_eq!(other.status, 404, "another region's alert: {}", other.body);
        let unexplained = nora.post(
            &format!("/api/v1/alerts/{north_alert}/resolve"),
            json!({ "note": " " }),
        );
        assert_eq!(unexplained.status, 400, "{}", unexplained.body);
        let ack = nora.post(
            &format!("/api/v1/alerts/{north_alert}/acknowledge"),
            json!({ "note": "on it" }),
        );
        assert_eq!(ack.status, 204, "{}", ack.body);
        // The register is the auditors'; the users list the admins'.
        assert_eq!(nora.get("/api/v1/register/no-footage?days=30").status, 200);
        assert_eq!(nora.get("/api/v1/register/no-footage?days=0").status, 400);
        assert_eq!(nora.get("/api/v1/users").status, 403);

        // A viewer reads every site and changes nothing.
        let mut vic = Client::new(&one);
        assert_eq!(vic.sign_in("vic", "vic's long password").status, 200);
        let all = vic.get("/api/v1/sites").body;
        assert_eq!(all["sites"].as_array().map(Vec::len), Some(2), "{all}");
        let refused = vic.post(
            &format!("/api/v1/alerts/{south_alert}/acknowledge"),
            json!({ "note": "" }),
        );
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert_eq!(vic.get("/api/v1/register/where/B1").status, 403);

        // Only an admin adds users and sites.
        assert_eq!(
            nora.post("/api/v1/users", json!({"name": "x", "role": "viewer", "password": "a long password"}))
                .status,
            403
        );
        assert_eq!(vic.post("/api/v1/sites", json!({"name": "west-1"})).status, 403);
        let mut ines = Client::new(&two);
        assert_eq!(ines.sign_in("ines", "ines's long password").status, 200);
        let bad_role = ines.post(
            "/api/v1/users",
            json!({"name": "x", "role": "root", "password": "a long password"}),
        );
        assert_eq!(bad_role.status, 400, "{}", bad_role.body);
        let short = ines.post(
            "/api/v1/users",
            json!({"name": "x", "role": "viewer", "password": "short"}),
        );
        assert_eq!(short.status, 400, "{}", short.body);
        let added = ines.post(
            "/api/v1/users",
            json!({"name": "wes", "role": "viewer", "region": "west", "password": "wes's long password"}),
        );
        assert_eq!(added.status, 201, "{}", added.body);
        let myself = ines.send(
            "PATCH",
            "/api/v1/users/ines",
            Some(json!({"disabled": true})),
            true,
        );
        assert_eq!(myself.status, 409, "{}", myself.body);
        let site = ines.post("/api/v1/sites", json!({"name": "west-1"}));
        assert_eq!(site.status, 201, "{}", site.body);
        let code = site.body["code"].as_str().expect("a code").to_owned();
        let placed = ines.post(
            "/api/v1/sites/west-1/place",
            json!({"region": "west", "latitude": 91.0, "longitude": 0.0}),
        );
        assert_eq!(placed.status, 400, "a latitude past the pole: {}", placed.body);
        let placed = ines.post("/api/v1/sites/west-1/place", json!({"region": "west"}));
        assert_eq!(placed.status, 204, "{}", placed.body);
        let mut wes = Client::new(&one);
        assert_eq!(wes.sign_in("wes", "wes's long password").status, 200);
        let seen = wes.get("/api/v1/sites").body;
        assert_eq!(seen["sites"][0]["name"], "west-1", "{seen}");
        assert_eq!(seen["sites"].as_array().map(Vec::len), Some(1), "{seen}");

        // Signing out ends the session on every process.
        assert_eq!(nora.post("/api/v1/logout", json!({})).status, 204);
        assert_eq!(
            Client {
                base: one.clone(),
                ..nora.clone()
            }
            .get("/api/v1/session")
            .status,
            401
        );
        (vic, pool2, code)
    })
    .await
    .expect("checks");
    let (vic, pool, code) = vic_client;
    let key = SigningKey::from_seed("west-1.example/log", &[3; 32]).expect("key");
    let enrolled = sites::enrol(&pool, &code, &key.verifier())
        .await
        .expect("the code from the web enrols");
    assert_eq!(enrolled.site, "west-1");

    let acknowledged = alerts::list(&pool, true).await.expect("alerts");
    let north = acknowledged
        .iter()
        .find(|a| a.id == north_alert)
        .expect("north alert");
    assert_eq!(
        north.acknowledged.as_ref().map(|a| a.1.as_str()),
        Some("nora")
    );

    // Disabling a user ends their sessions at once.
    users::change(&pool, "vic", Some(true), false, "test")
        .await
        .expect("disable");
    let base = vic.base.clone();
    let status = tokio::task::spawn_blocking(move || vic.get("/api/v1/session").status)
        .await
        .expect("session");
    assert_eq!(status, 401);

    // A new password: the old one no longer signs in.
    let hash = hash_password("nora's new long password").expect("hash");
    users::set_password(&pool, "nora", &hash, "test")
        .await
        .expect("new password");
    let other = base.clone();
    let (old, new) = tokio::task::spawn_blocking(move || {
        let mut c = Client::new(&other);
        (
            c.sign_in("nora", "nora's long password").status,
            c.sign_in("nora", "nora's new long password").status,
        )
    })
    .await
    .expect("sign-ins");
    assert_eq!((old, new), (401, 200));

    // One address trying names fast is slowed down, whatever the names.
    let refused_at = tokio::task::spawn_blocking(move || {
        let mut client = Client::new(&base);
        (1..=40).find(|i| client.sign_in(&format!("guess-{i}"), "a password").status == 429)
    })
    .await
    .expect("burst");
    assert!(
        refused_at.is_some_and(|n| n <= 30),
        "refused at attempt {refused_at:?}"
    );
    let trail = sites::audit_trail(&pool).await.expect("audit");
    for (actor, action) in [
        ("nora", "sign_in"),
        ("nora", "sign_out"),
        ("test", "user.disabled"),
    ] {
        assert!(
            trail.iter().any(|l| l.actor == actor && l.action == action),
            "{actor} {action} in {trail:?}"
        );
    }
}
