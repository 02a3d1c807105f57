//! Opening hours, in the site's own time zone.
//!
//! Hours are wall-clock times: "08:00-12:00" means from when the clocks in
//! the building show 08:00 until they show 12:00, whatever the UTC offset.
//! On the days clocks change this has the natural consequences:
//!
//! - a time inside the spring gap (02:30 in Europe/Berlin on 2026-03-29)
//!   never happens; a span starting or ending there starts or ends at the
//!   jump (03:00 summer time);
//! - times inside the autumn fold happen twice; a span "01:00-04:00" on
//!   2026-10-25 in Berlin lasts four hours of real time, and a span wholly
//!   inside the fold ("02:15-02:45") is open twice.
//!
//! A span lies within one day: its end is after its start, and it cannot
//! cross midnight (write "22:00-23:59" and "00:00-06:00" on the next day).

use std::collections::BTreeMap;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone,
};
use chrono_tz::Tz;

/// Day keys, Monday first, as used in the configuration.
pub const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// How far ahead [`OpeningHours::next_change`] looks.
pub const LOOKAHEAD_DAYS: u64 = 14;

const DAY_MS: i64 = 86_400_000;

/// Weekly opening hours of a site, and the days it is closed.
#[derive(Clone, Debug, PartialEq)]
pub struct OpeningHours {
    /// The site's time zone.
    pub tz: Tz,
    /// Open spans per weekday, Monday first, sorted and not overlapping.
    pub weekly: [Vec<(NaiveTime, NaiveTime)>; 7],
    /// Dates (in the site's time zone) on which the site is closed all day.
    pub closed_days: Vec<NaiveDate>,
}

/// A problem in the configured hours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    /// The time zone is not in the IANA database.
    #[error("unknown time zone {0:?} (want an IANA name such as \"Europe/Berlin\")")]
    UnknownTimeZone(String),
    /// A key that is not a weekday.
    #[error("unknown day {0:?} (want one of mon, tue, wed, thu, fri, sat, sun)")]
    UnknownDay(String),
    /// A day's hours could not be read.
    #[error("{day}: {reason} in {text:?} (want spans such as \"08:00-12:00,13:00-17:30\", or \"closed\")")]
    BadSpan {
        /// The day key.
        day: String,
        /// The day's text.
        text: String,
        /// What is wrong.
        reason: String,
    },
    /// A closed day that is not a date.
    #[error("closed day {0:?} is not a date such as \"2026-12-25\"")]
    BadClosedDay(String),
}

