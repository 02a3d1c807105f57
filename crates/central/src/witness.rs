//! The witness (<https://c2sp.org/tlog-witness>) on PostgreSQL: judges a
//! site's new checkpoint with [`custos_ledger::witness`] and records the
//! outcome in the same transaction as it read the state it judged against.
//!
//! Beyond the protocol, the centre keeps what proves a rewrite: a checkpoint
//! signed by the site's key that does not extend what was co-signed (422),
//! or one whose size the centre co-signed before with another root, is kept
//! as evidence, raises `site.log_rewritten` and suspends co-signing until an
//! auditor acts. A checkpoint signed under the site's name by a key the
//! centre does not know is kept and raises the alert too, but does not
//! suspend: anyone can send one, so it proves nothing by itself.

use custos_ledger::cosignature::CosigningKey;
use custos_ledger::note::{open_checkpoint_with_extensions, Checkpoint, VerifierKey};
use custos_ledger::witness::{add_checkpoint, parse_add_checkpoint, Refusal};
use deadpool_postgres::Pool;
use tokio_postgres::Transaction;

use crate::alerts::{self, LOG_REWRITTEN};
use crate::{now_ms, CentralError};

/// A refusal's evidence is kept at most once a minute per site and status,
/// so a flood of forged requests cannot fill the database.
const EVIDENCE_INTERVAL_MS: i64 = 60_000;

/// The witness's answer to one `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The content type of the body.
    pub content_type: &'static str,
    /// The body: the cosignature line, the latest size, or why not.
    pub body: String,
}

impl Answer {
    fn cosigned(line: String) -> Answer {
        Answer {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: line,
        }
    }

    fn refused(refusal: &Refusal) -> Answer {
        match refusal {
            Refusal::Conflict { latest, .. } => Answer {
                status: 409,
                content_type: "text/x.tlog.size",
                body: format!("{latest}\n"),
            },
            other => Answer {
                status: other.http_status(),
                content_type: "text/plain; charset=utf-8",
                body: format!("{other}\n"),
            },
        }
    }
}

/// The site a checkpoint's origin belongs to, as locked for the judgement.
struct KnownSite {
    id: i64,
    name: String,
    key: VerifierKey,
    suspended: Option<String>,
    epoch: i32,
    latest: Option<Checkpoint>,
}

/// Answers an `add-checkpoint` request `body` as `witness`.
///
/// The common case, a checkpoint that extends the latest co-signed, takes
/// one read and one compare-and-swap statement; everything else (a
/// refusal to keep, a conflict to look into) is judged again under the
/// site's row lock in [`add_locked`].
pub async fn add(pool: &Pool, witness: &CosigningKey, body: &str) -> Result<Answer, CentralError> {
    let request = match parse_add_checkpoint(body) {
        Ok(r) => r,
        Err(refusal) => return Ok(Answer::refused(&refusal)),
    };
    let origin = request.note.split('\n').next().unwrap_or_default();
    let client = pool.get().await?;
    // Statements of the common case are prepared once per connection.
    let lookup = client
        .prepare_cached(SITE_BY_ORIGIN)
        .await
        .map_err(CentralError::db("preparing the origin lookup"))?;
    let row = client
        .query_opt(&lookup, &[&origin])
        .await
        .map_err(CentralError::db("looking up a log origin"))?;
    let Some(site) = row.map(|r| site_from_row(&r, origin)).transpose()? else {
        return Ok(Answer::refused(&Refusal::UnknownOrigin {
            origin: origin.to_owned(),
        }));
    };
    if site.suspended.is_some() {
        drop(client);
        return add_locked(pool, witness, body, &request).await;
    }
    match judge(&request, &site, witness) {
        Ok(cosigned) => {
            let size = to_i64(cosigned.checkpoint.size)?;
            let old = to_i64(request.old_size)?;
            let root = cosigned.checkpoint.root.to_vec();
            let note = format!("{}{}", request.note, cosigned.line);
            let now = now_ms();
            // The compare-and-swap the protocol asks for: the state moves
            // only from the size judged against, only while the site is
            // not suspended and its history is the one judged.
            let advance = if site.latest.is_some() {
                "WITH advanced AS (
                     UPDATE witness_latest w SET size = $2, root = $3, cosigned_ms = $4
                     FROM sites s
                     WHERE w.site_id = $1 AND w.size = $5 AND s.id = $1
                       AND s.suspended_ms IS NULL AND s.witness_epoch = $6
                     RETURNING w.site_id)
                 INSERT INTO witness_checkpoints (site_id, epoch, size, root, note, cosigned_ms)
                 SELECT site_id, $6, $2, $3, $7, $4 FROM advanced
                 ON CONFLICT (site_id, epoch, size)
                 DO UPDATE SET note = EXCLUDED.note, cosigned_ms = EXCLUDED.cosigned_ms"
            } else {
                "WITH advanced AS (
                     INSERT INTO witness_latest (site_id, size, root, cosigned_ms)
                     SELECT $1, $2, $3, $4 FROM sites s
                     WHERE s.id = $1 AND s.suspended_ms IS NULL AND s.witness_epoch = $6
                       AND $5::BIGINT = 0
                     ON CONFLICT (site_id) DO NOTHING
                     RETURNING site_id)
                 INSERT INTO witness_checkpoints (site_id, epoch, size, root, note, cosigned_ms)
                 SELECT site_id, $6, $2, $3, $7, $4 FROM advanced
                 ON CONFLICT (site_id, epoch, size)
                 DO UPDATE SET note = EXCLUDED.note, cosigned_ms = EXCLUDED.cosigned_ms"
            };
            let advance = client
                .prepare_cached(advance)
                .await
                .map_err(CentralError::db("preparing the witness update"))?;
            let advanced = client
                .execute(
                    &advance,
                    &[&site.id, &size, &root, &now, &old, &site.epoch, &note],
                )
                .await
                .map_err(CentralError::db("advancing the witness state"))?;
            if advanced == 1 {
                return Ok(Answer::cosigned(cosigned.line));
            }
            // Something moved meanwhile: judge again under the lock.
            drop(client);
            add_locked(pool, witness, body, &request).await
        }
        Err(
            refusal @ (Refusal::Malformed { .. }
            | Refusal::UnknownOrigin { .. }
            | Refusal::OldSizeAbove { .. }),
        ) => Ok(Answer::refused(&refusal)),
        Err(_) => {
            drop(client);
            add_locked(pool, witness, body, &request).await
        }
    }
}

