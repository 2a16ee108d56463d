//! Calls, their notifications and their recordings, as rows.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{now_millis, Store, StoreError};

/// A call's status, as Twilio names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallStatus {
    Queued,
    Ringing,
    InProgress,
    Canceled,
    Completed,
    Failed,
    Busy,
    NoAnswer,
}

impl CallStatus {
    pub const ALL: [CallStatus; 8] = [
        CallStatus::Queued,
        CallStatus::Ringing,
        CallStatus::InProgress,
        CallStatus::Canceled,
        CallStatus::Completed,
        CallStatus::Failed,
        CallStatus::Busy,
        CallStatus::NoAnswer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Queued => "queued",
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in-progress",
            CallStatus::Canceled => "canceled",
            CallStatus::Completed => "completed",
            CallStatus::Failed => "failed",
            CallStatus::Busy => "busy",
            CallStatus::NoAnswer => "no-answer",
        }
    }

    pub fn parse(s: &str) -> Option<CallStatus> {
        CallStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
    }

    /// Whether the call is over.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CallStatus::Canceled
                | CallStatus::Completed
                | CallStatus::Failed
                | CallStatus::Busy
                | CallStatus::NoAnswer
        )
    }
}

/// A call, inbound or outbound, and where its instructions come from.
#[derive(Debug, Clone)]
pub struct Call {
    pub sid: String,
    pub account_sid: String,
    pub parent_call_sid: Option<String>,
    /// `inbound`, `outbound-api` or `outbound-dial`.
    pub direction: String,
    pub from: String,
    pub to: String,
    pub caller_name: Option<String>,
    pub forwarded_from: Option<String>,
    pub status: CallStatus,
    pub answered_by: Option<String>,
    pub phone_number_sid: Option<String>,
    pub application_sid: Option<String>,
    pub url: Option<String>,
    pub method: String,
    pub fallback_url: Option<String>,
    pub fallback_method: String,
    pub twiml: Option<String>,
    pub status_callback: Option<String>,
    pub status_callback_method: String,
    /// Space-separated: initiated ringing answered completed.
    pub status_callback_events: String,
    pub timeout_secs: i64,
    pub node: Option<String>,
    pub channel_uuid: Option<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub duration: Option<i64>,
    pub date_created: i64,
    pub date_updated: i64,
    /// DTMF sent once an API-placed call answers (`SendDigits`).
    pub send_digits: Option<String>,
    /// How the whole call is recorded, when it is (`Record`).
    pub record: Option<Box<CallRecording>>,
    /// The longest an API-placed call may last once answered (`TimeLimit`).
    pub time_limit_secs: Option<i64>,
}

/// The options of an API-placed call's whole-call recording.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecording {
    /// Whether leading and trailing silence is cut (`Trim`).
    pub trim: bool,
    /// 1 (`mono`) or 2 (`dual`: each party on a channel) (`RecordingChannels`).
    pub channels: i64,
    /// `inbound`, `outbound` or `both` (`RecordingTrack`).
    pub track: String,
    pub status_callback: Option<String>,
    pub status_callback_method: String,
    /// Space-separated `in-progress`, `completed`, `absent`.
    pub status_callback_events: String,
}

pub const CALL_COLUMNS: &str = "sid, account_sid, parent_call_sid, direction, from_number, to_number, \
    caller_name, forwarded_from, status, answered_by, phone_number_sid, application_sid, url, method, \
    fallback_url, fallback_method, twiml, status_callback, status_callback_method, status_callback_events, \
    timeout_secs, node, channel_uuid, start_time, end_time, duration, date_created, date_updated, \
    send_digits, record, record_trim, record_channels, record_track, recording_status_callback, \
    recording_status_callback_method, recording_status_callback_events, time_limit_secs";

