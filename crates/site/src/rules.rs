//! The rules that raise and resolve alerts, run every `[alerts]
//! check_seconds` on their own thread:
//!
//! | alert                 | raised when                                             | resolved when |
//! |-----------------------|---------------------------------------------------------|---------------|
//! | `tamper.*`, `camera.offline` | analysis or the recorder opened such an event    | the event ends |
//! | `motion.after_hours`  | motion starts while the site is closed                  | by a person |
//! | `custody.after_hours` | a custody event is dated while the site is closed       | by a person |
//! | `custody.no_footage`  | 30 s after a custody event, no camera recorded its window (or none covers its place) | by a person |
//! | `item.overdue`        | an item out is past its due time                        | it is checked in (or the due time moves) |
//! | `disk.nearly_full`    | the data disk is fuller than `disk_full_percent`, or nearly down to the reserve video leaves free | it is not any more |
//! | `recording.loss`      | the recorder dropped pictures (a write error, a clock jump, network loss, …); one alert per camera and reason | by a person |
//!
//! Rows of growing tables (events, custody events, camera states) are read
//! through cursors kept in the index and advanced in the transaction that
//! raises their alerts, so each is acted on exactly once, across restarts.
//! Camera state changes are also queued for destinations that want them.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::alerts::{raise, raise_in, resolve_condition};
use custos_custody::footage;
use custos_custody::hours::OpeningHours;
use custos_store::{AlertQuery, NewAlert, Store, StoreError};
use serde_json::json;

use crate::analysis_events::{ALARM_KINDS, OFFLINE_EVENT};
use crate::clock::now_ms;
use crate::storage::disk_usage;

/// How long after a custody event's footage window ends before it is
/// judged (segments are committed about once a second; a margin for a
/// segment still being written).
const FOOTAGE_GRACE_MS: i64 = 10_000;

/// Rows read per table per run.
const BATCH: usize = 500;

/// What the rules need to know about the site.
pub struct Rules {
    pub site: String,
    pub data_dir: PathBuf,
    /// Destinations that receive alerts.
    pub alert_destinations: Vec<String>,
    /// Destinations that receive camera state changes.
    pub state_destinations: Vec<String>,
    pub hours: Option<OpeningHours>,
    pub disk_full_percent: u32,
    /// Bytes of the data disk video never takes (the recorder's reserve): with
    /// less than one and a half times that free, recording is about to stop.
    pub disk_reserve: u64,
}

impl Rules {
    fn closed_at(&self, at_ms: i64) -> bool {
        self.hours.as_ref().is_some_and(|h| !h.is_open(at_ms))
    }

    /// Runs every rule once.
    pub fn run_once(&self, store: &Store, now: i64) -> anyhow::Result<()> {
        self.camera_alarms(store, now)?;
        self.motion_after_hours(store, now)?;
        self.custody_after_hours(store, now)?;
        self.custody_footage(store, now)?;
        self.overdue(store, now)?;
        self.disk(store, now)?;
        self.recording_losses(store, now)?;
        self.camera_states(store, now)?;
        Ok(())
    }

    /// One alert per camera and reason while pictures are being lost; a
    /// person resolves it once the cause is dealt with, and a loss after
    /// that raises a new one. Every loss is in the log either way.
    fn recording_losses(&self, store: &Store, now: i64) -> anyhow::Result<()> {
        const CURSOR: &str = "recording_loss";
        let start = store
            .write("reading a rule cursor", |tx| tx.cursor(CURSOR))?
            .unwrap_or(0);
        let losses = store.losses_after(start, BATCH)?;
        let Some(last) = losses.last().map(|l| l.id) else {
            return Ok(());
        };
        store.write("raising recording loss alerts", |tx| {
            for loss in &losses {
                let key = format!("loss:{}:{}", loss.camera, loss.reason);
                let why = match loss.reason.as_str() {
                    "write_error" => "the disk refused to write them",
                    "clock_jump" => "the camera's clock jumped",
                    "lost_in_transit" => "they were lost on the network",
                    "frame_too_large" => "a picture was too large to store",
                    other => other,
                };
                let summary = format!(
                    "camera {} dropped {} picture{}: {why}",
                    loss.camera,
                    loss.pictures,
                    if loss.pictures == 1 { "" } else { "s" }
                );
                let details = json!({
                    "loss": loss.id, "reason": loss.reason, "pictures": loss.pictures,
                    "start_ms": loss.start_ms, "end_ms": loss.end_ms, "detail": loss.detail,
                });
                raise_in(
                    tx,
                    &NewAlert {
                        kind: "recording.loss",
                        subject_key: &key,
                        summary: &summary,
                        camera: Some(&loss.camera),
                        barcode: None,
                        details: &details,
                    },
                    &self.site,
                    &self.alert_destinations,
                    now,
                )?;
            }
            tx.set_cursor(CURSOR, last)
        })?;
        Ok(())
    }

