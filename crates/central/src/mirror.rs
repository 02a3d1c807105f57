//! The centre's mirror of each site's log, and what it reads in it.
//!
//! A site sends its log entries in order, in signed batches
//! (`custos_report::entries`), never beyond the latest checkpoint the
//! centre co-signed. The centre appends each entry's hash to the mirrored
//! tree's right edge (`ledger::merkle::Frontier`) and, at every size it
//! co-signed, checks that the mirrored tree has that checkpoint's root. So
//! every row the centre holds is proven against the site's witnessed log:
//! a batch that does not hash to a co-signed root is refused whole, kept,
//! raises `site.log_rewritten` and suspends the site, as a rewritten
//! checkpoint does.
//!
//! From the entries the centre keeps the sites' alerts with their history
//! and their custody events, each row with the log index it comes from.

use custos_ledger::entry::Entry;
use custos_ledger::merkle::{leaf_hash, Frontier, Hash};
use custos_ledger::note::VerifierKey;
use deadpool_postgres::Pool;
use tokio_postgres::Transaction;

use crate::alerts::{self, LOG_REWRITTEN};
use crate::{now_ms, CentralError};

/// The answer to a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The body: the mirror's size after the batch (200), the size it
    /// expects the next batch at (409), or why not.
    pub body: String,
}

fn answer(status: u16, body: impl Into<String>) -> BatchAnswer {
    BatchAnswer {
        status,
        body: body.into(),
    }
}

struct MirrorState {
    site_id: i64,
    name: String,
    key: VerifierKey,
    epoch: i32,
    suspended: bool,
    frontier: Frontier,
    cosigned: u64,
}

/// Takes the signed batch `note` into the mirror of its site.
pub async fn accept(pool: &Pool, note: &str) -> Result<BatchAnswer, CentralError> {
    let (origin, _) = match custos_report::entries::peek(note) {
        Ok(p) => p,
        Err(e) => return Ok(answer(400, format!("{e}\n"))),
    };
    let mut client = pool.get().await?;
    let tx = client
        .transaction()
        .await
        .map_err(CentralError::db("starting a mirror transaction"))?;
    let Some(state) = mirror_state(&tx, origin).await? else {
        return Ok(answer(
            404,
            format!("no site with the log origin {origin:?} is enrolled\n"),
        ));
    };
    let (first, leaves) = match custos_report::entries::open(note, &state.key) {
        Ok(b) => b,
        Err(e) => return Ok(answer(403, format!("{e}\n"))),
    };
    if state.suspended {
        return Ok(answer(
            403,
            format!(
                "the site {:?} is suspended until an auditor acts\n",
                state.name
            ),
        ));
    }
    if first != state.frontier.size() {
        return Ok(answer(409, format!("{}\n", state.frontier.size())));
    }
    let end = first + leaves.len() as u64;
    if end > state.cosigned {
        return Ok(answer(
            400,
            format!(
                "entries up to {end} go beyond the latest checkpoint co-signed ({}); have it co-signed first\n",
                state.cosigned
            ),
        ));
    }
    let checkpoints = cosigned_roots(&tx, &state, first, end).await?;
    let mut frontier = state.frontier.clone();
    let mut verified = None;
    for leaf in &leaves {
        frontier.push(leaf_hash(leaf));
        if let Some((_, root)) = checkpoints
            .iter()
            .find(|(size, _)| *size == frontier.size())
        {
            if frontier.root() != *root {
                let reason = format!(
                    "the entries the site sent do not hash to the root the centre co-signed at size {}",
                    frontier.size()
                );
                refuse(&tx, &state, &reason, note).await?;
                tx.commit()
                    .await
                    .map_err(CentralError::db("committing a refusal"))?;
                return Ok(answer(422, format!("{reason}\n")));
            }
            verified = Some(frontier.size());
        }
    }
    let mut backlog = Backlog::default();
    for (i, leaf) in leaves.iter().enumerate() {
        let index = first + i as u64;
        store_entry(&tx, &state, index, leaf, &mut backlog).await?;
    }
    backlog.announce(&tx, &state).await?;
    let verified = verified.map_or(0, |v| i64::try_from(v).unwrap_or(i64::MAX));
    tx.execute(
        "UPDATE sites SET mirror_frontier = $2, mirror_verified = GREATEST(mirror_verified, $3)
         WHERE id = $1",
        &[&state.site_id, &frontier.to_bytes(), &verified],
    )
    .await
    .map_err(CentralError::db("advancing the mirror"))?;
    tx.commit()
        .await
        .map_err(CentralError::db("committing a batch of entries"))?;
    Ok(answer(200, format!("{end}\n")))
}

