//! Call queues: an account's named queues and their size limits.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{now_millis, Store, StoreError};
use crate::sid::{Kind, Sid};

pub const QUEUE_COLUMNS: &str =
    "sid, account_sid, friendly_name, max_size, date_created, date_updated";

/// Twilio's default and largest queue sizes.
pub const DEFAULT_QUEUE_SIZE: i64 = 1000;
pub const MAX_QUEUE_SIZE: i64 = 5000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub sid: String,
    pub account_sid: String,
    pub friendly_name: String,
    pub max_size: i64,
    pub date_created: i64,
    pub date_updated: i64,
}

pub fn queue_from_row(row: &AnyRow) -> Result<Queue, sqlx::Error> {
    Ok(Queue {
        sid: row.try_get("sid")?,
        account_sid: row.try_get("account_sid")?,
        friendly_name: row.try_get("friendly_name")?,
        max_size: row.try_get("max_size")?,
        date_created: row.try_get("date_created")?,
        date_updated: row.try_get("date_updated")?,
    })
}

impl Store {
    /// Creates a queue; `None` if the account already has one of that name.
    pub async fn create_queue(
        &self,
        account_sid: &str,
        friendly_name: &str,
        max_size: i64,
    ) -> Result<Option<Queue>, StoreError> {
        let now = now_millis();
        let queue = Queue {
            sid: Sid::new(Kind::Queue).to_string(),
            account_sid: account_sid.to_owned(),
            friendly_name: friendly_name.to_owned(),
            max_size,
            date_created: now,
            date_updated: now,
        };
        let inserted = sqlx::query(&format!(
            "INSERT INTO queues ({QUEUE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (account_sid, friendly_name) DO NOTHING"
        ))
        .bind(&queue.sid)
        .bind(&queue.account_sid)
        .bind(&queue.friendly_name)
        .bind(queue.max_size)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok((inserted == 1).then_some(queue))
    }

    /// The account's queue of that name, created (with `max_size`) if there is none.
    pub async fn queue_named(
        &self,
        account_sid: &str,
        friendly_name: &str,
        max_size: i64,
    ) -> Result<Queue, StoreError> {
        if let Some(queue) = self
            .create_queue(account_sid, friendly_name, max_size)
            .await?
        {
            return Ok(queue);
        }
        let row = sqlx::query(&format!(
            "SELECT {QUEUE_COLUMNS} FROM queues WHERE account_sid = $1 AND friendly_name = $2"
        ))
        .bind(account_sid)
        .bind(friendly_name)
        .fetch_one(&self.pool)
        .await?;
        Ok(queue_from_row(&row)?)
    }

    /// An existing queue of the account's, by name.
    pub async fn find_queue(
        &self,
        account_sid: &str,
        friendly_name: &str,
    ) -> Result<Option<Queue>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {QUEUE_COLUMNS} FROM queues WHERE account_sid = $1 AND friendly_name = $2"
        ))
        .bind(account_sid)
        .bind(friendly_name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(queue_from_row).transpose()?)
    }

    pub async fn queue(&self, account_sid: &str, sid: &str) -> Result<Option<Queue>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {QUEUE_COLUMNS} FROM queues WHERE sid = $1 AND account_sid = $2"
        ))
        .bind(sid)
        .bind(account_sid)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(queue_from_row).transpose()?)
    }

    /// Renames or resizes a queue; false if the new name is another queue's.
    pub async fn update_queue(&self, queue: &Queue) -> Result<bool, StoreError> {
        let taken = sqlx::query(
            "SELECT 1 FROM queues WHERE account_sid = $1 AND friendly_name = $2 AND sid <> $3",
        )
        .bind(&queue.account_sid)
        .bind(&queue.friendly_name)
        .bind(&queue.sid)
        .fetch_optional(&self.pool)
        .await?;
        if taken.is_some() {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE queues SET friendly_name = $3, max_size = $4, date_updated = $5 \
             WHERE sid = $1 AND account_sid = $2",
        )
        .bind(&queue.sid)
        .bind(&queue.account_sid)
        .bind(&queue.friendly_name)
        .bind(queue.max_size)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(true)
    }

    pub async fn delete_queue(&self, account_sid: &str, sid: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("DELETE FROM queues WHERE sid = $1 AND account_sid = $2")
                .bind(sid)
                .bind(account_sid)
                .execute(&self.pool)
                .await?
                .rows_affected()
                == 1,
        )
    }
}
