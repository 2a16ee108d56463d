//! The Twilio-compatible REST API, version 2010-04-01.
//!
//! Paths end in `.json`; responses use Twilio's JSON shapes and error body.

mod accounts;
mod auth;
mod calls;
mod conferences;
mod endpoint;
mod error;
mod keys;
mod logs;
pub(crate) mod page;
pub(crate) mod params;
mod queues;
mod resource;

pub use auth::{authenticate, Principal, Scope};
pub use endpoint::{openapi, param, required, Answer, Endpoint, Verb};
pub use error::ApiError;
pub use resource::FieldKind;

use std::sync::Arc;

use axum::Router;

use crate::app::App;

/// The API version every path starts with.
pub const VERSION: &str = "2010-04-01";

/// Every endpoint of the API.
pub fn endpoints() -> Vec<Endpoint> {
    use axum::routing::{delete, get, post};
    use endpoint::{param, Answer, Verb};
    use resource::FieldKind::Text;

    let account_params = || vec![param("FriendlyName", Text), param("Status", Text)];
    let mut endpoints = vec![
        Endpoint {
            verb: Verb::Get,
            path: format!("/{VERSION}/Accounts.json"),
            operation: "listAccount".into(),
            summary: "The caller's account and its subaccounts".into(),
            params: with_paging(account_params()),
            answer: Answer::Page { key: "accounts" },
            handler: get(accounts::list),
        },
        Endpoint {
            verb: Verb::Post,
            path: format!("/{VERSION}/Accounts.json"),
            operation: "createAccount".into(),
            summary: "Create a subaccount".into(),
            params: vec![param("FriendlyName", Text)],
            answer: Answer::One { status: 201 },
            handler: post(accounts::create),
        },
        Endpoint {
            verb: Verb::Get,
            path: format!("/{VERSION}/Accounts/{{AccountSid}}.json"),
            operation: "fetchAccount".into(),
            summary: "Fetch an account".into(),
            params: vec![],
            answer: Answer::One { status: 200 },
            handler: get(accounts::fetch),
        },
        Endpoint {
            verb: Verb::Post,
            path: format!("/{VERSION}/Accounts/{{AccountSid}}.json"),
            operation: "updateAccount".into(),
            summary: "Rename an account, or change a subaccount's status".into(),
            params: account_params(),
            answer: Answer::One { status: 200 },
            handler: post(accounts::update),
        },
        Endpoint {
            verb: Verb::Get,
            path: format!("/{VERSION}/Accounts/{{AccountSid}}/Keys.json"),
            operation: "listKey".into(),
            summary: "List API keys".into(),
            params: with_paging(vec![]),
            answer: Answer::Page { key: "keys" },
            handler: get(keys::list),
        },
        Endpoint {
            verb: Verb::Post,
            path: format!("/{VERSION}/Accounts/{{AccountSid}}/Keys.json"),
            operation: "createNewKey".into(),
            summary: "Create an API key; its secret is in this answer only".into(),
            params: vec![param("FriendlyName", Text)],
            answer: Answer::One { status: 201 },
            handler: post(keys::create),
        },
        Endpoint {
            verb: Verb::Get,
            path: format!("/{VERSION}/Accounts/{{AccountSid}}/Keys/{{Sid}}.json"),
            operation: "fetchKey".into(),
            summary: "Fetch an API key".into(),
            params: vec![],
            answer: Answer::One { status: 200 },
            handler: get(keys::fetch),
        },
        Endpoint {
            verb: Verb::Post,
            path: format!("/{VERSION}/Accounts/{{AccountSid}}/Keys/{{Sid}}.json"),
            operation: "updateKey".into(),
            summary: "Rename an API key".into(),
            params: vec![param("FriendlyName", Text)],
            answer: Answer::One { status: 200 },
            handler: post(keys::update),
        },
        Endpoint {
            verb: Verb::Delete,
            path: format!("/{VERSION}/Accounts/{{AccountSid}}/Keys/{{Sid}}.json"),
            operation: "deleteKey".into(),
            summary: "Delete an API key".into(),
            params: vec![],
            answer: Answer::Nothing,
            handler: delete(keys::delete),
        },
    ];
    endpoints.push(Endpoint {
        verb: Verb::Get,
        path: format!("/{VERSION}/Accounts/{{AccountSid}}/Limits.json"),
        operation: "fetchLimits".into(),
        summary: "Each resource type's concurrent requests and threshold".into(),
        params: vec![],
        answer: Answer::One { status: 200 },
        handler: get(crate::limits::api::fetch),
    });
    endpoints.extend(call_endpoints());
    endpoints.extend(conference_endpoints());
    endpoints.extend(queue_endpoints());
    for resource in resource::RESOURCES {
        endpoints.extend(resource.endpoints());
    }
    endpoints.extend(crate::events::api::endpoints());
    endpoints
}