pub fn call_from_row(row: &AnyRow) -> Result<Call, sqlx::Error> {
    let status: String = row.try_get("status")?;
    Ok(Call {
        sid: row.try_get("sid")?,
        account_sid: row.try_get("account_sid")?,
        parent_call_sid: row.try_get("parent_call_sid")?,
        direction: row.try_get("direction")?,
        from: row.try_get("from_number")?,
        to: row.try_get("to_number")?,
        caller_name: row.try_get("caller_name")?,
        forwarded_from: row.try_get("forwarded_from")?,
        status: CallStatus::parse(&status).ok_or_else(|| sqlx::Error::ColumnDecode {
            index: "status".into(),
            source: format!("unknown call status {status:?}").into(),
        })?,
        answered_by: row.try_get("answered_by")?,
        phone_number_sid: row.try_get("phone_number_sid")?,
        application_sid: row.try_get("application_sid")?,
        url: row.try_get("url")?,
        method: row.try_get("method")?,
        fallback_url: row.try_get("fallback_url")?,
        fallback_method: row.try_get("fallback_method")?,
        twiml: row.try_get("twiml")?,
        status_callback: row.try_get("status_callback")?,
        status_callback_method: row.try_get("status_callback_method")?,
        status_callback_events: row.try_get("status_callback_events")?,
        timeout_secs: row.try_get("timeout_secs")?,
        node: row.try_get("node")?,
        channel_uuid: row.try_get("channel_uuid")?,
        start_time: row.try_get("start_time")?,
        end_time: row.try_get("end_time")?,
        duration: row.try_get("duration")?,
        date_created: row.try_get("date_created")?,
        date_updated: row.try_get("date_updated")?,
        send_digits: row.try_get("send_digits")?,
        record: if row.try_get::<i64, _>("record")? != 0 {
            Some(Box::new(CallRecording {
                trim: row.try_get::<i64, _>("record_trim")? != 0,
                channels: row.try_get("record_channels")?,
                track: row.try_get("record_track")?,
                status_callback: row.try_get("recording_status_callback")?,
                status_callback_method: row.try_get("recording_status_callback_method")?,
                status_callback_events: row.try_get("recording_status_callback_events")?,
            }))
        } else {
            None
        },
        time_limit_secs: row.try_get("time_limit_secs")?,
    })
}

/// An error or warning raised while running a call, with Twilio's code.
#[derive(Debug, Clone)]
pub struct Notification {
    pub sid: String,
    pub account_sid: String,
    pub call_sid: Option<String>,
    pub error_code: String,
    /// 0 for an error, 1 for a warning.
    pub log: String,
    pub message_text: String,
    pub more_info: String,
    pub request_method: Option<String>,
    pub request_url: Option<String>,
    pub request_variables: Option<String>,
    pub response_body: Option<String>,
    pub date_created: i64,
}

pub const NOTIFICATION_COLUMNS: &str = "sid, account_sid, call_sid, error_code, log, message_text, \
    message_date, more_info, request_method, request_url, request_variables, response_body, date_created, date_updated";

/// A recording a call made; the audio is a WAV file under the data directory.
#[derive(Debug, Clone)]
pub struct Recording {
    pub sid: String,
    pub account_sid: String,
    pub call_sid: String,
    pub status: String,
    pub source: String,
    pub channels: i64,
    pub duration: i64,
    pub file_path: String,
    pub start_time: i64,
    pub date_created: i64,
    pub date_updated: i64,
}

pub const RECORDING_COLUMNS: &str =
    "sid, account_sid, call_sid, status, source, channels, duration, file_path, start_time, date_created, date_updated";

pub fn recording_from_row(row: &AnyRow) -> Result<Recording, sqlx::Error> {
    Ok(Recording {
        sid: row.try_get("sid")?,
        account_sid: row.try_get("account_sid")?,
        call_sid: row.try_get("call_sid")?,
        status: row.try_get("status")?,
        source: row.try_get("source")?,
        channels: row.try_get("channels")?,
        duration: row.try_get("duration")?,
        file_path: row.try_get("file_path")?,
        start_time: row.try_get("start_time")?,
        date_created: row.try_get("date_created")?,
        date_updated: row.try_get("date_updated")?,
    })
}

/// Where an API-placed call waits for its origination slot: milliseconds
/// until it is placed, and the instance whose queue holds it ('' once placed).
pub struct Queued<'a> {
    pub time_ms: i64,
    pub by: &'a str,
}

/// Inserts `call` through `executor` (the pool, or a transaction that writes
/// more about the call beside it), with its place in the origination queue
/// when it has one: one statement either way.
pub async fn insert_call_on<'e, E>(
    executor: E,
    call: &Call,
    queued: Option<Queued<'_>>,
) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let recording = call.record.as_deref();
    sqlx::query(&format!(
        "INSERT INTO calls ({CALL_COLUMNS}, queue_time, queued_by) VALUES ($1, $2, $3, $4, $5, $6, $7, \
         $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, \
         $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39)"
    ))
    .bind(&call.sid)
    .bind(&call.account_sid)
    .bind(&call.parent_call_sid)
    .bind(&call.direction)
    .bind(&call.from)
    .bind(&call.to)
    .bind(&call.caller_name)
    .bind(&call.forwarded_from)
    .bind(call.status.as_str())
    .bind(&call.answered_by)
    .bind(&call.phone_number_sid)
    .bind(&call.application_sid)
    .bind(&call.url)
    .bind(&call.method)
    .bind(&call.fallback_url)
    .bind(&call.fallback_method)
    .bind(&call.twiml)
    .bind(&call.status_callback)
    .bind(&call.status_callback_method)
    .bind(&call.status_callback_events)
    .bind(call.timeout_secs)
    .bind(&call.node)
    .bind(&call.channel_uuid)
    .bind(call.start_time)
    .bind(call.end_time)
    .bind(call.duration)
    .bind(call.date_created)
    .bind(call.date_updated)
    .bind(&call.send_digits)
    .bind(i64::from(recording.is_some()))
    .bind(i64::from(recording.is_none_or(|r| r.trim)))
    .bind(recording.map_or(1, |r| r.channels))
    .bind(recording.map_or("both", |r| r.track.as_str()))
    .bind(recording.and_then(|r| r.status_callback.as_deref()))
    .bind(recording.map_or("POST", |r| r.status_callback_method.as_str()))
    .bind(recording.map_or("completed", |r| r.status_callback_events.as_str()))
    .bind(call.time_limit_secs)
    .bind(queued.as_ref().map(|q| q.time_ms))
    .bind(queued.as_ref().map(|q| q.by))
    .execute(executor)
    .await?;
    Ok(())
}

