//! `/2010-04-01/Accounts/{AccountSid}/Conferences`: the account's conferences
//! and the participants in them now, with live control (end a conference;
//! mute, hold or remove a participant) through the call router.

use std::sync::Arc;

use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::auth::Scope;
use super::page::List;
use super::params::{invalid, Form, Params};
use super::{json_segment, rfc2822, ApiError, VERSION};
use crate::app::App;
use crate::router::{Change, ConferenceError};
use crate::store::{flag, Column, Listing, CONFERENCE_COLUMNS, PARTICIPANT_COLUMNS};

const STATUSES: [&str; 3] = ["init", "in-progress", "completed"];

fn conference_json(row: &AnyRow) -> Result<Value, sqlx::Error> {
    let account: String = row.try_get("account_sid")?;
    let sid: String = row.try_get("sid")?;
    let uri = format!("/{VERSION}/Accounts/{account}/Conferences/{sid}");
    Ok(json!({
        "account_sid": account,
        "api_version": VERSION,
        "call_sid_ending_conference": row.try_get::<Option<String>, _>("call_sid_ending_conference")?,
        "date_created": rfc2822(row.try_get("date_created")?),
        "date_updated": rfc2822(row.try_get("date_updated")?),
        "friendly_name": row.try_get::<String, _>("friendly_name")?,
        "reason_conference_ended": row.try_get::<Option<String>, _>("reason_conference_ended")?,
        "region": row.try_get::<String, _>("region")?,
        "sid": sid,
        "status": row.try_get::<String, _>("status")?,
        "subresource_uris": {
            "participants": format!("{uri}/Participants.json"),
            "recordings": format!("{uri}/Recordings.json"),
        },
        "uri": format!("{uri}.json"),
    }))
}

fn participant_json(row: &AnyRow) -> Result<Value, sqlx::Error> {
    let account: String = row.try_get("account_sid")?;
    let conference: String = row.try_get("conference_sid")?;
    let call: String = row.try_get("sid")?;
    Ok(json!({
        "account_sid": account,
        "call_sid": call,
        "call_sid_to_coach": null,
        "coaching": false,
        "conference_sid": conference,
        "date_created": rfc2822(row.try_get("date_created")?),
        "date_updated": rfc2822(row.try_get("date_updated")?),
        "end_conference_on_exit": flag(row, "end_conference_on_exit")?,
        "hold": flag(row, "hold")?,
        "label": row.try_get::<Option<String>, _>("label")?,
        "muted": flag(row, "muted")?,
        "queue_time": null,
        "start_conference_on_enter": flag(row, "start_conference_on_enter")?,
        "status": row.try_get::<String, _>("status")?,
        "uri": format!("/{VERSION}/Accounts/{account}/Conferences/{conference}/Participants/{call}.json"),
    }))
}

pub async fn list(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let params = Params::from_query(uri.query());
    if let Some(status) = params.get("Status") {
        if !STATUSES.contains(&status) {
            return Err(invalid(
                "Status",
                status,
                "must be init, in-progress or completed",
            ));
        }
    }
    let mut list = List::new(
        "conferences",
        uri.path(),
        Listing::new("conferences", CONFERENCE_COLUMNS, &scope.account.sid),
    );
    list.filter_equal(
        &params,
        &[("FriendlyName", "friendly_name ="), ("Status", "status =")],
    );
    list.answer(&app, &params, conference_json).await
}

/// The account's conference named by a path segment, or 404.
async fn owned_conference(
    app: &App,
    scope: &Scope,
    sid: &str,
    path: &str,
) -> Result<AnyRow, ApiError> {
    app.store
        .conference(&scope.account.sid, sid)
        .await?
        .ok_or_else(|| ApiError::not_found(path))
}

pub async fn fetch(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, segment)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let sid = json_segment(&segment, uri.path())?;
    let row = owned_conference(&app, &scope, sid, uri.path()).await?;
    Ok(Json(
        conference_json(&row).map_err(|e| ApiError::internal(&e))?,
    ))
}