fn call_endpoints() -> Vec<Endpoint> {
    use axum::routing::{delete, get, post};
    use endpoint::{param, Answer, Verb};
    use resource::FieldKind::{Bool, Method, PhoneNumber, Text, Url};

    let account = format!("/{VERSION}/Accounts/{{AccountSid}}");
    let endpoint = Endpoint::new;
    let call_filters = with_paging(vec![
        param("To", PhoneNumber),
        param("From", PhoneNumber),
        param("Status", Text),
        param("ParentCallSid", Text),
        param("StartTime", Text),
        param("StartTime>", Text),
        param("StartTime<", Text),
    ]);
    vec![
        endpoint(
            Verb::Get,
            format!("{account}/Calls.json"),
            "listCall",
            "List calls, newest first",
            call_filters,
            Answer::Page { key: "calls" },
            get(calls::list),
        ),
        endpoint(
            Verb::Post,
            format!("{account}/Calls.json"),
            "createCall",
            "Place an outbound call",
            vec![
                endpoint::required("To", PhoneNumber),
                endpoint::required("From", PhoneNumber),
                param("Url", Url),
                param("Twiml", Text),
                param("ApplicationSid", Text),
                param("Method", Method),
                param("FallbackUrl", Url),
                param("FallbackMethod", Method),
                param("StatusCallback", Url),
                param("StatusCallbackEvent", Text),
                param("StatusCallbackMethod", Method),
                param("Timeout", Text),
                param("SendDigits", Text),
                param("Record", Bool),
                param("Trim", Text),
                param("RecordingChannels", Text),
                param("RecordingTrack", Text),
                param("RecordingStatusCallback", Url),
                param("RecordingStatusCallbackMethod", Method),
                param("RecordingStatusCallbackEvent", Text),
                param("TimeLimit", Text),
            ],
            Answer::One { status: 201 },
            post(calls::create),
        ),
        endpoint(
            Verb::Get,
            format!("{account}/Calls/{{Sid}}.json"),
            "fetchCall",
            "Fetch a call",
            vec![],
            Answer::One { status: 200 },
            get(calls::fetch),
        ),
        endpoint(
            Verb::Post,
            format!("{account}/Calls/{{Sid}}.json"),
            "updateCall",
            "Redirect a live call (Url, Twiml) or end it (Status)",
            vec![
                param("Url", Url),
                param("Method", Method),
                param("Twiml", Text),
                param("Status", Text),
                param("FallbackUrl", Url),
                param("FallbackMethod", Method),
            ],
            Answer::One { status: 200 },
            post(calls::update),
        ),
        endpoint(
            Verb::Delete,
            format!("{account}/Calls/{{Sid}}.json"),
            "deleteCall",
            "Delete a finished call's record",
            vec![],
            Answer::Nothing,
            delete(calls::delete),
        ),
        endpoint(
            Verb::Get,
            format!("{account}/Calls/{{Sid}}/Notifications.json"),
            "listCallNotification",
            "A call's notifications",
            with_paging(vec![]),
            Answer::Page {
                key: "notifications",
            },
            get(logs::list_call_notifications),
        ),
        endpoint(
            Verb::Get,
            format!("{account}/Calls/{{Sid}}/Recordings.json"),
            "listCallRecording",
            "A call's recordings",
            with_paging(vec![]),
            Answer::Page { key: "recordings" },
            get(logs::list_call_recordings),
        ),
        endpoint(
            Verb::Get,
            format!("{account}/Notifications.json"),
            "listNotification",
            "The account's notifications",
            with_paging(vec![param("CallSid", Text)]),
            Answer::Page {
                key: "notifications",
            },
            get(logs::list_notifications),
        ),
        endpoint(
            Verb::Get,
            format!("{account}/Notifications/{{Sid}}.json"),
            "fetchNotification",
            "Fetch a notification",
            vec![],
            Answer::One { status: 200 },
            get(logs::fetch_notification),
        ),
        endpoint(
            Verb::Delete,
            format!("{account}/Notifications/{{Sid}}.json"),
            "deleteNotification",
            "Delete a notification",
            vec![],
            Answer::Nothing,
            delete(logs::delete_notification),
        ),
        endpoint(
            Verb::Get,
            format!("{account}/Recordings.json"),
            "listRecording",
            "The account's recordings",
            with_paging(vec![param("CallSid", Text)]),
            Answer::Page { key: "recordings" },
            get(logs::list_recordings),
        ),
        endpoint(
            Verb::Get,
            format!("{account}/Recordings/{{Sid}}.json"),
            "fetchRecording",
            "A recording; `.wav` instead of `.json` gives its audio",
            vec![],
            Answer::One { status: 200 },
            get(logs::fetch_recording),
        ),
        endpoint(
            Verb::Delete,
            format!("{account}/Recordings/{{Sid}}.json"),
            "deleteRecording",
            "Delete a recording and its audio",
            vec![],
            Answer::Nothing,
            delete(logs::delete_recording),
        ),
    ]
}

