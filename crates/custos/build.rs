//! How the binaries are linked, for a smaller resident footprint.
//!
//! 1. Packed relative relocations (`DT_RELR`). A position-independent
//!    executable carries one 24-byte relocation per pointer in its
//!    read-only data (vtables, string tables): 1.7 MB for `custos`, read
//!    once by the loader at every start and resident from then on. Packed,
//!    the same relocations take a few kilobytes. glibc ≥ 2.36 and
//!    binutils ≥ 2.38 (or lld) understand them.
//! 2. Release builds of `custos` only: the functions that run while a site
//!    records and serves live view, listed in `link-order.txt`, are laid
//!    out together at the start of `.text` (lld's `--symbol-ordering-file`;
//!    the Rust toolchain ships lld as `rust-lld`). The kernel maps a
//!    binary's code in 64 KiB windows around each page first touched, and
//!    those 2.8 MB of functions were spread over nearly every window of the
//!    11 MB of code: about 9 MB of it resident at 16 cameras, 3 MB once
//!    ordered (docs/benchmarks.md). `scripts/link-order.sh` regenerates the
//!    list; names it lists that no longer exist are skipped, so a stale
//!    list costs memory, never the build.
//!
//! A flag the toolchain cannot use is left out with a cargo warning rather
//! than failing the build.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PACK_RELOCATIONS: &str = "-Wl,-z,pack-relative-relocs";
const ORDER_FILE: &str = "link-order.txt";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={ORDER_FILE}");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.contains("linux-gnu") {
        return;
    }
    let packs_relocations = links_and_runs(&[PACK_RELOCATIONS.to_owned()]);
    if packs_relocations {
        println!("cargo:rustc-link-arg-bins={PACK_RELOCATIONS}");
    } else {
        println!(
            "cargo:warning=the linker does not pack relative relocations ({PACK_RELOCATIONS}); \
             the binaries start with 1.7 MB more resident"
        );
    }
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        order_functions(packs_relocations);
    }
}

/// Links `custos` with lld and its function order, when lld is at hand;
/// the probe links the way `custos` will be, packed relocations or not.
fn order_functions(packs_relocations: bool) {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let order_file = Path::new(&manifest_dir).join(ORDER_FILE);
    if !order_file.is_file() {
        println!(
            "cargo:warning={} is missing: custos is linked without its function order",
            order_file.display()
        );
        return;
    }
    let mut flags = vec!["-fuse-ld=lld".to_owned()];
    // rustup's toolchain has lld as `gcc-ld/ld.lld`; elsewhere an `ld.lld`
    // on the PATH may do.
    if let Some(dir) = rust_lld_dir() {
        flags.push(format!("-B{}", dir.display()));
    }
    // -Xlinker, not -Wl: a comma in the path would split it.
    flags.push("-Xlinker".to_owned());
    flags.push(format!("--symbol-ordering-file={}", order_file.display()));
    flags.push("-Wl,--no-warn-symbol-ordering".to_owned());
    let mut probe = flags.clone();
    if packs_relocations {
        probe.push(PACK_RELOCATIONS.to_owned());
    }
    if !links_and_runs(&probe) {
        println!(
            "cargo:warning=no lld to link custos with its function order ({ORDER_FILE}); \
             about 6 MB more of its code stays resident"
        );
        return;
    }
    for flag in flags {
        println!("cargo:rustc-link-arg-bin=custos={flag}");
    }
}

/// The directory holding rustup's `ld.lld` wrapper for `rust-lld`.
fn rust_lld_dir() -> Option<PathBuf> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let host = std::env::var("HOST").ok()?;
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    let sysroot = String::from_utf8(out.stdout).ok()?;
    let dir = Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(host)
        .join("bin/gcc-ld");
    dir.join("ld.lld").is_file().then_some(dir)
}

/// Whether the C compiler that links Rust binaries (`cc`) links a trivial
/// program with `flags`, and the result still runs (the C library must
/// resolve packed relocations too).
fn links_and_runs(flags: &[String]) -> bool {
    let Ok(out_dir) = std::env::var("OUT_DIR") else {
        return false;
    };
    let program = Path::new(&out_dir).join("link-probe");
    let _ = std::fs::remove_file(&program);
    let Ok(mut cc) = Command::new("cc")
        .args(["-x", "c", "-", "-o"])
        .arg(&program)
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    if let Some(mut stdin) = cc.stdin.take() {
        // A pointer in data, so the probe has a relative relocation to pack.
        let source = b"static const char *p = \"x\"; int main(void) { return p[0] != 'x'; }\n";
        if stdin.write_all(source).is_err() {
            return false;
        }
    }
    let linked = cc.wait().map(|s| s.success()).unwrap_or(false);
    linked
        && Command::new(&program)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
}