async fn mirror_state(
    tx: &Transaction<'_>,
    origin: &str,
) -> Result<Option<MirrorState>, CentralError> {
    let Some(row) = tx
        .query_opt(
            "SELECT s.id, s.name, s.log_key, s.witness_epoch, s.suspended_ms IS NOT NULL,
                    s.mirror_frontier, COALESCE(w.size, 0)
             FROM sites s LEFT JOIN witness_latest w ON w.site_id = s.id
             WHERE s.origin = $1 FOR UPDATE OF s",
            &[&origin],
        )
        .await
        .map_err(CentralError::db("looking up a mirror"))?
    else {
        return Ok(None);
    };
    let name: String = row.get(1);
    let key_text: String = row.get(2);
    let key = crate::sites::pinned_key(&name, &key_text)?;
    let frontier = match row.get::<_, Option<Vec<u8>>>(5) {
        None => Frontier::new(),
        Some(bytes) => Frontier::from_bytes(&bytes).ok_or_else(|| {
            CentralError::Invalid(format!(
                "site {name:?}: the stored mirror frontier is damaged"
            ))
        })?,
    };
    Ok(Some(MirrorState {
        site_id: row.get(0),
        name,
        key,
        epoch: row.get(3),
        suspended: row.get(4),
        frontier,
        cosigned: u64::try_from(row.get::<_, i64>(6)).unwrap_or(0),
    }))
}

/// The co-signed checkpoints of the site with sizes in `(first, end]`.
async fn cosigned_roots(
    tx: &Transaction<'_>,
    state: &MirrorState,
    first: u64,
    end: u64,
) -> Result<Vec<(u64, Hash)>, CentralError> {
    let rows = tx
        .query(
            "SELECT size, root FROM witness_checkpoints
             WHERE site_id = $1 AND epoch = $2 AND size > $3 AND size <= $4",
            &[
                &state.site_id,
                &state.epoch,
                &i64::try_from(first).unwrap_or(i64::MAX),
                &i64::try_from(end).unwrap_or(i64::MAX),
            ],
        )
        .await
        .map_err(CentralError::db("reading co-signed roots"))?;
    rows.iter()
        .map(|r| {
            let size = u64::try_from(r.get::<_, i64>(0)).unwrap_or(0);
            let root: Vec<u8> = r.get(1);
            let root = <Hash>::try_from(root.as_slice())
                .map_err(|_| CentralError::Invalid("a stored root is not 32 bytes".to_owned()))?;
            Ok((size, root))
        })
        .collect()
}

async fn refuse(
    tx: &Transaction<'_>,
    state: &MirrorState,
    reason: &str,
    request: &str,
) -> Result<(), CentralError> {
    let now = now_ms();
    tx.execute(
        "INSERT INTO witness_refusals (site_id, received_ms, status, reason, request)
         VALUES ($1, $2, 422, $3, $4)",
        &[&state.site_id, &now, &reason, &request],
    )
    .await
    .map_err(CentralError::db("keeping a refused batch"))?;
    tx.execute(
        "UPDATE sites SET suspended_ms = $2, suspended_reason = $3 WHERE id = $1",
        &[&state.site_id, &now, &reason],
    )
    .await
    .map_err(CentralError::db("suspending a site"))?;
    alerts::raise(tx, state.site_id, LOG_REWRITTEN, reason).await?;
    tracing::error!(site = %state.name, "{reason}");
    Ok(())
}

/// Stores one entry and what the centre reads in it.
/// An alert raised longer than this before it reaches the centre comes
/// from a site's backlog (it could not reach the centre for a while).
pub const FRESH_FOR_MS: i64 = 60 * 60 * 1000;
/// How many of a backlog's alerts its one message lists.
const BACKLOG_LISTED: usize = 20;

/// A batch's alerts from the site's backlog: told in one message rather
/// than one each, so a week's catch-up does not flood the people on duty
/// (the alerts themselves are all at the centre, open until resolved).
#[derive(Default)]
struct Backlog {
    count: usize,
    alerts: Vec<serde_json::Value>,
    oldest_ms: Option<i64>,
    newest_ms: Option<i64>,
}

impl Backlog {
    fn add(&mut self, alert: i64, kind: &str, summary: &str, raised_ms: i64) {
        if self.alerts.len() < BACKLOG_LISTED {
            self.alerts.push(serde_json::json!({
                "alert": alert, "kind": kind, "summary": summary, "raised_ms": raised_ms,
            }));
        }
        self.oldest_ms = Some(self.oldest_ms.map_or(raised_ms, |t| t.min(raised_ms)));
        self.newest_ms = Some(self.newest_ms.map_or(raised_ms, |t| t.max(raised_ms)));
        self.count += 1;
    }