/// The judgement of `request` against what was co-signed for `site`.
fn judge(
    request: &custos_ledger::witness::AddCheckpoint<'_>,
    site: &KnownSite,
    witness: &CosigningKey,
) -> Result<custos_ledger::witness::Cosigned, Refusal> {
    let origin = request.note.split('\n').next().unwrap_or_default();
    let now_s = u64::try_from(now_ms() / 1000).unwrap_or(1);
    add_checkpoint(
        request,
        |o| (o == origin).then(|| site.key.clone()),
        site.latest.as_ref(),
        witness,
        now_s,
    )
}

/// [`add`] in one transaction under the site's row lock: what keeps the
/// evidence of a refusal consistent with the state it was judged against.
async fn add_locked(
    pool: &Pool,
    witness: &CosigningKey,
    body: &str,
    request: &custos_ledger::witness::AddCheckpoint<'_>,
) -> Result<Answer, CentralError> {
    let origin = request.note.split('\n').next().unwrap_or_default();
    let mut client = pool.get().await?;
    let tx = client
        .transaction()
        .await
        .map_err(CentralError::db("starting a witness transaction"))?;
    let Some(site) = known_site(&tx, origin).await? else {
        return Ok(Answer::refused(&Refusal::UnknownOrigin {
            origin: origin.to_owned(),
        }));
    };
    if let Some(reason) = &site.suspended {
        return Ok(Answer {
            status: 403,
            content_type: "text/plain; charset=utf-8",
            body: format!(
                "co-signing of site {:?} is suspended until an auditor acts: {reason}\n",
                site.name
            ),
        });
    }
    match judge(request, &site, witness) {
        Ok(cosigned) => {
            let size = to_i64(cosigned.checkpoint.size)?;
            let old = to_i64(request.old_size)?;
            let root = cosigned.checkpoint.root.to_vec();
            let now = now_ms();
            // The compare-and-swap the protocol asks for; the row lock taken
            // in `known_site` already serialises, this makes it explicit.
            let advanced = if site.latest.is_some() {
                tx.execute(
                    "UPDATE witness_latest SET size = $2, root = $3, cosigned_ms = $4
                     WHERE site_id = $1 AND size = $5",
                    &[&site.id, &size, &root, &now, &old],
                )
                .await
            } else {
                tx.execute(
                    "INSERT INTO witness_latest (site_id, size, root, cosigned_ms)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (site_id) DO NOTHING",
                    &[&site.id, &size, &root, &now],
                )
                .await
            }
            .map_err(CentralError::db("advancing the witness state"))?;
            if advanced != 1 {
                let latest = latest_size(&tx, site.id).await?;
                return Ok(Answer::refused(&Refusal::Conflict {
                    latest,
                    old_size: request.old_size,
                }));
            }
            tx.execute(
                "INSERT INTO witness_checkpoints (site_id, epoch, size, root, note, cosigned_ms)
                 VALUES ($1, $6, $2, $3, $4, $5)
                 ON CONFLICT (site_id, epoch, size) DO UPDATE SET note = $4, cosigned_ms = $5",
                &[
                    &site.id,
                    &size,
                    &root,
                    &format!("{}{}", request.note, cosigned.line),
                    &now,
                    &site.epoch,
                ],
            )
            .await
            .map_err(CentralError::db("keeping a co-signed checkpoint"))?;
            tx.commit()
                .await
                .map_err(CentralError::db("committing a cosignature"))?;
            Ok(Answer::cosigned(cosigned.line))
        }
        Err(refusal @ Refusal::Inconsistent(_)) => {
            let reason = format!(
                "checkpoint signed by the site's key does not extend the one co-signed before: {refusal}"
            );
            suspend(&tx, &site, 422, &reason, body).await?;
            tx.commit()
                .await
                .map_err(CentralError::db("committing a refusal"))?;
            Ok(Answer::refused(&refusal))
        }
        Err(refusal @ Refusal::Conflict { .. }) => {
            // A signed checkpoint of a size already co-signed with another
            // root is a fork, whatever old size the request claims.
            if let Some(fork) = forked(&tx, &site, request.note).await? {
                suspend(&tx, &site, 409, &fork, body).await?;
                tx.commit()
                    .await
                    .map_err(CentralError::db("committing a refusal"))?;
            }
            Ok(Answer::refused(&refusal))
        }
        Err(refusal @ Refusal::NotSigned(_)) => {
            if signed_under_site_name(request.note, &site.key) {
                let reason = format!(
                    "checkpoint signed under the site's name by a key the centre does not know for it ({refusal})"
                );
                if keep_evidence(&tx, site.id, 403, &reason, body).await? {
                    alerts::raise(&tx, site.id, LOG_REWRITTEN, &reason).await?;
                    tx.commit()
                        .await
                        .map_err(CentralError::db("committing a refusal"))?;
                }
            }
            Ok(Answer::refused(&refusal))
        }
        Err(refusal) => Ok(Answer::refused(&refusal)),
    }
}

