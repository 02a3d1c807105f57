//! The `[hours]` table: the site's opening hours, read by
//! `custos_custody::hours`.

use super::checker::{describe, describe_value, Checker, Section};

const HOURS_KEYS: &[&str] = &[
    "time_zone",
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
    "closed",
];

impl Checker<'_> {
    /// `[hours]`: the site's time zone, weekly hours and closed days.
    pub(super) fn hours(
        &mut self,
        root: &Section<'_>,
    ) -> Option<custos_custody::hours::OpeningHours> {
        let section = self.sub_table(root, "hours", "[hours]", HOURS_KEYS)?;
        let Some((tz, _)) = self.string(
            &section,
            "time_zone",
            "an IANA time zone such as \"Europe/Berlin\"",
        ) else {
            if section.get("time_zone").is_none() {
                self.missing(
                    &section,
                    "time_zone",
                    "an IANA time zone such as \"Europe/Berlin\"",
                );
            }
            return None;
        };
        let mut weekly = std::collections::BTreeMap::new();
        for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
            if let Some((text, _)) = self.string(
                &section,
                day,
                "hours such as \"08:00-12:00,13:00-17:30\" or \"closed\"",
            ) {
                weekly.insert(day.to_owned(), text);
            }
        }
        let mut closed = Vec::new();
        if let Some((item, span)) = section.get("closed") {
            match item.as_array() {
                Some(array) => {
                    for v in array.iter() {
                        match v.as_str() {
                            Some(d) => closed.push(d.to_owned()),
                            None => self.report(
                                v.span().or(span.clone()),
                                format!(
                                    "closed: expected dates such as \"2026-12-25\", found {}",
                                    describe_value(v)
                                ),
                            ),
                        }
                    }
                }
                None => self.report(
                    span,
                    format!(
                        "closed: expected an array of dates such as [\"2026-12-25\"], found {}",
                        describe(item)
                    ),
                ),
            }
        }
        match custos_custody::hours::parse(&tz, &weekly, &closed) {
            Ok(h) => Some(h),
            Err(e) => {
                self.report(section.span.clone(), format!("[hours]: {e}"));
                None
            }
        }
    }
}
