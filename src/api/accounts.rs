//! `/2010-04-01/Accounts`: the caller's account and its subaccounts.

use std::sync::Arc;

use axum::extract::{OriginalUri, Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::{json_segment, rfc2822, ApiError, Principal};
use crate::app::App;
use crate::store::Account;

/// `GET /2010-04-01/Accounts/{Sid}.json`
pub async fn fetch(
    State(app): State<Arc<App>>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
    Path(segment): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let sid = json_segment(&segment, uri.path())?;
    let account = app
        .store
        .account(sid)
        .await?
        .filter(|account| principal.may_act_on(account))
        .ok_or_else(|| ApiError::not_found(uri.path()))?;
    Ok(Json(account_json(&account)))
}

/// An account in Twilio's JSON shape.
pub fn account_json(account: &Account) -> Value {
    let uri = format!("/2010-04-01/Accounts/{}", account.sid);
    let sub = |name: &str| format!("{uri}/{name}.json");
    json!({
        "auth_token": account.auth_token,
        "date_created": rfc2822(account.date_created),
        "date_updated": rfc2822(account.date_updated),
        "friendly_name": account.friendly_name,
        "owner_account_sid": account.owner_sid.as_deref().unwrap_or(&account.sid),
        "sid": account.sid,
        "status": account.status.as_str(),
        "subresource_uris": {
            "applications": sub("Applications"),
            "authorized_connect_apps": sub("AuthorizedConnectApps"),
            "calls": sub("Calls"),
            "conferences": sub("Conferences"),
            "connect_apps": sub("ConnectApps"),
            "incoming_phone_numbers": sub("IncomingPhoneNumbers"),
            "keys": sub("Keys"),
            "notifications": sub("Notifications"),
            "queues": sub("Queues"),
            "recordings": sub("Recordings"),
            "usage": sub("Usage"),
        },
        "type": account.kind,
        "uri": format!("{uri}.json"),
    })
}
