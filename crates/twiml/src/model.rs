//! The TwiML voice model: one struct per verb and noun, with every attribute
//! Twilio documents, typed, and Twilio's defaults available through
//! accessors. Built by the validator from either the XML or the JSON form.

use std::borrow::Cow;
use std::num::NonZeroU32;

use crate::element::element;
use crate::error::code;
use crate::node::Node;
use crate::value::{
    CallProgressEvent, ConferenceBeep, ConferenceEvent, ConferenceRecord, DialRecord, DtmfSequence,
    FinishOnKey, GatherInput, JitterBufferSize, MachineDetection, Method, RecordingEvent,
    RecordingTrack, RejectReason, RingTone, SpeechTimeout, StreamTrack, Trim,
};

/// Twilio's hold music, played by `<Conference>` while waiting to start.
pub const DEFAULT_CONFERENCE_WAIT_URL: &str =
    "http://twimlets.com/holdmusic?Bucket=com.twilio.music.classical";

/// A whole TwiML document: the verbs of `<Response>`, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    /// The verbs to execute, in document order.
    pub verbs: Vec<Verb>,
}

/// A verb directly inside `<Response>`.
#[derive(Debug, Clone, PartialEq)]
pub enum Verb {
    /// `<Say>`: speak text.
    Say(Say),
    /// `<Play>`: play audio or send DTMF.
    Play(Play),
    /// `<Pause>`: wait silently.
    Pause(Pause),
    /// `<Gather>`: collect DTMF or speech.
    Gather(Gather),
    /// `<Record>`: record the caller.
    Record(Record),
    /// `<Hangup>`: end the call.
    Hangup(Hangup),
    /// `<Reject>`: refuse an incoming call without answering.
    Reject(Reject),
    /// `<Redirect>`: continue with TwiML from another URL.
    Redirect(Redirect),
    /// `<Dial>`: connect the caller to another party.
    Dial(Dial),
    /// `<Enqueue>`: place the caller in a queue.
    Enqueue(Enqueue),
    /// `<Leave>`: take the caller out of its queue.
    Leave(Leave),
    /// `<Start>`: start a media stream alongside the call.
    Start(Start),
    /// `<Stop>`: stop a media stream.
    Stop(Stop),
    /// `<Connect>`: hand the call's media to a stream.
    Connect(Connect),
    /// `<Echo>`: play the caller's audio back (a test verb).
    Echo(Echo),
    /// `<Refer>`: transfer a SIP call with a SIP REFER.
    Refer(Refer),
}

impl Verb {
    /// The verb's TwiML name.
    pub fn name(&self) -> &'static str {
        match self {
            Verb::Say(_) => Say::ELEMENT,
            Verb::Play(_) => Play::ELEMENT,
            Verb::Pause(_) => Pause::ELEMENT,
            Verb::Gather(_) => Gather::ELEMENT,
            Verb::Record(_) => Record::ELEMENT,
            Verb::Hangup(_) => Hangup::ELEMENT,
            Verb::Reject(_) => Reject::ELEMENT,
            Verb::Redirect(_) => Redirect::ELEMENT,
            Verb::Dial(_) => Dial::ELEMENT,
            Verb::Enqueue(_) => Enqueue::ELEMENT,
            Verb::Leave(_) => Leave::ELEMENT,
            Verb::Start(_) => Start::ELEMENT,
            Verb::Stop(_) => Stop::ELEMENT,
            Verb::Connect(_) => Connect::ELEMENT,
            Verb::Echo(_) => Echo::ELEMENT,
            Verb::Refer(_) => Refer::ELEMENT,
        }
    }
}

/// A verb nested in `<Gather>`: only Say, Play and Pause are allowed.
#[derive(Debug, Clone, PartialEq)]
pub enum GatherPrompt {
    /// `<Say>` inside Gather.
    Say(Say),
    /// `<Play>` inside Gather.
    Play(Play),
    /// `<Pause>` inside Gather.
    Pause(Pause),
}

/// A noun nested in `<Dial>`: whom to connect the caller to.
#[derive(Debug, Clone, PartialEq)]
pub enum DialTarget {
    /// `<Number>`: a phone number (a bare `<Dial>` number is read as one).
    Number(Number),
    /// `<Sip>`: a SIP endpoint.
    Sip(Sip),
    /// `<Client>`: a registered client (softphone, browser).
    Client(Client),
    /// `<Conference>`: a named conference room.
    Conference(Conference),
    /// `<Queue>`: the caller at the front of a queue.
    Queue(Queue),
}

