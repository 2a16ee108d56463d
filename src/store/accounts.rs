//! Accounts, subaccounts and API keys.

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{now_millis, Store, StoreError};
use crate::sid::{new_secret, Kind, Sid};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    Suspended,
    Closed,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Suspended => "suspended",
            AccountStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<AccountStatus> {
        match s {
            "active" => Some(AccountStatus::Active),
            "suspended" => Some(AccountStatus::Suspended),
            "closed" => Some(AccountStatus::Closed),
            _ => None,
        }
    }
}

/// A tenant. A subaccount has an owner; a main account owns itself.
#[derive(Clone)]
pub struct Account {
    pub sid: String,
    pub owner_sid: Option<String>,
    pub friendly_name: String,
    pub status: AccountStatus,
    pub kind: String,
    pub auth_token: String,
    pub date_created: i64,
    pub date_updated: i64,
}

impl std::fmt::Debug for Account {
    // The auth token never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("sid", &self.sid)
            .field("owner_sid", &self.owner_sid)
            .field("friendly_name", &self.friendly_name)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// An API key: a second credential that acts for its account.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub sid: String,
    pub account_sid: String,
    pub friendly_name: String,
    pub secret_sha256: String,
    pub date_created: i64,
    pub date_updated: i64,
}

pub const ACCOUNT_COLUMNS: &str =
    "sid, owner_sid, friendly_name, status, type, auth_token, date_created, date_updated";

pub fn account_from_row(row: &sqlx::any::AnyRow) -> Result<Account, sqlx::Error> {
    let status: String = row.try_get("status")?;
    Ok(Account {
        sid: row.try_get("sid")?,
        owner_sid: row.try_get("owner_sid")?,
        friendly_name: row.try_get("friendly_name")?,
        status: AccountStatus::parse(&status).ok_or_else(|| sqlx::Error::ColumnDecode {
            index: "status".into(),
            source: format!("unknown account status {status:?}").into(),
        })?,
        kind: row.try_get("type")?,
        auth_token: row.try_get("auth_token")?,
        date_created: row.try_get("date_created")?,
        date_updated: row.try_get("date_updated")?,
    })
}

/// The SHA-256 of an API key secret, as stored (the secret itself never is).
pub fn secret_digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Store {
    /// Creates an account, a subaccount of `owner` when given, with a fresh auth token.
    pub async fn create_account(
        &self,
        friendly_name: &str,
        owner: Option<&str>,
    ) -> Result<Account, StoreError> {
        let now = now_millis();
        let account = Account {
            sid: Sid::new(Kind::Account).to_string(),
            owner_sid: owner.map(str::to_owned),
            friendly_name: friendly_name.to_owned(),
            status: AccountStatus::Active,
            kind: "Full".to_owned(),
            auth_token: new_secret(),
            date_created: now,
            date_updated: now,
        };
        sqlx::query(
            "INSERT INTO accounts (sid, owner_sid, friendly_name, status, type, auth_token, date_created, date_updated)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&account.sid)
        .bind(&account.owner_sid)
        .bind(&account.friendly_name)
        .bind(account.status.as_str())
        .bind(&account.kind)
        .bind(&account.auth_token)
        .bind(account.date_created)
        .bind(account.date_updated)
        .execute(&self.pool)
        .await?;
        Ok(account)
    }

    pub async fn account(&self, sid: &str) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE sid = $1"
        ))
        .bind(sid)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(account_from_row).transpose()?)
    }

    /// Changes the name and/or status; the caller has checked what may change.
    pub async fn update_account(
        &self,
        sid: &str,
        friendly_name: Option<&str>,
        status: Option<AccountStatus>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE accounts SET friendly_name = COALESCE($2, friendly_name),
                                 status = COALESCE($3, status), date_updated = $4
             WHERE sid = $1",
        )
        .bind(sid)
        .bind(friendly_name)
        .bind(status.map(AccountStatus::as_str))
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn count_accounts(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM accounts")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Creates an API key for `account_sid`; the secret is returned once and only its digest kept.
    pub async fn create_api_key(
        &self,
        account_sid: &str,
        friendly_name: &str,
    ) -> Result<(ApiKey, String), StoreError> {
        let now = now_millis();
        let secret = new_secret();
        let key = ApiKey {
            sid: Sid::new(Kind::ApiKey).to_string(),
            account_sid: account_sid.to_owned(),
            friendly_name: friendly_name.to_owned(),
            secret_sha256: secret_digest(&secret),
            date_created: now,
            date_updated: now,
        };
        sqlx::query(
            "INSERT INTO api_keys (sid, account_sid, friendly_name, secret_sha256, date_created, date_updated)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.sid)
        .bind(&key.account_sid)
        .bind(&key.friendly_name)
        .bind(&key.secret_sha256)
        .bind(key.date_created)
        .bind(key.date_updated)
        .execute(&self.pool)
        .await?;
        Ok((key, secret))
    }

    pub async fn rename_api_key(
        &self,
        account_sid: &str,
        sid: &str,
        friendly_name: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_keys SET friendly_name = $3, date_updated = $4 WHERE sid = $1 AND account_sid = $2",
        )
        .bind(sid)
        .bind(account_sid)
        .bind(friendly_name)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn delete_api_key(&self, account_sid: &str, sid: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM api_keys WHERE sid = $1 AND account_sid = $2")
            .bind(sid)
            .bind(account_sid)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn api_key(&self, sid: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query(
            "SELECT sid, account_sid, friendly_name, secret_sha256, date_created, date_updated
             FROM api_keys WHERE sid = $1",
        )
        .bind(sid)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(ApiKey {
            sid: row.try_get("sid")?,
            account_sid: row.try_get("account_sid")?,
            friendly_name: row.try_get("friendly_name")?,
            secret_sha256: row.try_get("secret_sha256")?,
            date_created: row.try_get("date_created")?,
            date_updated: row.try_get("date_updated")?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("db.sqlite").display()
        );
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn a_subaccount_belongs_to_its_owner() {
        let (_dir, store) = store().await;
        let main = store.create_account("Main", None).await.unwrap();
        let sub = store.create_account("Sub", Some(&main.sid)).await.unwrap();
        let fetched = store.account(&sub.sid).await.unwrap().unwrap();
        assert_eq!(fetched.owner_sid.as_deref(), Some(main.sid.as_str()));
        assert_eq!(fetched.status, AccountStatus::Active);
        assert_eq!(fetched.auth_token, sub.auth_token);
        assert_eq!(store.count_accounts().await.unwrap(), 2);
    }

    #[tokio::test]
    async fn an_api_key_keeps_only_the_digest_of_its_secret() {
        let (_dir, store) = store().await;
        let main = store.create_account("Main", None).await.unwrap();
        let (key, secret) = store.create_api_key(&main.sid, "ci").await.unwrap();
        let fetched = store.api_key(&key.sid).await.unwrap().unwrap();
        assert_ne!(fetched.secret_sha256, secret);
        assert_eq!(fetched.secret_sha256, secret_digest(&secret));
        assert!(store.api_key("SK0000").await.unwrap().is_none());
    }
}
