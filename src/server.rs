//! The HTTP server: the API plus health, readiness and metrics, with request
//! ids, tracing and a graceful shutdown that drains in-flight requests.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::app::App;
use crate::metrics::{HttpLabels, RouteLabels};
use crate::sid::{Kind, Sid};

/// Twilio names every request; so do we, in the same header.
const REQUEST_ID: HeaderName = HeaderName::from_static("twilio-request-id");

#[derive(Clone, Copy)]
struct MakeTwilioRequestId;

impl MakeRequestId for MakeTwilioRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let sid = Sid::new(Kind::Request);
        Some(RequestId::new(HeaderValue::from_str(sid.as_str()).ok()?))
    }
}

/// Every route Switchboard serves, with its middleware.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .merge(crate::api::router())
        .merge(crate::media::router())
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::limits::limit,
        ))
        .layer(axum::middleware::from_fn_with_state(app.clone(), record_metrics))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                let id = request
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeTwilioRequestId))
        .with_state(app)
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting
/// and lets in-flight requests finish within the configured grace period.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let grace = app.config.shutdown_grace;
    let close_streams = {
        let app = app.clone();
        move || app.events.close_streams()
    };
    let draining = CancellationToken::new();
    let server = axum::serve(listener, router(app))
        .with_graceful_shutdown(draining.clone().cancelled_owned());
    let mut server = std::pin::pin!(std::future::IntoFuture::into_future(server));
    tokio::select! {
        result = &mut server => return result,
        () = shutdown => draining.cancel(),
    }
    // Live event streams never end by themselves: end them, clients resume.
    close_streams();
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutting down: draining in-flight requests"
    );
    match tokio::time::timeout(grace, server).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!("grace period over: closing the remaining connections");
            Ok(())
        }
    }
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    let database = app.store.ping().await.map_err(|e| e.to_string());
    let redis = match &app.redis {
        None => None,
        Some(conn) => {
            let mut conn = conn.clone();
            let pong: Result<String, _> = redis::cmd("PING").query_async(&mut conn).await;
            Some(pong.map(|_| ()).map_err(|e| e.to_string()))
        }
    };
    let nodes = app.router.nodes();
    let nodes_ready = nodes.len() == app.expected_nodes;
    let ready = database.is_ok() && redis.as_ref().is_none_or(Result::is_ok) && nodes_ready;
    let show = |r: &Result<(), String>| match r {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.clone(),
    };
    let body = json!({
        "ready": ready,
        "database": show(&database),
        "redis": redis.as_ref().map(show).unwrap_or_else(|| "not configured".to_owned()),
        "media_nodes": {"connected": nodes, "expected": app.expected_nodes},
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.encode(),
    )
}

async fn record_metrics(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    // Label by route template, never by raw path: SIDs would explode the series.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    app.metrics
        .http_duration
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    app.metrics
        .http_requests
        .get_or_create(&HttpLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}