element! {
    /// `<Say>`: text read to the caller by text-to-speech. SSML inside the
    /// text is flattened to plain text.
    pub struct Say = "Say" {
        attributes {
            /// The text-to-speech voice (`man`, `woman`, `alice`, `Polly.*`, `Google.*` …).
            voice: String = "voice", default [String::from("man")], code code::SAY_INVALID_VOICE;
            /// The language of the text, as a BCP-47 tag.
            language: String = "language", default [String::from("en-US")], code code::SCHEMA_VALIDATION;
            /// How many times to say the text; 0 repeats until the call ends.
            loop_count: u32 = "loop", default [1], code code::SAY_INVALID_LOOP;
        }
        content {
            /// The text to speak.
            text: String,
        }
    }
}

element! {
    /// `<Play>`: an audio file played to the caller, or DTMF sent on the call.
    pub struct Play = "Play" {
        attributes {
            /// How many times to play; 0 repeats until the call ends.
            loop_count: u32 = "loop", default [1], code 13410;
            /// DTMF tones to play instead of audio.
            digits: DtmfSequence = "digits", default [], code 13430;
        }
        content {
            /// The audio URL (absolute or relative to the document); empty when
            /// only `digits` are played.
            url: String,
        }
    }
}

element! {
    /// `<Pause>`: silence for a number of seconds.
    pub struct Pause = "Pause" {
        attributes {
            /// Seconds to wait.
            length: u32 = "length", default [1], code 13910;
        }
        content {}
    }
}

element! {
    /// `<Gather>`: collects DTMF digits and/or speech, playing its nested
    /// prompts meanwhile, then requests `action` with the result.
    pub struct Gather = "Gather" {
        attributes {
            /// Where to send the result; absent means the current document URL.
            action: String = "action", default [], code code::SCHEMA_VALIDATION;
            /// Request `action` even when nothing was entered.
            action_on_empty_result: bool = "actionOnEmptyResult", default [false], code 13338;
            /// Stop the prompts as soon as input starts.
            barge_in: bool = "bargeIn", default [true], code 13332;
            /// Include debugging information in the speech results.
            debug: bool = "debug", default [false], code code::SCHEMA_VALIDATION;
            /// Use the premium speech model.
            enhanced: bool = "enhanced", default [false], code code::SCHEMA_VALIDATION;
            /// Keys that end DTMF input; empty disables.
            finish_on_key: FinishOnKey = "finishOnKey", default [FinishOnKey(String::from("#"))], code 13310;
            /// Words or phrases likely to be spoken.
            hints: String = "hints", default [], code 13330;
            /// What to listen for.
            input: Vec<GatherInput> = "input", default [vec![GatherInput::Dtmf]], code 13326;
            /// Language of the expected speech.
            language: String = "language", default [String::from("en-US")], code 13331;
            /// Longest speech accepted, in seconds.
            max_speech_time: u32 = "maxSpeechTime", default [60], code 13328;
            /// HTTP method for `action`.
            method: Method = "method", default [Method::Post], code 13312;
            /// Digits to collect before finishing; absent means unlimited.
            num_digits: NonZeroU32 = "numDigits", default [], code 13314;
            /// URL receiving interim speech results.
            partial_result_callback: String = "partialResultCallback", default [], code code::SCHEMA_VALIDATION;
            /// HTTP method for `partialResultCallback`.
            partial_result_callback_method: Method = "partialResultCallbackMethod", default [Method::Post], code 13329;
            /// Mask profanity in speech results.
            profanity_filter: bool = "profanityFilter", default [true], code 13333;
            /// Speech recognition model.
            speech_model: String = "speechModel", default [], code 13334;
            /// Silence ending speech input; absent means the value of `timeout`.
            speech_timeout: SpeechTimeout = "speechTimeout", default [], code 13327;
            /// Seconds of silence before giving up (and between digits).
            timeout: u32 = "timeout", default [5], code 13313;
        }
        content {
            /// Prompts played while gathering.
            prompts: Vec<GatherPrompt>,
        }
    }
}

impl Gather {
    /// The effective speech timeout: `speechTimeout` if set, otherwise Twilio
    /// uses the `timeout` value.
    pub fn effective_speech_timeout(&self) -> SpeechTimeout {
        self.speech_timeout
            .unwrap_or(SpeechTimeout::Seconds(self.timeout()))
    }
}

