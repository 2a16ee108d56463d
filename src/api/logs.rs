//! What calls leave behind: Notifications (errors and warnings) and
//! Recordings, per account and per call, and the recordings' audio.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use sqlx::Row;

use super::auth::Scope;
use super::page::List;
use super::params::Params;
use super::{rfc2822, ApiError, VERSION};
use crate::app::App;
use crate::store::{
    recording_from_row, Column, Listing, Recording, NOTIFICATION_COLUMNS, RECORDING_COLUMNS,
};

fn notification_json(row: &sqlx::any::AnyRow) -> Result<Value, sqlx::Error> {
    let account: String = row.try_get("account_sid")?;
    let sid: String = row.try_get("sid")?;
    let text = |c: &str| row.try_get::<Option<String>, _>(c);
    Ok(json!({
        "account_sid": account,
        "api_version": VERSION,
        "call_sid": text("call_sid")?,
        "date_created": rfc2822(row.try_get("date_created")?),
        "date_updated": rfc2822(row.try_get("date_updated")?),
        "error_code": text("error_code")?,
        "log": text("log")?,
        "message_date": rfc2822(row.try_get("message_date")?),
        "message_text": text("message_text")?,
        "more_info": text("more_info")?,
        "request_method": text("request_method")?,
        "request_url": text("request_url")?,
        "request_variables": text("request_variables")?,
        "response_body": text("response_body")?,
        "response_headers": null,
        "sid": sid,
        "uri": format!("/{VERSION}/Accounts/{account}/Notifications/{sid}.json"),
    }))
}

fn recording_json(r: &Recording) -> Value {
    let uri = format!("/{VERSION}/Accounts/{}/Recordings/{}", r.account_sid, r.sid);
    json!({
        "account_sid": r.account_sid,
        "api_version": VERSION,
        "call_sid": r.call_sid,
        "channels": r.channels,
        "conference_sid": null,
        "date_created": rfc2822(r.date_created),
        "date_updated": rfc2822(r.date_updated),
        "duration": r.duration.to_string(),
        "encryption_details": null,
        "error_code": null,
        "media_url": format!("{uri}.wav"),
        "price": null,
        "price_unit": "USD",
        "sid": r.sid,
        "source": r.source,
        "start_time": rfc2822(r.start_time),
        "status": r.status,
        "subresource_uris": {},
        "uri": format!("{uri}.json"),
    })
}

/// A kind of record a call leaves behind, as listed.
struct Log {
    table: &'static str,
    columns: &'static str,
    key: &'static str,
    render: fn(&sqlx::any::AnyRow) -> Result<Value, sqlx::Error>,
}

const NOTIFICATIONS: Log = Log {
    table: "notifications",
    columns: NOTIFICATION_COLUMNS,
    key: "notifications",
    render: notification_json,
};

const RECORDINGS: Log = Log {
    table: "recordings",
    columns: RECORDING_COLUMNS,
    key: "recordings",
    render: render_recording,
};

/// Which list: the account's, or one call's (`…/Calls/{CallSid}/…`).
async fn list_of(
    app: &App,
    scope: &Scope,
    uri: &axum::http::Uri,
    log: &Log,
    call_sid: Option<&str>,
) -> Result<Response, ApiError> {
    let params = Params::from_query(uri.query());
    let mut list = List::new(
        log.key,
        uri.path(),
        Listing::new(log.table, log.columns, &scope.account.sid),
    );
    // A call's own list is its path; the account's takes a CallSid filter.
    let call_sid = match call_sid {
        Some(sid) => Some(sid),
        None => params.get("CallSid").inspect(|&given| {
            list.echo.push(("CallSid", given));
        }),
    };
    if let Some(call_sid) = call_sid {
        if call_sid.is_empty()
            || app
                .store
                .call(&scope.account.sid, call_sid)
                .await?
                .is_none()
        {
            return Err(ApiError::not_found(uri.path()));
        }
        list.listing
            .filter("call_sid =", Column::Text(Some(call_sid.to_owned())));
    }
    list.answer(app, &params, log.render).await
}

fn render_recording(row: &sqlx::any::AnyRow) -> Result<Value, sqlx::Error> {
    recording_from_row(row).map(|r| recording_json(&r))
}

pub async fn list_notifications(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    list_of(&app, &scope, &uri, &NOTIFICATIONS, None).await
}

pub async fn list_call_notifications(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, call)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    list_of(&app, &scope, &uri, &NOTIFICATIONS, Some(&call)).await
}

pub async fn list_recordings(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    list_of(&app, &scope, &uri, &RECORDINGS, None).await
}

pub async fn list_call_recordings(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, call)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    list_of(&app, &scope, &uri, &RECORDINGS, Some(&call)).await
}

pub async fn fetch_notification(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, segment)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let sid = super::json_segment(&segment, uri.path())?;
    let record = crate::store::Record {
        table: "notifications",
        sid,
        account_sid: &scope.account.sid,
    };
    let row = app
        .store
        .fetch_record(&record, NOTIFICATION_COLUMNS)
        .await?
        .ok_or_else(|| ApiError::not_found(uri.path()))?;
    Ok(Json(
        notification_json(&row).map_err(|e| ApiError::internal(&e))?,
    ))
}

pub async fn delete_notification(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, segment)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let sid = super::json_segment(&segment, uri.path())?;
    let record = crate::store::Record {
        table: "notifications",
        sid,
        account_sid: &scope.account.sid,
    };
    if app.store.delete_record(&record, &[]).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(uri.path()))
    }
}

/// `…/Recordings/{Sid}.json` is the resource; `{Sid}.wav` or `{Sid}` is its audio.
pub async fn fetch_recording(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, segment)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (sid, audio) = match segment.rsplit_once('.') {
        Some((sid, "json")) => (sid, false),
        Some((sid, "wav")) => (sid, true),
        Some(_) => return Err(ApiError::not_found(uri.path())),
        None => (segment.as_str(), true),
    };
    let recording = app
        .store
        .recording(&scope.account.sid, sid)
        .await?
        .ok_or_else(|| ApiError::not_found(uri.path()))?;
    if !audio {
        return Ok(Json(recording_json(&recording)).into_response());
    }
    let bytes = tokio::fs::read(&recording.file_path)
        .await
        .map_err(|_| ApiError::not_found(uri.path()))?;
    Ok(([(header::CONTENT_TYPE, "audio/x-wav")], Body::from(bytes)).into_response())
}

pub async fn delete_recording(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, segment)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let sid = super::json_segment(&segment, uri.path())?;
    let recording = app
        .store
        .delete_recording(&scope.account.sid, sid)
        .await?
        .ok_or_else(|| ApiError::not_found(uri.path()))?;
    if let Err(e) = tokio::fs::remove_file(&recording.file_path).await {
        tracing::warn!(recording = %recording.sid, error = %e, "recording file already gone");
    }
    Ok(StatusCode::NO_CONTENT)
}
