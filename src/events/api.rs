//! The subscriptions API in the shape of Twilio Event Streams: `/v1/Sinks`
//! (where events go: a `webhook`, or a `stream` read at
//! `/v1/Events/stream?SinkSid=…`), `/v1/Subscriptions` (which types go to
//! which sink), `/v1/Types`. Everything belongs to the authenticated
//! account; another account's sink or subscription is simply not found.

use std::sync::Arc;

use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::Json;
use serde_json::{json, Map, Value};
use sqlx::Row;

use super::event::{is_known_type, SCHEMA_VERSION, TYPES};
use crate::api::page::page_request;
use crate::api::params::{check_url, invalid, Form, Params, INVALID_PARAMETER};
use crate::api::{param, required, Answer, FieldKind};
use crate::api::{ApiError, Endpoint, Principal, Verb};
use crate::app::App;
use crate::sid::{Kind, Sid};
use crate::store::{now_millis, Column, Listing, Page, PageRequest};

const SINK_COLUMNS: &str = "sid, account_sid, description, sink_type, sink_configuration, status, date_created, date_updated";
const SUBSCRIPTION_COLUMNS: &str =
    "sid, account_sid, sink_sid, description, include_subaccounts, date_created, date_updated";

/// The endpoints of `/v1`, routed and documented like every other.
pub fn endpoints() -> Vec<Endpoint> {
    use FieldKind::{Bool, Text};
    let endpoint =
        |verb, path: &str, operation: &str, summary: &str, params, answer, handler| Endpoint {
            verb,
            path: path.to_owned(),
            operation: operation.into(),
            summary: summary.into(),
            params,
            answer,
            handler,
        };
    let paging = || {
        vec![
            param("PageSize", Text),
            param("Page", Text),
            param("PageToken", Text),
        ]
    };
    let mut sink_filters = vec![param("InUse", Bool), param("Status", Text)];
    sink_filters.extend(paging());
    let mut subscription_filters = vec![param("SinkSid", Text)];
    subscription_filters.extend(paging());
    vec![
        endpoint(Verb::Get, "/v1/Sinks", "listSink", "List the account's sinks", sink_filters, Answer::Page { key: "sinks" }, get(list_sinks)),
        endpoint(
            Verb::Post,
            "/v1/Sinks",
            "createSink",
            "Create a sink: a webhook, or a stream",
            vec![
                required("Description", Text),
                required("SinkConfiguration", Text),
                required("SinkType", Text),
            ],
            Answer::One { status: 201 },
            post(create_sink),
        ),
        endpoint(Verb::Get, "/v1/Sinks/{Sid}", "fetchSink", "Fetch a sink", vec![], Answer::One { status: 200 }, get(fetch_sink)),
        endpoint(Verb::Post, "/v1/Sinks/{Sid}", "updateSink", "Describe a sink anew", vec![required("Description", Text)], Answer::One { status: 200 }, post(update_sink)),
        endpoint(Verb::Delete, "/v1/Sinks/{Sid}", "deleteSink", "Delete a sink no subscription uses", vec![], Answer::Nothing, delete(delete_sink)),
        endpoint(Verb::Get, "/v1/Subscriptions", "listSubscription", "List the account's subscriptions", subscription_filters, Answer::Page { key: "subscriptions" }, get(list_subscriptions)),
        endpoint(
            Verb::Post,
            "/v1/Subscriptions",
            "createSubscription",
            "Subscribe a sink to event types",
            vec![
                required("Description", Text),
                required("SinkSid", Text),
                required("Types", Text),
                param("IncludeSubaccounts", Bool),
            ],
            Answer::One { status: 201 },
            post(create_subscription),
        ),
        endpoint(Verb::Get, "/v1/Subscriptions/{Sid}", "fetchSubscription", "Fetch a subscription", vec![], Answer::One { status: 200 }, get(fetch_subscription)),
        endpoint(
            Verb::Post,
            "/v1/Subscriptions/{Sid}",
            "updateSubscription",
            "Change a subscription's description, sink or types",
            vec![param("Description", Text), param("SinkSid", Text), param("Types", Text)],
            Answer::One { status: 200 },
            post(update_subscription),
        ),
        endpoint(Verb::Delete, "/v1/Subscriptions/{Sid}", "deleteSubscription", "Delete a subscription", vec![], Answer::Nothing, delete(delete_subscription)),
        endpoint(Verb::Get, "/v1/Types", "listEventType", "The event types Switchboard publishes", paging(), Answer::Page { key: "types" }, get(list_types)),
        endpoint(
            Verb::Get,
            "/v1/Events/stream",
            "streamEvents",
            "The account's events live: Server-Sent Events, or WebSocket when upgraded; resumes after Last-Event-ID",
            vec![param("Types", Text), param("SinkSid", Text), param("IncludeSubaccounts", Bool), param("LastEventId", Text)],
            Answer::One { status: 200 },
            get(super::stream::stream),
        ),
    ]
}