element! {
    /// `<Record>`: records the caller and requests `action` with the recording.
    pub struct Record = "Record" {
        attributes {
            /// Where to send the recording; absent means the current document URL.
            action: String = "action", default [], code code::SCHEMA_VALIDATION;
            /// HTTP method for `action`.
            method: Method = "method", default [Method::Post], code 13610;
            /// Seconds of silence that end the recording; 0 disables.
            timeout: u32 = "timeout", default [5], code 13611;
            /// Keys that end the recording.
            finish_on_key: FinishOnKey = "finishOnKey", default [FinishOnKey(String::from("1234567890*#"))], code 13613;
            /// Longest recording, in seconds.
            max_length: u32 = "maxLength", default [3600], code 13612;
            /// Beep before recording.
            play_beep: bool = "playBeep", default [true], code 13616;
            /// Trim leading and trailing silence.
            trim: Trim = "trim", default [Trim::TrimSilence], code 13699;
            /// URL told about the recording's status.
            recording_status_callback: String = "recordingStatusCallback", default [], code 13256;
            /// HTTP method for `recordingStatusCallback`.
            recording_status_callback_method: Method = "recordingStatusCallbackMethod", default [Method::Post], code code::SCHEMA_VALIDATION;
            /// Which recording events are reported.
            recording_status_callback_event: Vec<RecordingEvent> = "recordingStatusCallbackEvent", default [vec![RecordingEvent::Completed]], code 13621;
            /// External storage the recording is uploaded to.
            storage_url: String = "storageUrl", default [], code code::SCHEMA_VALIDATION;
            /// HTTP method for `storageUrl`.
            storage_url_method: Method = "storageUrlMethod", default [Method::Post], code code::SCHEMA_VALIDATION;
            /// Transcribe the recording.
            transcribe: bool = "transcribe", default [false], code 13614;
            /// URL receiving the transcription.
            transcribe_callback: String = "transcribeCallback", default [], code 13257;
            /// Recording configuration applied to the recording.
            recording_configuration_id: String = "recordingConfigurationId", default [], code code::SCHEMA_VALIDATION;
        }
        content {}
    }
}

element! {
    /// `<Hangup>`: ends the call.
    pub struct Hangup = "Hangup" {
        attributes {}
        content {
            /// Custom parameters sent with the hangup (SIP headers on SIP calls).
            parameters: Vec<Parameter>,
        }
    }
}

element! {
    /// `<Reject>`: refuses an incoming call without answering (not billed).
    pub struct Reject = "Reject" {
        attributes {
            /// Signal played to the caller.
            reason: RejectReason = "reason", default [RejectReason::Rejected], code 13810;
        }
        content {
            /// Custom parameters sent with the rejection (SIP headers on SIP calls).
            parameters: Vec<Parameter>,
        }
    }
}

element! {
    /// `<Redirect>`: continues the call with TwiML fetched from another URL.
    pub struct Redirect = "Redirect" {
        attributes {
            /// HTTP method for the URL.
            method: Method = "method", default [Method::Post], code 13710;
        }
        content {
            /// The URL to fetch, absolute or relative to the document.
            url: String,
        }
    }
}

element! {
    /// `<Dial>`: connects the caller to one or more parties. A bare number
    /// (`<Dial>+14155550100</Dial>`) is read as a single `<Number>`.
    pub struct Dial = "Dial" {
        attributes {
            /// Where to report the dial outcome; absent means continue with the next verb.
            action: String = "action", default [], code code::SCHEMA_VALIDATION;
            /// Keep the caller ringing until the called party answers.
            answer_on_bridge: bool = "answerOnBridge", default [false], code 13219;
            /// Caller ID presented to the called party; absent means the caller's.
            caller_id: String = "callerId", default [], code 13214;
            /// Let the caller end the dialled call by pressing `*`.
            hangup_on_star: bool = "hangupOnStar", default [false], code 13213;
            /// HTTP method for `action`.
            method: Method = "method", default [Method::Post], code 13210;
            /// Whether and how to record the dialled call.
            record: DialRecord = "record", default [DialRecord::DoNotRecord], code 13217;
            /// URL told about the recording's status.
            recording_status_callback: String = "recordingStatusCallback", default [], code 13256;
            /// HTTP method for `recordingStatusCallback`.
            recording_status_callback_method: Method = "recordingStatusCallbackMethod", default [Method::Post], code code::SCHEMA_VALIDATION;
            /// Which recording events are reported.
            recording_status_callback_event: Vec<RecordingEvent> = "recordingStatusCallbackEvent", default [vec![RecordingEvent::Completed]], code 13621;
            /// Which audio is recorded.
            recording_track: RecordingTrack = "recordingTrack", default [RecordingTrack::Both], code code::SCHEMA_VALIDATION;
            /// URL receiving a SIP REFER from the called party.
            refer_url: String = "referUrl", default [], code code::SCHEMA_VALIDATION;
            /// HTTP method for `referUrl`.
            refer_method: Method = "referMethod", default [Method::Post], code code::SCHEMA_VALIDATION;
            /// Ringback tone; absent means the caller's country's tone.
            ring_tone: RingTone = "ringTone", default [], code 13220;
            /// Dial the nouns one after another instead of all at once.
            sequential: bool = "sequential", default [false], code 13218;
            /// Longest call, in seconds.
            time_limit: u32 = "timeLimit", default [14400], code 13216;
            /// Seconds to wait for an answer.
            timeout: u32 = "timeout", default [30], code 13212;
            /// Trim silence from the recording.
            trim: Trim = "trim", default [Trim::DoNotTrim], code code::SCHEMA_VALIDATION;
            /// Recording configuration applied to the recording.
            recording_configuration_id: String = "recordingConfigurationId", default [], code code::SCHEMA_VALIDATION;
            /// Extra call progress events requested by Twilio's `events` attribute, as written.
            events: String = "events", default [], code code::SCHEMA_VALIDATION;
        }
        content {
            /// Whom to dial.
            targets: Vec<DialTarget>,
        }
    }
}

