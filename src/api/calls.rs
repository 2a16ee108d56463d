//! `/2010-04-01/Accounts/{AccountSid}/Calls`: place, follow, steer and list
//! calls; their notifications and recordings.

use std::sync::Arc;

use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Serialize;

use super::auth::Scope;
use super::page::List;
use super::params::{check_url, invalid, Form, Params, INVALID_URL};
use super::resource::is_e164;
use super::{json_segment, rfc2822, ApiError, VERSION};
use crate::app::App;
use crate::limits::cps::PacerError;
use crate::router::{Control, Instructions, RouterError};
use crate::sid::{Kind, Sid};
use crate::store::{
    call_from_row, now_millis, Call, CallRecording, CallStatus, Column, Listing, Record,
    CALL_COLUMNS,
};
use crate::webhook::Method;

const STATUS_CALLBACK_EVENTS: [&str; 4] = ["initiated", "ringing", "answered", "completed"];

/// A party Switchboard can call: an E.164 number, a `client:` or a `sip:` address.
fn is_callable(to: &str) -> bool {
    is_e164(to) || to.starts_with("client:") || to.starts_with("sip:")
}

/// The columns of a call as the API shows it: the call, and how long it
/// waited for its account's origination slot.
fn call_columns() -> String {
    format!("{CALL_COLUMNS}, queue_time")
}

/// A call and its queue time from a row of [`call_columns`].
fn call_from_api_row(row: &sqlx::any::AnyRow) -> Result<CallResource, sqlx::Error> {
    use sqlx::Row;
    Ok(CallResource::new(
        call_from_row(row)?,
        row.try_get("queue_time")?,
    ))
}

/// A call in Twilio's JSON shape. A typed struct (fields in Twilio's
/// alphabetical order) rather than a `json!` map: lists render many of them.
#[derive(Serialize)]
pub struct CallResource {
    account_sid: String,
    annotation: Option<String>,
    answered_by: Option<String>,
    api_version: &'static str,
    caller_name: Option<String>,
    date_created: String,
    date_updated: String,
    direction: String,
    duration: Option<String>,
    end_time: Option<String>,
    forwarded_from: Option<String>,
    from: String,
    from_formatted: String,
    group_sid: Option<String>,
    parent_call_sid: Option<String>,
    phone_number_sid: Option<String>,
    price: Option<String>,
    price_unit: &'static str,
    queue_time: String,
    sid: String,
    start_time: Option<String>,
    status: &'static str,
    subresource_uris: CallSubresources,
    to: String,
    to_formatted: String,
    trunk_sid: Option<String>,
    uri: String,
}

#[derive(Serialize)]
struct CallSubresources {
    notifications: String,
    recordings: String,
}

impl CallResource {
    /// `queue_time`: milliseconds the call waited for its account's origination slot.
    pub fn new(call: Call, queue_time: Option<i64>) -> CallResource {
        let uri = format!(
            "/{VERSION}/Accounts/{}/Calls/{}",
            call.account_sid, call.sid
        );
        CallResource {
            annotation: None,
            answered_by: call.answered_by,
            api_version: VERSION,
            caller_name: call.caller_name,
            date_created: rfc2822(call.date_created),
            date_updated: rfc2822(call.date_updated),
            direction: call.direction,
            duration: call.duration.map(|d| d.to_string()),
            end_time: call.end_time.map(rfc2822),
            forwarded_from: call.forwarded_from,
            from_formatted: call.from.clone(),
            from: call.from,
            group_sid: None,
            parent_call_sid: call.parent_call_sid,
            phone_number_sid: call.phone_number_sid,
            price: None,
            price_unit: "USD",
            queue_time: queue_time.unwrap_or(0).to_string(),
            start_time: call.start_time.map(rfc2822),
            status: call.status.as_str(),
            subresource_uris: CallSubresources {
                notifications: format!("{uri}/Notifications.json"),
                recordings: format!("{uri}/Recordings.json"),
            },
            to_formatted: call.to.clone(),
            to: call.to,
            trunk_sid: None,
            uri: format!("{uri}.json"),
            account_sid: call.account_sid,
            sid: call.sid,
        }
    }
}

/// Where a new call's instructions come from.
struct Source {
    url: Option<String>,
    method: Method,
    twiml: Option<String>,
    application_sid: Option<String>,
}