/// ISO 8601 in UTC, as Twilio's v1 APIs write dates.
fn iso8601(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(&e)
}

fn sink_json(app: &App, row: &sqlx::any::AnyRow) -> Result<Value, ApiError> {
    let sid: String = row.try_get("sid").map_err(internal)?;
    let configuration: String = row.try_get("sink_configuration").map_err(internal)?;
    Ok(json!({
        "sid": sid,
        "description": row.try_get::<String, _>("description").map_err(internal)?,
        "sink_type": row.try_get::<String, _>("sink_type").map_err(internal)?,
        "sink_configuration": serde_json::from_str::<Value>(&configuration).unwrap_or(Value::Null),
        "status": row.try_get::<String, _>("status").map_err(internal)?,
        "date_created": iso8601(row.try_get("date_created").map_err(internal)?),
        "date_updated": iso8601(row.try_get("date_updated").map_err(internal)?),
        "url": format!("{}v1/Sinks/{sid}", app.public_url),
        "links": {},
    }))
}

async fn subscription_json(app: &App, row: &sqlx::any::AnyRow) -> Result<Value, ApiError> {
    let sid: String = row.try_get("sid").map_err(internal)?;
    let types = subscribed_types(app, &sid).await?;
    Ok(json!({
        "sid": sid,
        "account_sid": row.try_get::<String, _>("account_sid").map_err(internal)?,
        "sink_sid": row.try_get::<String, _>("sink_sid").map_err(internal)?,
        "description": row.try_get::<String, _>("description").map_err(internal)?,
        "include_subaccounts": row.try_get::<i64, _>("include_subaccounts").map_err(internal)? != 0,
        "types": types,
        "date_created": iso8601(row.try_get("date_created").map_err(internal)?),
        "date_updated": iso8601(row.try_get("date_updated").map_err(internal)?),
        "url": format!("{}v1/Subscriptions/{sid}", app.public_url),
        "links": {},
    }))
}

async fn subscribed_types(app: &App, subscription_sid: &str) -> Result<Vec<Value>, ApiError> {
    let rows = sqlx::query(
        "SELECT type, schema_version FROM subscribed_events WHERE subscription_sid = $1 ORDER BY type",
    )
    .bind(subscription_sid)
    .fetch_all(app.store.pool())
    .await
    .map_err(internal)?;
    rows.iter()
        .map(|r| {
            Ok(json!({
                "type": r.try_get::<String, _>("type").map_err(internal)?,
                "schema_version": r.try_get::<i64, _>("schema_version").map_err(internal)?,
            }))
        })
        .collect()
}

