//! The custody register's rules, as pure functions over plain values.
//!
//! Nothing here touches a file, a database or the clock: callers pass the
//! register's rows in and a time as milliseconds since the Unix epoch, and
//! store what comes back. That keeps every rule testable with made-up values
//! and lets the store, the HTTP API and the CLI share one set of rules.
//!
//! | module | what it decides |
//! |---|---|
//! | [`model`] | items, people and locations; which codes are valid |
//! | [`actions`] | what each custody action does to an item, or why it is refused |
//! | [`csv_import`] | parsing uploaded `locations.csv`, `people.csv` and `items.csv`, all rows or none |
//! | [`hours`] | the site's opening hours in its own time zone |
//! | [`inventory`] | comparing a shelf scan with the register |
//! | [`labels`] | Code 128 barcode labels as SVG, and printable sheets of them |
//! | [`footage`] | which cameras must have seen an action, and whether it was recorded |
//! | [`rules`] | overdue items, locations no camera sees, actions outside hours |
#![warn(missing_docs)]

pub mod actions;
pub mod csv_import;
pub mod footage;
pub mod hours;
pub mod inventory;
pub mod labels;
pub mod model;
pub mod rules;
