//! Witnesses of the site's log: the keys pinned for them, and the
//! cosignatures they returned for the site's checkpoints.

use rusqlite::{params, OptionalExtension, Row};

use crate::error::{Context, Result, StoreError};
use crate::log::StoredCheckpoint;
use crate::{Store, WriteTx};

/// How a witness's key came to be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinnedBy {
    /// Answered by the central office when the site enrolled.
    Central,
    /// Given in the configuration file (`[[witness]]`).
    Config,
}

impl PinnedBy {
    fn as_str(self) -> &'static str {
        match self {
            PinnedBy::Central => "central",
            PinnedBy::Config => "config",
        }
    }

    fn parse(s: &str) -> Option<PinnedBy> {
        match s {
            "central" => Some(PinnedBy::Central),
            "config" => Some(PinnedBy::Config),
            _ => None,
        }
    }
}

/// A witness to pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWitness {
    /// `central`, or the `[[witness]]` table's name.
    pub name: String,
    /// The witness's key string (`name+hexid+base64`).
    pub key: String,
    /// The URL prefix `add-checkpoint` is sent under.
    pub url: String,
    /// How it is pinned.
    pub pinned_by: PinnedBy,
    /// For the central office: its URL and the site's name there.
    pub central: Option<(String, String)>,
    /// The SHA-256 fingerprint (hex) of the TLS certificate it is trusted
    /// by, when pinned.
    pub tls_fingerprint: Option<String>,
}

/// A pinned witness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    /// `central`, or the `[[witness]]` table's name.
    pub name: String,
    /// The pinned key string.
    pub key: String,
    /// The URL prefix `add-checkpoint` is sent under.
    pub url: String,
    /// How it is pinned.
    pub pinned_by: PinnedBy,
    /// When it was pinned, or its key or URL last changed.
    pub pinned_ms: i64,
    /// For the central office: its URL and the site's name there.
    pub central: Option<(String, String)>,
    /// The largest checkpoint its key co-signed (0: none).
    pub cosigned_size: u64,
    /// The SHA-256 fingerprint (hex) of the TLS certificate it is trusted
    /// by, when pinned.
    pub tls_fingerprint: Option<String>,
}

/// A witness's cosignature of one checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// The witness key, `name+hexid`.
    pub witness_key: String,
    /// The cosignature line(s), each ending in a newline.
    pub line: String,
    /// The cosignature's time, seconds since the Unix epoch.
    pub timestamp: u64,
    /// When the site received it.
    pub received_ms: i64,
}

const WITNESS_COLUMNS: &str =
    "name, key, url, pinned_by, pinned_ms, central_url, central_site, cosigned_size, tls_fingerprint";

fn witness_from_row(r: &Row<'_>) -> rusqlite::Result<Witness> {
    let pinned_by: String = r.get(3)?;
    let central_url: Option<String> = r.get(5)?;
    let central_site: Option<String> = r.get(6)?;
    Ok(Witness {
        name: r.get(0)?,
        key: r.get(1)?,
        url: r.get(2)?,
        // The column's CHECK admits only the two values.
        pinned_by: PinnedBy::parse(&pinned_by).unwrap_or(PinnedBy::Config),
        pinned_ms: r.get(4)?,
        central: central_url.zip(central_site),
        cosigned_size: r.get::<_, i64>(7)?.max(0) as u64,
        tls_fingerprint: r.get(8)?,
    })
}

fn size_param(size: u64, what: &str) -> Result<i64> {
    i64::try_from(size)
        .map_err(|_| StoreError::InvalidArgument(format!("{what} {size} is too large")))
}

