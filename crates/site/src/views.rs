//! Who saw which footage. Every view and download of pictures is logged
//! before a byte of them goes out: a `footage.viewed` or
//! `evidence.downloaded` entry in the log, and a line of the audit trace
//! (target `custos::audit`). The routes that hand out pictures call these
//! first and send nothing when they fail.

use custos_ledger::catalogue::{leaf, EvidenceDownloaded, FootageViewed};
use custos_store::{Store, User};

use crate::NotLogged;

/// What of a camera's footage was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Recorded video of a span, played or (`download`) saved.
    Recorded {
        /// Start of the span (ms since the Unix epoch).
        start_ms: i64,
        /// End of the span.
        end_ms: i64,
        /// Sent as a file to keep rather than to play.
        download: bool,
    },
    /// The live stream, from the moment of the view.
    Live,
    /// Live thumbnails; the one shown is of the key frame at `frame_ms`.
    Thumbnail {
        /// When the key frame shown arrived.
        frame_ms: i64,
    },
    /// The snapshot of analysis event `event`, which began at `start_ms`.
    EventSnapshot {
        /// The event's id.
        event: i64,
        /// When the event began.
        start_ms: i64,
    },
}

/// Logs `user`'s view of `camera`'s footage at `now_ms`.
pub fn footage_viewed(
    store: &Store,
    user: &User,
    camera: &str,
    seen: Seen,
    now_ms: i64,
) -> Result<(), NotLogged> {
    let viewed = FootageViewed {
        user: &user.name,
        camera,
        role: Some(user.role.as_str()),
        ..FootageViewed::default()
    };
    let viewed = match seen {
        Seen::Recorded {
            start_ms,
            end_ms,
            download,
        } => {
            tracing::info!(
                target: "custos::audit",
                user = %user.name,
                user_id = user.id,
                role = %user.role,
                camera,
                start_ms,
                end_ms,
                download,
                "recorded video viewed"
            );
            FootageViewed {
                start_ms,
                end_ms,
                download,
                ..viewed
            }
        }
        Seen::Live => {
            tracing::info!(target: "custos::audit", user = %user.name, role = %user.role, camera, "live view started");
            FootageViewed {
                start_ms: now_ms,
                end_ms: now_ms,
                live: true,
                ..viewed
            }
        }
        Seen::Thumbnail { frame_ms } => {
            tracing::info!(target: "custos::audit", user = %user.name, role = %user.role, camera, "live thumbnails viewed");
            FootageViewed {
                start_ms: frame_ms,
                end_ms: frame_ms,
                live: true,
                thumbnail: true,
                ..viewed
            }
        }
        Seen::EventSnapshot { event, start_ms } => FootageViewed {
            start_ms,
            end_ms: start_ms,
            event: Some(event),
            ..viewed
        },
    };
    let entry = leaf(now_ms, &viewed)?;
    store.enqueue_log(vec![entry])?;
    Ok(())
}

/// Logs `user`'s download of the evidence bundle `export` at `now_ms`.
pub fn evidence_downloaded(
    store: &Store,
    user: &User,
    export: &str,
    now_ms: i64,
) -> Result<(), NotLogged> {
    let entry = leaf(
        now_ms,
        &EvidenceDownloaded {
            user: &user.name,
            role: user.role.as_str(),
            export,
        },
    )?;
    store.enqueue_log(vec![entry])?;
    tracing::info!(target: "custos::audit", user = %user.name, export, "evidence downloaded");
    Ok(())
}

#[cfg(test)]
mod tests {
    use custos_ledger::entry::Entry;
    use custos_store::Role;

    use super::*;

    fn logged(store: &Store) -> Vec<Entry> {
        store
            .outbox(100)
            .expect("outbox")
            .iter()
            .map(|row| Entry::from_leaf_bytes(&row.leaf).expect("entry"))
            .collect()
    }

    #[test]
    fn each_kind_of_view_is_one_entry_of_its_own_shape() {
        let store = Store::open_in_memory().expect("store");
        let user = store
            .create_user("audrey", Role::Auditor, "$argon2id$x", 0)
            .expect("user");
        let views = [
            Seen::Recorded {
                start_ms: 10,
                end_ms: 20,
                download: true,
            },
            Seen::Live,
            Seen::Thumbnail { frame_ms: 30 },
            Seen::EventSnapshot {
                event: 7,
                start_ms: 40,
            },
        ];
        for seen in views {
            footage_viewed(&store, &user, "gate", seen, 100).expect("logged");
        }
        evidence_downloaded(&store, &user, "exp-1-00", 200).expect("logged");
        let entries = logged(&store);
        let spans: Vec<(Option<i64>, Option<i64>)> = entries
            .iter()
            .map(|e| (e.int_field("start_ms"), e.int_field("end_ms")))
            .collect();
        assert_eq!(
            spans,
            [
                (Some(10), Some(20)),
                (Some(100), Some(100)),
                (Some(30), Some(30)),
                (Some(40), Some(40)),
                (None, None)
            ]
        );
        let flag = |e: &Entry, k: &str| e.fields.get(k) == Some(&serde_json::Value::Bool(true));
        assert!(flag(&entries[0], "download") && !flag(&entries[0], "live"));
        assert!(flag(&entries[1], "live") && !flag(&entries[1], "thumbnail"));
        assert!(flag(&entries[2], "live") && flag(&entries[2], "thumbnail"));
        assert_eq!(entries[3].int_field("event"), Some(7));
        assert_eq!(entries[4].kind, "evidence.downloaded");
        assert!(entries[..4]
            .iter()
            .all(|e| e.kind == "footage.viewed" && e.str_field("role") == Some("auditor")));
    }
}
