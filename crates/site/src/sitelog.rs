//! The site log writer: moves entries from the index's outbox into the Merkle
//! log (`<data_dir>/log/`), in order, and signs checkpoints.
//!
//! Facts and their entries are committed together in the index (the outbox);
//! this thread is the only writer of the log. Appending is batched and runs
//! on its own thread, so recording never waits for it.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::data_dir::DataDir;
use anyhow::{bail, Context};
use custos_ledger::entry::Entry;
use custos_ledger::note::{sign_checkpoint, Checkpoint, SigningKey};
use custos_ledger::storage::LogStorage;
use custos_store::{IndexedEntry, Store};

use crate::clock::now_ms;

/// How often the outbox is drained.
const DRAIN_INTERVAL: Duration = Duration::from_millis(250);
/// A grown log gets a new checkpoint at most this long after it grew.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(5);
/// Entries per append (one fsync each).
const BATCH: usize = 10_000;

/// The site's signing key, created on first use in `<data_dir>/keys/` (0600).
pub fn signing_key(data_dir: &Path, site: &str) -> anyhow::Result<SigningKey> {
    let data_dir = DataDir::new(data_dir);
    let dir = data_dir.keys();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = data_dir.signing_key();
    let (key, created) = SigningKey::load_or_create(&path, site)
        .with_context(|| format!("log signing key {}", path.display()))?;
    if created {
        tracing::info!(key = %key.verifier().to_string(), "created the site's log signing key");
    }
    Ok(key)
}