impl WriteTx<'_> {
    /// Pins `w`, replacing a witness of the same name: a new key starts
    /// again from nothing co-signed.
    pub fn pin_witness(&mut self, w: &NewWitness, now_ms: i64) -> Result<()> {
        let (central_url, central_site) = w.central.clone().unzip();
        self.write_in_tx(|c| {
            c.execute(
                "INSERT INTO witnesses (name, key, url, pinned_by, pinned_ms, central_url, central_site, tls_fingerprint) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (name) DO UPDATE SET \
                   cosigned_size = CASE WHEN key = excluded.key THEN cosigned_size ELSE 0 END, \
                   pinned_ms = CASE WHEN key = excluded.key AND url = excluded.url \
                               THEN pinned_ms ELSE excluded.pinned_ms END, \
                   key = excluded.key, url = excluded.url, pinned_by = excluded.pinned_by, \
                   central_url = excluded.central_url, central_site = excluded.central_site, \
                   tls_fingerprint = excluded.tls_fingerprint",
                params![
                    w.name,
                    w.key,
                    w.url,
                    w.pinned_by.as_str(),
                    now_ms,
                    central_url,
                    central_site,
                    w.tls_fingerprint
                ],
            )
        })
        .context(|| format!("pinning witness {:?}", w.name))?;
        Ok(())
    }
}