fn conference_endpoints() -> Vec<Endpoint> {
    use axum::routing::{delete, get, post};
    use endpoint::{param, Answer, Verb};
    use resource::FieldKind::{Bool, Text};

    let conferences = format!("/{VERSION}/Accounts/{{AccountSid}}/Conferences");
    let participants = format!("{conferences}/{{ConferenceSid}}/Participants");
    let endpoint = Endpoint::new;
    vec![
        endpoint(
            Verb::Get,
            format!("{conferences}.json"),
            "listConference",
            "List conferences, newest first",
            with_paging(vec![param("FriendlyName", Text), param("Status", Text)]),
            Answer::Page { key: "conferences" },
            get(conferences::list),
        ),
        endpoint(
            Verb::Get,
            format!("{conferences}/{{Sid}}.json"),
            "fetchConference",
            "Fetch a conference",
            vec![],
            Answer::One { status: 200 },
            get(conferences::fetch),
        ),
        endpoint(
            Verb::Post,
            format!("{conferences}/{{Sid}}.json"),
            "updateConference",
            "End a conference (Status=completed)",
            vec![param("Status", Text)],
            Answer::One { status: 200 },
            post(conferences::update),
        ),
        endpoint(
            Verb::Get,
            format!("{participants}.json"),
            "listParticipant",
            "The participants in a conference now",
            with_paging(vec![param("Muted", Bool), param("Hold", Bool)]),
            Answer::Page {
                key: "participants",
            },
            get(conferences::list_participants),
        ),
        endpoint(
            Verb::Get,
            format!("{participants}/{{Sid}}.json"),
            "fetchParticipant",
            "Fetch a participant by its call's SID",
            vec![],
            Answer::One { status: 200 },
            get(conferences::fetch_participant),
        ),
        endpoint(
            Verb::Post,
            format!("{participants}/{{Sid}}.json"),
            "updateParticipant",
            "Mute or hold a participant",
            vec![param("Muted", Bool), param("Hold", Bool)],
            Answer::One { status: 200 },
            post(conferences::update_participant),
        ),
        endpoint(
            Verb::Delete,
            format!("{participants}/{{Sid}}.json"),
            "deleteParticipant",
            "Remove a participant from its conference; its call goes on",
            vec![],
            Answer::Nothing,
            delete(conferences::delete_participant),
        ),
    ]
}