/// Reads Url, Twiml or ApplicationSid (one is required).
async fn source_of(app: &App, account_sid: &str, params: &Params) -> Result<Source, ApiError> {
    let method = Method::parse(params.method("Method")?.as_deref());
    if let Some(twiml) = params.get("Twiml").filter(|t| !t.trim().is_empty()) {
        twiml::parse_xml(twiml).map_err(|e| {
            ApiError::bad_request(e.code(), format!("Twiml is not valid TwiML: {e}"))
        })?;
        let twiml = Some(twiml.to_owned());
        return Ok(Source {
            url: None,
            method,
            twiml,
            application_sid: None,
        });
    }
    if let Some(url) = params.url("Url", INVALID_URL)? {
        return Ok(Source {
            url: Some(url),
            method,
            twiml: None,
            application_sid: None,
        });
    }
    if let Some(app_sid) = params.get("ApplicationSid").filter(|s| !s.is_empty()) {
        let record = Record {
            table: "applications",
            sid: app_sid,
            account_sid,
        };
        let row = app
            .store
            .fetch_record(&record, "voice_url, voice_method")
            .await?
            .ok_or_else(|| {
                invalid(
                    "ApplicationSid",
                    app_sid,
                    "is not an Application of this account",
                )
            })?;
        use sqlx::Row;
        let url: Option<String> = row
            .try_get("voice_url")
            .map_err(|e| ApiError::internal(&e))?;
        let url = url.ok_or_else(|| {
            ApiError::bad_request(21205, format!("Application {app_sid} has no VoiceUrl."))
        })?;
        let method: String = row
            .try_get("voice_method")
            .map_err(|e| ApiError::internal(&e))?;
        return Ok(Source {
            url: Some(url),
            method: Method::parse(Some(&method)),
            twiml: None,
            application_sid: Some(app_sid.to_owned()),
        });
    }
    Err(ApiError::bad_request(
        21205,
        "Url, Twiml or ApplicationSid is required.",
    ))
}

/// Twilio's longest call by default (`TimeLimit`): four hours.
const DEFAULT_TIME_LIMIT: i64 = 4 * 3600;
/// The longest `TimeLimit` Switchboard takes: a day.
const MAX_TIME_LIMIT: i64 = 24 * 3600;

/// How `Record=true` records the call: `Trim`, `RecordingChannels`,
/// `RecordingTrack` and `RecordingStatusCallback`, `-Method`, `-Event`.
fn recording_options(params: &Params) -> Result<CallRecording, ApiError> {
    let trim = params.keyword("Trim", &["trim-silence", "do-not-trim"])?;
    let channels = params.keyword("RecordingChannels", &["mono", "dual"])?;
    let track = params.keyword("RecordingTrack", &["inbound", "outbound", "both"])?;
    let mut events = params.keywords(
        "RecordingStatusCallbackEvent",
        &["in-progress", "completed", "absent"],
    )?;
    if events.is_empty() {
        events.push("completed");
    }
    Ok(CallRecording {
        trim: trim != Some("do-not-trim"),
        channels: if channels == Some("dual") { 2 } else { 1 },
        track: track.unwrap_or("both").to_owned(),
        status_callback: params.url("RecordingStatusCallback", INVALID_URL)?,
        status_callback_method: params
            .method("RecordingStatusCallbackMethod")?
            .unwrap_or_else(|| "POST".into()),
        status_callback_events: events.join(" "),
    })
}

