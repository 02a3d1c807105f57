//! Sites: creating them with a one-time enrolment code, enrolment (the site
//! pins its log key here), and what administrators and auditors may change
//! afterwards, each change in the audit trail.

use custos_ledger::note::VerifierKey;
use deadpool_postgres::Pool;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use tokio_postgres::Transaction;

use crate::db::begin;
use crate::{now_ms, CentralError};

/// How long an enrolment code stays valid.
pub const ENROL_CODE_VALID_MS: i64 = 7 * 24 * 3600 * 1000;

/// A site just created, with the code it enrols with (shown once; only its
/// hash is kept).
#[derive(Debug)]
pub struct NewSite {
    /// The site's name.
    pub name: String,
    /// The one-time enrolment code.
    pub code: String,
    /// When the code expires.
    pub expires_ms: i64,
}

/// Site `name`'s pinned log key, as stored.
pub(crate) fn pinned_key(name: &str, key_text: &str) -> Result<VerifierKey, CentralError> {
    VerifierKey::parse(key_text).map_err(|e| {
        CentralError::Invalid(format!(
            "site {name:?}: the pinned log key does not parse: {e}"
        ))
    })
}

/// What the centre knows of a site.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SiteState {
    /// The site's name at the centre.
    pub name: String,
    /// When it was created.
    pub created_ms: i64,
    /// When it enrolled, if it has.
    pub enrolled_ms: Option<i64>,
    /// Its pinned log key.
    pub log_key: Option<String>,
    /// The size of the latest checkpoint co-signed, and when.
    pub cosigned: Option<(i64, i64)>,
    /// Why co-signing is suspended, since when.
    pub suspended: Option<(i64, String)>,
    /// How many checkpoints were refused as evidence.
    pub refusals: i64,
    /// How many entries of its log the centre's mirror holds (of the
    /// history witnessed now).
    pub mirrored: i64,
    /// The largest size at which the mirror matched a co-signed checkpoint.
    pub mirror_verified: i64,
}

/// Adds one line to the audit trail, in the caller's transaction.
pub(crate) async fn audit(
    tx: &Transaction<'_>,
    actor: &str,
    action: &str,
    site_id: Option<i64>,
    detail: &str,
) -> Result<(), CentralError> {
    tx.execute(
        "INSERT INTO audit (at_ms, actor, action, site_id, detail) VALUES ($1, $2, $3, $4, $5)",
        &[&now_ms(), &actor, &action, &site_id, &detail],
    )
    .await
    .map_err(CentralError::db("writing the audit trail"))?;
    Ok(())
}

/// A one-time code: 16 random bytes as eight groups of four hex digits,
/// for a person to copy.
fn new_code() -> String {
    let mut raw = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    hex::encode(raw)
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

fn code_hash(code: &str) -> Vec<u8> {
    // Codes are typed by people: dashes and case do not matter.
    let canonical: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Sha256::digest(canonical.as_bytes()).to_vec()
}

/// Checks a site name: 1–64 of `a-z 0-9 . _ -`, starting with a letter or
/// digit (it appears in URLs, object keys and file names).
pub fn check_site_name(name: &str) -> Result<(), CentralError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(CentralError::Invalid(format!(
            "site name {name:?}: use 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit"
        )))
    }
}

/// Creates site `name` with a fresh one-time enrolment code.
pub async fn add(pool: &Pool, name: &str, actor: &str) -> Result<NewSite, CentralError> {
    check_site_name(name)?;
    let code = new_code();
    let now = now_ms();
    let expires_ms = now + ENROL_CODE_VALID_MS;
    let mut client = pool.get().await?;
    let tx = begin(&mut client).await?;
    let row = tx
        .query_opt(
            "INSERT INTO sites (name, created_ms, enrol_code_sha256, enrol_expires_ms)
             VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING RETURNING id",
            &[&name, &now, &code_hash(&code), &expires_ms],
        )
        .await
        .map_err(CentralError::db("adding a site"))?
        .ok_or_else(|| CentralError::Invalid(format!("a site named {name:?} exists already")))?;
    audit(
        &tx,
        actor,
        "site.added",
        Some(row.get(0)),
        "enrolment code issued",
    )
    .await?;
    tx.commit()
        .await
        .map_err(CentralError::db("committing a new site"))?;
    Ok(NewSite {
        name: name.to_owned(),
        code,
        expires_ms,
    })
}