impl Store {
    pub async fn insert_call(&self, call: &Call) -> Result<(), StoreError> {
        insert_call_on(&self.pool, call, None).await
    }

    /// The call, if it is `account_sid`'s.
    pub async fn call(&self, account_sid: &str, sid: &str) -> Result<Option<Call>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE sid = $1 AND account_sid = $2"
        ))
        .bind(sid)
        .bind(account_sid)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(call_from_row).transpose()?)
    }

    /// Records a status change and the times that come with it.
    pub async fn set_call_status(
        &self,
        sid: &str,
        status: CallStatus,
        start_time: Option<i64>,
        end_time: Option<i64>,
        duration: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE calls SET status = $2, start_time = COALESCE($3, start_time),
                 end_time = COALESCE($4, end_time), duration = COALESCE($5, duration), date_updated = $6
             WHERE sid = $1",
        )
        .bind(sid)
        .bind(status.as_str())
        .bind(start_time)
        .bind(end_time)
        .bind(duration)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Where the call runs: its media node and channel.
    pub async fn set_call_channel(
        &self,
        sid: &str,
        node: &str,
        channel_uuid: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE calls SET node = $2, channel_uuid = $3, date_updated = $4 WHERE sid = $1",
        )
        .bind(sid)
        .bind(node)
        .bind(channel_uuid)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes a finished call's record; false when it is not the account's.
    pub async fn delete_call(&self, account_sid: &str, sid: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM calls WHERE sid = $1 AND account_sid = $2")
            .bind(sid)
            .bind(account_sid)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn insert_notification(&self, n: &Notification) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO notifications ({NOTIFICATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(&n.sid)
        .bind(&n.account_sid)
        .bind(&n.call_sid)
        .bind(&n.error_code)
        .bind(&n.log)
        .bind(&n.message_text)
        .bind(n.date_created)
        .bind(&n.more_info)
        .bind(&n.request_method)
        .bind(&n.request_url)
        .bind(&n.request_variables)
        .bind(&n.response_body)
        .bind(n.date_created)
        .bind(n.date_created)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn insert_recording(&self, r: &Recording) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO recordings ({RECORDING_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&r.sid)
        .bind(&r.account_sid)
        .bind(&r.call_sid)
        .bind(&r.status)
        .bind(&r.source)
        .bind(r.channels)
        .bind(r.duration)
        .bind(&r.file_path)
        .bind(r.start_time)
        .bind(r.date_created)
        .bind(r.date_updated)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn recording(
        &self,
        account_sid: &str,
        sid: &str,
    ) -> Result<Option<Recording>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {RECORDING_COLUMNS} FROM recordings WHERE sid = $1 AND account_sid = $2"
        ))
        .bind(sid)
        .bind(account_sid)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(recording_from_row).transpose()?)
    }

    pub async fn delete_recording(
        &self,
        account_sid: &str,
        sid: &str,
    ) -> Result<Option<Recording>, StoreError> {
        let Some(recording) = self.recording(account_sid, sid).await? else {
            return Ok(None);
        };
        sqlx::query("DELETE FROM recordings WHERE sid = $1 AND account_sid = $2")
            .bind(sid)
            .bind(account_sid)
            .execute(&self.pool)
            .await?;
        Ok(Some(recording))
    }

    /// The phone number a call to `number` reaches, with its owner.
    pub async fn incoming_number(&self, number: &str) -> Result<Option<AnyRow>, StoreError> {
        Ok(sqlx::query(
            "SELECT n.sid, n.account_sid, n.voice_url, n.voice_method, n.voice_fallback_url, n.voice_fallback_method,
                    n.status_callback, n.status_callback_method, n.voice_application_sid,
                    a.voice_url AS app_voice_url, a.voice_method AS app_voice_method,
                    a.voice_fallback_url AS app_voice_fallback_url, a.voice_fallback_method AS app_voice_fallback_method,
                    a.status_callback AS app_status_callback, a.status_callback_method AS app_status_callback_method
             FROM incoming_phone_numbers n LEFT JOIN applications a ON a.sid = n.voice_application_sid
             WHERE n.phone_number = $1",
        )
        .bind(number)
        .fetch_optional(&self.pool)
        .await?)
    }
}