/// `POST …/Calls.json`: places an outbound call.
pub async fn create(
    State(app): State<Arc<App>>,
    scope: Scope,
    Form(params): Form,
) -> Result<(StatusCode, Json<CallResource>), ApiError> {
    let to = params
        .get("To")
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request(21201, "No 'To' number is specified"))?;
    if !is_callable(to) {
        return Err(ApiError::bad_request(
            21211,
            format!("Invalid 'To' Phone Number: {to}"),
        ));
    }
    let from = params
        .get("From")
        .or(params.get("CallerId"))
        .filter(|f| !f.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request(21213, "No 'From' number is specified"))?;
    if !is_callable(from) {
        return Err(ApiError::bad_request(
            21212,
            format!("Invalid 'From' Phone Number: {from}"),
        ));
    }
    // Digits (and `w`, a half-second wait) sent to the called party once it answers.
    let send_digits = match params.get("SendDigits").filter(|d| !d.is_empty()) {
        Some(digits)
            if digits.len() <= 32 && digits.chars().all(|c| "0123456789*#wWABCD".contains(c)) =>
        {
            Some(digits.to_owned())
        }
        Some(digits) => {
            return Err(invalid(
                "SendDigits",
                digits,
                "must be up to 32 of 0-9, *, #, A-D and w (a half-second wait)",
            ))
        }
        None => None,
    };
    let record = match params.boolean("Record")? {
        Some(true) => Some(Box::new(recording_options(&params)?)),
        _ => None,
    };
    let time_limit = params.integer("TimeLimit", 1..=MAX_TIME_LIMIT)?;
    for unsupported in ["MachineDetection", "AsyncAmd"] {
        if params
            .get(unsupported)
            .is_some_and(|v| !v.is_empty() && v != "false")
        {
            return Err(invalid(
                unsupported,
                params.get(unsupported).unwrap_or_default(),
                "is not supported by Switchboard yet",
            ));
        }
    }
    let Source {
        url,
        method,
        twiml,
        application_sid,
    } = source_of(&app, &scope.account.sid, &params).await?;
    let fallback_url = params.url("FallbackUrl", INVALID_URL)?;
    let fallback_method = params
        .method("FallbackMethod")?
        .unwrap_or_else(|| "POST".into());
    let status_callback = params.url("StatusCallback", INVALID_URL)?;
    let status_callback_method = params
        .method("StatusCallbackMethod")?
        .unwrap_or_else(|| "POST".into());
    let mut events = params.keywords("StatusCallbackEvent", &STATUS_CALLBACK_EVENTS)?;
    if events.is_empty() {
        events.push("completed");
    }
    let timeout = params.integer("Timeout", 1..=600)?.unwrap_or(60);
    let now = now_millis();
    let call = Call {
        sid: Sid::new(Kind::Call).to_string(),
        account_sid: scope.account.sid.clone(),
        parent_call_sid: None,
        direction: "outbound-api".into(),
        from: from.to_owned(),
        to: to.to_owned(),
        caller_name: None,
        forwarded_from: None,
        status: CallStatus::Queued,
        answered_by: None,
        phone_number_sid: None,
        application_sid,
        url: url.clone(),
        method: method.as_str().into(),
        fallback_url: fallback_url.clone(),
        fallback_method: fallback_method.clone(),
        twiml: twiml.clone(),
        status_callback,
        status_callback_method,
        status_callback_events: events.join(" "),
        timeout_secs: timeout,
        node: None,
        channel_uuid: None,
        start_time: None,
        end_time: None,
        duration: None,
        date_created: now,
        date_updated: now,
        send_digits,
        record,
        time_limit_secs: Some(time_limit.unwrap_or(DEFAULT_TIME_LIMIT)),
    };
    // Stored as queued, placed in the account's turn (at once, or later).
    let queue_time = match app
        .pacer
        .enqueue(&call, scope.account.auth_token.clone())
        .await
    {
        Ok(wait) => i64::try_from(wait.as_millis()).unwrap_or(i64::MAX),
        Err(PacerError::Store(e)) => return Err(e.into()),
        Err(PacerError::Router(e)) => {
            app.store
                .set_call_status(
                    &call.sid,
                    CallStatus::Failed,
                    None,
                    Some(now_millis()),
                    Some(0),
                )
                .await?;
            return Err(match e {
                RouterError::NoNode => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    20503,
                    "No media node is available.",
                ),
                other => ApiError::internal(&other),
            });
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(CallResource::new(call, Some(queue_time))),
    ))
}

/// The account's call named by the path, and its queue time.
async fn owned_call(
    app: &App,
    scope: &Scope,
    segment: &str,
    path: &str,
) -> Result<(Call, Option<i64>), ApiError> {
    use sqlx::Row;
    let sid = json_segment(segment, path)?;
    let row = sqlx::query(&format!(
        "SELECT {} FROM calls WHERE sid = $1 AND account_sid = $2",
        call_columns()
    ))
    .bind(sid)
    .bind(&scope.account.sid)
    .fetch_optional(app.store.pool())
    .await
    .map_err(|e| ApiError::from(crate::store::StoreError::from(e)))?
    .ok_or_else(|| ApiError::not_found(path))?;
    let call = call_from_row(&row).map_err(|e| ApiError::internal(&e))?;
    let queue_time = row
        .try_get("queue_time")
        .map_err(|e| ApiError::internal(&e))?;
    Ok((call, queue_time))
}

pub async fn fetch(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, segment)): Path<(String, String)>,
) -> Result<Json<CallResource>, ApiError> {
    let (call, queue_time) = owned_call(&app, &scope, &segment, uri.path()).await?;
    Ok(Json(CallResource::new(call, queue_time)))
}