fn to_i64(n: u64) -> Result<i64, CentralError> {
    i64::try_from(n).map_err(|_| CentralError::Invalid(format!("size {n} is out of range")))
}

/// The site of a log origin and its witness state.
const SITE_BY_ORIGIN: &str =
    "SELECT s.id, s.name, s.log_key, s.suspended_reason, w.size, w.root, s.witness_epoch
     FROM sites s LEFT JOIN witness_latest w ON w.site_id = s.id
     WHERE s.origin = $1";

/// The site of log `origin` and its witness state, its row locked until the
/// transaction ends.
async fn known_site(tx: &Transaction<'_>, origin: &str) -> Result<Option<KnownSite>, CentralError> {
    tx.query_opt(&format!("{SITE_BY_ORIGIN} FOR UPDATE OF s"), &[&origin])
        .await
        .map_err(CentralError::db("looking up a log origin"))?
        .map(|row| site_from_row(&row, origin))
        .transpose()
}

fn site_from_row(row: &tokio_postgres::Row, origin: &str) -> Result<KnownSite, CentralError> {
    let name: String = row.get(1);
    let key_text: String = row.get(2);
    let key = crate::sites::pinned_key(&name, &key_text)?;
    let latest = match (
        row.get::<_, Option<i64>>(4),
        row.get::<_, Option<Vec<u8>>>(5),
    ) {
        (Some(size), Some(root)) => Some(Checkpoint {
            origin: origin.to_owned(),
            size: u64::try_from(size).unwrap_or(0),
            root: <[u8; 32]>::try_from(root.as_slice()).map_err(|_| {
                CentralError::Invalid(format!("site {name:?}: a stored root is not 32 bytes"))
            })?,
        }),
        _ => None,
    };
    Ok(KnownSite {
        id: row.get(0),
        name,
        key,
        suspended: row.get(3),
        epoch: row.get(6),
        latest,
    })
}

async fn latest_size(tx: &Transaction<'_>, site_id: i64) -> Result<u64, CentralError> {
    let size: Option<i64> = tx
        .query_opt(
            "SELECT size FROM witness_latest WHERE site_id = $1",
            &[&site_id],
        )
        .await
        .map_err(CentralError::db("reading the witness state"))?
        .map(|r| r.get(0));
    Ok(size.map_or(0, |s| u64::try_from(s).unwrap_or(0)))
}

