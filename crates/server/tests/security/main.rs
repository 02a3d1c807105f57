//! The web app's security properties, in one suite, against the router
//! built in-process over a real index in a temporary directory:
//!
//! 1. **CSRF** — every route that may change something ([`CHANGES`],
//!    checked against the router's own OpenAPI document so a new route
//!    cannot be missed) refuses a cookie-authenticated request without the
//!    session's own `X-CSRF-Token` (none, a wrong one, another session's)
//!    with 403 and changes nothing in the index or on disk; the same request
//!    with a bearer token needs no CSRF token; no GET changes anything but
//!    the audit trail; sign-in takes only JSON, which a cross-site form
//!    cannot send.
//! 2. **Sessions** — a session id the client brings to sign-in is never
//!    adopted; sign-out ends the session on the server; sessions end after
//!    their lifetime and when idle; a disabled user's session stops working.
//! 3. **Lock-out** — repeated failed sign-ins lock the account (429 with
//!    `Retry-After`, the right password refused too), each failure and the
//!    lock are logged, other accounts are unaffected, and an unknown or
//!    disabled user gets exactly the answers a wrong password gets; one
//!    address may not try too fast.
//! 4. **Path traversal** — no path parameter of any route, however
//!    encoded, reaches a file outside its directory (canary files above the
//!    data directory are never served), nor does a path held by the index.
//! 5. **Secrets** — no response of any GET route, nor any error answer,
//!    holds a camera or notification password, a password hash, an API
//!    token or its digest, or a session's cookie secret.
//!
//! Each property is a module of its own ([`csrf`], [`reads`], [`sessions`],
//! [`lockout`], [`traversal`], [`secrets`], with [`json_keys`] and
//! [`metrics`] beside them); what they share is the site they run against
//! ([`site`]), the requests they send ([`requests`]), what a request may
//! have changed ([`site_state`]) and the router's routes ([`routes`]).

// The helpers shared with the other test targets of this crate.
#[path = "../common/mod.rs"]
mod common;

mod requests;
mod routes;
mod site;
mod site_state;

mod csrf;
mod json_keys;
mod lockout;
mod metrics;
mod reads;
mod secrets;
mod sessions;
mod traversal;

type Error = Box<dyn std::error::Error>;
type TestResult = Result<(), Error>;
