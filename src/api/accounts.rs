//! `/2010-04-01/Accounts`: the caller's account and its subaccounts.

use std::sync::Arc;

use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};

use super::auth::Scope;
use super::page::List;
use super::params::{invalid, Form, Params};
use super::{rfc2822, ApiError, Principal, VERSION};
use crate::app::App;
use crate::store::{account_from_row, Account, AccountStatus, Listing, ACCOUNT_COLUMNS};

/// `GET /2010-04-01/Accounts/{Sid}.json`
pub async fn fetch(scope: Scope) -> Json<Value> {
    Json(account_json(&scope.account))
}

/// `POST /2010-04-01/Accounts/{Sid}.json`: FriendlyName, Status.
pub async fn update(
    State(app): State<Arc<App>>,
    scope: Scope,
    Form(params): Form,
) -> Result<Json<Value>, ApiError> {
    let status = match params.get("Status") {
        None | Some("") => None,
        Some(raw) => Some(
            AccountStatus::parse(raw)
                .ok_or_else(|| invalid("Status", raw, "must be active, suspended or closed"))?,
        ),
    };
    if let Some(status) = status {
        // Only an owner changes a subaccount's status, and closing is final.
        if scope.account.owner_sid.as_deref() != Some(&scope.principal.account.sid) {
            return Err(ApiError::bad_request(
                20001,
                "Status can only be changed on a subaccount, by its owner.",
            ));
        }
        if scope.account.status == AccountStatus::Closed && status != AccountStatus::Closed {
            return Err(ApiError::bad_request(
                20001,
                "A closed account cannot be reopened.",
            ));
        }
    }
    let friendly_name = params.get("FriendlyName").filter(|n| !n.is_empty());
    app.store
        .update_account(&scope.account.sid, friendly_name, status)
        .await?;
    let account = app
        .store
        .account(&scope.account.sid)
        .await?
        .ok_or_else(|| ApiError::internal(&"an updated account vanished"))?;
    Ok(Json(account_json(&account)))
}

/// `POST /2010-04-01/Accounts.json`: a new subaccount of the caller.
pub async fn create(
    State(app): State<Arc<App>>,
    principal: Principal,
    Form(params): Form,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if principal.account.owner_sid.is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            20403,
            "A subaccount cannot create subaccounts.",
        ));
    }
    let name = match params.get("FriendlyName") {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => format!(
            "SubAccount Created at {}",
            rfc2822(crate::store::now_millis())
        ),
    };
    let account = app
        .store
        .create_account(&name, Some(&principal.account.sid))
        .await?;
    Ok((StatusCode::CREATED, Json(account_json(&account))))
}

/// `GET /2010-04-01/Accounts.json`: the caller's account and its subaccounts.
pub async fn list(
    State(app): State<Arc<App>>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let params = Params::from_query(uri.query());
    let path = format!("/{VERSION}/Accounts.json");
    let mut listing = Listing::new("accounts", ACCOUNT_COLUMNS, &principal.account.sid);
    listing.scope = "(sid = $1 OR owner_sid = $1)";
    let mut list = List::new("accounts", &path, listing);
    list.filter_equal(
        &params,
        &[("FriendlyName", "friendly_name ="), ("Status", "status =")],
    );
    list.answer(&app, &params, |row| {
        account_from_row(row).map(|a| account_json(&a))
    })
    .await
}

/// An account in Twilio's JSON shape.
pub fn account_json(account: &Account) -> Value {
    let uri = format!("/{VERSION}/Accounts/{}", account.sid);
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