/// If `note`, signed by the site's key, has a size the centre co-signed
/// before with another root, says so.
async fn forked(
    tx: &Transaction<'_>,
    site: &KnownSite,
    note: &str,
) -> Result<Option<String>, CentralError> {
    let Ok((checkpoint, _)) = open_checkpoint_with_extensions(note, &site.key) else {
        return Ok(None);
    };
    let size = to_i64(checkpoint.size)?;
    let earlier: Option<Vec<u8>> = tx
        .query_opt(
            "SELECT root FROM witness_checkpoints WHERE site_id = $1 AND epoch = $3 AND size = $2",
            &[&site.id, &size, &site.epoch],
        )
        .await
        .map_err(CentralError::db("reading co-signed history"))?
        .map(|r| r.get(0));
    Ok(earlier
        .filter(|root| root.as_slice() != checkpoint.root.as_slice())
        .map(|_| {
            format!(
                "checkpoint signed by the site's key for size {} has another root than the one co-signed at that size",
                checkpoint.size
            )
        }))
}

/// Whether a signature line of `note` carries the site key's name (with
/// another key ID, or it would have verified).
fn signed_under_site_name(note: &str, key: &VerifierKey) -> bool {
    let prefix = format!("\u{2014} {} ", key.name());
    note.rsplit_once("\n\n")
        .is_some_and(|(_, sigs)| sigs.lines().any(|l| l.starts_with(&prefix)))
}

/// Keeps the refused request as evidence unless the same refusal was kept
/// less than [`EVIDENCE_INTERVAL_MS`] ago; returns whether it was kept.
async fn keep_evidence(
    tx: &Transaction<'_>,
    site_id: i64,
    status: i32,
    reason: &str,
    request: &str,
) -> Result<bool, CentralError> {
    let now = now_ms();
    let recent = tx
        .query_opt(
            "SELECT 1 FROM witness_refusals
             WHERE site_id = $1 AND status = $2 AND received_ms > $3 LIMIT 1",
            &[&site_id, &status, &(now - EVIDENCE_INTERVAL_MS)],
        )
        .await
        .map_err(CentralError::db("reading refusals"))?;
    if recent.is_some() {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO witness_refusals (site_id, received_ms, status, reason, request)
         VALUES ($1, $2, $3, $4, $5)",
        &[&site_id, &now, &status, &reason, &request],
    )
    .await
    .map_err(CentralError::db("keeping a refused checkpoint"))?;
    Ok(true)
}

/// Keeps the evidence, raises the alert and suspends co-signing.
async fn suspend(
    tx: &Transaction<'_>,
    site: &KnownSite,
    status: i32,
    reason: &str,
    request: &str,
) -> Result<(), CentralError> {
    // Signed proof is never rate-limited away: keep every one.
    tx.execute(
        "INSERT INTO witness_refusals (site_id, received_ms, status, reason, request)
         VALUES ($1, $2, $3, $4, $5)",
        &[&site.id, &now_ms(), &status, &reason, &request],
    )
    .await
    .map_err(CentralError::db("keeping a refused checkpoint"))?;
    tx.execute(
        "UPDATE sites SET suspended_ms = $2, suspended_reason = $3 WHERE id = $1",
        &[&site.id, &now_ms(), &reason],
    )
    .await
    .map_err(CentralError::db("suspending a site"))?;
    alerts::raise(tx, site.id, LOG_REWRITTEN, reason).await?;
    tracing::error!(site = %site.name, "{reason}");
    Ok(())
}

/// A refused checkpoint kept as evidence.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeptRefusal {
    /// When it arrived.
    pub received_ms: i64,
    /// The status it was answered with.
    pub status: i32,
    /// Why it was refused.
    pub reason: String,
    /// The whole request as received.
    pub request: String,
}

/// The refusals kept for site `name`, oldest first.
pub async fn refusals(pool: &Pool, name: &str) -> Result<Vec<KeptRefusal>, CentralError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT r.received_ms, r.status, r.reason, r.request
             FROM witness_refusals r JOIN sites s ON s.id = r.site_id
             WHERE s.name = $1 ORDER BY r.id",
            &[&name],
        )
        .await
        .map_err(CentralError::db("reading refusals"))?;
    Ok(rows
        .iter()
        .map(|r| KeptRefusal {
            received_ms: r.get(0),
            status: r.get(1),
            reason: r.get(2),
            request: r.get(3),
        })
        .collect())
}

/// The latest checkpoint co-signed for site `name`, as a note with the
/// centre's cosignature.
pub async fn latest_cosigned(pool: &Pool, name: &str) -> Result<Option<String>, CentralError> {
    let client = pool.get().await?;
    Ok(client
        .query_opt(
            "SELECT c.note FROM witness_checkpoints c JOIN sites s ON s.id = c.site_id
             JOIN witness_latest w ON w.site_id = c.site_id AND w.size = c.size
             WHERE s.name = $1 AND c.epoch = s.witness_epoch",
            &[&name],
        )
        .await
        .map_err(CentralError::db("reading the latest cosigned checkpoint"))?
        .map(|r| r.get(0)))
}