/// Twilio's v1 list envelope: the items under `key`, and `meta`.
fn page_json(
    app: &App,
    key: &str,
    path: &str,
    filters: &[(&str, &str)],
    request: &PageRequest,
    page: &Page,
    items: Vec<Value>,
) -> Result<Value, ApiError> {
    let url = |number: i64, token: Option<&str>| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in filters {
            query.append_pair(name, value);
        }
        query.append_pair("PageSize", &request.size.to_string());
        query.append_pair("Page", &number.to_string());
        if let Some(token) = token {
            query.append_pair("PageToken", token);
        }
        format!(
            "{}{}?{}",
            app.public_url,
            path.trim_start_matches('/'),
            query.finish()
        )
    };
    let next = page
        .next_cursor()?
        .map(|cursor| url(request.number + 1, Some(&cursor.token())));
    let current = request.after.as_ref().map(|c| c.token());
    Ok(json!({
        key: items,
        "meta": {
            "page": request.number,
            "page_size": request.size,
            "first_page_url": url(0, None),
            "previous_page_url": (request.number > 0).then(|| url(request.number - 1, None)),
            "url": url(request.number, current.as_deref()),
            "next_page_url": next,
            "key": key,
        },
    }))
}

fn sid_of(segment: &str, kind: Kind, path: &str) -> Result<String, ApiError> {
    Sid::parse(kind, segment)
        .map(|s| s.to_string())
        .ok_or_else(|| ApiError::not_found(path))
}

// ----------------------------------------------------------------- sinks

/// Checks a sink's type and configuration; returns the configuration to store.
fn sink_configuration(sink_type: &str, raw: &str) -> Result<Value, ApiError> {
    let configuration: Value = serde_json::from_str(raw)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| invalid("SinkConfiguration", raw, "is not a JSON object"))?;
    match sink_type {
        "webhook" => {
            let destination = configuration["destination"].as_str().unwrap_or_default();
            check_url(
                "SinkConfiguration.destination",
                destination,
                INVALID_PARAMETER,
            )?;
            let method = configuration["method"].as_str().unwrap_or("POST");
            if !method.eq_ignore_ascii_case("POST") {
                return Err(invalid(
                    "SinkConfiguration.method",
                    method,
                    "must be POST (events are a JSON body)",
                ));
            }
            Ok(json!({
                "destination": destination,
                "method": "POST",
                "batch_events": false,
            }))
        }
        "stream" => Ok(json!({})),
        other => Err(invalid(
            "SinkType",
            other,
            "is not a sink type Switchboard has (webhook, stream)",
        )),
    }
}

async fn create_sink(
    State(app): State<Arc<App>>,
    principal: Principal,
    Form(params): Form,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let description = params.require("Description", INVALID_PARAMETER)?;
    let sink_type = params.require("SinkType", INVALID_PARAMETER)?;
    let raw = params.require("SinkConfiguration", INVALID_PARAMETER)?;
    let configuration = sink_configuration(sink_type, raw)?;
    let sid = Sid::new(Kind::Sink).to_string();
    let now = now_millis();
    sqlx::query(
        "INSERT INTO sinks (sid, account_sid, description, sink_type, sink_configuration, status, date_created, date_updated)
         VALUES ($1, $2, $3, $4, $5, 'active', $6, $6)",
    )
    .bind(&sid)
    .bind(&principal.account.sid)
    .bind(description)
    .bind(sink_type)
    .bind(configuration.to_string())
    .bind(now)
    .execute(app.store.pool())
    .await
    .map_err(internal)?;
    let row = sink_row(&app, &principal, &sid)
        .await?
        .ok_or_else(|| internal("a created sink vanished"))?;
    Ok((StatusCode::CREATED, Json(sink_json(&app, &row)?)))
}

async fn sink_row(
    app: &App,
    principal: &Principal,
    sid: &str,
) -> Result<Option<sqlx::any::AnyRow>, ApiError> {
    sqlx::query(&format!(
        "SELECT {SINK_COLUMNS} FROM sinks WHERE sid = $1 AND account_sid = $2"
    ))
    .bind(sid)
    .bind(&principal.account.sid)
    .fetch_optional(app.store.pool())
    .await
    .map_err(internal)
}

async fn fetch_sink(
    State(app): State<Arc<App>>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
    Path(segment): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let sid = sid_of(&segment, Kind::Sink, uri.path())?;
    let row = sink_row(&app, &principal, &sid)
        .await?
        .ok_or_else(|| ApiError::not_found(uri.path()))?;
    Ok(Json(sink_json(&app, &row)?))
}

