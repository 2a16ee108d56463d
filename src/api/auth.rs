//! HTTP Basic authentication with `AccountSid:AuthToken` or `ApiKeySid:Secret`,
//! and the rule for which accounts a caller may act on.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use subtle::ConstantTimeEq;

use super::ApiError;
use crate::app::App;
use crate::store::{Account, AccountStatus, Store};

/// The authenticated caller: the account it acts as, and the API key if one was used.
#[derive(Debug, Clone)]
pub struct Principal {
    pub account: Account,
    pub api_key_sid: Option<String>,
}

impl Principal {
    /// A caller acts on its own account and on its subaccounts, never on its
    /// owner or siblings.
    pub fn may_act_on(&self, target: &Account) -> bool {
        target.sid == self.account.sid || target.owner_sid.as_deref() == Some(&self.account.sid)
    }
}

impl FromRequestParts<Arc<App>> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        // The limiter in front of the handlers authenticated this request already.
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        let (user, secret) = basic_credentials(parts).ok_or_else(ApiError::unauthorized)?;
        let principal = authenticate(&app.store, &user, &secret).await?;
        match principal.account.status {
            AccountStatus::Active => Ok(principal),
            AccountStatus::Suspended => Err(ApiError::account_not_active()),
            AccountStatus::Closed => Err(ApiError::unauthorized()),
        }
    }
}

fn basic_credentials(parts: &Parts) -> Option<(String, String)> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, secret) = decoded.split_once(':')?;
    Some((user.to_owned(), secret.to_owned()))
}

/// Checks `AccountSid:AuthToken` or `ApiKeySid:Secret` (the event socket
/// authenticates with this too).
pub async fn authenticate(store: &Store, user: &str, secret: &str) -> Result<Principal, ApiError> {
    if user.starts_with("SK") {
        let key = store
            .api_key(user)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let digest = crate::store::secret_digest(secret);
        if !bool::from(digest.as_bytes().ct_eq(key.secret_sha256.as_bytes())) {
            return Err(ApiError::unauthorized());
        }
        let account = store
            .account(&key.account_sid)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        return Ok(Principal {
            account,
            api_key_sid: Some(key.sid),
        });
    }
    let account = store
        .account(user)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if !bool::from(secret.as_bytes().ct_eq(account.auth_token.as_bytes())) {
        return Err(ApiError::unauthorized());
    }
    Ok(Principal {
        account,
        api_key_sid: None,
    })
}

/// The account named by the `{account}` path segment, once the caller is
/// known to be allowed to act on it. Any other account is simply not found.
#[derive(Debug, Clone)]
pub struct Scope {
    pub principal: Principal,
    pub account: Account,
}

impl FromRequestParts<Arc<App>> for Scope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        if let Some(scope) = parts.extensions.get::<Scope>() {
            return Ok(scope.clone());
        }
        let principal = Principal::from_request_parts(parts, app).await?;
        let path = parts.uri.path().to_owned();
        let not_found = || ApiError::not_found(&path);
        let params = axum::extract::RawPathParams::from_request_parts(parts, app)
            .await
            .map_err(|_| not_found())?;
        let segment = params
            .iter()
            .find(|(name, _)| *name == "account")
            .map(|(_, value)| value)
            .ok_or_else(not_found)?;
        let sid = segment.strip_suffix(".json").unwrap_or(segment);
        // Most requests act on the caller's own account, just read to authenticate.
        let account = if sid == principal.account.sid {
            principal.account.clone()
        } else {
            app.store
                .account(sid)
                .await?
                .filter(|account| principal.may_act_on(account))
                .ok_or_else(not_found)?
        };
        Ok(Scope { principal, account })
    }
}
