//! `/2010-04-01/Accounts/{AccountSid}/Queues`: the account's call queues, and
//! the callers waiting in them now (Members), who can be sent elsewhere.

use std::sync::Arc;

use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};

use super::auth::Scope;
use super::page::{memory_envelope, page_request, List};
use super::params::{check_url, invalid, Form, Params, INVALID_URL};
use super::{json_segment, rfc2822, ApiError, VERSION};
use crate::app::App;
use crate::router::{Instructions, Member};
use crate::store::{
    now_millis, queue_from_row, Listing, Queue, DEFAULT_QUEUE_SIZE, MAX_QUEUE_SIZE, QUEUE_COLUMNS,
};
use crate::webhook::Method;

fn queue_json(app: &App, queue: &Queue) -> Value {
    let uri = format!(
        "/{VERSION}/Accounts/{}/Queues/{}",
        queue.account_sid, queue.sid
    );
    json!({
        "account_sid": queue.account_sid,
        "average_wait_time": app.router.queue_average_wait(&queue.sid),
        "current_size": app.router.queue_members(&queue.sid).len(),
        "date_created": rfc2822(queue.date_created),
        "date_updated": rfc2822(queue.date_updated),
        "friendly_name": queue.friendly_name,
        "max_size": queue.max_size,
        "sid": queue.sid,
        "subresource_uris": {"members": format!("{uri}/Members.json")},
        "uri": format!("{uri}.json"),
    })
}

fn member_json(queue: &Queue, member: &Member) -> Value {
    json!({
        "call_sid": member.call_sid,
        "date_enqueued": rfc2822(member.enqueued_at),
        "position": member.position,
        "queue_sid": queue.sid,
        "uri": format!(
            "/{VERSION}/Accounts/{}/Queues/{}/Members/{}.json",
            queue.account_sid, queue.sid, member.call_sid
        ),
        "wait_time": (now_millis() - member.enqueued_at).max(0) / 1000,
    })
}

/// `FriendlyName` (1 to 64 characters) and `MaxSize` (1 to 5000) as given.
fn settings(params: &Params) -> Result<(Option<String>, Option<i64>), ApiError> {
    let name = match params.get("FriendlyName") {
        Some(name) if name.is_empty() || name.chars().count() > 64 => {
            return Err(invalid("FriendlyName", name, "must be 1 to 64 characters"));
        }
        name => name.map(str::to_owned),
    };
    let size = params.integer("MaxSize", 1..=MAX_QUEUE_SIZE)?;
    Ok((name, size))
}

fn name_taken(name: &str) -> ApiError {
    ApiError::bad_request(
        22003,
        format!("A queue named {name:?} already exists in this account"),
    )
}

pub async fn create(
    State(app): State<Arc<App>>,
    scope: Scope,
    Form(params): Form,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (name, size) = settings(&params)?;
    let name = name.ok_or_else(|| {
        ApiError::bad_request(
            20001,
            "Missing required parameter FriendlyName in the post body",
        )
    })?;
    let queue = app
        .store
        .create_queue(
            &scope.account.sid,
            &name,
            size.unwrap_or(DEFAULT_QUEUE_SIZE),
        )
        .await?
        .ok_or_else(|| name_taken(&name))?;
    Ok((StatusCode::CREATED, Json(queue_json(&app, &queue))))
}

pub async fn list(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let list = List::new(
        "queues",
        uri.path(),
        Listing::new("queues", QUEUE_COLUMNS, &scope.account.sid),
    );
    list.answer(&app, &Params::from_query(uri.query()), |row| {
        queue_from_row(row).map(|q| queue_json(&app, &q))
    })
    .await
}

/// The account's queue named by a path segment (with or without `.json`), or 404.
async fn owned_queue(
    app: &App,
    scope: &Scope,
    segment: &str,
    path: &str,
) -> Result<Queue, ApiError> {
    let sid = segment.strip_suffix(".json").unwrap_or(segment);
    app.store
        .queue(&scope.account.sid, sid)
        .await?
        .ok_or_else(|| ApiError::not_found(path))
}

pub async fn fetch(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, segment)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    json_segment(&segment, uri.path())?;
    let queue = owned_queue(&app, &scope, &segment, uri.path()).await?;
    Ok(Json(queue_json(&app, &queue)))
}

pub async fn update(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, segment)): Path<(String, String)>,
    Form(params): Form,
) -> Result<Json<Value>, ApiError> {
    json_segment(&segment, uri.path())?;
    let mut queue = owned_queue(&app, &scope, &segment, uri.path()).await?;
    let (name, size) = settings(&params)?;
    if let Some(name) = name {
        queue.friendly_name = name;
    }
    if let Some(size) = size {
        queue.max_size = size;
    }
    if !app.store.update_queue(&queue).await? {
        return Err(name_taken(&queue.friendly_name));
    }
    let queue = owned_queue(&app, &scope, &queue.sid, uri.path()).await?;
    Ok(Json(queue_json(&app, &queue)))
}

/// Deletes an empty queue.
pub async fn delete(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, segment)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    json_segment(&segment, uri.path())?;
    let queue = owned_queue(&app, &scope, &segment, uri.path()).await?;
    if !app.router.queue_members(&queue.sid).is_empty() {
        return Err(ApiError::bad_request(
            20001,
            "The queue has callers in it; only an empty queue can be deleted",
        ));
    }
    app.store
        .delete_queue(&scope.account.sid, &queue.sid)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_members(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, queue)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let queue = owned_queue(&app, &scope, &queue, uri.path()).await?;
    let params = Params::from_query(uri.query());
    let request = page_request(&params)?;
    let members = app
        .router
        .queue_members(&queue.sid)
        .iter()
        .map(|m| member_json(&queue, m))
        .collect();
    Ok(memory_envelope(
        "queue_members",
        uri.path(),
        &request,
        members,
    ))
}

/// A caller in the queue by call SID, or `Front` for the first in line.
fn find_member(app: &App, queue: &Queue, segment: &str, path: &str) -> Result<Member, ApiError> {
    let which = json_segment(segment, path)?;
    let members = app.router.queue_members(&queue.sid);
    let member = match which {
        "Front" => members.into_iter().next(),
        call => members.into_iter().find(|m| m.call_sid == call),
    };
    member.ok_or_else(|| ApiError::not_found(path))
}

pub async fn fetch_member(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, queue, segment)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let queue = owned_queue(&app, &scope, &queue, uri.path()).await?;
    let member = find_member(&app, &queue, &segment, uri.path())?;
    Ok(Json(member_json(&queue, &member)))
}

/// Dequeues a caller: their call leaves the line and runs the document at `Url`.
pub async fn update_member(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, queue, segment)): Path<(String, String, String)>,
    Form(params): Form,
) -> Result<Json<Value>, ApiError> {
    let path = uri.path();
    let queue = owned_queue(&app, &scope, &queue, path).await?;
    let member = find_member(&app, &queue, &segment, path)?;
    let url = params.require("Url", 20001)?;
    let url = check_url("Url", url, INVALID_URL)?;
    let method = match params.method("Method")? {
        Some(m) => Method::parse(Some(&m)),
        None => Method::Post,
    };
    let instructions = Instructions::Fetch {
        url,
        method,
        fallback: None,
        extra: Vec::new(),
    };
    let dequeued = app
        .router
        .dequeue(&queue.sid, Some(&member.call_sid), instructions)
        .ok_or_else(|| ApiError::not_found(path))?;
    Ok(Json(member_json(&queue, &dequeued)))
}
