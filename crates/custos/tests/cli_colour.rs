//! Colour codes in what the real binary prints: only for a terminal, never
//! into a file or a pipe (a log file, `| less`, a journal), and never when
//! NO_COLOR is set.

mod common;

use std::process::{Command, Output, Stdio};

use common::Site;

const ESC: u8 = 0x1B;

/// The colour and style sequences (SGR: `ESC [ … m`) in `bytes`. A
/// progress bar's line erasing (`ESC [ 2K`) is not colour.
fn colour_codes(bytes: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in bytes.iter().enumerate().filter(|(_, b)| **b == ESC) {
        let rest = &bytes[at + 1..];
        let Some(params) = rest.strip_prefix(b"[") else {
            continue;
        };
        let end = params
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b';'))
            .unwrap_or(params.len());
        if params.get(end) == Some(&b'm') {
            found.push(String::from_utf8_lossy(&params[..=end]).into_owned());
        }
    }
    found
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).escape_debug(),
        String::from_utf8_lossy(&o.stderr).escape_debug()
    )
}

/// A fresh site and the arguments of an import into it: opening the new
/// index logs its schema migrations (INFO), then the import prints its
/// summary.
fn import_args(site: &Site) -> Vec<String> {
    std::fs::create_dir_all(site.data_dir()).expect("mkdir");
    let csv = site.dir.path().join("locations.csv");
    std::fs::write(&csv, "code,name\r\nR1,Reading room\r\n").expect("write csv");
    [
        "register",
        "import",
        "--config",
        &site.config.to_string_lossy(),
        &csv.to_string_lossy(),
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect()
}

fn quoted(args: &[String]) -> String {
    std::iter::once(env!("CARGO_BIN_EXE_custos").to_owned())
        .chain(args.iter().cloned())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `args` on a pseudo-terminal (util-linux `script`) and returns what
/// the terminal showed.
fn on_a_terminal(args: &[String], no_color: bool) -> Output {
    let mut c = Command::new("script");
    c.args(["-qec", &quoted(args), "/dev/null"])
        .env("CUSTOS_LOG", "info")
        .env("TERM", "xterm-256color")
        .stdin(Stdio::null());
    if no_color {
        c.env("NO_COLOR", "1");
    } else {
        c.env_remove("NO_COLOR");
    }
    c.output().expect("run script (util-linux)")
}

#[test]
fn output_to_a_pipe_has_no_colour_codes() {
    let site = Site::new("");
    let o = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(import_args(&site))
        .env("CUSTOS_LOG", "info")
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .output()
        .expect("run custos");
    assert!(o.status.success(), "{}", show(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("applied database schema migration"),
        "the log lines are there: {}",
        show(&o)
    );
    assert!(!o.stderr.contains(&ESC), "colour codes: {}", show(&o));
    assert!(!o.stdout.contains(&ESC), "colour codes: {}", show(&o));

    // An error of the command line, to a pipe, is plain too.
    let o = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["register", "import", "--no-such-flag"])
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .output()
        .expect("run custos");
    assert!(!o.status.success());
    assert!(!o.stderr.is_empty());
    assert!(!o.stderr.contains(&ESC), "colour codes: {}", show(&o));
}

#[test]
fn a_terminal_gets_colour_unless_no_color_is_set() {
    let site = Site::new("");
    let args = import_args(&site);
    let o = on_a_terminal(&args, false);
    assert!(o.status.success(), "{}", show(&o));
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(
        shown.contains("applied database schema migration"),
        "{}",
        show(&o)
    );
    assert!(
        !colour_codes(&o.stdout).is_empty(),
        "no colour on a terminal: {}",
        show(&o)
    );

    let site = Site::new("");
    let args = import_args(&site);
    let o = on_a_terminal(&args, true);
    assert!(o.status.success(), "{}", show(&o));
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(
        shown.contains("applied database schema migration") && shown.contains("imported 1"),
        "{}",
        show(&o)
    );
    assert_eq!(
        colour_codes(&o.stdout),
        Vec::<String>::new(),
        "colour despite NO_COLOR: {}",
        show(&o)
    );
}
