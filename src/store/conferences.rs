//! Conferences and the participants in them now.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{now_millis, Store, StoreError};

pub const CONFERENCE_COLUMNS: &str = "sid, account_sid, friendly_name, status, region, \
    reason_conference_ended, call_sid_ending_conference, date_created, date_updated";

pub const PARTICIPANT_COLUMNS: &str = "sid, conference_sid, account_sid, label, muted, hold, \
    start_conference_on_enter, end_conference_on_exit, status, date_created, date_updated";

/// A participant as stored: `call_sid` is also its `sid`.
#[derive(Debug, Clone)]
pub struct Participant {
    pub call_sid: String,
    pub conference_sid: String,
    pub account_sid: String,
    pub label: Option<String>,
    pub muted: bool,
    pub hold: bool,
    pub start_conference_on_enter: bool,
    pub end_conference_on_exit: bool,
}

impl Store {
    pub async fn insert_conference(
        &self,
        sid: &str,
        account_sid: &str,
        friendly_name: &str,
        region: &str,
    ) -> Result<(), StoreError> {
        let now = now_millis();
        sqlx::query(&format!(
            "INSERT INTO conferences ({CONFERENCE_COLUMNS}) VALUES ($1, $2, $3, 'init', $4, NULL, NULL, $5, $5)"
        ))
        .bind(sid)
        .bind(account_sid)
        .bind(friendly_name)
        .bind(region)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks a conference `in-progress`, or `completed` with why and by whom.
    pub async fn set_conference_status(
        &self,
        sid: &str,
        status: &str,
        reason: Option<&str>,
        ended_by: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE conferences SET status = $2, reason_conference_ended = $3, \
             call_sid_ending_conference = $4, date_updated = $5 WHERE sid = $1",
        )
        .bind(sid)
        .bind(status)
        .bind(reason)
        .bind(ended_by)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn conference(
        &self,
        account_sid: &str,
        sid: &str,
    ) -> Result<Option<AnyRow>, StoreError> {
        Ok(sqlx::query(&format!(
            "SELECT {CONFERENCE_COLUMNS} FROM conferences WHERE sid = $1 AND account_sid = $2"
        ))
        .bind(sid)
        .bind(account_sid)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn insert_participant(&self, p: &Participant) -> Result<(), StoreError> {
        let now = now_millis();
        sqlx::query(&format!(
            "INSERT INTO conference_participants ({PARTICIPANT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'connected', $9, $9)"
        ))
        .bind(&p.call_sid)
        .bind(&p.conference_sid)
        .bind(&p.account_sid)
        .bind(&p.label)
        .bind(i64::from(p.muted))
        .bind(i64::from(p.hold))
        .bind(i64::from(p.start_conference_on_enter))
        .bind(i64::from(p.end_conference_on_exit))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_participant(
        &self,
        conference_sid: &str,
        call_sid: &str,
        muted: bool,
        hold: bool,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE conference_participants SET muted = $3, hold = $4, date_updated = $5 \
             WHERE conference_sid = $1 AND sid = $2",
        )
        .bind(conference_sid)
        .bind(call_sid)
        .bind(i64::from(muted))
        .bind(i64::from(hold))
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_participant(
        &self,
        conference_sid: &str,
        call_sid: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM conference_participants WHERE conference_sid = $1 AND sid = $2")
            .bind(conference_sid)
            .bind(call_sid)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn participant(
        &self,
        account_sid: &str,
        conference_sid: &str,
        call_sid: &str,
    ) -> Result<Option<AnyRow>, StoreError> {
        Ok(sqlx::query(&format!(
            "SELECT {PARTICIPANT_COLUMNS} FROM conference_participants \
             WHERE conference_sid = $1 AND sid = $2 AND account_sid = $3"
        ))
        .bind(conference_sid)
        .bind(call_sid)
        .bind(account_sid)
        .fetch_optional(&self.pool)
        .await?)
    }
}

/// Reads a 0/1 column as a flag.
pub fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}