/// A site enrolled: its name, and the rotation it made if the centre knew
/// it by another key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    /// The site's name at the centre.
    pub site: String,
    /// The key pinned before, the admin who allowed the new one, and why.
    pub rotation: Option<Rotation>,
}

/// A site's log key replaced by enrolling with an admin's re-key code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rotation {
    /// The key the centre pinned before.
    pub replaces_key: String,
    /// Who issued the code.
    pub rotated_by: String,
    /// Why.
    pub reason: String,
}

/// Enrols the site whose one-time code is `code` with its log key,
/// spending the code. A code issued by [`rekey`] lets a site enrolled
/// already enrol again: with a new key (a new box) the key is replaced and
/// its witnessed history starts afresh from the new log (the old one and
/// every refusal stay as evidence) with co-signing resumed; with the same
/// key (it missed a change of the centre's certificate) nothing changes
/// here but the audit trail, and the site pins the centre afresh.
pub async fn enrol(
    pool: &Pool,
    code: &str,
    log_key: &VerifierKey,
) -> Result<Enrolled, CentralError> {
    let mut client = pool.get().await?;
    let tx = begin(&mut client).await?;
    let now = now_ms();
    let row = tx
        .query_opt(
            "SELECT id, name, enrol_expires_ms, log_key, rekey_by, rekey_reason FROM sites
             WHERE enrol_code_sha256 = $1 FOR UPDATE",
            &[&code_hash(code)],
        )
        .await
        .map_err(CentralError::db("looking up an enrolment code"))?
        .ok_or(CentralError::BadEnrolCode)?;
    let (id, name, expires): (i64, String, Option<i64>) = (row.get(0), row.get(1), row.get(2));
    let old_key: Option<String> = row.get(3);
    let (rekey_by, rekey_reason): (Option<String>, Option<String>) = (row.get(4), row.get(5));
    if expires.is_some_and(|e| e < now) {
        return Err(CentralError::BadEnrolCode);
    }
    let origin = log_key.name();
    if let Some(other) = tx
        .query_opt(
            "SELECT name FROM sites WHERE origin = $1 AND id <> $2",
            &[&origin, &id],
        )
        .await
        .map_err(CentralError::db("checking a log origin"))?
    {
        return Err(CentralError::OriginTaken {
            origin: origin.to_owned(),
            other: other.get(0),
        });
    }
    let new_key = log_key.to_string();
    let again = old_key.as_deref() == Some(new_key.as_str());
    let rotation = match old_key {
        Some(old) if !again => Some(Rotation {
            replaces_key: old,
            rotated_by: rekey_by.clone().unwrap_or_default(),
            reason: rekey_reason.clone().unwrap_or_default(),
        }),
        _ => None,
    };
    tx.execute(
        "UPDATE sites SET log_key = $2, origin = $3, enrolled_ms = $4,
                          enrol_code_sha256 = NULL, enrol_expires_ms = NULL,
                          rekey_by = NULL, rekey_reason = NULL
         WHERE id = $1",
        &[&id, &new_key, &origin, &now],
    )
    .await
    .map_err(CentralError::db("enrolling a site"))?;
    match &rotation {
        // The same key with a re-enrolment code: the site pins the centre
        // afresh (it missed a certificate change); its history goes on.
        None if again => {
            audit(
                &tx,
                rekey_by.as_deref().unwrap_or_default(),
                "site.reenrolled",
                Some(id),
                &format!(
                    "log key {log_key} kept, enrolled again by the site with the code: {}",
                    rekey_reason.as_deref().unwrap_or_default()
                ),
            )
            .await?
        }
        None => {
            audit(
                &tx,
                &format!("site:{name}"),
                "site.enrolled",
                Some(id),
                &format!("log key {log_key}"),
            )
            .await?
        }
        Some(r) => {
            new_history(&tx, id).await?;
            audit(
                &tx,
                &r.rotated_by,
                "site.key_rotated",
                Some(id),
                &format!(
                    "{} -> {log_key}, enrolled by the site with the re-key code: {}",
                    r.replaces_key, r.reason
                ),
            )
            .await?
        }
    }
    tx.commit()
        .await
        .map_err(CentralError::db("committing an enrolment"))?;
    Ok(Enrolled {
        site: name,
        rotation,
    })
}

