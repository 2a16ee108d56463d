//! The media layer over HTTP: `POST /media/resolve` and `POST /media/prefetch`
//! for other instances and tools (Basic auth, like the REST API), and
//! `GET /media/{key}.wav`, the persistent URL media nodes play.
//!
//! File URLs carry no credentials: FreeSWITCH's `http_cache` cannot send
//! them, and a key is the hash of the file's bytes, so it cannot be guessed.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::{MediaError, MediaRequest, Resolved};
use crate::api::{ApiError, Principal};
use crate::app::App;

/// How many prefetch items are produced at once.
const PREFETCH_CONCURRENCY: usize = 4;
/// A prefetch is for a deployment's prompts, not a bulk import.
const PREFETCH_MAX_ITEMS: usize = 500;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/media/resolve", post(resolve))
        .route("/media/prefetch", post(prefetch))
        .route("/media/{file}", get(serve))
}

impl From<MediaError> for ApiError {
    fn from(err: MediaError) -> ApiError {
        let status = match &err {
            MediaError::InvalidUrl { .. }
            | MediaError::Refused { .. }
            | MediaError::InvalidText { .. }
            | MediaError::InvalidVoice { .. }
            | MediaError::UnsupportedLanguage { .. } => StatusCode::BAD_REQUEST,
            MediaError::BadHost { .. }
            | MediaError::Connection { .. }
            | MediaError::Timeout { .. }
            | MediaError::TooManyRedirects { .. }
            | MediaError::Tls { .. }
            | MediaError::Status { .. }
            | MediaError::ContentType { .. }
            | MediaError::TooLarge { .. }
            | MediaError::Undecodable { .. } => StatusCode::BAD_GATEWAY,
            MediaError::Speech { .. } | MediaError::Storage(_) => return ApiError::internal(&err),
        };
        ApiError::new(status, err.code(), err.to_string())
    }
}

fn body_error(rejection: JsonRejection) -> ApiError {
    ApiError::bad_request(
        20422,
        format!("Invalid request body: {}", rejection.body_text()),
    )
}

async fn resolve(
    State(app): State<Arc<App>>,
    _caller: Principal,
    body: Result<Json<MediaRequest>, JsonRejection>,
) -> Result<Json<Resolved>, ApiError> {
    let Json(request) = body.map_err(body_error)?;
    Ok(Json(app.media.resolve(request).await?))
}

#[derive(Deserialize)]
struct Prefetch {
    items: Vec<MediaRequest>,
    /// Pinned prompts are never evicted (default: pinned).
    #[serde(default = "yes")]
    pin: bool,
}

fn yes() -> bool {
    true
}

#[derive(Serialize)]
#[serde(untagged)]
enum ItemResult {
    Ok(Resolved),
    Err { code: u32, message: String },
}

#[derive(Serialize)]
struct PrefetchAnswer {
    resolved: usize,
    failed: usize,
    items: Vec<ItemResult>,
}

/// Warms the cache with prompts; each item succeeds or fails on its own.
async fn prefetch(
    State(app): State<Arc<App>>,
    _caller: Principal,
    body: Result<Json<Prefetch>, JsonRejection>,
) -> Result<Json<PrefetchAnswer>, ApiError> {
    let Json(Prefetch { items, pin }) = body.map_err(body_error)?;
    if items.len() > PREFETCH_MAX_ITEMS {
        return Err(ApiError::bad_request(
            20422,
            format!("At most {PREFETCH_MAX_ITEMS} items per prefetch"),
        ));
    }
    let items: Vec<ItemResult> = futures::stream::iter(items)
        .map(|item| {
            let app = app.clone();
            async move {
                match app.media.resolve_pinned(item, pin).await {
                    Ok(resolved) => ItemResult::Ok(resolved),
                    Err(err) => ItemResult::Err {
                        code: err.code(),
                        message: err.to_string(),
                    },
                }
            }
        })
        .buffered(PREFETCH_CONCURRENCY)
        .collect()
        .await;
    let failed = items
        .iter()
        .filter(|i| matches!(i, ItemResult::Err { .. }))
        .count();
    Ok(Json(PrefetchAnswer {
        resolved: items.len() - failed,
        failed,
        items,
    }))
}

/// A media file, immutable by construction: cached forever downstream.
async fn serve(
    State(app): State<Arc<App>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let path_shown = format!("/media/{file}");
    let key = file
        .strip_suffix(".wav")
        .ok_or_else(|| ApiError::not_found(&path_shown))?;
    let path = app
        .media
        .file(key)
        .await
        .ok_or_else(|| ApiError::not_found(&path_shown))?;
    let etag = format!("\"{key}\"");
    let cache_control = HeaderValue::from_static("public, max-age=31536000, immutable");
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let etag = HeaderValue::from_str(&etag).expect("hex is a valid header value");
    if matches {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache_control)],
        )
            .into_response());
    }
    let bytes = match tokio::fs::read(&path).await {
        Ok(bytes) => bytes,
        // Evicted between the lookup and the read.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::not_found(&path_shown))
        }
        Err(e) => return Err(ApiError::internal(&e)),
    };
    app.media.metrics.bytes_served.inc_by(bytes.len() as u64);
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("audio/wav")),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache_control),
        ],
        bytes,
    )
        .into_response())
}
