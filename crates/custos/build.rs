//! Links the binaries with packed relative relocations (`DT_RELR`) when the
//! toolchain supports them.
//!
//! A position-independent executable carries one 24-byte relocation per
//! pointer in its read-only data (vtables, string tables): 1.7 MB for
//! `custos`, read once by the loader at every start and resident from then
//! on. Packed, the same relocations take a few kilobytes. glibc ≥ 2.36 and
//! binutils ≥ 2.38 understand them; with an older linker the flag is left
//! out rather than failing the build.

use std::io::Write;
use std::process::{Command, Stdio};

const FLAG: &str = "-Wl,-z,pack-relative-relocs";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.contains("linux-gnu") {
        return;
    }
    if linker_accepts(FLAG) {
        println!("cargo:rustc-link-arg-bins={FLAG}");
    } else {
        println!("cargo:warning=the linker does not pack relative relocations ({FLAG}); the binaries start with 1.7 MB more resident");
    }
}

/// Whether the C compiler that links Rust binaries (`cc`) links a trivial
/// program with `flag`, and the result still runs (the C library must
/// resolve packed relocations too).
fn linker_accepts(flag: &str) -> bool {
    let Ok(out_dir) = std::env::var("OUT_DIR") else {
        return false;
    };
    let program = std::path::Path::new(&out_dir).join("relr-probe");
    let Ok(mut cc) = Command::new("cc")
        .args(["-x", "c", "-", "-o"])
        .arg(&program)
        .arg(flag)
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