/// Forgets the latest checkpoint co-signed for site `id` and starts a new
/// witnessed history (every checkpoint co-signed and every refusal stay),
/// with co-signing resumed.
async fn new_history(tx: &Transaction<'_>, id: i64) -> Result<(), CentralError> {
    tx.execute("DELETE FROM witness_latest WHERE site_id = $1", &[&id])
        .await
        .map_err(CentralError::db(
            "forgetting the latest co-signed checkpoint",
        ))?;
    tx.execute(
        "UPDATE sites SET witness_epoch = witness_epoch + 1, mirror_frontier = NULL,
                          mirror_verified = 0, suspended_ms = NULL, suspended_reason = NULL
         WHERE id = $1",
        &[&id],
    )
    .await
    .map_err(CentralError::db("starting a new witnessed history"))?;
    Ok(())
}

/// Issues a one-time code with which enrolled site `name` enrols again,
/// with a new log key (a new box, or its data lost) or its own (to pin the
/// centre afresh): an admin's act, audited; the current key stays pinned
/// until the code is used.
pub async fn rekey(
    pool: &Pool,
    name: &str,
    actor: &str,
    reason: &str,
) -> Result<NewSite, CentralError> {
    let mut client = pool.get().await?;
    let tx = begin(&mut client).await?;
    let (id, enrolled) = pinned_key_for_change(&tx, name, reason).await?;
    if enrolled.is_none() {
        return Err(CentralError::Invalid(format!(
            "site {name:?} has not enrolled yet: its first code is still the one to use"
        )));
    }
    let code = new_code();
    let expires_ms = now_ms() + ENROL_CODE_VALID_MS;
    tx.execute(
        "UPDATE sites SET enrol_code_sha256 = $2, enrol_expires_ms = $3,
                          rekey_by = $4, rekey_reason = $5
         WHERE id = $1",
        &[&id, &code_hash(&code), &expires_ms, &actor, &reason],
    )
    .await
    .map_err(CentralError::db("issuing a re-key code"))?;
    audit(
        &tx,
        actor,
        "site.rekey_code_issued",
        Some(id),
        &format!("valid until {expires_ms} ms: {reason}"),
    )
    .await?;
    tx.commit()
        .await
        .map_err(CentralError::db("committing a re-key code"))?;
    Ok(NewSite {
        name: name.to_owned(),
        code,
        expires_ms,
    })
}

/// Every site with its witness state, by name.
pub async fn list(pool: &Pool) -> Result<Vec<SiteState>, CentralError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT s.name, s.created_ms, s.enrolled_ms, s.log_key, w.size, w.cosigned_ms,
                    s.suspended_ms, s.suspended_reason,
                    (SELECT COUNT(*) FROM witness_refusals r WHERE r.site_id = s.id),
                    (SELECT COALESCE(MAX(e.idx) + 1, 0) FROM site_entries e
                      WHERE e.site_id = s.id AND e.epoch = s.witness_epoch),
                    s.mirror_verified
             FROM sites s LEFT JOIN witness_latest w ON w.site_id = s.id
             ORDER BY s.name",
            &[],
        )
        .await
        .map_err(CentralError::db("listing sites"))?;
    Ok(rows
        .iter()
        .map(|r| SiteState {
            name: r.get(0),
            created_ms: r.get(1),
            enrolled_ms: r.get(2),
            log_key: r.get(3),
            cosigned: r.get::<_, Option<i64>>(4).zip(r.get::<_, Option<i64>>(5)),
            suspended: r
                .get::<_, Option<i64>>(6)
                .zip(r.get::<_, Option<String>>(7)),
            refusals: r.get(8),
            mirrored: r.get(9),
            mirror_verified: r.get(10),
        })
        .collect())
}