    fn raise(&self, store: &Store, alert: &NewAlert<'_>, now: i64) -> Result<(), StoreError> {
        if let Some(a) = raise(store, alert, &self.site, &self.alert_destinations, now)? {
            tracing::warn!(alert = a.id, kind = %a.kind, "alert: {}", a.summary);
        }
        Ok(())
    }

    fn resolve(
        &self,
        store: &Store,
        kind: &str,
        key: &str,
        note: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        if let Some(a) = resolve_condition(
            store,
            kind,
            key,
            note,
            &self.site,
            &self.alert_destinations,
            now,
        )? {
            tracing::info!(alert = a.id, kind = %a.kind, "alert resolved: {note}");
        }
        Ok(())
    }

    /// One alert per open tamper or offline event; resolved when it ends.
    fn camera_alarms(&self, store: &Store, now: i64) -> anyhow::Result<()> {
        let open = store.open_alarm_events()?;
        for ev in &open {
            let key = format!("event:{}", ev.id);
            let summary = match ev.kind.as_str() {
                OFFLINE_EVENT => format!("camera {} is offline", ev.camera),
                "tamper.covered" => format!("camera {} is covered", ev.camera),
                "tamper.defocused" => format!("camera {} is out of focus", ev.camera),
                "tamper.moved" => format!("camera {} was turned away from its scene", ev.camera),
                "tamper.frozen" => format!("camera {} shows a frozen picture", ev.camera),
                other => format!("{other} on camera {}", ev.camera),
            };
            // Log entries hold integers only: the score in thousandths.
            let score_milli = (ev.score.clamp(0.0, 1.0) * 1000.0).round() as i64;
            let details =
                json!({ "event": ev.id, "start_ms": ev.start_ms, "score_milli": score_milli });
            self.raise(
                store,
                &NewAlert {
                    kind: &ev.kind,
                    subject_key: &key,
                    summary: &summary,
                    camera: Some(&ev.camera),
                    barcode: None,
                    details: &details,
                },
                now,
            )?;
        }
        let unresolved = store.alerts(&AlertQuery {
            unresolved: true,
            limit: 10_000,
            ..Default::default()
        })?;
        for a in unresolved
            .iter()
            .filter(|a| ALARM_KINDS.contains(&a.kind.as_str()))
        {
            let still_open = open
                .iter()
                .any(|e| format!("event:{}", e.id) == a.subject_key);
            if !still_open {
                self.resolve(store, &a.kind, &a.subject_key, "the event ended", now)?;
            }
        }
        Ok(())
    }

    fn motion_after_hours(&self, store: &Store, now: i64) -> anyhow::Result<()> {
        const CURSOR: &str = "motion_after_hours";
        let start = store.write("reading a rule cursor", |tx| match tx.cursor(CURSOR)? {
            Some(c) => Ok::<_, StoreError>(c),
            None => {
                // First run on this site: motion from before the rules
                // existed is history, not news.
                let last = tx.last_event_id()?;
                tx.set_cursor(CURSOR, last)?;
                Ok(last)
            }
        })?;
        let events = store.events_after("motion", start, BATCH)?;
        let Some(last) = events.last().map(|e| e.id) else {
            return Ok(());
        };
        store.write("raising after-hours motion alerts", |tx| {
            for ev in events.iter().filter(|e| self.closed_at(e.start_ms)) {
                let key = format!("event:{}", ev.id);
                let summary = format!("motion on camera {} while the site is closed", ev.camera);
                let details = json!({ "event": ev.id, "start_ms": ev.start_ms, "zones": ev.zones });
                raise_in(
                    tx,
                    &NewAlert {
                        kind: "motion.after_hours",
                        subject_key: &key,
                        summary: &summary,
                        camera: Some(&ev.camera),
                        barcode: None,
                        details: &details,
                    },
                    &self.site,
                    &self.alert_destinations,
                    now,
                )?;
            }
            tx.set_cursor(CURSOR, last)
        })?;
        Ok(())
    }