async fn update_sink(
    State(app): State<Arc<App>>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
    Path(segment): Path<String>,
    Form(params): Form,
) -> Result<Json<Value>, ApiError> {
    let sid = sid_of(&segment, Kind::Sink, uri.path())?;
    if sink_row(&app, &principal, &sid).await?.is_none() {
        return Err(ApiError::not_found(uri.path()));
    }
    let description = params.require("Description", INVALID_PARAMETER)?;
    sqlx::query(
        "UPDATE sinks SET description = $1, date_updated = $2 WHERE sid = $3 AND account_sid = $4",
    )
    .bind(description)
    .bind(now_millis())
    .bind(&sid)
    .bind(&principal.account.sid)
    .execute(app.store.pool())
    .await
    .map_err(internal)?;
    fetch_sink(State(app), principal, OriginalUri(uri), Path(segment)).await
}

async fn delete_sink(
    State(app): State<Arc<App>>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
    Path(segment): Path<String>,
) -> Result<StatusCode, ApiError> {
    let sid = sid_of(&segment, Kind::Sink, uri.path())?;
    if sink_row(&app, &principal, &sid).await?.is_none() {
        return Err(ApiError::not_found(uri.path()));
    }
    let used: i64 = sqlx::query("SELECT COUNT(*) FROM subscriptions WHERE sink_sid = $1")
        .bind(&sid)
        .fetch_one(app.store.pool())
        .await
        .and_then(|r| r.try_get(0))
        .map_err(internal)?;
    if used > 0 {
        return Err(ApiError::bad_request(
            INVALID_PARAMETER,
            format!("Sink {sid} is in use by {used} subscriptions: delete them first."),
        ));
    }
    // Its undelivered requests go with it.
    delete_with(
        &app,
        "outbox WHERE lane",
        "sinks",
        &sid,
        &principal.account.sid,
    )
    .await
}

/// Deletes an account's row of `table` and, first, the rows that hang off it
/// (`children` = sid), in one transaction.
async fn delete_with(
    app: &App,
    children: &str,
    table: &str,
    sid: &str,
    account_sid: &str,
) -> Result<StatusCode, ApiError> {
    let mut tx = app.store.pool().begin().await.map_err(internal)?;
    sqlx::query(&format!("DELETE FROM {children} = $1"))
        .bind(sid)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    sqlx::query(&format!(
        "DELETE FROM {table} WHERE sid = $1 AND account_sid = $2"
    ))
    .bind(sid)
    .bind(account_sid)
    .execute(&mut *tx)
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_sinks(
    State(app): State<Arc<App>>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    let params = Params::from_query(uri.query());
    let request = page_request(&params)?;
    let mut filters = Vec::new();
    let mut shown = Vec::new();
    if let Some(status) = params.get("Status").filter(|s| !s.is_empty()) {
        filters.push(("status =", Column::Text(Some(status.to_owned()))));
        shown.push(("Status", status));
    }
    if let Some(in_use) = params.boolean("InUse")? {
        // Compared as text: the listing binds every filter value as text.
        filters.push((
            "(SELECT CASE WHEN COUNT(*) > 0 THEN 'true' ELSE 'false' END
              FROM subscriptions u WHERE u.sink_sid = sinks.sid) =",
            Column::Text(Some(in_use.to_string())),
        ));
        shown.push(("InUse", if in_use { "true" } else { "false" }));
    }
    let listing = Listing {
        table: "sinks",
        columns: SINK_COLUMNS,
        scope: "account_sid = $1",
        account_sid: &principal.account.sid,
        filters,
    };
    let page = app.store.list(&listing, &request).await?;
    let items = page
        .rows
        .iter()
        .map(|row| sink_json(&app, row))
        .collect::<Result<_, _>>()?;
    Ok(Json(page_json(
        &app,
        "sinks",
        "/v1/Sinks",
        &shown,
        &request,
        &page,
        items,
    )?))
}

// --------------------------------------------------------- subscriptions