/// Site `name`'s id (its row locked) and the log key pinned for it, for a
/// change of that key, which must say why.
async fn pinned_key_for_change(
    tx: &Transaction<'_>,
    name: &str,
    reason: &str,
) -> Result<(i64, Option<String>), CentralError> {
    if reason.trim().is_empty() {
        return Err(CentralError::Invalid(
            "say why the site's key changes (--reason)".to_owned(),
        ));
    }
    let id = site_id(tx, name).await?;
    let key = tx
        .query_one("SELECT log_key FROM sites WHERE id = $1", &[&id])
        .await
        .map_err(CentralError::db("reading a site's key"))?
        .get(0);
    Ok((id, key))
}

async fn site_id(tx: &Transaction<'_>, name: &str) -> Result<i64, CentralError> {
    Ok(tx
        .query_opt("SELECT id FROM sites WHERE name = $1 FOR UPDATE", &[&name])
        .await
        .map_err(CentralError::db("looking up a site"))?
        .ok_or_else(|| CentralError::NoSuchSite(name.to_owned()))?
        .get(0))
}

/// An auditor's decision on a suspended site: co-signing resumes. With
/// `accept_new_history` the centre forgets the latest checkpoint it
/// co-signed (every one stays in the history, and every refusal stays as
/// evidence), so a log that was rewritten is witnessed afresh from now on.
pub async fn resume(
    pool: &Pool,
    name: &str,
    actor: &str,
    reason: &str,
    accept_new_history: bool,
) -> Result<(), CentralError> {
    if reason.trim().is_empty() {
        return Err(CentralError::Invalid(
            "say why co-signing resumes (--reason)".to_owned(),
        ));
    }
    let mut client = pool.get().await?;
    let tx = begin(&mut client).await?;
    let id = site_id(&tx, name).await?;
    tx.execute(
        "UPDATE sites SET suspended_ms = NULL, suspended_reason = NULL WHERE id = $1",
        &[&id],
    )
    .await
    .map_err(CentralError::db("resuming a site"))?;
    if accept_new_history {
        new_history(&tx, id).await?;
    }
    let detail = if accept_new_history {
        format!("co-signing resumed, new history accepted: {reason}")
    } else {
        format!("co-signing resumed: {reason}")
    };
    audit(&tx, actor, "site.resumed", Some(id), &detail).await?;
    tx.commit()
        .await
        .map_err(CentralError::db("committing a resumption"))?;
    Ok(())
}

/// Replaces a site's pinned log key (an administrator's act, audited): the
/// only way a site's key changes.
pub async fn rotate_key(
    pool: &Pool,
    name: &str,
    new_key: &VerifierKey,
    actor: &str,
    reason: &str,
) -> Result<(), CentralError> {
    let mut client = pool.get().await?;
    let tx = begin(&mut client).await?;
    let (id, old) = pinned_key_for_change(&tx, name, reason).await?;
    let Some(old) = old else {
        return Err(CentralError::Invalid(format!(
            "site {name:?} has not enrolled; it pins its first key by enrolling"
        )));
    };
    if let Some(other) = tx
        .query_opt(
            "SELECT name FROM sites WHERE origin = $1 AND id <> $2",
            &[&new_key.name(), &id],
        )
        .await
        .map_err(CentralError::db("checking a log origin"))?
    {
        return Err(CentralError::OriginTaken {
            origin: new_key.name().to_owned(),
            other: other.get(0),
        });
    }
    tx.execute(
        "UPDATE sites SET log_key = $2, origin = $3 WHERE id = $1",
        &[&id, &new_key.to_string(), &new_key.name()],
    )
    .await
    .map_err(CentralError::db("rotating a site's key"))?;
    audit(
        &tx,
        actor,
        "site.key_rotated",
        Some(id),
        &format!("{old} -> {new_key}: {reason}"),
    )
    .await?;
    tx.commit()
        .await
        .map_err(CentralError::db("committing a key rotation"))?;
    Ok(())
}

