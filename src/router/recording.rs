//! Recordings a call makes (`<Record>`, `<Dial record>`, a recorded API
//! call): where the switch writes each one, the finished file kept as a
//! Recording resource (its silence trimmed when asked), and the
//! `recordingStatusCallback` told of each status its events name.

use std::path::PathBuf;

use twiml::{RecordingEvent, RecordingTrack, Trim};

use super::session::Session;
use super::verbs::method;
use crate::events::event as events;
use crate::media;
use crate::sid::{Kind, Sid};
use crate::store::{now_millis, Recording};
use crate::webhook;

/// Twilio's ErrorCode of an absent recording: too short to keep.
const TOO_SHORT: u32 = 16101;
/// Twilio's ErrorCode of an absent recording: nothing but silence.
const SILENT: u32 = 16102;

/// A recording the switch is asked to write: its SID names its file.
pub struct Tape {
    pub sid: String,
    pub path: PathBuf,
    source: &'static str,
    trim: Trim,
    callback: Option<StatusCallback>,
    /// When the switch started writing it; a tape never started keeps nothing.
    started: Option<i64>,
}

/// Where and for which statuses a recording's `recordingStatusCallback` goes.
struct StatusCallback {
    url: String,
    method: twiml::Method,
    events: Vec<RecordingEvent>,
}

/// A recording kept as a Recording resource.
pub struct Kept {
    pub sid: String,
    pub url: String,
    pub duration: i64,
}

impl Kept {
    /// What an action request says of the recording (`<Record>`, `<Dial record>`).
    pub fn action_params(&self) -> Vec<(String, String)> {
        vec![
            ("RecordingUrl".to_owned(), self.url.clone()),
            ("RecordingSid".into(), self.sid.clone()),
            ("RecordingDuration".into(), self.duration.to_string()),
        ]
    }
}

impl Tape {
    /// A new recording of the call from `source` (Twilio's `RecordVerb`,
    /// `DialVerb`, `OutboundAPI`), its file in the recordings directory.
    /// `callback` is the verb's `recordingStatusCallback`, its method and events.
    pub fn new(
        session: &Session,
        source: &'static str,
        trim: Trim,
        callback: Option<(&String, twiml::Method, Vec<RecordingEvent>)>,
    ) -> Tape {
        let dir = &session.router.recordings_dir;
        if let Err(e) = std::fs::create_dir_all(dir) {
            tracing::error!(dir = %dir.display(), error = %e, "cannot create the recordings directory");
        }
        let sid = Sid::new(Kind::Recording).to_string();
        let callback = callback.and_then(|(url, method, events)| {
            Some(StatusCallback {
                url: session.resolve(url)?,
                method,
                events,
            })
        });
        Tape {
            path: dir.join(format!("{sid}.wav")),
            sid,
            source,
            trim,
            callback,
            started: None,
        }
    }

    pub fn is_started(&self) -> bool {
        self.started.is_some()
    }

    /// Asks the switch to record the call's channel until it is stopped or
    /// hangs up (`uuid_record`): both sides mixed, or each on its own
    /// channel (`dual`, FreeSWITCH's `RECORD_STEREO`), or one side alone.
    /// Whether it did; a refusal becomes a notification (13227).
    pub async fn start(
        &mut self,
        session: &mut Session,
        dual: bool,
        track: RecordingTrack,
    ) -> bool {
        // What the caller says is the channel's read side; what it hears, its write side.
        let only = match track {
            RecordingTrack::Both => None,
            RecordingTrack::Inbound => Some("RECORD_READ_ONLY"),
            RecordingTrack::Outbound => Some("RECORD_WRITE_ONLY"),
        };
        let uuid = session.uuid.clone();
        session
            .api(&format!("uuid_setvar {uuid} RECORD_STEREO {dual}"))
            .await;
        for variable in ["RECORD_READ_ONLY", "RECORD_WRITE_ONLY"] {
            let on = only == Some(variable);
            session
                .api(&format!("uuid_setvar {uuid} {variable} {on}"))
                .await;
        }
        let command = format!("uuid_record {uuid} start {}", self.path.display());
        match session.api(&command).await {
            Some(reply) if reply.starts_with("+OK") => {
                self.started = Some(now_millis());
                self.report(session, RecordingEvent::InProgress, Vec::new())
                    .await;
                true
            }
            reply => {
                let message = format!(
                    "The call could not be recorded ({}): {}",
                    self.source,
                    reply.unwrap_or_default().trim()
                );
                session.notify(13227, &message, None, None, true).await;
                false
            }
        }
    }