impl Store {
    /// Replaces the TLS fingerprints witness `name` is trusted by (the
    /// central office names its next certificate before it rolls over),
    /// logging `entry` (the change's log entry) in the same transaction.
    pub fn set_witness_tls(
        &self,
        name: &str,
        fingerprints: Option<&str>,
        entry: Vec<u8>,
    ) -> Result<()> {
        self.write("pinning the central office's certificates", |tx| {
            let changed = tx
                .conn()
                .execute(
                    "UPDATE witnesses SET tls_fingerprint = ?2 WHERE name = ?1",
                    params![name, fingerprints],
                )
                .context(|| format!("pinning witness {name:?}'s certificates"))?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!("witness {name:?}")));
            }
            tx.log(entry);
            Ok(())
        })
    }

    /// Every pinned witness, by name.
    pub fn witnesses(&self) -> Result<Vec<Witness>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {WITNESS_COLUMNS} FROM witnesses ORDER BY name"
            ))
            .context(|| "preparing the witness query".to_owned())?;
        let rows = stmt
            .query_map([], witness_from_row)
            .context(|| "reading the witnesses".to_owned())?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| "reading the witnesses".to_owned())
    }

    /// The witness called `name`, if pinned.
    pub fn witness(&self, name: &str) -> Result<Option<Witness>> {
        self.conn
            .query_row(
                &format!("SELECT {WITNESS_COLUMNS} FROM witnesses WHERE name = ?1"),
                [name],
                witness_from_row,
            )
            .optional()
            .context(|| format!("reading witness {name:?}"))
    }

    /// Makes the witnesses pinned by the configuration exactly `witnesses`
    /// (all of them [`PinnedBy::Config`]): new ones are pinned, changed ones
    /// updated, ones no longer configured unpinned. Their cosignatures stay.
    pub fn sync_config_witnesses(&self, witnesses: &[NewWitness], now_ms: i64) -> Result<()> {
        self.write("pinning the configured witnesses", |tx| {
            let names: Vec<&str> = witnesses.iter().map(|w| w.name.as_str()).collect();
            let configured: Vec<String> = {
                let mut stmt = tx
                    .conn()
                    .prepare("SELECT name FROM witnesses WHERE pinned_by = 'config'")
                    .context(|| "reading the configured witnesses".to_owned())?;
                let rows = stmt
                    .query_map([], |r| r.get(0))
                    .context(|| "reading the configured witnesses".to_owned())?;
                rows.collect::<rusqlite::Result<_>>()
                    .context(|| "reading the configured witnesses".to_owned())?
            };
            for gone in configured.iter().filter(|n| !names.contains(&n.as_str())) {
                tx.conn()
                    .execute("DELETE FROM witnesses WHERE name = ?1", [gone])
                    .context(|| format!("unpinning witness {gone:?}"))?;
            }
            for w in witnesses {
                if w.pinned_by != PinnedBy::Config {
                    return Err(StoreError::InvalidArgument(format!(
                        "witness {:?} is not one of the configuration's",
                        w.name
                    )));
                }
                let central = tx
                    .conn()
                    .query_row(
                        "SELECT 1 FROM witnesses WHERE name = ?1 AND pinned_by = 'central'",
                        [&w.name],
                        |_| Ok(()),
                    )
                    .optional()
                    .context(|| format!("reading witness {:?}", w.name))?;
                if central.is_some() {
                    return Err(StoreError::Conflict(format!(
                        "witness {:?} is the central office's, pinned at enrolment",
                        w.name
                    )));
                }
                tx.pin_witness(w, now_ms)?;
            }
            Ok(())
        })
    }

    /// Keeps witness `witness`'s cosignature of a stored checkpoint and
    /// raises the size it is known to have co-signed.
    pub fn record_cosignature(&self, witness: &str, c: &Cosignature) -> Result<()> {
        let size = size_param(c.tree_size, "tree size")?;
        let timestamp = size_param(c.timestamp, "cosignature time")?;
        self.write("keeping a cosignature", |tx| {
            tx.conn()
                .execute(
                    "INSERT OR REPLACE INTO cosignatures \
                     (tree_size, witness_key, line, timestamp, received_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![size, c.witness_key, c.line, timestamp, c.received_ms],
                )
                .context(|| {
                    format!(
                        "keeping {}'s cosignature of the checkpoint of size {}",
                        c.witness_key, c.tree_size
                    )
                })?;
            let changed = tx
                .conn()
                .execute(
                    "UPDATE witnesses SET cosigned_size = MAX(cosigned_size, ?2) WHERE name = ?1",
                    params![witness, size],
                )
                .context(|| format!("raising witness {witness:?}'s co-signed size"))?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!("witness {witness:?}")));
            }
            Ok(())
        })
    }

    /// The cosignatures kept for the checkpoint of size `tree_size`.
    pub fn cosignatures(&self, tree_size: u64) -> Result<Vec<Cosignature>> {
        let size = size_param(tree_size, "tree size")?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT tree_size, witness_key, line, timestamp, received_ms FROM cosignatures \
                 WHERE tree_size = ?1 ORDER BY witness_key",
            )
            .context(|| "preparing the cosignature query".to_owned())?;
        let rows = stmt
            .query_map([size], |r| {
                Ok(Cosignature {
                    tree_size: r.get::<_, i64>(0)?.max(0) as u64,
                    witness_key: r.get(1)?,
                    line: r.get(2)?,
                    timestamp: r.get::<_, i64>(3)?.max(0) as u64,
                    received_ms: r.get(4)?,
                })
            })
            .context(|| format!("reading the cosignatures of size {tree_size}"))?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| format!("reading the cosignatures of size {tree_size}"))
    }

    /// Among the checkpoints of at least `min_size` entries that carry
    /// cosignatures, the one co-signed by the most witnesses, the largest
    /// of those; `None` when no such checkpoint is co-signed.
    pub fn best_cosigned_checkpoint(&self, min_size: u64) -> Result<Option<StoredCheckpoint>> {
        let min = size_param(min_size, "tree size")?;
        self.conn
            .query_row(
                "SELECT c.tree_size, c.note, c.created_ms FROM checkpoints c \
                 JOIN cosignatures s ON s.tree_size = c.tree_size \
                 WHERE c.tree_size >= ?1 \
                 GROUP BY c.tree_size \
                 ORDER BY COUNT(DISTINCT s.witness_key) DESC, c.tree_size DESC LIMIT 1",
                [min],
                |r| {
                    Ok(StoredCheckpoint {
                        tree_size: r.get::<_, i64>(0)? as u64,
                        note: r.get(1)?,
                        created_ms: r.get(2)?,
                    })
                },
            )
            .optional()
            .context(|| format!("finding a co-signed checkpoint of at least {min_size} entries"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("custos.db")).expect("open");
        (dir, s)
    }

    fn configured(name: &str, key: &str) -> NewWitness {
        NewWitness {
            name: name.into(),
            key: key.into(),
            url: format!("https://{name}.example/"),
            pinned_by: PinnedBy::Config,
            central: None,
            tls_fingerprint: None,
        }
    }

    fn cosig(size: u64, key: &str) -> Cosignature {
        Cosignature {
            tree_size: size,
            witness_key: key.into(),
            line: format!("\u{2014} {key} AAAA\n"),
            timestamp: 1_000 + size,
            received_ms: 5,
        }
    }

    #[test]
    fn the_central_witness_is_pinned_with_its_enrolment_and_kept_apart_from_the_configs() {
        let (_d, s) = store();
        s.write("enrol", |tx| {
            tx.log(b"central.enrolled".to_vec());
            tx.pin_witness(
                &NewWitness {
                    name: "central".into(),
                    key: "w+01+k".into(),
                    url: "https://central.example/witness".into(),
                    pinned_by: PinnedBy::Central,
                    central: Some(("https://central.example".into(), "stacks".into())),
                    tls_fingerprint: Some("ab".repeat(32)),
                },
                7,
            )
        })
        .expect("pin");
        assert_eq!(s.outbox(10).expect("outbox").len(), 1);
        let w = s.witness("central").expect("read").expect("pinned");
        assert_eq!(w.pinned_by, PinnedBy::Central);
        assert_eq!(
            w.central,
            Some(("https://central.example".into(), "stacks".into()))
        );
        assert_eq!((w.pinned_ms, w.cosigned_size), (7, 0));
        assert_eq!(w.tls_fingerprint, Some("ab".repeat(32)));

        // The configuration neither replaces nor removes it.
        let e = s
            .sync_config_witnesses(&[configured("central", "x+02+k")], 8)
            .expect_err("reserved");
        assert_eq!(e.kind(), ErrorKind::Conflict);
        s.sync_config_witnesses(&[configured("audit", "a+03+k")], 8)
            .expect("sync");
        let names: Vec<String> = s
            .witnesses()
            .expect("all")
            .into_iter()
            .map(|w| w.name)
            .collect();
        assert_eq!(names, ["audit", "central"]);
        s.sync_config_witnesses(&[], 9).expect("none configured");
        assert_eq!(s.witnesses().expect("all").len(), 1);
    }

    #[test]
    fn cosignatures_raise_the_size_and_pick_the_checkpoint_for_a_bundle() {
        let (_d, s) = store();
        s.sync_config_witnesses(&[configured("a", "a+01+k"), configured("b", "b+02+k")], 1)
            .expect("sync");
        for size in [3, 5, 8] {
            s.insert_checkpoint(size, &format!("note {size}"), 1)
                .expect("checkpoint");
        }
        assert_eq!(s.best_cosigned_checkpoint(0).expect("q"), None);
        // Only a stored checkpoint can be co-signed.
        assert!(s.record_cosignature("a", &cosig(4, "a+01")).is_err());
        s.record_cosignature("a", &cosig(5, "a+01")).expect("a 5");
        s.record_cosignature("a", &cosig(3, "a+01")).expect("a 3");
        assert_eq!(s.witness("a").expect("q").expect("a").cosigned_size, 5);
        s.record_cosignature("b", &cosig(3, "b+02")).expect("b 3");
        // Most witnesses first, then the largest tree.
        let best = s.best_cosigned_checkpoint(0).expect("q").expect("some");
        assert_eq!(best.tree_size, 3);
        let best = s.best_cosigned_checkpoint(4).expect("q").expect("some");
        assert_eq!(best.tree_size, 5);
        assert_eq!(s.best_cosigned_checkpoint(6).expect("q"), None);
        let at3 = s.cosignatures(3).expect("q");
        assert_eq!(at3.len(), 2);
        assert_eq!(at3[0], cosig(3, "a+01"));
        // An unknown witness keeps nothing.
        let e = s
            .record_cosignature("ghost", &cosig(8, "g+09"))
            .expect_err("unknown");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(s.cosignatures(8).expect("q").is_empty());

        // A changed key starts again from nothing co-signed; the same key
        // keeps its size.
        s.sync_config_witnesses(&[configured("a", "a+01+k"), configured("b", "b+0f+k")], 2)
            .expect("resync");
        assert_eq!(s.witness("a").expect("q").expect("a").cosigned_size, 5);
        assert_eq!(s.witness("a").expect("q").expect("a").pinned_ms, 1);
        let b = s.witness("b").expect("q").expect("b");
        assert_eq!((b.cosigned_size, b.pinned_ms), (0, 2));
    }
}