element! {
    /// `<Number>`: a phone number to dial.
    pub struct Number = "Number" {
        attributes {
            /// DTMF sent once the call connects (e.g. an extension).
            send_digits: DtmfSequence = "sendDigits", default [], code 13222;
            /// TwiML run for the called party before connecting (a whisper).
            url: String = "url", default [], code code::SCHEMA_VALIDATION;
            /// HTTP method for `url`.
            method: Method = "method", default [Method::Post], code 13221;
            /// Call progress events reported to `statusCallback`.
            status_callback_event: Vec<CallProgressEvent> = "statusCallbackEvent", default [vec![CallProgressEvent::Completed]], code code::SCHEMA_VALIDATION;
            /// URL told about the dialled call's progress.
            status_callback: String = "statusCallback", default [], code code::SCHEMA_VALIDATION;
            /// HTTP method for `statusCallback`.
            status_callback_method: Method = "statusCallbackMethod", default [Method::Post], code code::SCHEMA_VALIDATION;
            /// BYOC trunk SID to route the call through.
            byoc: String = "byoc", default [], code code::SCHEMA_VALIDATION;
            /// Answering machine detection on the dialled call.
            machine_detection: MachineDetection = "machineDetection", default [], code code::SCHEMA_VALIDATION;
            /// Seconds allowed for machine detection.
            machine_detection_timeout: u32 = "machineDetectionTimeout", default [30], code code::SCHEMA_VALIDATION;
            /// Milliseconds of speech that mark a machine.
            machine_detection_speech_threshold: u32 = "machineDetectionSpeechThreshold", default [2400], code code::SCHEMA_VALIDATION;
            /// Milliseconds of silence that end a machine's speech.
            machine_detection_speech_end_threshold: u32 = "machineDetectionSpeechEndThreshold", default [1200], code code::SCHEMA_VALIDATION;
            /// Milliseconds of initial silence before giving up on detection.
            machine_detection_silence_timeout: u32 = "machineDetectionSilenceTimeout", default [5000], code code::SCHEMA_VALIDATION;
            /// URL receiving the detection result.
            amd_status_callback: String = "amdStatusCallback", default [], code code::SCHEMA_VALIDATION;
            /// HTTP method for `amdStatusCallback`.
            amd_status_callback_method: Method = "amdStatusCallbackMethod", default [Method::Post], code code::SCHEMA_VALIDATION;
        }
        content {
            /// The number, as written (E.164 recommended).
            number: String,
        }
    }
}

