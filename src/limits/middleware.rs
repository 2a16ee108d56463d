//! The limiter in front of the API handlers: resolves the account a request
//! acts on and its resource type, holds a guard while the handler runs, and
//! answers 429 (code 20429) with `Retry-After` when the threshold is reached.

use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Impeded, Refused};
use crate::api::{ApiError, Principal, Scope};
use crate::app::App;

/// Twilio's header with the account's current concurrency for the resource type.
pub const CONCURRENT_REQUESTS: HeaderName = HeaderName::from_static("twilio-concurrent-requests");

/// Seconds a refused client is asked to wait: in-flight API requests are short.
const RETRY_AFTER_SECS: &str = "1";

/// Axum middleware: admits, queues or refuses each API request.
pub async fn limit(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let Some(resource_type) = route
        .as_ref()
        .and_then(|route| {
            app.limits
                .resource_type_of(request.method(), route.as_str())
        })
        .map(str::to_owned)
    else {
        // Not an API endpoint: health, metrics, media, the OpenAPI document.
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    // The account acted on, not the caller: a parent's requests on a
    // subaccount count against the subaccount. What is resolved here is left
    // in the request, so the handler's extractors need not authenticate again.
    let (account_sid, principal) = if route.is_some_and(|r| r.as_str().contains("{account}")) {
        match Scope::from_request_parts(&mut parts, &app).await {
            Ok(scope) => {
                parts.extensions.insert(scope.principal.clone());
                parts.extensions.insert(scope.clone());
                (scope.account.sid, scope.principal)
            }
            Err(e) => return e.into_response(),
        }
    } else {
        match Principal::from_request_parts(&mut parts, &app).await {
            Ok(principal) => {
                parts.extensions.insert(principal.clone());
                (principal.account.sid.clone(), principal)
            }
            Err(e) => return e.into_response(),
        }
    };
    // The rate is per credential: each API key has its own.
    let credential = principal
        .api_key_sid
        .as_deref()
        .unwrap_or(&principal.account.sid);
    let threshold = match app.limits.threshold(&account_sid, &resource_type).await {
        Ok(threshold) => threshold,
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    let guard = match app
        .limits
        .acquire(&account_sid, &resource_type, threshold, Some(credential))
        .await
    {
        Ok(guard) => guard,
        Err(Refused::Concurrency(impeded)) => return too_many_requests(&account_sid, &impeded),
        Err(Refused::Rate(wait)) => return rate_limited(credential, wait),
    };
    let current = guard.current;
    // The guard lives in this future: when the client goes away axum drops
    // it, and the guard with it.
    let mut response = next.run(Request::from_parts(parts, body)).await;
    drop(guard);
    response
        .headers_mut()
        .insert(CONCURRENT_REQUESTS, HeaderValue::from(current));
    response
}

fn too_many_requests(account_sid: &str, impeded: &Impeded) -> Response {
    let error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        20429,
        format!(
            "Too Many Requests: account {account_sid} has {} concurrent {} requests, its threshold is {}",
            impeded.current, impeded.resource_type, impeded.threshold
        ),
    );
    let mut response = error.into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECS),
    );
    headers.insert(CONCURRENT_REQUESTS, HeaderValue::from(impeded.current));
    response
}

fn rate_limited(credential: &str, wait: std::time::Duration) -> Response {
    let error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        20429,
        format!("Too Many Requests: {credential} is over its request rate"),
    );
    let mut response = error.into_response();
    // Whole seconds, rounded up: a client retrying then is admitted.
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        HeaderValue::from(secs.max(1)),
    );
    response
}