/// The `Types` of a create or update: JSON objects
/// `{"type": "call.answered", "schema_version": 1}` (or bare type names).
fn parse_types(params: &Params) -> Result<Vec<(String, i64)>, ApiError> {
    let mut types: Vec<(String, i64)> = Vec::new();
    for raw in params.all("Types") {
        let (name, version) = match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(o)) => {
                let name = o
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let version = match o.get("schema_version") {
                    None | Some(Value::Null) => SCHEMA_VERSION,
                    Some(v) => v.as_i64().ok_or_else(|| {
                        invalid("Types", raw, "has a schema_version that is not a number")
                    })?,
                };
                (name, version)
            }
            _ => (raw.trim().to_owned(), SCHEMA_VERSION),
        };
        if !is_known_type(&name) {
            return Err(invalid("Types", raw, "names no event type (see /v1/Types)"));
        }
        if version != SCHEMA_VERSION {
            return Err(invalid(
                "Types",
                raw,
                &format!("asks for schema_version {version}; {SCHEMA_VERSION} is the only one"),
            ));
        }
        if !types.iter().any(|(t, _)| *t == name) {
            types.push((name, version));
        }
    }
    Ok(types)
}

/// The sink `SinkSid` names, if it is the caller's.
async fn own_sink(app: &App, principal: &Principal, sink_sid: &str) -> Result<(), ApiError> {
    if sink_row(app, principal, sink_sid).await?.is_none() {
        return Err(invalid(
            "SinkSid",
            sink_sid,
            "is not a sink of this account",
        ));
    }
    Ok(())
}

async fn write_types(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    subscription_sid: &str,
    types: &[(String, i64)],
) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM subscribed_events WHERE subscription_sid = $1")
        .bind(subscription_sid)
        .execute(&mut **tx)
        .await
        .map_err(internal)?;
    for (name, version) in types {
        sqlx::query("INSERT INTO subscribed_events (subscription_sid, type, schema_version) VALUES ($1, $2, $3)")
            .bind(subscription_sid)
            .bind(name)
            .bind(version)
            .execute(&mut **tx)
            .await
            .map_err(internal)?;
    }
    Ok(())
}

async fn create_subscription(
    State(app): State<Arc<App>>,
    principal: Principal,
    Form(params): Form,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let description = params.require("Description", INVALID_PARAMETER)?;
    let sink_sid = params.require("SinkSid", INVALID_PARAMETER)?;
    params.require("Types", INVALID_PARAMETER)?;
    let types = parse_types(&params)?;
    let include = params.boolean("IncludeSubaccounts")?.unwrap_or(false);
    own_sink(&app, &principal, sink_sid).await?;
    let sid = Sid::new(Kind::Subscription).to_string();
    let now = now_millis();
    let mut tx = app.store.pool().begin().await.map_err(internal)?;
    sqlx::query(
        "INSERT INTO subscriptions (sid, account_sid, sink_sid, description, include_subaccounts, date_created, date_updated)
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(&sid)
    .bind(&principal.account.sid)
    .bind(sink_sid)
    .bind(description)
    .bind(i64::from(include))
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(internal)?;
    write_types(&mut tx, &sid, &types).await?;
    tx.commit().await.map_err(internal)?;
    let row = subscription_row(&app, &principal, &sid)
        .await?
        .ok_or_else(|| internal("a created subscription vanished"))?;
    Ok((
        StatusCode::CREATED,
        Json(subscription_json(&app, &row).await?),
    ))
}

async fn subscription_row(
    app: &App,
    principal: &Principal,
    sid: &str,
) -> Result<Option<sqlx::any::AnyRow>, ApiError> {
    sqlx::query(&format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE sid = $1 AND account_sid = $2"
    ))
    .bind(sid)
    .bind(&principal.account.sid)
    .fetch_optional(app.store.pool())
    .await
    .map_err(internal)
}