element! {
    /// `<Sip>`: a SIP URI to dial.
    pub struct Sip = "Sip" {
        attributes {
            /// SIP authentication username.
            username: String = "username", default [], code 13249;
            /// SIP authentication password.
            password: String = "password", default [], code 13249;
            /// TwiML run for the called party before connecting.
            url: String = "url", default [], code code::SCHEMA_VALIDATION;
            /// HTTP method for `url`.
            method: Method = "method", default [Method::Post], code 13241;
            /// Call progress events reported to `statusCallback`.
            status_callback_event: Vec<CallProgressEvent> = "statusCallbackEvent", default [vec![CallProgressEvent::Completed]], code code::SCHEMA_VALIDATION;
            /// URL told about the dialled call's progress.
            status_callback: String = "statusCallback", default [], code code::SCHEMA_VALIDATION;
            /// HTTP method for `statusCallback`.
            status_callback_method: Method = "statusCallbackMethod", default [Method::Post], code code::SCHEMA_VALIDATION;
            /// Answering machine detection on the dialled call.
            machine_detection: MachineDetection = "machineDetection", default [], code code::SCHEMA_VALIDATION;
            /// Seconds allowed for machine detection.
            machine_detection_timeout: u32 = "machineDetectionTimeout", default [30], code code::SCHEMA_VALIDATION;
            /// Milliseconds of speech that mark a machine.
            machine_detection_speech_threshold: u32 = "machineDetectionSpeechThreshold", default [2400], code code::SCHEMA_VALIDATION;
            /// Milliseconds of silence that end a machine's speech.
            machine_detection_speech_end_threshold: u32 = "machineDetectionSpeechEndThreshold", default [1200], code code::SCHEMA_VALIDATION;
            /// Milliseconds of initial silence before giving up on detection.
            machine_detection_silence_timeout: u32 = "machineDetectionSilenceTimeout", default [5000], code code::SCHEMA_VALIDATION;
            /// URL receiving the detection result.
            amd_status_callback: String = "amdStatusCallback", default [], code code::SCHEMA_VALIDATION;
            /// HTTP method for `amdStatusCallback`.
            amd_status_callback_method: Method = "amdStatusCallbackMethod", default [Method::Post], code code::SCHEMA_VALIDATION;
        }
        content {
            /// The `sip:` or `sips:` URI, with any `?header=value` parameters.
            uri: String,
        }
    }
}

element! {
    /// `<Client>`: a registered client identity (softphone, browser app).
    /// Written either as text or with `<Identity>` and `<Parameter>` children.
    pub struct Client = "Client" {
        attributes {
            /// TwiML run for the client before connecting.
            url: String = "url", default [], code code::SCHEMA_VALIDATION;
            /// HTTP method for `url`.
            method: Method = "method", default [Method::Post], code code::SCHEMA_VALIDATION;
            /// Call progress events reported to `statusCallback`.
            status_callback_event: Vec<CallProgressEvent> = "statusCallbackEvent", default [vec![CallProgressEvent::Completed]], code code::SCHEMA_VALIDATION;
            /// URL told about the dialled call's progress.
            status_callback: String = "statusCallback", default [], code code::SCHEMA_VALIDATION;
            /// HTTP method for `statusCallback`.
            status_callback_method: Method = "statusCallbackMethod", default [Method::Post], code code::SCHEMA_VALIDATION;
        }
        content {
            /// The client identity to ring.
            identity: String,
            /// Custom parameters passed to the client.
            parameters: Vec<Parameter>,
        }
    }
}

element! {
    /// `<Parameter>`: a name/value pair passed to a Client or Stream.
    pub struct Parameter = "Parameter" {
        attributes {
            /// The parameter's name.
            name: String = "name", default [], code code::SCHEMA_VALIDATION;
            /// The parameter's value.
            value: String = "value", default [], code code::SCHEMA_VALIDATION;
        }
        content {}
    }
}

element! {
    /// `<Conference>`: joins the caller to a named conference room.
    pub struct Conference = "Conference" {
        attributes {
            /// Join muted.
            muted: bool = "muted", default [false], code 13230;
            /// When the entry/exit beep plays.
            beep: ConferenceBeep = "beep", default [ConferenceBeep::True], code 13235;
            /// Start the conference when this participant enters.
            start_conference_on_enter: bool = "startConferenceOnEnter", default [true], code 13232;
            /// End the conference when this participant leaves.
            end_conference_on_exit: bool = "endConferenceOnExit", default [false], code 13231;
            /// TwiML or audio played while waiting for the conference to start.
            wait_url: String = "waitUrl", default [String::from(DEFAULT_CONFERENCE_WAIT_URL)], code 13233;
            /// HTTP method for `waitUrl`.
            wait_method: Method = "waitMethod", default [Method::Post], code 13234;
            /// Most participants allowed.
            max_participants: u32 = "maxParticipants", default [250], code code::SCHEMA_VALIDATION;
            /// Whether to record the conference.
            record: ConferenceRecord = "record", default [ConferenceRecord::DoNotRecord], code code::SCHEMA_VALIDATION;
            /// Media region hosting the conference.
            region: String = "region", default [], code code::SCHEMA_VALIDATION;
            /// Call SID of the participant this one coaches.
            coach: String = "coach", default [], code code::SCHEMA_VALIDATION;
            /// Trim silence from the recording.
            trim: Trim = "trim", default [Trim::TrimSilence], code 13239;
            /// Conference events reported to `statusCallback`.
            status_callback_event: Vec<ConferenceEvent> = "statusCallbackEvent", default [], code code::SCHEMA_VALIDATION;
            /// URL told about conference events.
            status_callback: String = "statusCallback", default [], code code::SCHEMA_VALIDATION;
            /// HTTP method for `statusCallback`.
            status_callback_method: Method = "statusCallbackMethod", default [Method::Post], code code::SCHEMA_VALIDATION;
            /// URL told about the recording's status.
            recording_status_callback: String = "recordingStatusCallback", default [], code 13256;
            /// HTTP method for `recordingStatusCallback`.
            recording_status_callback_method: Method = "recordingStatusCallbackMethod", default [Method::Post], code code::SCHEMA_VALIDATION;
            /// Which recording events are reported.
            recording_status_callback_event: Vec<RecordingEvent> = "recordingStatusCallbackEvent", default [vec![RecordingEvent::Completed]], code 13621;
            /// URL told when the conference's recording ends.
            event_callback_url: String = "eventCallbackUrl", default [], code code::SCHEMA_VALIDATION;
            /// Jitter buffer applied to this participant's audio.
            jitter_buffer_size: JitterBufferSize = "jitterBufferSize", default [JitterBufferSize::Large], code code::SCHEMA_VALIDATION;
            /// A label naming this participant.
            participant_label: String = "participantLabel", default [], code 16023;
            /// Recording configuration applied to the recording.
            recording_configuration_id: String = "recordingConfigurationId", default [], code code::SCHEMA_VALIDATION;
        }
        content {
            /// The conference room's name.
            name: String,
        }
    }
}