/// Handle to the log writer thread.
pub struct SiteLog {
    wake: Option<mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SiteLog {
    pub fn start(store: Store, data_dir: &Path, key: SigningKey) -> anyhow::Result<SiteLog> {
        let log_dir = DataDir::new(data_dir).log();
        let storage = LogStorage::open(&log_dir)
            .with_context(|| format!("opening the log in {}", log_dir.display()))?;
        let mut writer = Writer {
            store,
            storage,
            key,
            last_checkpoint: None,
        };
        writer.reconcile()?;
        let (wake, rx) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("site-log".into())
            .spawn(move || writer.run(rx))
            .context("starting the log writer thread")?;
        Ok(SiteLog {
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Drains the outbox, signs a final checkpoint and stops.
    pub fn shutdown(mut self) {
        self.wake.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Writer {
    store: Store,
    storage: LogStorage,
    key: SigningKey,
    last_checkpoint: Option<(u64, Instant)>,
}

impl Writer {
    /// After a crash between appending a batch and removing it from the
    /// outbox, the first outbox rows are already in the log: check that they
    /// are byte for byte, then remove them instead of appending them twice.
    fn reconcile(&mut self) -> anyhow::Result<()> {
        let applied = self.store.log_applied_size()?;
        let size = self.storage.size();
        if size < applied {
            bail!("the log holds {size} entries but the index recorded {applied}: the log was truncated");
        }
        let surplus = size - applied;
        if surplus > 0 {
            let rows = self.store.outbox(surplus as usize)?;
            if rows.len() as u64 != surplus {
                bail!("the log holds {surplus} entries the index has no record of");
            }
            for (i, row) in rows.iter().enumerate() {
                let index = applied + i as u64;
                if self.storage.entry(index)? != row.leaf {
                    bail!("log entry {index} differs from the fact the index recorded for it");
                }
            }
            if let Some(last) = rows.last() {
                let leaves: Vec<&[u8]> = rows.iter().map(|r| r.leaf.as_slice()).collect();
                self.store
                    .outbox_applied(last.id, size, &indexed(applied, &leaves))?;
            }
            tracing::info!(
                entries = surplus,
                "log entries appended before a crash were reconciled"
            );
        }
        self.backfill_index()?;
        let latest = self.store.latest_checkpoint()?;
        self.last_checkpoint = latest.map(|c| (c.tree_size, Instant::now()));
        Ok(())
    }

    /// Indexes log entries the entry index does not hold yet (a log written
    /// before the index existed); the index is derived from the log and can
    /// always be rebuilt from it.
    fn backfill_index(&mut self) -> anyhow::Result<()> {
        let size = self.storage.size();
        let mut next = self.store.log_indexed_size()?;
        if next >= size {
            return Ok(());
        }
        let from = next;
        while next < size {
            let end = (next + BATCH as u64).min(size);
            let mut leaves = Vec::with_capacity((end - next) as usize);
            for index in next..end {
                leaves.push(self.storage.entry(index)?);
            }
            let refs: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
            self.store.index_log_entries(&indexed(next, &refs))?;
            next = end;
        }
        tracing::info!(from, to = size, "indexed log entries");
        Ok(())
    }

    fn run(mut self, wake: mpsc::Receiver<()>) {
        loop {
            let open = !matches!(
                wake.recv_timeout(DRAIN_INTERVAL),
                Err(mpsc::RecvTimeoutError::Disconnected)
            );
            if let Err(e) = self.drain() {
                tracing::error!("appending to the log: {e:#}");
            }
            if let Err(e) = self.checkpoint(!open) {
                tracing::error!("signing a checkpoint: {e:#}");
            }
            if !open {
                return;
            }
        }
    }

    fn drain(&mut self) -> anyhow::Result<()> {
        loop {
            let rows = self.store.outbox(BATCH)?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            let first = self.storage.size();
            let leaves: Vec<&[u8]> = rows.iter().map(|r| r.leaf.as_slice()).collect();
            self.storage.append_batch(&leaves)?;
            self.store
                .outbox_applied(last.id, self.storage.size(), &indexed(first, &leaves))?;
            if rows.len() < BATCH {
                return Ok(());
            }
        }
    }

    /// Signs a checkpoint when the log has grown and the last one is older
    /// than [`CHECKPOINT_INTERVAL`] (or at once when `now` is set).
    fn checkpoint(&mut self, now: bool) -> anyhow::Result<()> {
        let size = self.storage.size();
        let due = match self.last_checkpoint {
            None => size > 0,
            Some((signed, at)) => size > signed && (now || at.elapsed() >= CHECKPOINT_INTERVAL),
        };
        if !due {
            return Ok(());
        }
        sign_and_store(&self.store, &self.storage, &self.key, size)?;
        self.last_checkpoint = Some((size, Instant::now()));
        Ok(())
    }
}

/// What the index keeps about `leaves`, the entries at `first`, `first + 1`, …
fn indexed(first: u64, leaves: &[&[u8]]) -> Vec<IndexedEntry> {
    leaves
        .iter()
        .enumerate()
        .map(|(i, leaf)| {
            let index = first + i as u64;
            match Entry::from_leaf_bytes(leaf) {
                Ok(entry) => IndexedEntry {
                    index,
                    camera: entry.str_field("camera").map(str::to_owned),
                    path: entry.str_field("path").map(str::to_owned),
                    at_ms: entry.int_field("at_ms"),
                    kind: entry.kind,
                    time_ms: entry.time_ms,
                },
                // Only canonical entries are ever queued; should one not be,
                // it is still indexed, under a kind no query asks for.
                Err(_) => IndexedEntry {
                    index,
                    kind: "(not canonical)".into(),
                    time_ms: 0,
                    camera: None,
                    path: None,
                    at_ms: None,
                },
            }
        })
        .collect()
}

/// Signs the checkpoint for `size` entries and keeps it in the index.
pub fn sign_and_store(
    store: &Store,
    storage: &LogStorage,
    key: &SigningKey,
    size: u64,
) -> anyhow::Result<String> {
    let root = storage.root(size)?;
    let checkpoint = Checkpoint {
        origin: key.verifier().name().to_owned(),
        size,
        root,
    };
    let note = sign_checkpoint(&checkpoint, key);
    store.insert_checkpoint(size, &note, now_ms())?;
    Ok(note)
}