fn queue_endpoints() -> Vec<Endpoint> {
    use axum::routing::{delete, get, post};
    use endpoint::{param, required, Answer, Verb};
    use resource::FieldKind::{Method, Text, Url};

    let queues = format!("/{VERSION}/Accounts/{{AccountSid}}/Queues");
    let members = format!("{queues}/{{QueueSid}}/Members");
    let settings = || vec![param("FriendlyName", Text), param("MaxSize", Text)];
    let endpoint = Endpoint::new;
    vec![
        endpoint(
            Verb::Get,
            format!("{queues}.json"),
            "listQueue",
            "List queues, newest first",
            with_paging(vec![]),
            Answer::Page { key: "queues" },
            get(queues::list),
        ),
        endpoint(
            Verb::Post,
            format!("{queues}.json"),
            "createQueue",
            "Create a queue (MaxSize 1 to 5000, default 1000)",
            vec![required("FriendlyName", Text), param("MaxSize", Text)],
            Answer::One { status: 201 },
            post(queues::create),
        ),
        endpoint(
            Verb::Get,
            format!("{queues}/{{Sid}}.json"),
            "fetchQueue",
            "Fetch a queue with its current size and average wait",
            vec![],
            Answer::One { status: 200 },
            get(queues::fetch),
        ),
        endpoint(
            Verb::Post,
            format!("{queues}/{{Sid}}.json"),
            "updateQueue",
            "Rename or resize a queue",
            settings(),
            Answer::One { status: 200 },
            post(queues::update),
        ),
        endpoint(
            Verb::Delete,
            format!("{queues}/{{Sid}}.json"),
            "deleteQueue",
            "Delete an empty queue",
            vec![],
            Answer::Nothing,
            delete(queues::delete),
        ),
        endpoint(
            Verb::Get,
            format!("{members}.json"),
            "listMember",
            "The callers waiting in a queue, front first",
            with_paging(vec![]),
            Answer::Page {
                key: "queue_members",
            },
            get(queues::list_members),
        ),
        endpoint(
            Verb::Get,
            format!("{members}/{{Sid}}.json"),
            "fetchMember",
            "A waiting caller by call SID, or `Front`",
            vec![],
            Answer::One { status: 200 },
            get(queues::fetch_member),
        ),
        endpoint(
            Verb::Post,
            format!("{members}/{{Sid}}.json"),
            "updateMember",
            "Dequeue a caller to the document at Url",
            vec![required("Url", Url), param("Method", Method)],
            Answer::One { status: 200 },
            post(queues::update_member),
        ),
    ]
}

/// Adds Twilio's paging parameters to a list's filters.
fn with_paging(mut params: Vec<endpoint::Param>) -> Vec<endpoint::Param> {
    use resource::FieldKind::Text;
    params.extend([
        endpoint::param("PageSize", Text),
        endpoint::param("Page", Text),
        endpoint::param("PageToken", Text),
    ]);
    params
}

/// The API's routes, and its OpenAPI document at `/openapi.json`.
pub fn router() -> Router<Arc<App>> {
    let endpoints = endpoints();
    let document = Arc::new(endpoint::openapi(&endpoints));
    let mut router = Router::new().route(
        "/openapi.json",
        axum::routing::get(move || async move { axum::Json(document.as_ref().clone()) }),
    );
    for endpoint in endpoints {
        router = router.route(&endpoint.route(), endpoint.handler);
    }
    router
}

/// A path segment such as `AC….json` without its required `.json` suffix.
fn json_segment<'a>(segment: &'a str, path: &str) -> Result<&'a str, ApiError> {
    segment
        .strip_suffix(".json")
        .ok_or_else(|| ApiError::not_found(path))
}

/// Twilio's date format (RFC 2822 in UTC), from Unix milliseconds.
pub fn rfc2822(millis: i64) -> String {
    use chrono::format::{Item, StrftimeItems};
    // Parsed once: lists format several dates per row.
    static FORMAT: std::sync::LazyLock<Vec<Item<'static>>> = std::sync::LazyLock::new(|| {
        StrftimeItems::new("%a, %d %b %Y %H:%M:%S +0000")
            .parse_to_owned()
            .expect("a valid format")
    });
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .format_with_items(FORMAT.iter())
        .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_rfc_2822_in_utc() {
        assert_eq!(
            super::rfc2822(1_764_033_099_000),
            "Tue, 25 Nov 2025 01:11:39 +0000"
        );
        assert_eq!(
            super::rfc2822(1_736_053_200_999),
            "Sun, 05 Jan 2025 05:00:00 +0000"
        );
    }
}
