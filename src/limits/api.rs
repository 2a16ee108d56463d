//! The read API of the limits: each resource type's current concurrency and
//! threshold, and its calls per second, for one account, at `/2010-04-01/Accounts/{AccountSid}/Limits.json`.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::api::{ApiError, Scope, VERSION};
use crate::app::App;

/// `GET …/Limits.json`: every resource type of the API, in name order.
pub async fn fetch(State(app): State<Arc<App>>, scope: Scope) -> Result<Json<Value>, ApiError> {
    let account_sid = &scope.account.sid;
    let types: BTreeSet<&str> = app.limits.resource_types().collect();
    let mut limits = Vec::with_capacity(types.len());
    for resource_type in types {
        let threshold = app.limits.threshold(account_sid, resource_type).await?;
        let usage = app
            .limits
            .shared_usage(account_sid, resource_type)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        limits.push(json!({
            "resource_type": resource_type,
            "concurrent_requests": usage.current,
            "max_concurrent_requests": usage.max,
            "threshold": threshold.concurrency,
            "queue_wait_ms": threshold.queue_wait.as_millis(),
        }));
    }
    let calls_per_second = app.pacer.calls_per_second(account_sid).await?;
    Ok(Json(json!({
        "account_sid": account_sid,
        "calls_per_second": calls_per_second,
        "limits": limits,
        "uri": format!("/{VERSION}/Accounts/{account_sid}/Limits.json"),
    })))
}
