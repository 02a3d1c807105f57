//! Evidence bundles kept in the data directory for download: their ids,
//! and each bundle built, packed into one tar and renamed into place.
//!
//! A bundle is built in a hidden directory under [`DataDir::exports`],
//! packed into `<id>.tar` (whose single top-level directory is `<id>/`) and
//! the directory removed; the tar is renamed into place only when complete,
//! so a listed export is a whole one.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use custos_ledger::note::VerifierKey;
use custos_store::Store;

use crate::data_dir::DataDir;
use crate::evidence::{export_bundle, ExportError, ExportRequest, ExportSummary};

/// Why a bundle could not be made into a tar.
#[derive(Debug, thiserror::Error)]
pub enum PackedExportError {
    /// The exports directory could not be made.
    #[error("creating {}: {source}", dir.display())]
    Creating {
        /// The exports directory.
        dir: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The bundle itself failed.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The bundle could not be packed into its tar.
    #[error("packing the evidence bundle: {0}")]
    Packing(std::io::Error),
}

/// `exp-<start ms>-<16 hex digits>`: sortable by the span and unguessable.
pub fn new_export_id(start_ms: i64) -> String {
    let mut random = [0u8; 8];
    OsRng.fill_bytes(&mut random);
    format!("exp-{start_ms}-{}", hex::encode(random))
}

/// Whether `id` has the shape [`new_export_id`] gives: the only names a
/// download will open, so no path can be smuggled through it.
pub fn is_export_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("exp-") else {
        return false;
    };
    let Some((start, random)) = rest.rsplit_once('-') else {
        return false;
    };
    let start = start.strip_prefix('-').unwrap_or(start);
    !start.is_empty()
        && start.bytes().all(|b| b.is_ascii_digit())
        && random.len() == 16
        && random.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The tar of export `id`, when `id` is an export id at all.
pub fn export_tar(data_dir: &DataDir, id: &str) -> Option<PathBuf> {
    is_export_id(id).then(|| data_dir.exports().join(format!("{id}.tar")))
}

/// Builds the bundle for `req` and packs it into `<exports>/<id>.tar`;
/// returns the export's summary and the tar's size. `log_dir` is the
/// site's log; `verifier` its key.
pub fn export_tar_bundle(
    store: &Store,
    data_dir: &DataDir,
    log_dir: &Path,
    verifier: &VerifierKey,
    req: &ExportRequest<'_>,
    id: &str,
) -> Result<(ExportSummary, u64), PackedExportError> {
    let dir = data_dir.exports();
    std::fs::create_dir_all(&dir).map_err(|source| PackedExportError::Creating {
        dir: dir.clone(),
        source,
    })?;
    let work = dir.join(format!(".{id}.partial"));
    let summary = export_bundle(store, data_dir.root(), log_dir, verifier, req, &work)
        .inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&work);
        })?;
    let packed = pack(&work, &dir, id);
    let _ = std::fs::remove_dir_all(&work);
    let bytes = packed.map_err(PackedExportError::Packing)?;
    Ok((summary, bytes))
}

/// Tars `work` as `<id>/…` into `<dir>/<id>.tar`, durably.
fn pack(work: &Path, dir: &Path, id: &str) -> std::io::Result<u64> {
    let partial = dir.join(format!(".{id}.tar.partial"));
    let result = (|| {
        let file = File::create(&partial)?;
        let mut builder = tar::Builder::new(file);
        builder.follow_symlinks(false);
        builder.append_dir_all(id, work)?;
        let mut file = builder.into_inner()?;
        file.flush()?;
        file.sync_all()?;
        let bytes = file.metadata()?.len();
        std::fs::rename(&partial, dir.join(format!("{id}.tar")))?;
        File::open(dir)?.sync_all()?;
        Ok(bytes)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_ids_are_recognised_and_nothing_else() {
        let id = new_export_id(1_700_000_000_000);
        assert!(is_export_id(&id), "{id}");
        assert!(is_export_id(&new_export_id(-5)));
        for bad in [
            "",
            "exp-",
            "exp-1-",
            "exp-1-0123456789abcdeg",
            "exp-1-0123456789abcdef0",
            "exp-../0123456789abcdef",
            "../exp-1-0123456789abcdef",
            "exp-1-0123456789abcdef/../x",
            "exp-1-0123456789abcde",
        ] {
            assert!(!is_export_id(bad), "{bad:?}");
            assert_eq!(export_tar(&DataDir::new("/srv/custos"), bad), None);
        }
        assert_eq!(
            export_tar(&DataDir::new("/srv/custos"), &id),
            Some(PathBuf::from(format!("/srv/custos/exports/{id}.tar")))
        );
    }
}
