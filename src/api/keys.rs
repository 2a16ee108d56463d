//! `/2010-04-01/Accounts/{AccountSid}/Keys`: API keys. The secret is shown
//! once, in the answer to the create.

use std::sync::Arc;

use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};
use sqlx::Row;

use super::auth::Scope;
use super::page::List;
use super::params::{Form, Params};
use super::{json_segment, rfc2822, ApiError, VERSION};
use crate::app::App;
use crate::store::{ApiKey, Listing};

const COLUMNS: &str = "sid, account_sid, friendly_name, date_created, date_updated";

fn key_json(sid: &str, friendly_name: &str, created: i64, updated: i64) -> Value {
    json!({
        "sid": sid,
        "friendly_name": friendly_name,
        "date_created": rfc2822(created),
        "date_updated": rfc2822(updated),
    })
}

pub async fn create(
    State(app): State<Arc<App>>,
    scope: Scope,
    Form(params): Form,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let name = params.get("FriendlyName").unwrap_or_default();
    let (key, secret): (ApiKey, String) =
        app.store.create_api_key(&scope.account.sid, name).await?;
    let mut body = key_json(
        &key.sid,
        &key.friendly_name,
        key.date_created,
        key.date_updated,
    );
    body["secret"] = Value::String(secret);
    Ok((StatusCode::CREATED, Json(body)))
}

pub async fn fetch(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, segment)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let sid = json_segment(&segment, uri.path())?;
    let key = app
        .store
        .api_key(sid)
        .await?
        .filter(|key| key.account_sid == scope.account.sid)
        .ok_or_else(|| ApiError::not_found(uri.path()))?;
    Ok(Json(key_json(
        &key.sid,
        &key.friendly_name,
        key.date_created,
        key.date_updated,
    )))
}

pub async fn update(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((account, segment)): Path<(String, String)>,
    Form(params): Form,
) -> Result<Json<Value>, ApiError> {
    let sid = json_segment(&segment, uri.path())?;
    if let Some(name) = params.get("FriendlyName") {
        if !app
            .store
            .rename_api_key(&scope.account.sid, sid, name)
            .await?
        {
            return Err(ApiError::not_found(uri.path()));
        }
    }
    fetch(
        State(app),
        scope,
        OriginalUri(uri),
        Path((account, segment)),
    )
    .await
}

pub async fn delete(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, segment)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let sid = json_segment(&segment, uri.path())?;
    if app.store.delete_api_key(&scope.account.sid, sid).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(uri.path()))
    }
}

pub async fn list(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let path = format!("/{VERSION}/Accounts/{}/Keys.json", scope.account.sid);
    let list = List::new(
        "keys",
        &path,
        Listing::new("api_keys", COLUMNS, &scope.account.sid),
    );
    list.answer(&app, &Params::from_query(uri.query()), |row| {
        Ok::<_, sqlx::Error>(key_json(
            row.try_get("sid")?,
            row.try_get("friendly_name")?,
            row.try_get("date_created")?,
            row.try_get("date_updated")?,
        ))
    })
    .await
}
