//! What the site's web app and the central office's share, so the two sign
//! people in the same way and look the same:
//!
//! - [`credentials`]: passwords (argon2id), API tokens and session secrets,
//!   and the CSRF token derived from a session's secret;
//! - [`throttle`]: how fast sign-ins may be tried;
//! - [`files`]: the app's common modules (the API client, the router, the
//!   session, the page builders, the sign-in page, the style sheet) and the
//!   headers every file of either app is served with.
//!
//! Each app adds its own `index.html`, entry module and pages.

pub mod credentials;
pub mod files;
pub mod throttle;