element! {
    /// `<Queue>`: connects the caller to the call at the front of a queue.
    pub struct Queue = "Queue" {
        attributes {
            /// TwiML run for the dequeued caller before connecting.
            url: String = "url", default [], code code::SCHEMA_VALIDATION;
            /// HTTP method for `url`.
            method: Method = "method", default [Method::Post], code code::SCHEMA_VALIDATION;
            /// TaskRouter reservation to accept.
            reservation_sid: String = "reservationSid", default [], code 14215;
            /// TaskRouter activity for the worker after the call.
            post_work_activity_sid: String = "postWorkActivitySid", default [], code code::SCHEMA_VALIDATION;
        }
        content {
            /// The queue's name.
            name: String,
        }
    }
}

element! {
    /// `<Enqueue>`: places the caller in a queue (or a TaskRouter workflow).
    pub struct Enqueue = "Enqueue" {
        attributes {
            /// Where to report how the caller left the queue.
            action: String = "action", default [], code 14203;
            /// HTTP method for `action`.
            method: Method = "method", default [Method::Post], code 14201;
            /// TwiML played while waiting; absent means Twilio's hold music.
            wait_url: String = "waitUrl", default [], code 14202;
            /// HTTP method for `waitUrl`.
            wait_url_method: Method = "waitUrlMethod", default [Method::Post], code 14206;
            /// TaskRouter workflow to enqueue into.
            workflow_sid: String = "workflowSid", default [], code 14220;
            /// Largest number of callers the queue holds.
            max_queue_size: u32 = "maxQueueSize", default [], code 14207;
        }
        content {
            /// The queue's name; may be empty with a `workflowSid`.
            name: String,
            /// The TaskRouter task, with a `workflowSid`.
            task: Option<Task>,
        }
    }
}

element! {
    /// `<Task>`: the TaskRouter task created by `<Enqueue workflowSid>`.
    pub struct Task = "Task" {
        attributes {
            /// Task priority.
            priority: u32 = "priority", default [], code code::SCHEMA_VALIDATION;
            /// Task timeout in seconds.
            timeout: u32 = "timeout", default [], code code::SCHEMA_VALIDATION;
        }
        content {
            /// The task's attributes, a JSON object as text.
            attributes: String,
        }
    }
}

element! {
    /// `<Leave>`: takes the caller out of its queue; the call continues
    /// with the `<Enqueue>` action.
    pub struct Leave = "Leave" {
        attributes {}
        content {}
    }
}

