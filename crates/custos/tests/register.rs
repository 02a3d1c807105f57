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

/// The line (counted from 1) of `file` holding `needle`, which must be on
/// exactly one line; lines end at LF, CRLF or CR, as an editor shows them.
fn line_of(file: &[u8], needle: &str) -> u64 {
    let text = String::from_utf8_lossy(file)
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    let hits: Vec<u64> = text
        .split('\n')
        .enumerate()
        .filter(|(_, line)| line.contains(needle))
        .map(|(n, _)| n as u64 + 1)
        .collect();
    assert_eq!(hits.len(), 1, "{needle:?} is on lines {hits:?}");
    hits[0]
}

/// (line, column) of each `FILE: line N[, column "C"]: reason` the import
/// printed on stderr.
fn reported(o: &Output, file: &str) -> Vec<(u64, Option<String>)> {
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{file}: line ")))
        .map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let line = digits.parse().expect("a line number");
            let column = rest[digits.len()..]
                .strip_prefix(", column \"")
                .and_then(|c| c.split('"').next())
                .map(str::to_owned);
            (line, column)
        })
        .collect()
}

fn titles(site: &Site) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(site.data_dir().join("custos.db")).expect("db");
    let mut stmt = conn
        .prepare("SELECT barcode, title FROM items ORDER BY barcode")
        .expect("query");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("titles")
}

/// A file saved by a spreadsheet as "CSV UTF-8" (byte order mark, CRLF,
/// blank and empty rows, cells with line breaks, its own column order and
/// case) goes in as it is; each bad row is named by the line an editor
/// shows it on; a quote that is not doubled refuses the file.
#[test]
fn spreadsheet_files_import_and_every_reported_line_is_the_files() {
    let site = Site::new("");
    std::fs::create_dir_all(site.data_dir()).expect("mkdir");
    let locations = write(
        &site,
        "locations.csv",
        b"\xEF\xBB\xBFCode,Name\r\nR01,Strong room\r\n\r\nR02,\"Reading room,\nground floor\"\r\n",
    );
    let o = run(&site, &["register", "import", &locations]);
    assert!(o.status.success(), "{}", text(&o));

    let mut bad = b"\xEF\xBB\xBF".to_vec();
    bad.extend_from_slice(
        b"Title,HOME_LOCATION,Barcode\r\n\
          \"Minutes of the board,\n1901\",R01,GOOD-1\r\n\
          \r\n\
          ,,\r\n\
          Unknown home,NOPE,BAD-HOME\r\n\
          \"A cell\nover\nthree lines\",R02,GOOD-2\r\n\
          \r\n\
          ,R01,BAD-TITLE\r\n\
          \"Letters \"\"to\"\" the mayor\",R01,GOOD-3\r\n\
          \"Map \"1850\" sheet\",R01,BAD-QUOTE\r\n\
          Minutes 1901 \"draft,R01,BAD-LOOSE\r\n\
          Again,R01,GOOD-1\r\n",
    );
    let items = write(&site, "items.csv", &bad);
    let o = run(&site, &["register", "import", &items]);
    assert!(!o.status.success(), "{}", text(&o));
    let expected: Vec<(u64, Option<String>)> = [
        ("BAD-HOME", "home_location"),
        ("BAD-TITLE", "title"),
        ("BAD-QUOTE", "title"),
        ("BAD-LOOSE", "title"),
        ("Again", "barcode"),
    ]
    .iter()
    .map(|(needle, column)| (line_of(&bad, needle), Some((*column).to_owned())))
    .collect();
    assert_eq!(reported(&o, &items), expected, "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!(
            "first on line {}",
            line_of(&bad, "Minutes of the board")
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("write a quote twice: \"Map \"\"1850\"\" sheet\""),
        "{stderr}"
    );
    assert_eq!(count(&site, "items"), 0, "a bad file imported rows");

    // A quote closed early refuses the file even when it is its only
    // fault (it used to import as `Minutes 1901 draft" copy"`).
    let stray = write(
        &site,
        "items.csv",
        b"barcode,title,home_location\r\nQ1,\"Minutes 1901 \"draft\" copy\",R01\r\n",
    );
    let o = run(&site, &["register", "import", &stray]);
    assert!(!o.status.success(), "{}", text(&o));
    assert_eq!(
        reported(&o, &stray),
        [(2, Some("title".to_owned()))],
        "{}",
        text(&o)
    );
    assert_eq!(count(&site, "items"), 0);

    // Without its bad rows the file imports, every value as the cell held it.
    let good: Vec<u8> = String::from_utf8(bad.clone())
        .expect("utf-8")
        .split_inclusive("\r\n")
        .filter(|l| !l.contains("BAD-") && !l.contains("Again"))
        .collect::<String>()
        .into_bytes();
    let items = write(&site, "items.csv", &good);
    let o = run(&site, &["register", "import", &items]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        titles(&site),
        [
            (
                "GOOD-1".to_owned(),
                "Minutes of the board,\n1901".to_owned()
            ),
            ("GOOD-2".to_owned(), "A cell\nover\nthree lines".to_owned()),
            ("GOOD-3".to_owned(), "Letters \"to\" the mayor".to_owned()),
        ]
    );
}

/// Two rows of people.csv with one badge: both lines are named, in words.
#[test]
fn a_badge_given_twice_names_both_lines() {
    let site = Site::new("");
    std::fs::create_dir_all(site.data_dir()).expect("mkdir");
    let people = write(
        &site,
        "people.csv",
        b"staff_id,name,role,badge\r\np0115.x,Ada,staff,B-8705\r\n\r\np0116.x,Bo,staff,B-8705\r\n",
    );
    let o = run(&site, &["register", "import", &people]);
    assert!(!o.status.success(), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!(
            "{people}: line 4, column \"badge\": badge \"B-8705\" appears again; first on line 2"
        )),
        "{}",
        text(&o)
    );
    assert!(!stderr.contains("Some("), "{}", text(&o));
    assert_eq!(count(&site, "people"), 0);

    // Once one of them is in, the other's badge is named as taken.
    let first = write(
        &site,
        "people.csv",
        b"staff_id,name,role,badge\r\np0115.x,Ada,staff,B-8705\r\n",
    );
    let o = run(&site, &["register", "import", &first]);
    assert!(o.status.success(), "{}", text(&o));
    let second = write(
        &site,
        "people.csv",
        b"staff_id,name,role,badge\r\np0116.x,Bo,staff,B-8705\r\n",
    );
    let o = run(&site, &["register", "import", &second]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&format!(
            "{second}: line 2, column \"badge\": badge \"B-8705\" already belongs to \"p0115.x\" in the register"
        )),
        "{}",
        text(&o)
    );
}