/// `Status=completed` ends a live conference; nothing else is changeable.
pub async fn update(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, segment)): Path<(String, String)>,
    Form(params): Form,
) -> Result<Json<Value>, ApiError> {
    let sid = json_segment(&segment, uri.path())?;
    owned_conference(&app, &scope, sid, uri.path()).await?;
    for unsupported in ["AnnounceUrl", "AnnounceMethod"] {
        if params.get(unsupported).is_some() {
            return Err(ApiError::bad_request(
                20001,
                format!("{unsupported} is not supported by Switchboard yet"),
            ));
        }
    }
    match params.get("Status") {
        None => {}
        Some("completed") => {
            app.router.end_conference(&scope.account.sid, sid).await;
        }
        Some(other) => return Err(invalid("Status", other, "must be completed")),
    }
    let row = owned_conference(&app, &scope, sid, uri.path()).await?;
    Ok(Json(
        conference_json(&row).map_err(|e| ApiError::internal(&e))?,
    ))
}

pub async fn list_participants(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, conference)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    owned_conference(&app, &scope, &conference, uri.path()).await?;
    let params = Params::from_query(uri.query());
    let mut listing = Listing::new(
        "conference_participants",
        PARTICIPANT_COLUMNS,
        &scope.account.sid,
    );
    listing.filter("conference_sid =", Column::Text(Some(conference.clone())));
    let mut list = List::new("participants", uri.path(), listing);
    for (name, condition) in [("Muted", "muted ="), ("Hold", "hold =")] {
        if let Some(value) = params.boolean(name)? {
            let given = if value { "true" } else { "false" };
            list.filter(name, given, condition, Column::Int(i64::from(value)));
        }
    }
    list.answer(&app, &params, participant_json).await
}

/// A participant of the account's conference, from the path, or 404.
async fn owned_participant(
    app: &App,
    scope: &Scope,
    conference: &str,
    segment: &str,
    path: &str,
) -> Result<AnyRow, ApiError> {
    let call = json_segment(segment, path)?;
    app.store
        .participant(&scope.account.sid, conference, call)
        .await?
        .ok_or_else(|| ApiError::not_found(path))
}

pub async fn fetch_participant(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, conference, segment)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let row = owned_participant(&app, &scope, &conference, &segment, uri.path()).await?;
    Ok(Json(
        participant_json(&row).map_err(|e| ApiError::internal(&e))?,
    ))
}

fn conference_error(error: ConferenceError, path: &str) -> ApiError {
    match error {
        ConferenceError::NotParticipant | ConferenceError::NotLive => ApiError::not_found(path),
        ConferenceError::Node(reason) => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 20500, reason)
        }
    }
}

/// `Muted` and `Hold` change a participant on the switch.
pub async fn update_participant(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, conference, segment)): Path<(String, String, String)>,
    Form(params): Form,
) -> Result<Json<Value>, ApiError> {
    let path = uri.path();
    let row = owned_participant(&app, &scope, &conference, &segment, path).await?;
    let call: String = row.try_get("sid").map_err(|e| ApiError::internal(&e))?;
    for unsupported in [
        "HoldUrl",
        "AnnounceUrl",
        "BeepOnExit",
        "CallSidToCoach",
        "Coaching",
    ] {
        if params.get(unsupported).is_some() {
            return Err(ApiError::bad_request(
                20001,
                format!("{unsupported} is not supported by Switchboard yet"),
            ));
        }
    }
    let muted = params.boolean("Muted")?;
    let hold = params.boolean("Hold")?;
    let change = Change::Update { muted, hold };
    app.router
        .change_participant(&scope.account.sid, &conference, &call, change)
        .await
        .map_err(|e| conference_error(e, path))?;
    let row = owned_participant(&app, &scope, &conference, &segment, path).await?;
    Ok(Json(
        participant_json(&row).map_err(|e| ApiError::internal(&e))?,
    ))
}

/// Removes (kicks) a participant: its call goes on with its document.
pub async fn delete_participant(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, conference, segment)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let path = uri.path();
    let row = owned_participant(&app, &scope, &conference, &segment, path).await?;
    let call: String = row.try_get("sid").map_err(|e| ApiError::internal(&e))?;
    app.router
        .change_participant(&scope.account.sid, &conference, &call, Change::Kick)
        .await
        .map_err(|e| conference_error(e, path))?;
    Ok(StatusCode::NO_CONTENT)
}
