//! The register from the command line: CSV imports (all rows or none, every
//! bad row named), custody actions and their refusals, labels and reports.

mod common;

use std::process::Output;

use common::Site;

fn run(site: &Site, args: &[&str]) -> Output {
    let cfg = site.config.to_string_lossy().into_owned();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--config", &cfg]);
    site.custos(&all).output().expect("run custos")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn count(site: &Site, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(site.data_dir().join("custos.db")).expect("db");
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

fn write(site: &Site, name: &str, bytes: &[u8]) -> String {
    let path = site.dir.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    path.to_string_lossy().into_owned()
}

#[test]
fn imports_are_all_or_nothing_and_name_every_bad_row() {
    let site =
        Site::new("[[camera]]\nid = \"stacks\"\nurl = \"rtsp://127.0.0.1:1/x\"\nenabled = false\n");
    std::fs::create_dir_all(site.data_dir()).expect("mkdir");
    let locations = write(
        &site,
        "locations.csv",
        b"code,name,kind,room,coverage\nR1-S1,Shelf 1,shelf,R1,\nR1,Reading room,room,,stacks\nS9,Store,room,,\n",
    );
    let o = run(&site, &["register", "import", &locations]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(count(&site, "locations"), 3);

    let people = write(
        &site,
        "people.csv",
        b"staff_id,name,role,badge\nS1,Ada,staff,B-1\nS2,Bo,researcher,\n",
    );
    let o = run(&site, &["register", "import", &people]);
    assert!(o.status.success(), "{}", text(&o));

    // Every kind of bad row at once; nothing of the file goes in.
    let mut bad = b"barcode,title,reference,classification,home_location\n".to_vec();
    bad.extend_from_slice(b"A1,Box one,F1/1,open,R1\n"); // line 2: fine
    bad.extend_from_slice(b"A1,Box again,F1/2,open,R1\n"); // 3: duplicate barcode
    bad.extend_from_slice(b"A3,Box three,F1/3,open,NOWHERE\n"); // 4: unknown location
    bad.extend_from_slice(b"A4,Box four,F1/4\n"); // 5: wrong column count
    bad.extend_from_slice(b"A5,Box \xff five,F1/5,open,R1\n"); // 6: invalid UTF-8
    bad.extend_from_slice(b"A 6,Box six,F1/6,open,R1\n"); // 7: bad barcode characters
    let items = write(&site, "items.csv", &bad);
    let o = run(&site, &["register", "import", &items]);
    assert!(!o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    for line in ["line 3", "line 4", "line 5", "line 6", "line 7"] {
        assert!(err.contains(line), "{line} not reported:\n{err}");
    }
    assert!(err.contains("NOWHERE"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    assert!(!err.contains("line 2,"), "a good row reported:\n{err}");
    assert_eq!(count(&site, "items"), 0, "a bad file imported rows");

    let good = write(
        &site,
        "items.csv",
        b"barcode,title,reference,classification,home_location\nA1,\"Box one, letters\",F1/1,open,R1-S1\nA2,Box two,F1/2,restricted,S9\n",
    );
    let o = run(&site, &["register", "import", &good]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(count(&site, "items"), 2);
    // Importing the same file again refuses every row: they exist.
    let o = run(&site, &["register", "import", &good]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("A1"),
        "{}",
        text(&o)
    );

    // Custody from the command line, with refusals.
    let o = run(
        &site,
        &[
            "custody",
            "check-out",
            "A1",
            "--to",
            "S1",
            "--due",
            "2099-01-01T17:00:00Z",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let shown: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(shown["item"]["holder"], "S1", "{shown}");
    assert_eq!(
        shown["event"]["cameras"][0]["camera"], "stacks",
        "shelf seen through its room: {shown}"
    );
    let o = run(
        &site,
        &[
            "custody",
            "check-out",
            "A1",
            "--to",
            "S2",
            "--due",
            "2099-01-01T17:00:00Z",
        ],
    );
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("refused"),
        "{}",
        text(&o)
    );
    let o = run(&site, &["custody", "check-in", "A2"]);
    assert!(
        !o.status.success(),
        "checking in an item that is not out: {}",
        text(&o)
    );
    let o = run(&site, &["register", "retire-person", "S1"]);
    assert!(!o.status.success(), "S1 still holds A1: {}", text(&o));
    let o = run(&site, &["custody", "check-in", "A1"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&site, &["register", "retire-person", "S1"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(
        &site,
        &[
            "custody",
            "check-out",
            "A1",
            "--to",
            "S1",
            "--due",
            "2099-01-01T17:00:00Z",
        ],
    );
    assert!(
        !o.status.success(),
        "retired people take nothing: {}",
        text(&o)
    );
    let o = run(
        &site,
        &[
            "custody",
            "check-out",
            "A1",
            "--to",
            "S2",
            "--due",
            "tomorrow",
        ],
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--due"),
        "{}",
        text(&o)
    );

    // The chain of custody, oldest first.
    let o = run(&site, &["register", "show", "A1"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let actions: Vec<&str> = v["custody"]
        .as_array()
        .expect("custody")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["check_out", "check_in"], "{v}");
}