/// Reads opening hours. `weekly` maps day keys (`mon` … `sun`, any case) to
/// comma-separated spans `HH:MM-HH:MM`; a missing day, an empty value or
/// `closed` means closed all day. `closed_days` are dates `YYYY-MM-DD`.
pub fn parse(
    tz: &str,
    weekly: &BTreeMap<String, String>,
    closed_days: &[String],
) -> Result<OpeningHours, HoursError> {
    let tz: Tz = tz
        .trim()
        .parse()
        .map_err(|_| HoursError::UnknownTimeZone(tz.into()))?;
    let mut days: [Vec<(NaiveTime, NaiveTime)>; 7] = Default::default();
    for (key, text) in weekly {
        let index = DAY_KEYS
            .iter()
            .position(|d| d.eq_ignore_ascii_case(key.trim()))
            .ok_or_else(|| HoursError::UnknownDay(key.clone()))?;
        days[index] = parse_day(text).map_err(|reason| HoursError::BadSpan {
            day: key.clone(),
            text: text.clone(),
            reason,
        })?;
    }
    let closed_days = closed_days
        .iter()
        .map(|d| {
            NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
                .map_err(|_| HoursError::BadClosedDay(d.clone()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(OpeningHours {
        tz,
        weekly: days,
        closed_days,
    })
}

/// One day's spans, sorted; the error is the reason only.
fn parse_day(text: &str) -> Result<Vec<(NaiveTime, NaiveTime)>, String> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("closed") {
        return Ok(Vec::new());
    }
    let mut spans = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let (start, end) = part
            .split_once('-')
            .ok_or_else(|| format!("{part:?} is not a span HH:MM-HH:MM"))?;
        let time = |t: &str| {
            NaiveTime::parse_from_str(t.trim(), "%H:%M")
                .map_err(|_| format!("{:?} is not a time HH:MM between 00:00 and 23:59", t.trim()))
        };
        let (start, end) = (time(start)?, time(end)?);
        if end <= start {
            return Err(format!(
                "{part:?} ends before it starts (spans cannot cross midnight)"
            ));
        }
        spans.push((start, end));
    }
    spans.sort();
    if let Some(pair) = spans.windows(2).find(|pair| pair[1].0 < pair[0].1) {
        return Err(format!(
            "spans {}-{} and {}-{} overlap",
            pair[0].0.format("%H:%M"),
            pair[0].1.format("%H:%M"),
            pair[1].0.format("%H:%M"),
            pair[1].1.format("%H:%M"),
        ));
    }
    Ok(spans)
}

impl OpeningHours {
    /// The site's wall clock at `at_ms`.
    fn local(&self, at_ms: i64) -> Option<DateTime<Tz>> {
        self.tz.timestamp_millis_opt(at_ms).single()
    }

    /// The spans of a local date: none on closed days.
    fn spans_on(&self, date: NaiveDate) -> &[(NaiveTime, NaiveTime)] {
        if self.closed_days.contains(&date) {
            return &[];
        }
        let weekday = date.weekday().num_days_from_monday() as usize;
        self.weekly.get(weekday).map_or(&[], Vec::as_slice)
    }

    /// Whether the site is open at `at_ms` (ms since the Unix epoch), by its
    /// own wall clock.
    pub fn is_open(&self, at_ms: i64) -> bool {
        let Some(local) = self.local(at_ms) else {
            return false;
        };
        let time = local.time();
        self.spans_on(local.date_naive())
            .iter()
            .any(|&(start, end)| start <= time && time < end)
    }

    /// The next instant after `at_ms` at which the site opens or closes,
    /// within [`LOOKAHEAD_DAYS`] days; `None` if nothing changes in that
    /// time (closed for two weeks, or always the same).
    pub fn next_change(&self, at_ms: i64) -> Option<i64> {
        let today = self.local(at_ms)?.date_naive();
        let horizon = at_ms.saturating_add(LOOKAHEAD_DAYS as i64 * DAY_MS);
        let mut candidates = Vec::new();
        // From the day before: a fold can put yesterday's late times after
        // `at_ms` in real time.
        let first = today.checked_sub_days(Days::new(1))?;
        for offset in 0..=LOOKAHEAD_DAYS + 1 {
            let Some(date) = first.checked_add_days(Days::new(offset)) else {
                break;
            };
            for &(start, end) in self.spans_on(date) {
                for time in [start, end] {
                    candidates.extend(self.instants_of(date.and_time(time)));
                }
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        // Every change is at a candidate, but not every candidate is a
        // change (a span in the spring gap opens and closes at once).
        candidates
            .into_iter()
            .filter(|&c| c > at_ms && c <= horizon)
            .find(|&c| self.is_open(c) != self.is_open(c - 1))
    }

    /// The real instants at which the wall clock reads `local`, or passes
    /// it: two in an autumn fold, and the jump itself when `local` falls in
    /// a spring gap.
    fn instants_of(&self, local: NaiveDateTime) -> Vec<i64> {
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) => vec![t.timestamp_millis()],
            LocalResult::Ambiguous(a, b) => vec![a.timestamp_millis(), b.timestamp_millis()],
            LocalResult::None => {
                // The first wall-clock minute after the gap is the jump.
                // Gaps are at most a few hours (whole minutes everywhere).
                (1..=24 * 60)
                    .filter_map(|minutes| local.checked_add_signed(TimeDelta::minutes(minutes)))
                    .find_map(|later| self.tz.from_local_datetime(&later).earliest())
                    .map(|t| vec![t.timestamp_millis()])
                    .unwrap_or_default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn hours(days: &[(&str, &str)], closed: &[&str]) -> OpeningHours {
        let weekly: BTreeMap<String, String> = days
            .iter()
            .map(|(d, t)| ((*d).to_owned(), (*t).to_owned()))
            .collect();
        let closed: Vec<String> = closed.iter().map(|d| (*d).to_owned()).collect();
        parse("Europe/Berlin", &weekly, &closed).expect("valid hours")
    }

    fn utc(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .expect("test time")
            .timestamp_millis()
    }

    fn office() -> OpeningHours {
        hours(
            &[
                ("mon", "08:00-12:00,13:00-17:30"),
                ("tue", "08:00-12:00, 13:00-17:30"),
                ("wed", "08:00-17:30"),
                ("thu", "08:00-17:30"),
                ("fri", "08:00-15:00"),
                ("sat", "closed"),
                ("sun", ""),
            ],
            &["2026-12-25"],
        )
    }

    #[test]
    fn open_by_the_local_clock() {
        let h = office();
        // Monday 2026-06-01, summer time (UTC+2).
        assert!(h.is_open(utc("2026-06-01T09:00:00+02:00")));
        assert!(h.is_open(utc("2026-06-01T08:00:00+02:00")));
        assert!(!h.is_open(utc("2026-06-01T07:59:59+02:00")));
        assert!(!h.is_open(utc("2026-06-01T12:30:00+02:00")));
        assert!(!h.is_open(utc("2026-06-01T17:30:00+02:00")));
        // 07:30 UTC is 08:30 in winter (UTC+1): open.
        assert!(h.is_open(utc("2026-01-05T07:30:00Z")));
        // Sunday and Saturday closed.
        assert!(!h.is_open(utc("2026-06-07T10:00:00+02:00")));
        assert!(!h.is_open(utc("2026-06-06T10:00:00+02:00")));
        // Christmas 2026 is a Friday, closed by date.
        assert!(!h.is_open(utc("2026-12-25T10:00:00+01:00")));
        assert!(h.is_open(utc("2026-12-18T10:00:00+01:00")));
    }

    #[test]
    fn next_change_walks_the_week() {
        let h = office();
        let monday_nine = utc("2026-06-01T09:00:00+02:00");
        assert_eq!(
            h.next_change(monday_nine),
            Some(utc("2026-06-01T12:00:00+02:00"))
        );
        let noon = utc("2026-06-01T12:00:00+02:00");
        assert_eq!(h.next_change(noon), Some(utc("2026-06-01T13:00:00+02:00")));
        // Friday evening: next is Monday morning.
        let friday = utc("2026-06-05T16:00:00+02:00");
        assert_eq!(
            h.next_change(friday),
            Some(utc("2026-06-08T08:00:00+02:00"))
        );
        // Thursday 24th before Christmas: Friday closed, so Monday 28th.
        let eve = utc("2026-12-24T18:00:00+01:00");
        assert_eq!(h.next_change(eve), Some(utc("2026-12-28T08:00:00+01:00")));
        let never = hours(&[], &[]);
        assert_eq!(never.next_change(monday_nine), None);
        assert!(!never.is_open(monday_nine));
    }

    #[test]
    fn spring_forward_in_berlin() {
        // 2026-03-29 is a Sunday; at 02:00 CET the clocks jump to 03:00 CEST.
        let h = hours(&[("sun", "01:00-04:00")], &[]);
        let opens = utc("2026-03-29T01:00:00+01:00");
        let closes = utc("2026-03-29T04:00:00+02:00");
        assert_eq!(h.next_change(utc("2026-03-28T12:00:00Z")), Some(opens));
        assert_eq!(h.next_change(opens), Some(closes));
        assert_eq!(closes - opens, 2 * HOUR);
        assert!(h.is_open(utc("2026-03-29T00:59:00Z")));

        // 02:30 does not exist that day: the span starts at the jump.
        let gap = hours(&[("sun", "02:30-05:00")], &[]);
        let jump = utc("2026-03-29T01:00:00Z");
        assert_eq!(gap.next_change(utc("2026-03-28T12:00:00Z")), Some(jump));
        assert!(gap.is_open(jump));
        assert!(!gap.is_open(jump - 1));

        // A span wholly inside the gap never opens; the next change is a
        // week later, when 02:00 exists again.
        let lost = hours(&[("sun", "02:00-02:30")], &[]);
        assert_eq!(
            lost.next_change(utc("2026-03-28T12:00:00Z")),
            Some(utc("2026-04-05T02:00:00+02:00"))
        );
    }

    #[test]
    fn fall_back_in_berlin() {
        // 2026-10-25 is a Sunday; at 03:00 CEST the clocks go back to 02:00 CET.
        let h = hours(&[("sun", "01:00-04:00")], &[]);
        let opens = utc("2026-10-25T01:00:00+02:00");
        let closes = utc("2026-10-25T04:00:00+01:00");
        assert_eq!(h.next_change(utc("2026-10-24T12:00:00Z")), Some(opens));
        assert_eq!(h.next_change(opens), Some(closes));
        assert_eq!(closes - opens, 4 * HOUR);

        // 02:15-02:45 happens twice: open, closed, open again, closed.
        let fold = hours(&[("sun", "02:15-02:45")], &[]);
        let mut at = utc("2026-10-24T12:00:00Z");
        let mut changes = Vec::new();
        for _ in 0..4 {
            at = fold.next_change(at).expect("a change");
            changes.push(at);
        }
        assert_eq!(
            changes,
            [
                utc("2026-10-25T00:15:00Z"),
                utc("2026-10-25T00:45:00Z"),
                utc("2026-10-25T01:15:00Z"),
                utc("2026-10-25T01:45:00Z"),
            ]
        );
        assert!(fold.is_open(utc("2026-10-25T01:30:00Z")));
        assert!(!fold.is_open(utc("2026-10-25T01:00:00Z")));
    }

    #[test]
    fn bad_hours_are_named() {
        let weekly = |day: &str, text: &str| BTreeMap::from([(day.to_owned(), text.to_owned())]);
        let err = parse(
            "Europe/Berlin",
            &weekly("mon", "08:00-12:00,1300-17:00"),
            &[],
        )
        .expect_err("missing colon");
        assert_eq!(
            err.to_string(),
            "mon: \"1300\" is not a time HH:MM between 00:00 and 23:59 in \"08:00-12:00,1300-17:00\" \
             (want spans such as \"08:00-12:00,13:00-17:30\", or \"closed\")"
        );
        assert!(matches!(
            parse("Europe/Berlin", &weekly("tue", "22:00-06:00"), &[]),
            Err(HoursError::BadSpan { ref day, ref reason, .. })
                if day == "tue" && reason.contains("cannot cross midnight")
        ));
        assert!(matches!(
            parse("Europe/Berlin", &weekly("wed", "08:00-12:00,11:00-13:00"), &[]),
            Err(HoursError::BadSpan { ref reason, .. }) if reason.contains("overlap")
        ));
        assert_eq!(
            parse("Europe/Berlin", &weekly("funday", "closed"), &[]),
            Err(HoursError::UnknownDay("funday".into()))
        );
        assert_eq!(
            parse("Mars/Olympus", &BTreeMap::new(), &[]),
            Err(HoursError::UnknownTimeZone("Mars/Olympus".into()))
        );
        assert_eq!(
            parse("UTC", &BTreeMap::new(), &["2026-02-30".into()]),
            Err(HoursError::BadClosedDay("2026-02-30".into()))
        );
        assert!(parse("UTC", &weekly("SUN", "Closed"), &[]).is_ok());
    }
}