/// `POST …/Calls/{Sid}.json`: Url/Twiml redirect a live call; Status ends it.
pub async fn update(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, segment)): Path<(String, String)>,
    Form(params): Form,
) -> Result<Json<CallResource>, ApiError> {
    let (call, _) = owned_call(&app, &scope, &segment, uri.path()).await?;
    let control = match params.get("Status") {
        Some("completed") => Some(Control::End(CallStatus::Completed)),
        Some("canceled") => Some(Control::End(CallStatus::Canceled)),
        Some(other) => return Err(invalid("Status", other, "must be completed or canceled")),
        None => {
            let method = Method::parse(params.method("Method")?.as_deref());
            if let Some(twiml) = params.get("Twiml").filter(|t| !t.trim().is_empty()) {
                twiml::parse_xml(twiml).map_err(|e| {
                    ApiError::bad_request(e.code(), format!("Twiml is not valid TwiML: {e}"))
                })?;
                Some(Control::Redirect(Instructions::Inline(twiml.to_owned())))
            } else if let Some(url) = params.get("Url").filter(|u| !u.is_empty()) {
                let url = check_url("Url", url, INVALID_URL)?;
                let fallback = params
                    .url("FallbackUrl", INVALID_URL)?
                    .map(|f| (f, Method::parse(params.get("FallbackMethod"))));
                Some(Control::Redirect(Instructions::Fetch {
                    url,
                    method,
                    fallback,
                    extra: Vec::new(),
                }))
            } else {
                None
            }
        }
    };
    if let Some(control) = control {
        if call.status.is_final() {
            return Err(ApiError::bad_request(
                21220,
                "Call is not in-progress. Cannot redirect.",
            ));
        }
        // A call still waiting for its origination slot ends in the store,
        // before any instance is asked whether it runs it.
        let end = matches!(control, Control::End(_));
        let canceled =
            call.status == CallStatus::Queued && end && app.pacer.cancel(&call.sid).await?;
        if !canceled && app.router.control(&call.sid, control).await.is_err() {
            return Err(ApiError::bad_request(
                21220,
                "Call is not in-progress. Cannot redirect.",
            ));
        }
    }
    let (call, queue_time) = owned_call(&app, &scope, &segment, uri.path()).await?;
    Ok(Json(CallResource::new(call, queue_time)))
}

pub async fn delete(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
    Path((_, segment)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (call, _) = owned_call(&app, &scope, &segment, uri.path()).await?;
    if !call.status.is_final() {
        return Err(ApiError::bad_request(
            20001,
            "A call in progress cannot be deleted; end it first.",
        ));
    }
    app.store.delete_call(&scope.account.sid, &call.sid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Parses Twilio's date filters: `YYYY-MM-DD` or an RFC 3339 time.
fn parse_time(name: &str, value: &str) -> Result<(i64, bool), ApiError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok((t.timestamp_millis(), false));
    }
    if let Ok(day) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let start = day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
        return Ok((start.timestamp_millis(), true));
    }
    Err(invalid(
        name,
        value,
        "must be a date (YYYY-MM-DD) or an RFC 3339 time",
    ))
}

pub async fn list(
    State(app): State<Arc<App>>,
    scope: Scope,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let params = Params::from_query(uri.query());
    if let Some(status) = params.get("Status") {
        CallStatus::parse(status)
            .ok_or_else(|| invalid("Status", status, "is not a call status"))?;
    }
    let path = format!("/{VERSION}/Accounts/{}/Calls.json", scope.account.sid);
    let columns = call_columns();
    let mut list = List::new(
        "calls",
        &path,
        Listing::new("calls", &columns, &scope.account.sid),
    );
    list.filter_equal(
        &params,
        &[
            ("To", "to_number ="),
            ("From", "from_number ="),
            ("ParentCallSid", "parent_call_sid ="),
            ("Status", "status ="),
        ],
    );
    const DAY: i64 = 86_400_000;
    for (param, bound) in [
        ("StartTime", None),
        ("StartTime>", Some(Bound::From)),
        ("StartTime<", Some(Bound::Before)),
    ] {
        let Some(given) = params.get(param) else {
            continue;
        };
        list.echo.push((param, given));
        // Each filter is a range of start times, [from, before).
        let (millis, whole_day) = parse_time(param, given)?;
        let (from, before) = match (bound, whole_day) {
            (None, true) => (Some(millis), Some(millis + DAY)),
            (None, false) => (Some(millis), Some(millis + 1)),
            (Some(Bound::From), _) => (Some(millis), None),
            // Before a day is before its end: the day is included, as Twilio's is.
            (Some(Bound::Before), true) => (None, Some(millis + DAY)),
            (Some(Bound::Before), false) => (None, Some(millis)),
        };
        if let Some(from) = from {
            list.listing.filter("start_time >=", Column::Int(from));
        }
        if let Some(before) = before {
            list.listing.filter("start_time <", Column::Int(before));
            // A call starts after it is created, so this bounds date_created
            // too (with slack for instances' clocks): the list then walks its
            // index from there instead of filtering every newer call.
            list.listing
                .filter("date_created <", Column::Int(before + CLOCK_SLACK_MS));
        }
    }
    list.answer(&app, &params, call_from_api_row).await
}

/// How far apart two instances' clocks may be.
const CLOCK_SLACK_MS: i64 = 300_000;

/// Which side of a StartTime bound a call must start on.
enum Bound {
    From,
    Before,
}
