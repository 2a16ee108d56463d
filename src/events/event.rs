//! What an event is: the types Switchboard publishes, the event as the call
//! router hands it over, and the CloudEvents envelope every subscriber sees.

use serde_json::{json, Value};

/// A call was placed (outbound) and is about to ring.
pub const CALL_INITIATED: &str = "call.initiated";
/// The far end rings (outbound), or an inbound call arrived.
pub const CALL_RINGING: &str = "call.ringing";
pub const CALL_ANSWERED: &str = "call.answered";
/// The call ended, whatever its final status (`data.call_status`).
pub const CALL_COMPLETED: &str = "call.completed";
/// An inbound call was refused before any application ran (`data.reason`).
pub const CALL_REJECTED: &str = "call.rejected";
pub const GATHER_COMPLETED: &str = "gather.completed";
pub const RECORDING_COMPLETED: &str = "recording.completed";
pub const DIAL_COMPLETED: &str = "dial.completed";
pub const CONFERENCE_PARTICIPANT_JOINED: &str = "conference.participant.joined";
pub const CONFERENCE_PARTICIPANT_LEFT: &str = "conference.participant.left";
pub const QUEUE_MEMBER_JOINED: &str = "queue.member.joined";
pub const QUEUE_MEMBER_LEFT: &str = "queue.member.left";
pub const NOTIFICATION_CREATED: &str = "notification.created";

/// Every type, with what it means: the `/v1/Types` list and the names
/// subscriptions may ask for.
pub const TYPES: &[(&str, &str)] = &[
    (CALL_INITIATED, "An outbound call was placed"),
    (CALL_RINGING, "A call is ringing"),
    (CALL_ANSWERED, "A call was answered"),
    (CALL_COMPLETED, "A call ended (data.call_status says how)"),
    (
        CALL_REJECTED,
        "An inbound call was refused before any application ran",
    ),
    (
        GATHER_COMPLETED,
        "A Gather collected its digits (or timed out)",
    ),
    (RECORDING_COMPLETED, "A Record verb made a recording"),
    (DIAL_COMPLETED, "A Dial ended (data.dial_call_status)"),
    (CONFERENCE_PARTICIPANT_JOINED, "A call joined a conference"),
    (CONFERENCE_PARTICIPANT_LEFT, "A call left a conference"),
    (QUEUE_MEMBER_JOINED, "A call was enqueued"),
    (
        QUEUE_MEMBER_LEFT,
        "A call left a queue (dequeued, hung up or timed out)",
    ),
    (
        NOTIFICATION_CREATED,
        "An error or warning was recorded as a Notification",
    ),
];

/// The schema version of every type today.
pub const SCHEMA_VERSION: i64 = 1;

pub fn is_known_type(name: &str) -> bool {
    TYPES.iter().any(|(t, _)| *t == name)
}

/// An event as the call router publishes it: `events.publish(Event { … })`.
#[derive(Debug, Clone)]
pub struct Event {
    /// One of the type constants of this module.
    pub kind: &'static str,
    /// The tenant it belongs to; empty when no account owns it.
    pub account_sid: String,
    pub call_sid: Option<String>,
    /// Type-specific fields, snake_case like Twilio's JSON.
    pub data: Value,
}

/// A published event, numbered: what every subscriber receives.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// Increases with every event: the stream's `Last-Event-ID`.
    pub id: i64,
    pub kind: String,
    pub account_sid: String,
    pub owner_sid: Option<String>,
    pub call_sid: Option<String>,
    /// Unix milliseconds.
    pub time: i64,
    pub data: Value,
    /// The CloudEvents JSON, serialised once for every subscriber.
    pub json: String,
    /// The Server-Sent Events frame (`id`, `event`, `data`), shared by every stream.
    pub sse: bytes::Bytes,
}

impl Envelope {
    pub fn new(
        id: i64,
        kind: String,
        account_sid: String,
        owner_sid: Option<String>,
        call_sid: Option<String>,
        time: i64,
        data: Value,
    ) -> Envelope {
        let source = match &call_sid {
            Some(call) => format!("/2010-04-01/Accounts/{account_sid}/Calls/{call}"),
            None => format!("/2010-04-01/Accounts/{account_sid}"),
        };
        // CloudEvents 1.0; extension attribute names are lowercase alphanumerics.
        let cloud = json!({
            "specversion": "1.0",
            "id": id.to_string(),
            "type": kind,
            "source": source,
            "time": rfc3339(time),
            "datacontenttype": "application/json",
            "accountsid": account_sid,
            "callsid": call_sid,
            "data": data,
        });
        // Compact JSON has no newline, so it is one `data:` line.
        let json = cloud.to_string();
        let sse = format!("id: {id}\nevent: {kind}\ndata: {json}\n\n").into();
        Envelope {
            id,
            kind,
            account_sid,
            owner_sid,
            call_sid,
            time,
            data,
            json,
            sse,
        }
    }
}

/// `2026-11-25T03:45:16.123Z`.
pub fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_is_a_cloudevent_naming_its_account_and_call() {
        let envelope = Envelope::new(
            7,
            CALL_ANSWERED.into(),
            "AC1".into(),
            None,
            Some("CA1".into()),
            1_764_033_099_000,
            json!({"call_status": "in-progress"}),
        );
        let v: Value = serde_json::from_str(&envelope.json).unwrap();
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["id"], "7");
        assert_eq!(v["type"], "call.answered");
        assert_eq!(v["source"], "/2010-04-01/Accounts/AC1/Calls/CA1");
        assert_eq!(v["time"], "2025-11-25T01:11:39.000Z");
        assert_eq!(v["accountsid"], "AC1");
        assert_eq!(v["data"]["call_status"], "in-progress");
        assert!(TYPES.iter().all(|(t, _)| is_known_type(t)));
    }
}
