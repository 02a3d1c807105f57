//! The `[alerts]` table: how often the rules run and their thresholds.

use super::checker::{Checker, Section};

/// The `[alerts]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertsConfig {
    /// How often the rules run (`check_seconds`, default 30).
    pub check_seconds: u32,
    /// Raise `disk.nearly_full` above this use of the data disk, in percent
    /// (`disk_full_percent`, default 90).
    pub disk_full_percent: u32,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            check_seconds: 30,
            disk_full_percent: 90,
        }
    }
}

const ALERTS_KEYS: &[&str] = &["check_seconds", "disk_full_percent"];

impl Checker<'_> {
    /// `[alerts]`.
    pub(super) fn alerts(&mut self, root: &Section<'_>) -> AlertsConfig {
        let d = AlertsConfig::default();
        let Some(section) = self.sub_table(root, "alerts", "[alerts]", ALERTS_KEYS) else {
            return d;
        };
        AlertsConfig {
            check_seconds: self
                .integer(&section, "check_seconds", 1, 3600)
                .unwrap_or(d.check_seconds),
            disk_full_percent: self
                .integer(&section, "disk_full_percent", 1, 100)
                .unwrap_or(d.disk_full_percent),
        }
    }
}