    fn custody_after_hours(&self, store: &Store, now: i64) -> anyhow::Result<()> {
        const CURSOR: &str = "custody_after_hours";
        let start = store
            .write("reading a rule cursor", |tx| tx.cursor(CURSOR))?
            .unwrap_or(0);
        let events = store.custody_events_after(start, BATCH)?;
        let Some(last) = events.last().map(|e| e.id) else {
            return Ok(());
        };
        store.write("raising after-hours custody alerts", |tx| {
            for ev in events.iter().filter(|e| self.closed_at(e.at_ms)) {
                let key = format!("custody:{}", ev.id);
                let summary = format!(
                    "{} of item {} recorded while the site is closed",
                    ev.action, ev.barcode
                );
                let details = json!({
                    "custody_event": ev.id, "action": ev.action, "at_ms": ev.at_ms,
                    "recorded_by": ev.recorded_by, "location": ev.location,
                });
                raise_in(
                    tx,
                    &NewAlert {
                        kind: "custody.after_hours",
                        subject_key: &key,
                        summary: &summary,
                        camera: None,
                        barcode: Some(&ev.barcode),
                        details: &details,
                    },
                    &self.site,
                    &self.alert_destinations,
                    now,
                )?;
            }
            tx.set_cursor(CURSOR, last)
        })?;
        Ok(())
    }

    /// Judges each custody event's footage once its window has passed.
    fn custody_footage(&self, store: &Store, now: i64) -> anyhow::Result<()> {
        let due = store
            .unchecked_custody_events(now - footage::WINDOW_AFTER_MS - FOOTAGE_GRACE_MS, BATCH)?;
        for ev in due {
            let windows = crate::register::footage_of(store, &ev)?;
            let missing = footage::needs_no_footage_alert(&windows);
            store.write("checking custody footage", |tx| {
                tx.set_footage_checked(ev.id, missing)?;
                if missing {
                    let key = format!("custody:{}", ev.id);
                    let why = if windows.is_empty() {
                        match &ev.location {
                            Some(l) => format!("no camera covers location {l}"),
                            None => "its place is not known".to_owned(),
                        }
                    } else {
                        "no camera recorded it".to_owned()
                    };
                    let summary =
                        format!("{} of item {} has no footage: {why}", ev.action, ev.barcode);
                    let details = json!({
                        "custody_event": ev.id, "action": ev.action, "at_ms": ev.at_ms,
                        "location": ev.location, "footage": windows,
                    });
                    raise_in(
                        tx,
                        &NewAlert {
                            kind: "custody.no_footage",
                            subject_key: &key,
                            summary: &summary,
                            camera: None,
                            barcode: Some(&ev.barcode),
                            details: &details,
                        },
                        &self.site,
                        &self.alert_destinations,
                        now,
                    )?;
                }
                Ok::<_, StoreError>(())
            })?;
        }
        Ok(())
    }

    fn overdue(&self, store: &Store, now: i64) -> anyhow::Result<()> {
        let overdue = store.overdue_items(now)?;
        for item in &overdue {
            let key = format!("item:{}", item.barcode);
            let summary = format!(
                "item {} is overdue (held by {})",
                item.barcode,
                item.holder.as_deref().unwrap_or("nobody recorded")
            );
            let details =
                json!({ "holder": item.holder, "due_ms": item.due_ms, "title": item.title });
            self.raise(
                store,
                &NewAlert {
                    kind: "item.overdue",
                    subject_key: &key,
                    summary: &summary,
                    camera: None,
                    barcode: Some(&item.barcode),
                    details: &details,
                },
                now,
            )?;
        }
        let unresolved = store.alerts(&AlertQuery {
            unresolved: true,
            kind: Some("item.overdue".into()),
            limit: 100_000,
            ..Default::default()
        })?;
        for a in unresolved {
            if !overdue
                .iter()
                .any(|i| format!("item:{}", i.barcode) == a.subject_key)
            {
                self.resolve(
                    store,
                    &a.kind,
                    &a.subject_key,
                    "the item is no longer overdue",
                    now,
                )?;
            }
        }
        Ok(())
    }