async fn fetch_subscription(
    State(app): State<Arc<App>>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
    Path(segment): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let sid = sid_of(&segment, Kind::Subscription, uri.path())?;
    let row = subscription_row(&app, &principal, &sid)
        .await?
        .ok_or_else(|| ApiError::not_found(uri.path()))?;
    Ok(Json(subscription_json(&app, &row).await?))
}

async fn update_subscription(
    State(app): State<Arc<App>>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
    Path(segment): Path<String>,
    Form(params): Form,
) -> Result<Json<Value>, ApiError> {
    let sid = sid_of(&segment, Kind::Subscription, uri.path())?;
    if subscription_row(&app, &principal, &sid).await?.is_none() {
        return Err(ApiError::not_found(uri.path()));
    }
    let types = parse_types(&params)?;
    if let Some(sink) = params.get("SinkSid") {
        own_sink(&app, &principal, sink).await?;
    }
    let mut tx = app.store.pool().begin().await.map_err(internal)?;
    let now = now_millis();
    for (param, column) in [("Description", "description"), ("SinkSid", "sink_sid")] {
        if let Some(value) = params.get(param) {
            sqlx::query(&format!(
                "UPDATE subscriptions SET {column} = $1, date_updated = $2 WHERE sid = $3"
            ))
            .bind(value)
            .bind(now)
            .bind(&sid)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        }
    }
    if !types.is_empty() {
        write_types(&mut tx, &sid, &types).await?;
    }
    tx.commit().await.map_err(internal)?;
    fetch_subscription(State(app), principal, OriginalUri(uri), Path(segment)).await
}

async fn delete_subscription(
    State(app): State<Arc<App>>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
    Path(segment): Path<String>,
) -> Result<StatusCode, ApiError> {
    let sid = sid_of(&segment, Kind::Subscription, uri.path())?;
    if subscription_row(&app, &principal, &sid).await?.is_none() {
        return Err(ApiError::not_found(uri.path()));
    }
    delete_with(
        &app,
        "subscribed_events WHERE subscription_sid",
        "subscriptions",
        &sid,
        &principal.account.sid,
    )
    .await
}

async fn list_subscriptions(
    State(app): State<Arc<App>>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
) -> Result<Json<Value>, ApiError> {
    let params = Params::from_query(uri.query());
    let request = page_request(&params)?;
    let mut filters = Vec::new();
    let mut shown = Vec::new();
    if let Some(sink) = params.get("SinkSid").filter(|s| !s.is_empty()) {
        filters.push(("sink_sid =", Column::Text(Some(sink.to_owned()))));
        shown.push(("SinkSid", sink));
    }
    let listing = Listing {
        table: "subscriptions",
        columns: SUBSCRIPTION_COLUMNS,
        scope: "account_sid = $1",
        account_sid: &principal.account.sid,
        filters,
    };
    let page = app.store.list(&listing, &request).await?;
    let mut items = Vec::with_capacity(page.rows.len());
    for row in &page.rows {
        items.push(subscription_json(&app, row).await?);
    }
    Ok(Json(page_json(
        &app,
        "subscriptions",
        "/v1/Subscriptions",
        &shown,
        &request,
        &page,
        items,
    )?))
}

// ----------------------------------------------------------------- types

async fn list_types(
    State(app): State<Arc<App>>,
    _principal: Principal,
) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> = TYPES
        .iter()
        .map(|(name, description)| {
            let mut o = Map::new();
            o.insert("type".into(), json!(name));
            o.insert("schema_id".into(), json!(name));
            o.insert("schema_version".into(), json!(SCHEMA_VERSION));
            o.insert("description".into(), json!(description));
            o.insert(
                "url".into(),
                json!(format!("{}v1/Types/{name}", app.public_url)),
            );
            Value::Object(o)
        })
        .collect();
    let n = items.len() as i64;
    Ok(Json(json!({
        "types": items,
        "meta": {
            "page": 0, "page_size": n, "first_page_url": format!("{}v1/Types", app.public_url),
            "previous_page_url": null, "url": format!("{}v1/Types", app.public_url),
            "next_page_url": null, "key": "types",
        },
    })))
}