/// Where a site is: the region that limits which central users see it,
/// and its coordinates on the map.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Place {
    /// Its region, if it has one.
    pub region: Option<String>,
    /// Degrees north (negative south).
    pub latitude: Option<f64>,
    /// Degrees east (negative west).
    pub longitude: Option<f64>,
}

/// Sets where site `name` is, as `actor` (audited). Coordinates come as a
/// pair or not at all.
pub async fn place(
    pool: &Pool,
    name: &str,
    place: &Place,
    actor: &str,
) -> Result<(), CentralError> {
    match (place.latitude, place.longitude) {
        (Some(lat), Some(lon)) => {
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err(CentralError::Invalid(format!(
                    "coordinates {lat}, {lon}: latitude is -90 to 90 and longitude -180 to 180 degrees"
                )));
            }
        }
        (None, None) => {}
        _ => {
            return Err(CentralError::Invalid(
                "give both latitude and longitude, or neither".to_owned(),
            ))
        }
    }
    if place.region.as_deref().is_some_and(|r| r.trim().is_empty()) {
        return Err(CentralError::Invalid("the region is empty".to_owned()));
    }
    let mut client = pool.get().await?;
    let tx = begin(&mut client).await?;
    let id = site_id(&tx, name).await?;
    tx.execute(
        "UPDATE sites SET region = $2, latitude = $3, longitude = $4 WHERE id = $1",
        &[&id, &place.region, &place.latitude, &place.longitude],
    )
    .await
    .map_err(CentralError::db("placing a site"))?;
    let coordinates = place
        .latitude
        .zip(place.longitude)
        .map_or_else(|| "no coordinates".to_owned(), |(a, o)| format!("{a}, {o}"));
    audit(
        &tx,
        actor,
        "site.placed",
        Some(id),
        &format!(
            "region {}; {coordinates}",
            place.region.as_deref().unwrap_or("none")
        ),
    )
    .await?;
    tx.commit()
        .await
        .map_err(CentralError::db("committing a site's place"))
}

/// Where every site is, by name.
pub async fn places(pool: &Pool) -> Result<std::collections::HashMap<String, Place>, CentralError> {
    let client = pool.get().await?;
    let rows = client
        .query("SELECT name, region, latitude, longitude FROM sites", &[])
        .await
        .map_err(CentralError::db("reading where sites are"))?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                Place {
                    region: r.get(1),
                    latitude: r.get(2),
                    longitude: r.get(3),
                },
            )
        })
        .collect())
}

/// One line of the audit trail.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditLine {
    /// When.
    pub at_ms: i64,
    /// Who.
    pub actor: String,
    /// What, e.g. `site.enrolled`.
    pub action: String,
    /// Which site, if one.
    pub site: Option<String>,
    /// The details.
    pub detail: String,
}

/// The audit trail, oldest first.
pub async fn audit_trail(pool: &Pool) -> Result<Vec<AuditLine>, CentralError> {
    audit_lines(pool, "ORDER BY a.id", &[]).await
}

/// The latest `limit` lines of the audit trail, newest first.
pub async fn recent_audit(pool: &Pool, limit: i64) -> Result<Vec<AuditLine>, CentralError> {
    audit_lines(pool, "ORDER BY a.id DESC LIMIT $1", &[&limit]).await
}

async fn audit_lines(
    pool: &Pool,
    order: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<AuditLine>, CentralError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT a.at_ms, a.actor, a.action, s.name, a.detail
                 FROM audit a LEFT JOIN sites s ON s.id = a.site_id {order}"
            ),
            params,
        )
        .await
        .map_err(CentralError::db("reading the audit trail"))?;
    Ok(rows
        .iter()
        .map(|r| AuditLine {
            at_ms: r.get(0),
            actor: r.get(1),
            action: r.get(2),
            site: r.get(3),
            detail: r.get(4),
        })
        .collect())
}