    fn disk(&self, store: &Store, now: i64) -> anyhow::Result<()> {
        let Some(usage) = disk_usage(&self.data_dir) else {
            return Ok(());
        };
        let used = usage.used_percent;
        let at_reserve = usage.available_bytes < self.disk_reserve.saturating_mul(3) / 2;
        if used >= f64::from(self.disk_full_percent) || at_reserve {
            let summary = if at_reserve {
                format!(
                    "the data disk is full: {:.0} MB free, and recording keeps {:.0} MB of it \
                     for the index and the log ({used:.0} % used)",
                    usage.available_bytes as f64 / 1e6,
                    self.disk_reserve as f64 / 1e6
                )
            } else {
                format!(
                    "the data disk is {used:.0} % full (alert at {} %)",
                    self.disk_full_percent
                )
            };
            let details = json!({
                "used_percent": used.round() as i64,
                "threshold_percent": self.disk_full_percent,
                "available_bytes": usage.available_bytes / 1_000_000 * 1_000_000,
                "reserve_bytes": self.disk_reserve,
            });
            self.raise(
                store,
                &NewAlert {
                    kind: "disk.nearly_full",
                    subject_key: "disk",
                    summary: &summary,
                    camera: None,
                    barcode: None,
                    details: &details,
                },
                now,
            )?;
            // An alert already open says how full the disk is now, not how
            // full it was when it was raised.
            crate::alerts::update_facts(
                store,
                "disk.nearly_full",
                "disk",
                &summary,
                &details,
                now,
            )?;
        } else {
            self.resolve(
                store,
                "disk.nearly_full",
                "disk",
                "disk use fell below the threshold",
                now,
            )?;
        }
        Ok(())
    }

    /// Queues each camera's latest state for the destinations that want
    /// camera states (MQTT keeps the last one retained).
    fn camera_states(&self, store: &Store, now: i64) -> anyhow::Result<()> {
        const CURSOR: &str = "camera_state_notify";
        let start = store
            .write("reading a rule cursor", |tx| tx.cursor(CURSOR))?
            .unwrap_or(0);
        let rows = store.camera_states_after(start, BATCH)?;
        let Some(last) = rows.last().map(|r| r.id) else {
            return Ok(());
        };
        store.write("queueing camera states", |tx| {
            if !self.state_destinations.is_empty() {
                // Only the newest change per camera in this batch matters to
                // a receiver that keeps the current state.
                let mut latest: std::collections::BTreeMap<&str, &custos_store::CameraStateRow> =
                    Default::default();
                for r in &rows {
                    latest.insert(&r.camera, r);
                }
                for r in latest.values() {
                    let body = json!({
                        "site": self.site, "camera": r.camera, "state": r.state,
                        "at_ms": r.at_ms, "detail": r.detail,
                    });
                    let subject = format!("camera {} is {}", r.camera, r.state);
                    for d in &self.state_destinations {
                        tx.enqueue_notification(
                            d,
                            "camera_state",
                            Some(&r.camera),
                            &subject,
                            &body,
                            now,
                        )?;
                    }
                }
            }
            tx.set_cursor(CURSOR, last)
        })?;
        Ok(())
    }
}