    async fn announce(
        &self,
        tx: &Transaction<'_>,
        state: &MirrorState,
    ) -> Result<(), CentralError> {
        if self.count == 0 {
            return Ok(());
        }
        crate::notify::enqueue(
            tx,
            state.site_id,
            &format!(
                "{} alert{} from the site's backlog, raised while it could not reach the centre",
                self.count,
                if self.count == 1 { "" } else { "s" }
            ),
            &serde_json::json!({
                "from": "site",
                "backlog": self.count,
                "oldest_ms": self.oldest_ms,
                "newest_ms": self.newest_ms,
                "alerts": self.alerts,
            }),
        )
        .await
    }
}

async fn store_entry(
    tx: &Transaction<'_>,
    state: &MirrorState,
    index: u64,
    leaf: &[u8],
    backlog: &mut Backlog,
) -> Result<(), CentralError> {
    let idx = i64::try_from(index).unwrap_or(i64::MAX);
    let entry = Entry::from_leaf_bytes(leaf).ok();
    let (kind, time_ms) = entry
        .as_ref()
        .map_or(("(not canonical)", 0), |e| (e.kind.as_str(), e.time_ms));
    tx.execute(
        "INSERT INTO site_entries (site_id, epoch, idx, kind, time_ms, leaf)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[&state.site_id, &state.epoch, &idx, &kind, &time_ms, &leaf],
    )
    .await
    .map_err(CentralError::db("storing an entry"))?;
    let Some(entry) = entry else {
        return Ok(());
    };
    let text = |k: &str| entry.str_field(k).map(str::to_owned);
    let int = |k: &str| entry.int_field(k);
    let flag = |k: &str| {
        entry
            .fields
            .get(k)
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    };
    match entry.kind.as_str() {
        "alert.raised" => {
            let Some(alert) = int("alert") else {
                return Ok(());
            };
            let inserted = tx
                .execute(
                    "INSERT INTO site_alerts (site_id, epoch, alert, kind, summary, camera, state,
                                          raised_ms, updated_ms, log_index, subject, barcode)
                 VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $7, $8, $9, $10)
                 ON CONFLICT (site_id, epoch, alert) DO NOTHING",
                    &[
                        &state.site_id,
                        &state.epoch,
                        &alert,
                        &text("kind").unwrap_or_default(),
                        &text("summary").unwrap_or_default(),
                        &text("camera"),
                        &entry.time_ms,
                        &idx,
                        &text("subject"),
                        &text("barcode"),
                    ],
                )
                .await
                .map_err(CentralError::db("storing a site alert"))?;
            let (kind, summary) = (
                text("kind").unwrap_or_default(),
                text("summary").unwrap_or_default(),
            );
            if inserted == 1 && now_ms() - entry.time_ms > FRESH_FOR_MS {
                backlog.add(alert, &kind, &summary, entry.time_ms);
            } else if inserted == 1 {
                crate::notify::enqueue(
                    tx,
                    state.site_id,
                    &format!("{kind} at the site (open): {summary}"),
                    &serde_json::json!({
                        "from": "site",
                        "alert": alert,
                        "kind": kind,
                        "state": "open",
                        "detail": summary,
                        "camera": text("camera"),
                        "log_index": idx,
                    }),
                )
                .await?;
            }
            alert_change(tx, state, alert, idx, entry.time_ms, "open", "custos", None).await?;
        }
        "alert.changed" => {
            let Some(alert) = int("alert") else {
                return Ok(());
            };
            let new_state = text("state").unwrap_or_default();
            tx.execute(
                "UPDATE site_alerts SET state = $4, updated_ms = $5, log_index = $6
                 WHERE site_id = $1 AND epoch = $2 AND alert = $3",
                &[
                    &state.site_id,
                    &state.epoch,
                    &alert,
                    &new_state,
                    &entry.time_ms,
                    &idx,
                ],
            )
            .await
            .map_err(CentralError::db("changing a site alert"))?;
            alert_change(
                tx,
                state,
                alert,
                idx,
                entry.time_ms,
                &new_state,
                &text("by").unwrap_or_default(),
                text("note"),
            )
            .await?;
        }
        "alert.updated" => {
            let Some(alert) = int("alert") else {
                return Ok(());
            };
            tx.execute(
                "UPDATE site_alerts SET summary = $4, updated_ms = $5, log_index = $6
                 WHERE site_id = $1 AND epoch = $2 AND alert = $3",
                &[
                    &state.site_id,
                    &state.epoch,
                    &alert,
                    &text("summary").unwrap_or_default(),
                    &entry.time_ms,
                    &idx,
                ],
            )
            .await
            .map_err(CentralError::db("updating a site alert"))?;
        }
        "custody.event" => {
            let cameras = entry
                .fields
                .get("cameras")
                .map_or_else(|| "[]".to_owned(), ToString::to_string);
            tx.execute(
                "INSERT INTO site_custody (site_id, epoch, log_index, event, barcode, action, at_ms,
                                           by_whom, person, holder, location, cameras)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &[
                    &state.site_id,
                    &state.epoch,
                    &idx,
                    &int("event").unwrap_or(0),
                    &text("barcode").unwrap_or_default(),
                    &text("action").unwrap_or_default(),
                    &int("at_ms").unwrap_or(entry.time_ms),
                    &text("by").unwrap_or_default(),
                    &text("person"),
                    &text("holder"),
                    &text("location"),
                    &cameras,
                ],
            )
            .await
            .map_err(CentralError::db("storing a custody event"))?;
        }
        "register.item" => {
            let Some(barcode) = text("barcode") else {
                return Ok(());
            };
            tx.execute(
                "INSERT INTO site_items (site_id, epoch, barcode, title, reference, home_location,
                                         location, status, holder, log_index)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (site_id, epoch, barcode) DO UPDATE SET
                     title = $4, reference = $5, home_location = $6, location = $7,
                     status = $8, holder = $9, log_index = $10",
                &[
                    &state.site_id,
                    &state.epoch,
                    &barcode,
                    &text("title").unwrap_or_default(),
                    &text("reference"),
                    &text("home_location"),
                    &text("location"),
                    &text("status"),
                    &text("holder"),
                    &idx,
                ],
            )
            .await
            .map_err(CentralError::db("storing a register item"))?;
        }
        "register.person" => {
            let Some(staff_id) = text("staff_id") else {
                return Ok(());
            };
            tx.execute(
                "INSERT INTO site_people (site_id, epoch, staff_id, name, role, retired, log_index)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (site_id, epoch, staff_id) DO UPDATE SET
                     name = $4, role = $5, retired = $6, log_index = $7",
                &[
                    &state.site_id,
                    &state.epoch,
                    &staff_id,
                    &text("name").unwrap_or_default(),
                    &text("role"),
                    &flag("retired"),
                    &idx,
                ],
            )
            .await
            .map_err(CentralError::db("storing a register person"))?;
        }
        "register.location" => {
            let Some(code) = text("code") else {
                return Ok(());
            };
            tx.execute(
                "INSERT INTO site_locations (site_id, epoch, code, name, kind, room, retired, log_index)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (site_id, epoch, code) DO UPDATE SET
                     name = $4, kind = $5, room = $6, retired = $7, log_index = $8",
                &[
                    &state.site_id,
                    &state.epoch,
                    &code,
                    &text("name").unwrap_or_default(),
                    &text("kind"),
                    &text("room"),
                    &flag("retired"),
                    &idx,
                ],
            )
            .await
            .map_err(CentralError::db("storing a register location"))?;
        }
        _ => {}
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn alert_change(
    tx: &Transaction<'_>,
    state: &MirrorState,
    alert: i64,
    idx: i64,
    at_ms: i64,
    new_state: &str,
    by: &str,
    note: Option<String>,
) -> Result<(), CentralError> {
    tx.execute(
        "INSERT INTO site_alert_changes (site_id, epoch, alert, log_index, at_ms, state, by_whom, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[&state.site_id, &state.epoch, &alert, &idx, &at_ms, &new_state, &by, &note],
    )
    .await
    .map_err(CentralError::db("storing a site alert's change"))?;
    Ok(())
}

/// How far the centre's mirror of site `name` goes: its size and the
/// largest size proven against a co-signed checkpoint.
pub async fn mirror_size(pool: &Pool, name: &str) -> Result<(u64, u64), CentralError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT mirror_frontier, mirror_verified FROM sites WHERE name = $1",
            &[&name],
        )
        .await
        .map_err(CentralError::db("reading a mirror"))?
        .ok_or_else(|| CentralError::NoSuchSite(name.to_owned()))?;
    let size = row
        .get::<_, Option<Vec<u8>>>(0)
        .and_then(|b| Frontier::from_bytes(&b))
        .map_or(0, |f| f.size());
    Ok((size, u64::try_from(row.get::<_, i64>(1)).unwrap_or(0)))
}
