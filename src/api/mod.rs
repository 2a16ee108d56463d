//! The Twilio-compatible REST API, version 2010-04-01.
//!
//! Paths end in `.json`; responses use Twilio's JSON shapes and error body.

mod accounts;
mod auth;
mod error;
mod keys;
mod page;
mod params;
mod resource;

pub use auth::Principal;
pub use error::ApiError;

use std::sync::Arc;

use axum::Router;

use crate::app::App;

/// The API version every path starts with.
pub const VERSION: &str = "2010-04-01";

pub fn router() -> Router<Arc<App>> {
    use axum::routing::get;
    let mut router = Router::new()
        .route(
            "/2010-04-01/Accounts.json",
            get(accounts::list).post(accounts::create),
        )
        .route(
            "/2010-04-01/Accounts/{account}",
            get(accounts::fetch).post(accounts::update),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Keys.json",
            get(keys::list).post(keys::create),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Keys/{sid}",
            get(keys::fetch).post(keys::update).delete(keys::delete),
        );
    for resource in resource::RESOURCES {
        for (path, method_router) in resource.routes() {
            router = router.route(&path, method_router);
        }
    }
    router
}

/// A path segment such as `AC….json` without its required `.json` suffix.
fn json_segment<'a>(segment: &'a str, path: &str) -> Result<&'a str, ApiError> {
    segment
        .strip_suffix(".json")
        .ok_or_else(|| ApiError::not_found(path))
}

/// Twilio's date format (RFC 2822 in UTC), from Unix milliseconds.
pub fn rfc2822(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_rfc_2822_in_utc() {
        assert_eq!(
            super::rfc2822(1_764_033_099_000),
            "Tue, 25 Nov 2025 01:11:39 +0000"
        );
    }
}