/// Runs the rules every `interval` until `stop` is set.
pub fn run(db_path: PathBuf, rules: Rules, interval: Duration, stop: Arc<AtomicBool>) {
    let store = match Store::open(&db_path) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("alert rules: opening the index: {e}");
            return;
        }
    };
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = rules.run_once(&store, now_ms()) {
            tracing::error!("alert rules: {e:#}");
        }
        // Sleep in small steps so shutdown is prompt.
        let mut left = interval;
        while !left.is_zero() && !stop.load(Ordering::Relaxed) {
            let step = left.min(Duration::from_millis(200));
            std::thread::sleep(step);
            left -= step;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use crate::register;
    use custos_custody::actions::Action;
    use custos_custody::model::{Item, ItemStatus, Location, LocationKind, Person, PersonRole};
    use custos_store::AlertState;

    use super::*;

    fn loss_leaf(loss: &custos_store::RecordingLossRow) -> Vec<u8> {
        custos_ledger::catalogue::leaf(loss.start_ms, &crate::cameras::loss_fact(loss))
            .expect("a loss entry encodes")
    }

    /// 2026-11-30 (a Monday) 10:00 and 03:00 in Berlin (UTC+1), in ms.
    const MONDAY_10: i64 = 1_796_029_200_000;
    const MONDAY_03: i64 = MONDAY_10 - 7 * 3_600_000;

    fn rules(dir: &Path, disk_full_percent: u32) -> Rules {
        let weekly: BTreeMap<String, String> =
            [("mon".to_owned(), "08:00-18:00".to_owned())].into();
        Rules {
            site: "test".into(),
            data_dir: dir.to_owned(),
            alert_destinations: vec!["hook".into()],
            state_destinations: vec![],
            hours: Some(
                custos_custody::hours::parse("Europe/Berlin", &weekly, &[]).expect("hours"),
            ),
            disk_full_percent,
            disk_reserve: 0,
        }
    }

    fn site() -> Store {
        let s = Store::open_in_memory().expect("store");
        let room = Location {
            code: "R1".into(),
            name: "Room".into(),
            kind: LocationKind::Room,
            room: None,
            coverage: vec![],
            retired: false,
        };
        register::create_location(&s, "t", &room, &|_| true, 0).expect("room");
        let p = Person {
            staff_id: "S1".into(),
            name: "Ada".into(),
            role: PersonRole::Staff,
            badge: None,
            retired: false,
        };
        register::create_person(&s, "t", &p, 0).expect("person");
        for b in ["A1", "A2"] {
            let i = Item {
                barcode: b.into(),
                title: "Box".into(),
                reference: String::new(),
                classification: String::new(),
                home_location: "R1".into(),
                location: "R1".into(),
                status: ItemStatus::InPlace,
                holder: None,
                due_ms: None,
                disposed_reason: None,
            };
            register::create_item(&s, "t", &i, 0).expect("item");
        }
        s
    }

    fn kinds(s: &Store) -> Vec<(String, AlertState)> {
        let mut v: Vec<(String, AlertState)> = s
            .alerts(&AlertQuery {
                limit: 100,
                ..Default::default()
            })
            .expect("alerts")
            .into_iter()
            .map(|a| (format!("{} {}", a.kind, a.subject_key), a.state))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    #[test]
    fn custody_outside_opening_hours_overdue_items_and_missing_footage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = site();
        let r = rules(dir.path(), 100);
        // A1 at 03:00 (closed), A2 at 10:00 (open), both due at 11:00.
        let out = |b: &str, at: i64| {
            let action = Action::CheckOut {
                to: "S1".into(),
                due_ms: MONDAY_10 + 3_600_000,
            };
            register::record_custody(&s, "t", b, &action, at, at).expect("check out")
        };
        let a1 = out("A1", MONDAY_03).event.id;
        let a2 = out("A2", MONDAY_10).event.id;
        r.run_once(&s, MONDAY_10 + 1000).expect("rules");
        let k = kinds(&s);
        assert!(
            k.contains(&(
                format!("custody.after_hours custody:{a1}"),
                AlertState::Open
            )),
            "{k:?}"
        );
        assert!(
            !k.iter()
                .any(|(n, _)| n == &format!("custody.after_hours custody:{a2}")),
            "{k:?}"
        );
        // A1's window has passed and R1 has no camera: no footage. A2's
        // window has not passed yet.
        assert!(
            k.contains(&(format!("custody.no_footage custody:{a1}"), AlertState::Open)),
            "{k:?}"
        );
        assert!(
            !k.iter()
                .any(|(n, _)| n == &format!("custody.no_footage custody:{a2}")),
            "{k:?}"
        );
        assert!(
            !k.iter().any(|(n, _)| n.starts_with("item.overdue")),
            "{k:?}"
        );

        // Running again raises nothing twice (cursors and open alerts).
        r.run_once(&s, MONDAY_10 + 2000).expect("rules");
        assert_eq!(kinds(&s).len(), k.len());

        // Past due: both overdue; A1 back: its alert resolves.
        let later = MONDAY_10 + 3_700_000;
        r.run_once(&s, later).expect("rules");
        let k = kinds(&s);
        assert!(
            k.contains(&("item.overdue item:A1".into(), AlertState::Open)),
            "{k:?}"
        );
        assert!(
            k.contains(&("item.overdue item:A2".into(), AlertState::Open)),
            "{k:?}"
        );
        assert!(
            k.contains(&(format!("custody.no_footage custody:{a2}"), AlertState::Open)),
            "{k:?}"
        );
        register::record_custody(
            &s,
            "t",
            "A1",
            &Action::CheckIn { location: None },
            later,
            later,
        )
        .expect("check in");
        r.run_once(&s, later + 1000).expect("rules");
        let k = kinds(&s);
        assert!(
            k.contains(&("item.overdue item:A1".into(), AlertState::Resolved)),
            "{k:?}"
        );
        assert!(
            k.contains(&("item.overdue item:A2".into(), AlertState::Open)),
            "{k:?}"
        );

        // Each raise queued a notification for the destination.
        let queued = s.notifications(None, 100).expect("outbox");
        assert!(queued.iter().all(|n| n.destination == "hook"));
        assert!(queued.len() >= 5, "{}", queued.len());
    }

    #[test]
    fn a_full_disk_raises_an_alert_that_resolves_when_space_returns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = site();
        // Any disk is fuller than 1 %.
        rules(dir.path(), 1).run_once(&s, MONDAY_10).expect("rules");
        assert!(kinds(&s).contains(&("disk.nearly_full disk".into(), AlertState::Open)));
        // And never fuller than 100 %, as far as users can write.
        rules(dir.path(), 100)
            .run_once(&s, MONDAY_10 + 1)
            .expect("rules");
        assert!(kinds(&s).contains(&("disk.nearly_full disk".into(), AlertState::Resolved)));
    }

    #[test]
    fn tamper_and_offline_events_hold_an_alert_while_they_last() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = site();
        let r = rules(dir.path(), 100);
        let id = s
            .insert_event("stacks", "tamper.covered", MONDAY_10, &[], 0.9)
            .expect("event");
        let motion = s
            .insert_event("stacks", "motion", MONDAY_03, &[], 0.3)
            .expect("motion");
        r.run_once(&s, MONDAY_10 + 500).expect("rules");
        let k = kinds(&s);
        assert!(
            k.contains(&(format!("tamper.covered event:{id}"), AlertState::Open)),
            "{k:?}"
        );
        // Motion from before the rules first ran is history, not news.
        assert!(
            !k.iter()
                .any(|(n, _)| n.contains(&format!("event:{motion}"))),
            "{k:?}"
        );
        let night = s
            .insert_event("stacks", "motion", MONDAY_03 + 60_000, &[], 0.3)
            .expect("motion");
        s.end_event(id, MONDAY_10 + 5000, &[], 0.9).expect("end");
        r.run_once(&s, MONDAY_10 + 6000).expect("rules");
        let k = kinds(&s);
        assert!(
            k.contains(&(format!("tamper.covered event:{id}"), AlertState::Resolved)),
            "{k:?}"
        );
        assert!(
            k.contains(&(
                format!("motion.after_hours event:{night}"),
                AlertState::Open
            )),
            "{k:?}"
        );
    }

    #[test]
    fn lost_pictures_raise_one_alert_per_camera_and_reason_until_resolved() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = site();
        let r = rules(dir.path(), 100);
        let loss = |reason: &str, pictures: i64, at: i64| custos_store::RecordingLossRow {
            id: 0,
            camera: "stacks".into(),
            reason: reason.into(),
            pictures,
            start_ms: at,
            end_ms: at + 900,
            detail: "writing video/stacks/1.mp4: No space left on device (os error 28)".into(),
        };
        for l in [
            loss("write_error", 12, MONDAY_10),
            loss("write_error", 15, MONDAY_10 + 60_000),
        ] {
            s.write("t", |tx| {
                tx.log(loss_leaf(&l));
                tx.record_loss(&l)
            })
            .expect("loss");
        }
        r.run_once(&s, MONDAY_10 + 61_000).expect("rules");
        let alerts = s
            .alerts(&AlertQuery {
                kind: Some("recording.loss".into()),
                limit: 10,
                ..Default::default()
            })
            .expect("alerts");
        assert_eq!(
            alerts.len(),
            1,
            "one alert while the losses go on: {alerts:?}"
        );
        assert_eq!(alerts[0].state, AlertState::Open);
        assert_eq!(alerts[0].subject_key, "loss:stacks:write_error");
        assert_eq!(
            alerts[0].summary,
            "camera stacks dropped 12 pictures: the disk refused to write them"
        );
        assert_eq!(alerts[0].details["pictures"], 12);
        // Another reason is another alert; each loss runs once.
        let l = loss("clock_jump", 3, MONDAY_10 + 70_000);
        s.write("t", |tx| {
            tx.log(loss_leaf(&l));
            tx.record_loss(&l)
        })
        .expect("loss");
        r.run_once(&s, MONDAY_10 + 71_000).expect("rules");
        r.run_once(&s, MONDAY_10 + 72_000).expect("rules");
        let k = kinds(&s);
        assert!(
            k.contains(&(
                "recording.loss loss:stacks:clock_jump".into(),
                AlertState::Open
            )),
            "{k:?}"
        );
        assert_eq!(
            k.iter()
                .filter(|(n, _)| n.starts_with("recording.loss"))
                .count(),
            2
        );
    }
}
