//! `GET /v1/Events/stream`: the account's events live, as Server-Sent Events
//! or, when the request asks to upgrade, as WebSocket text messages (one
//! CloudEvents JSON each). Filters: `Types` (comma-separated or repeated),
//! `IncludeSubaccounts`, or `SinkSid` (a `stream` sink: its subscriptions
//! decide). Resumes after `Last-Event-ID` (header, or the `LastEventId`
//! parameter for clients that cannot set headers).

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, OriginalUri, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use sqlx::Row;

use super::bus::{Filter, Subscription};

/// A comment line this often keeps idle connections (and proxies) open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Most bytes of events written at once.
const BURST_BYTES: usize = 64 * 1024;
use super::event::is_known_type;
use crate::api::params::{invalid, Params};
use crate::api::{ApiError, Principal};
use crate::app::App;

pub async fn stream(
    State(app): State<Arc<App>>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
    mut parts: Parts,
) -> Result<Response, ApiError> {
    let params = Params::from_query(uri.query());
    let filter = filter(&app, &principal, &params, uri.path()).await?;
    let last_id = match parts
        .headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or(params.get("LastEventId"))
    {
        None | Some("") => None,
        Some(id) => Some(
            id.trim()
                .parse::<i64>()
                .map_err(|_| invalid("Last-Event-ID", id, "is not an event id"))?,
        ),
    };
    let subscription = app.events.subscribe(filter, last_id).await?;
    let upgrade = parts
        .headers
        .get(axum::http::header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let closed = app.events.streams_closed();
    if upgrade {
        let ws = WebSocketUpgrade::from_request_parts(&mut parts, &app)
            .await
            .map_err(|e| ApiError::bad_request(20001, e.body_text()))?;
        return Ok(ws.on_upgrade(move |socket| websocket(socket, subscription, closed)));
    }
    // Frames are rendered once per event and shared by every stream; a
    // burst already at hand goes out in one write.
    let keep_alive = tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    let state = (subscription, closed, keep_alive);
    let frames = futures::stream::unfold(
        state,
        |(mut subscription, closed, mut keep_alive)| async move {
            let first = tokio::select! {
                envelope = subscription.next() => envelope?,
                _ = keep_alive.tick() => {
                    let comment = Bytes::from_static(b":\n\n");
                    return Some((Ok::<_, Infallible>(comment), (subscription, closed, keep_alive)));
                }
                // Switchboard is stopping: the client resumes from its last id.
                () = closed.cancelled() => return None,
            };
            let mut frames = BytesMut::from(&first.sse[..]);
            while frames.len() < BURST_BYTES {
                let Some(next) = subscription.try_next() else {
                    break;
                };
                frames.extend_from_slice(&next.sse);
            }
            Some((Ok(frames.freeze()), (subscription, closed, keep_alive)))
        },
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(frames),
    )
        .into_response())
}

async fn websocket(
    mut socket: WebSocket,
    mut subscription: Subscription,
    closed: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            () = closed.cancelled() => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            envelope = subscription.next() => {
                let Some(envelope) = envelope else { return };
                if socket.send(Message::Text(envelope.json.clone().into())).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                // Pings are answered by axum; nothing else is expected from the client.
                Some(Ok(_)) => {}
            },
        }
    }
}

/// The subscriber's filter from its parameters, within its own account.
async fn filter(
    app: &App,
    principal: &Principal,
    params: &Params,
    path: &str,
) -> Result<Filter, ApiError> {
    let account_sid = principal.account.sid.clone();
    if let Some(sink) = params.get("SinkSid").filter(|s| !s.is_empty()) {
        let row = sqlx::query("SELECT sink_type FROM sinks WHERE sid = $1 AND account_sid = $2")
            .bind(sink)
            .bind(&account_sid)
            .fetch_optional(app.store.pool())
            .await
            .map_err(|e| ApiError::internal(&e))?
            .ok_or_else(|| ApiError::not_found(&format!("{path}?SinkSid={sink}")))?;
        let sink_type: String = row
            .try_get("sink_type")
            .map_err(|e| ApiError::internal(&e))?;
        if sink_type != "stream" {
            return Err(invalid("SinkSid", sink, "is not a stream sink"));
        }
        let rows = sqlx::query(
            "SELECT e.type, s.include_subaccounts FROM subscriptions s
             JOIN subscribed_events e ON e.subscription_sid = s.sid
             WHERE s.sink_sid = $1 AND s.account_sid = $2",
        )
        .bind(sink)
        .bind(&account_sid)
        .fetch_all(app.store.pool())
        .await
        .map_err(|e| ApiError::internal(&e))?;
        let mut types = HashSet::new();
        let mut include_subaccounts = false;
        for row in rows {
            types.insert(row.try_get("type").map_err(|e| ApiError::internal(&e))?);
            include_subaccounts |= row
                .try_get::<i64, _>("include_subaccounts")
                .map_err(|e| ApiError::internal(&e))?
                != 0;
        }
        return Ok(Filter {
            account_sid,
            include_subaccounts,
            types: Some(types),
        });
    }
    let mut types = HashSet::new();
    for value in params.all("Types") {
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !is_known_type(name) {
                return Err(invalid(
                    "Types",
                    name,
                    "is not an event type (see /v1/Types)",
                ));
            }
            types.insert(name.to_owned());
        }
    }
    Ok(Filter {
        account_sid,
        include_subaccounts: params.boolean("IncludeSubaccounts")?.unwrap_or(false),
        types: (!types.is_empty()).then_some(types),
    })
}