    /// The switch has started writing the file through an application of
    /// the channel (`<Record>`'s `record`): `in-progress`, if asked for.
    pub async fn started(&mut self, session: &mut Session) {
        self.started = Some(now_millis());
        self.report(session, RecordingEvent::InProgress, Vec::new())
            .await;
    }

    /// Keeps the finished file as a Recording of the call (and an event) and
    /// reports it `completed`; or, when nothing was recorded, removes what
    /// there is and reports it `absent`.
    pub async fn keep(self, session: &mut Session) -> Option<Kept> {
        let started = self.started?;
        let recorded = match self.measure(session).await {
            Ok(recorded) => recorded,
            Err(code) => {
                let _ = std::fs::remove_file(&self.path);
                let params = vec![
                    ("RecordingDuration".into(), "0".into()),
                    ("ErrorCode".into(), code.to_string()),
                ];
                self.report(session, RecordingEvent::Absent, params).await;
                return None;
            }
        };
        let (duration, channels) = recorded;
        let now = now_millis();
        let recording = Recording {
            sid: self.sid.clone(),
            account_sid: session.call.account_sid.clone(),
            call_sid: session.call.sid.clone(),
            status: "completed".into(),
            source: self.source.into(),
            channels: channels.into(),
            duration,
            file_path: self.path.display().to_string(),
            start_time: started,
            date_created: now,
            date_updated: now,
        };
        if let Err(e) = session.router.store.insert_recording(&recording).await {
            tracing::error!(call = %session.call.sid, error = %e, "cannot record a recording");
        }
        let kept = Kept {
            url: self.url(session),
            sid: self.sid.clone(),
            duration,
        };
        let data = serde_json::json!({
            "recording_sid": kept.sid,
            "recording_url": kept.url,
            "duration": duration,
            "source": self.source,
        });
        session.publish(events::RECORDING_COMPLETED, data).await;
        let params = vec![
            ("RecordingDuration".into(), duration.to_string()),
            ("RecordingChannels".into(), channels.to_string()),
        ];
        self.report(session, RecordingEvent::Completed, params)
            .await;
        Some(kept)
    }

    /// The file's length in whole seconds (rounded up) and its channels,
    /// after its silence is trimmed when asked; else Twilio's ErrorCode for
    /// why there is no recording.
    async fn measure(&self, session: &Session) -> Result<(i64, u16), u32> {
        let reader = hound::WavReader::open(&self.path).map_err(|_| TOO_SHORT)?;
        let (spec, mut frames) = (reader.spec(), reader.duration());
        drop(reader);
        if frames == 0 {
            return Err(TOO_SHORT);
        }
        if self.trim == Trim::TrimSilence {
            let file = self.path.clone();
            match tokio::task::spawn_blocking(move || media::trim_silence(&file)).await {
                Ok(Ok(0)) => return Err(SILENT),
                Ok(Ok(left)) => frames = left,
                Ok(Err(e)) => {
                    tracing::warn!(call = %session.call.sid, error = %e, "cannot trim the recording's silence: kept whole");
                }
                Err(e) => {
                    tracing::error!(call = %session.call.sid, error = %e, "trimming panicked")
                }
            }
        }
        let seconds = u64::from(frames).div_ceil(u64::from(spec.sample_rate.max(1)));
        Ok((seconds as i64, spec.channels))
    }

    fn url(&self, session: &Session) -> String {
        format!(
            "{}2010-04-01/Accounts/{}/Recordings/{}",
            session.router.public_url, session.call.account_sid, self.sid
        )
    }

    /// Posts `recordingStatusCallback` for `event`, when its events name it.
    async fn report(
        &self,
        session: &mut Session,
        event: RecordingEvent,
        extra: Vec<(String, String)>,
    ) {
        let Some(callback) = self.callback.as_ref().filter(|c| c.events.contains(&event)) else {
            return;
        };
        let mut params = vec![
            ("AccountSid".to_owned(), session.call.account_sid.clone()),
            ("CallSid".into(), session.call.sid.clone()),
            ("RecordingSid".into(), self.sid.clone()),
            ("RecordingUrl".into(), self.url(session)),
            ("RecordingStatus".into(), event.as_str().into()),
            (
                "RecordingStartTime".into(),
                crate::api::rfc2822(self.started.unwrap_or_else(now_millis)),
            ),
            ("RecordingSource".into(), self.source.into()),
        ];
        params.extend(extra);
        session
            .report(webhook::Request {
                url: callback.url.clone(),
                method: method(callback.method),
                params,
            })
            .await;
    }
}