element! {
    /// `<Stream>`: forks (in `<Start>`) or hands over (in `<Connect>`) the
    /// call's audio to a WebSocket.
    pub struct Stream = "Stream" {
        attributes {
            /// The `wss://` URL receiving the audio.
            url: String = "url", default [], code code::SCHEMA_VALIDATION;
            /// A name, used by `<Stop>` to stop this stream.
            name: String = "name", default [], code code::SCHEMA_VALIDATION;
            /// A configured stream connector to use instead of `url`.
            connector_name: String = "connectorName", default [], code code::SCHEMA_VALIDATION;
            /// Which audio is streamed.
            track: StreamTrack = "track", default [StreamTrack::InboundTrack], code code::SCHEMA_VALIDATION;
            /// URL told about stream events.
            status_callback: String = "statusCallback", default [], code code::SCHEMA_VALIDATION;
            /// HTTP method for `statusCallback`.
            status_callback_method: Method = "statusCallbackMethod", default [Method::Post], code code::SCHEMA_VALIDATION;
        }
        content {
            /// Custom parameters sent in the stream's start message.
            parameters: Vec<Parameter>,
        }
    }
}

element! {
    /// `<Start>`: starts media streams that run alongside the following verbs.
    pub struct Start = "Start" {
        attributes {
            /// URL told when the stream starts.
            action: String = "action", default [], code code::SCHEMA_VALIDATION;
            /// HTTP method for `action`.
            method: Method = "method", default [Method::Post], code code::SCHEMA_VALIDATION;
        }
        content {
            /// The streams to start.
            streams: Vec<Stream>,
        }
    }
}

element! {
    /// `<Stop>`: stops streams started by `<Start>`, identified by name.
    pub struct Stop = "Stop" {
        attributes {}
        content {
            /// The streams to stop.
            streams: Vec<Stream>,
        }
    }
}

element! {
    /// `<Connect>`: hands the call's media to a bidirectional stream; the
    /// document continues after the stream ends.
    pub struct Connect = "Connect" {
        attributes {
            /// Where to continue once the stream ends.
            action: String = "action", default [], code code::SCHEMA_VALIDATION;
            /// HTTP method for `action`.
            method: Method = "method", default [Method::Post], code code::SCHEMA_VALIDATION;
        }
        content {
            /// The stream receiving the call.
            stream: Stream,
        }
    }
}

element! {
    /// `<Echo>`: plays the caller's audio back to them.
    pub struct Echo = "Echo" {
        attributes {}
        content {}
    }
}

element! {
    /// `<Refer>`: transfers a SIP call by sending a SIP REFER.
    pub struct Refer = "Refer" {
        attributes {
            /// Where to report the REFER outcome.
            action: String = "action", default [], code code::SCHEMA_VALIDATION;
            /// HTTP method for `action`.
            method: Method = "method", default [Method::Post], code code::SCHEMA_VALIDATION;
        }
        content {
            /// The `sip:` URI in the nested `<Sip>`, the transfer target.
            sip: String,
        }
    }
}

// ---- model -> element tree, shared by the XML and JSON writers ----

fn leaf<'a>(
    name: &'static str,
    attributes: Vec<(Cow<'a, str>, crate::value::Scalar<'a>)>,
) -> Node<'a> {
    Node {
        name,
        attributes,
        ..Node::default()
    }
}

fn parameter_nodes(parameters: &[Parameter]) -> Vec<Node<'_>> {
    parameters
        .iter()
        .map(|p| leaf(Parameter::ELEMENT, p.attribute_nodes()))
        .collect()
}

impl Response {
    pub(crate) fn to_node(&self) -> Node<'_> {
        Node {
            name: "Response",
            children: self.verbs.iter().map(Verb::to_node).collect(),
            ..Node::default()
        }
    }
}

impl Verb {
    pub(crate) fn to_node(&self) -> Node<'_> {
        match self {
            Verb::Say(say) => say.to_node(),
            Verb::Play(play) => play.to_node(),
            Verb::Pause(pause) => leaf(Pause::ELEMENT, pause.attribute_nodes()),
            Verb::Gather(gather) => Node {
                name: Gather::ELEMENT,
                attributes: gather.attribute_nodes(),
                children: gather
                    .prompts
                    .iter()
                    .map(|prompt| match prompt {
                        GatherPrompt::Say(say) => say.to_node(),
                        GatherPrompt::Play(play) => play.to_node(),
                        GatherPrompt::Pause(pause) => leaf(Pause::ELEMENT, pause.attribute_nodes()),
                    })
                    .collect(),
                ..Node::default()
            },
            Verb::Record(record) => leaf(Record::ELEMENT, record.attribute_nodes()),
            Verb::Hangup(hangup) => Node {
                name: Hangup::ELEMENT,
                attributes: hangup.attribute_nodes(),
                children: parameter_nodes(&hangup.parameters),
                ..Node::default()
            },
            Verb::Reject(reject) => Node {
                name: Reject::ELEMENT,
                attributes: reject.attribute_nodes(),
                children: parameter_nodes(&reject.parameters),
                ..Node::default()
            },
            Verb::Redirect(redirect) => Node {
                name: Redirect::ELEMENT,
                attributes: redirect.attribute_nodes(),
                text: Cow::Borrowed(&redirect.url),
                ..Node::default()
            },
            Verb::Dial(dial) => Node {
                name: Dial::ELEMENT,
                attributes: dial.attribute_nodes(),
                children: dial.targets.iter().map(DialTarget::to_node).collect(),
                ..Node::default()
            },
            Verb::Enqueue(enqueue) => Node {
                name: Enqueue::ELEMENT,
                attributes: enqueue.attribute_nodes(),
                text: Cow::Borrowed(&enqueue.name),
                children: enqueue
                    .task
                    .iter()
                    .map(|task| Node {
                        name: Task::ELEMENT,
                        attributes: task.attribute_nodes(),
                        text: Cow::Borrowed(&task.attributes),
                        ..Node::default()
                    })
                    .collect(),
            },
            Verb::Leave(leave) => leaf(Leave::ELEMENT, leave.attribute_nodes()),
            Verb::Start(start) => Node {
                name: Start::ELEMENT,
                attributes: start.attribute_nodes(),
                children: start.streams.iter().map(Stream::to_node).collect(),
                ..Node::default()
            },
            Verb::Stop(stop) => Node {
                name: Stop::ELEMENT,
                attributes: stop.attribute_nodes(),
                children: stop.streams.iter().map(Stream::to_node).collect(),
                ..Node::default()
            },
            Verb::Connect(connect) => Node {
                name: Connect::ELEMENT,
                attributes: connect.attribute_nodes(),
                children: vec![connect.stream.to_node()],
                ..Node::default()
            },
            Verb::Echo(echo) => leaf(Echo::ELEMENT, echo.attribute_nodes()),
            Verb::Refer(refer) => Node {
                name: Refer::ELEMENT,
                attributes: refer.attribute_nodes(),
                children: vec![Node::with_text(
                    Sip::ELEMENT,
                    Cow::Borrowed(refer.sip.as_str()),
                )],
                ..Node::default()
            },
        }
    }
}

impl Say {
    fn to_node(&self) -> Node<'_> {
        Node {
            name: Say::ELEMENT,
            attributes: self.attribute_nodes(),
            text: Cow::Borrowed(&self.text),
            ..Node::default()
        }
    }
}

impl Play {
    fn to_node(&self) -> Node<'_> {
        Node {
            name: Play::ELEMENT,
            attributes: self.attribute_nodes(),
            text: Cow::Borrowed(&self.url),
            ..Node::default()
        }
    }
}

impl Stream {
    fn to_node(&self) -> Node<'_> {
        Node {
            name: Stream::ELEMENT,
            attributes: self.attribute_nodes(),
            children: self
                .parameters
                .iter()
                .map(|p| leaf(Parameter::ELEMENT, p.attribute_nodes()))
                .collect(),
            ..Node::default()
        }
    }
}

impl DialTarget {
    /// The noun's TwiML name.
    pub fn name(&self) -> &'static str {
        match self {
            DialTarget::Number(_) => Number::ELEMENT,
            DialTarget::Sip(_) => Sip::ELEMENT,
            DialTarget::Client(_) => Client::ELEMENT,
            DialTarget::Conference(_) => Conference::ELEMENT,
            DialTarget::Queue(_) => Queue::ELEMENT,
        }
    }

    fn to_node(&self) -> Node<'_> {
        let (attributes, text) = match self {
            DialTarget::Number(n) => (n.attribute_nodes(), n.number.as_str()),
            DialTarget::Sip(s) => (s.attribute_nodes(), s.uri.as_str()),
            DialTarget::Conference(c) => (c.attribute_nodes(), c.name.as_str()),
            DialTarget::Queue(q) => (q.attribute_nodes(), q.name.as_str()),
            DialTarget::Client(client) => {
                if client.parameters.is_empty() {
                    (client.attribute_nodes(), client.identity.as_str())
                } else {
                    // Parameters require the <Identity> child form.
                    let mut children = vec![Node::with_text(
                        "Identity",
                        Cow::Borrowed(client.identity.as_str()),
                    )];
                    children.extend(
                        client
                            .parameters
                            .iter()
                            .map(|p| leaf(Parameter::ELEMENT, p.attribute_nodes())),
                    );
                    return Node {
                        name: Client::ELEMENT,
                        attributes: client.attribute_nodes(),
                        children,
                        ..Node::default()
                    };
                }
            }
        };
        Node {
            name: self.name(),
            attributes,
            text: Cow::Borrowed(text),
            ..Node::default()
        }
    }
}
