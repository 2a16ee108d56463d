//! What a developer does with the virtual switch, end to end over ESL:
//! scripted far ends, injected inbound calls, bridge, record, digits and
//! media, each checked through the events FreeSWITCH would send.

mod client;

use std::time::Duration;

use client::{h, Client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vswitch::media::{wav_bytes, wav_length};
use vswitch::{Config, VSwitch};

/// A switch with its own sounds/recordings directory, removed on shutdown.
struct TestSwitch {
    vs: VSwitch,
    dir: std::path::PathBuf,
}

impl std::ops::Deref for TestSwitch {
    type Target = VSwitch;
    fn deref(&self) -> &VSwitch {
        &self.vs
    }
}

impl TestSwitch {
    async fn shutdown(self) {
        self.vs.shutdown().await;
        std::fs::remove_dir_all(&self.dir).unwrap();
    }
}

async fn switch(speed: f64) -> TestSwitch {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dir = std::env::temp_dir().join(format!("vswitch-scenarios-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = Config {
        speed,
        sounds_dir: dir.clone(),
        recordings_dir: dir.clone(),
        ..Config::default()
    };
    let vs = vswitch::start(listener, config).unwrap();
    TestSwitch { vs, dir }
}

fn uuid_of(reply: &str) -> String {
    reply
        .strip_prefix("+OK ")
        .unwrap_or_else(|| panic!("expected +OK <uuid>, got {reply:?}"))
        .trim()
        .to_owned()
}

#[tokio::test]
async fn a_busy_number_fails_the_originate_with_user_busy_and_sip_486() {
    let vs = switch(50.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let reply = c
        .api("originate {origination_uuid=11111111-0000-4000-8000-000000000003}sofia/gateway/trunk/+15005550003 &park()")
        .await;
    assert_eq!(reply, "-ERR USER_BUSY\n");
    let done = c
        .channel_event(
            "11111111-0000-4000-8000-000000000003",
            "CHANNEL_HANGUP_COMPLETE",
        )
        .await;
    assert_eq!(h(&done, "Hangup-Cause"), "USER_BUSY");
    assert_eq!(done.variable("sip_term_status").as_deref(), Some("486"));
    assert_eq!(done.variable("billsec").as_deref(), Some("0"));
    vs.shutdown().await;
}

#[tokio::test]
async fn a_number_that_never_answers_times_out_with_no_answer() {
    let vs = switch(50.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let reply = c
        .api("originate {originate_timeout=3}sofia/gateway/trunk/+15005550004 &park()")
        .await;
    assert_eq!(reply, "-ERR NO_ANSWER\n");
    let progress = c
        .event("CHANNEL_PROGRESS", |e| {
            e.event_name().as_deref() == Some("CHANNEL_PROGRESS")
        })
        .await;
    assert_eq!(h(&progress, "Caller-Destination-Number"), "+15005550004");
    vs.shutdown().await;
}

#[tokio::test]
async fn bgapi_originate_reports_the_answered_uuid_in_background_job() {
    let vs = switch(50.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let reply = c
        .command("bgapi originate {origination_uuid=22222222-0000-4000-8000-000000000000}vswitch/ring=1s;answer &park()")
        .await;
    let job = reply
        .strip_prefix("+OK Job-UUID: ")
        .expect("bgapi reply")
        .to_owned();
    let bg = c
        .event("BACKGROUND_JOB", |e| {
            e.job_uuid().as_deref() == Some(job.as_str())
        })
        .await;
    assert_eq!(
        bg.body_str(),
        Some("+OK 22222222-0000-4000-8000-000000000000\n")
    );
    let answer = c
        .channel_event("22222222-0000-4000-8000-000000000000", "CHANNEL_ANSWER")
        .await;
    assert_eq!(h(&answer, "Call-Direction"), "outbound");
    c.channel_event("22222222-0000-4000-8000-000000000000", "CHANNEL_PARK")
        .await;
    assert_eq!(
        c.api("uuid_kill 22222222-0000-4000-8000-000000000000")
            .await,
        "+OK\n"
    );
    let done = c
        .channel_event(
            "22222222-0000-4000-8000-000000000000",
            "CHANNEL_HANGUP_COMPLETE",
        )
        .await;
    assert_eq!(h(&done, "Hangup-Cause"), "NORMAL_CLEARING");
    vs.shutdown().await;
}

#[tokio::test]
async fn a_far_end_that_hangs_up_after_two_seconds_is_billed_for_them() {
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let uuid = uuid_of(
        &c.api("originate vswitch/ring=500ms;answer;hangup=2s &park()")
            .await,
    );
    let done = c.channel_event(&uuid, "CHANNEL_HANGUP_COMPLETE").await;
    assert_eq!(h(&done, "Hangup-Cause"), "NORMAL_CLEARING");
    assert_eq!(
        done.variable("sip_hangup_disposition").as_deref(),
        Some("recv_bye")
    );
    let billsec: u64 = done.variable("billsec").unwrap().parse().unwrap();
    let duration: u64 = done.variable("duration").unwrap().parse().unwrap();
    assert!(
        billsec >= 2,
        "billsec {billsec} covers the 2 s the far end stayed"
    );
    assert!(duration >= billsec, "duration {duration} includes the ring");
    assert_eq!(c.api(&format!("uuid_exists {uuid}")).await, "false");
    vs.shutdown().await;
}

#[tokio::test]
async fn digits_pressed_by_the_far_end_are_collected_by_play_and_get_digits() {
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let uuid = uuid_of(
        &c.api("originate vswitch/ring=0;answer;dtmf=42#@1s &park()")
            .await,
    );
    let app = c
        .execute(
            &uuid,
            "play_and_get_digits",
            "1 4 1 5000 # silence_stream://200 silence_stream://0 collected \\d+",
        )
        .await;
    let done = c
        .event("play_and_get_digits to complete", |e| {
            e.event_name().as_deref() == Some("CHANNEL_EXECUTE_COMPLETE")
                && e.application_uuid().as_deref() == Some(app.as_str())
        })
        .await;
    assert_eq!(done.variable("collected").as_deref(), Some("42"));
    assert_eq!(done.variable("read_terminator_used").as_deref(), Some("#"));
    let dtmf = c.channel_event(&uuid, "DTMF").await;
    assert_eq!(h(&dtmf, "DTMF-Digit"), "4");
    vs.shutdown().await;
}

#[tokio::test]
async fn an_injected_inbound_call_is_parked_for_switchboard_and_can_be_answered() {
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let uuid = uuid_of(
        &c.api("vswitch_inbound +14155550100 +15551230000 hangup=3s")
            .await,
    );
    let create = c.channel_event(&uuid, "CHANNEL_CREATE").await;
    assert_eq!(h(&create, "Call-Direction"), "inbound");
    assert_eq!(h(&create, "Caller-Caller-ID-Number"), "+14155550100");
    assert_eq!(h(&create, "Caller-Destination-Number"), "+15551230000");
    assert_eq!(h(&create, "Caller-Context"), "switchboard");
    let park = c.channel_event(&uuid, "CHANNEL_PARK").await;
    assert_eq!(
        park.variable("switchboard_to").as_deref(),
        Some("+15551230000")
    );
    assert_eq!(h(&park, "Answer-State"), "ringing");
    c.execute(&uuid, "answer", "").await;
    c.channel_event(&uuid, "CHANNEL_ANSWER").await;
    // The caller's script hangs up 3 s after answer.
    let hangup = c.channel_event(&uuid, "CHANNEL_HANGUP").await;
    assert_eq!(h(&hangup, "Hangup-Cause"), "NORMAL_CLEARING");
    vs.shutdown().await;
}

#[tokio::test]
async fn the_rust_api_injects_calls_too() {
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let uuid = vs
        .inject(vswitch::InboundCall {
            from: "1000".into(),
            to: "5900".into(),
            context: Some("default".into()),
            ..Default::default()
        })
        .unwrap();
    // Extension 5900 of the default context answers and parks.
    c.channel_event(&uuid, "CHANNEL_ANSWER").await;
    c.channel_event(&uuid, "CHANNEL_PARK").await;
    assert_eq!(
        c.api(&format!("uuid_getvar {uuid} destination_number"))
            .await,
        "5900"
    );
    let json = c.api("show channels as json").await;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["row_count"], 1);
    assert_eq!(v["rows"][0]["uuid"], uuid.as_str());
    vs.shutdown().await;
}

#[tokio::test]
async fn record_writes_a_wav_of_what_the_far_end_said_then_stops_on_silence() {
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let uuid = uuid_of(&c.api("vswitch_inbound 1000 2000 speak=2s").await);
    c.channel_event(&uuid, "CHANNEL_PARK").await;
    c.execute(&uuid, "answer", "").await;
    let path = std::env::temp_dir().join(format!("vswitch-rec-{uuid}.wav"));
    c.execute(&uuid, "record", &format!("{} 30 200 1", path.display()))
        .await;
    let stop = c.channel_event(&uuid, "RECORD_STOP").await;
    assert_eq!(h(&stop, "Record-Completion-Cause"), "success-silence");
    assert_eq!(h(&stop, "Record-File-Path"), path.display().to_string());
    let wav = std::fs::read(&path).expect("the recording exists");
    let length = wav_length(&wav).expect("it is a WAV");
    assert!(
        length >= Duration::from_secs(3),
        "2 s of speech then 1 s of silence, got {length:?}"
    );
    assert!(wav[44..].iter().any(|b| *b != 0), "the speech is in it");
    std::fs::remove_file(path).unwrap();
    vs.shutdown().await;
}

#[tokio::test]
async fn bridge_rings_a_scripted_b_leg_bridges_on_answer_and_ends_with_it() {
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let a = uuid_of(&c.api("vswitch_inbound 1000 2000").await);
    c.channel_event(&a, "CHANNEL_PARK").await;
    c.execute(&a, "bridge", "sofia/gateway/trunk/+15005550007")
        .await;
    // The caller hears the B-leg ring before it answers.
    let ringing = c.channel_event(&a, "CHANNEL_PROGRESS").await;
    assert_eq!(h(&ringing, "Answer-State"), "ringing");
    let bridge = c.channel_event(&a, "CHANNEL_BRIDGE").await;
    let b = h(&bridge, "Bridge-B-Unique-ID");
    assert_eq!(h(&bridge, "Bridge-A-Unique-ID"), a);
    assert_eq!(h(&bridge, "Other-Leg-Destination-Number"), "+15005550007");
    assert_eq!(h(&bridge, "Answer-State"), "answered");
    // +15005550007 hangs up 5 s after answering; the A-leg then hangs up
    // too (hangup_after_bridge=true in the switchboard context).
    let b_done = c.channel_event(&b, "CHANNEL_HANGUP_COMPLETE").await;
    assert_eq!(h(&b_done, "Hangup-Cause"), "NORMAL_CLEARING");
    c.channel_event(&a, "CHANNEL_UNBRIDGE").await;
    c.channel_event(&a, "CHANNEL_HANGUP_COMPLETE").await;
    vs.shutdown().await;
}

#[tokio::test]
async fn a_failed_bridge_leaves_the_caller_up_with_the_cause_when_continue_on_fail() {
    let vs = switch(50.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let a = uuid_of(&c.api("vswitch_inbound 1000 2000").await);
    c.channel_event(&a, "CHANNEL_PARK").await;
    let app = c
        .execute(&a, "bridge", "sofia/gateway/trunk/+15005550003")
        .await;
    let done = c
        .event("bridge to complete", |e| {
            e.event_name().as_deref() == Some("CHANNEL_EXECUTE_COMPLETE")
                && e.application_uuid().as_deref() == Some(app.as_str())
        })
        .await;
    assert_eq!(
        done.variable("originate_disposition").as_deref(),
        Some("USER_BUSY")
    );
    assert_eq!(c.api(&format!("uuid_exists {a}")).await, "true");
    vs.shutdown().await;
}

#[tokio::test]
async fn playback_of_a_local_wav_lasts_its_real_length() {
    let vs = switch(20.0).await;
    let dir = vs.switch().config.sounds_dir.clone();
    std::fs::write(
        dir.join("prompt.wav"),
        wav_bytes(Duration::from_millis(1500), Duration::from_millis(1500), 1),
    )
    .unwrap();
    let mut c = Client::connect(vs.local_addr()).await;
    let uuid = uuid_of(&c.api("originate vswitch/ring=0;answer &park()").await);
    c.execute(&uuid, "playback", "prompt.wav").await;
    let stop = c.channel_event(&uuid, "PLAYBACK_STOP").await;
    assert_eq!(h(&stop, "Playback-Status"), "done");
    assert_eq!(stop.variable("playback_ms").as_deref(), Some("1500"));
    assert_eq!(stop.variable("playback_samples").as_deref(), Some("12000"));
    vs.shutdown().await;
}

/// Serves one WAV over HTTP and counts the requests.
async fn wav_server(wav: Vec<u8>) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hello.wav", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                wav.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(&wav).await;
        }
    });
    (url, hits)
}

#[tokio::test]
async fn http_cache_playback_fetches_the_url_once_and_plays_its_length() {
    let (url, hits) = wav_server(wav_bytes(Duration::from_millis(800), Duration::ZERO, 1)).await;
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let uuid = uuid_of(&c.api("originate vswitch/ring=0;answer &park()").await);
    for _ in 0..2 {
        let app = c
            .execute(&uuid, "playback", &format!("http_cache://{url}"))
            .await;
        let done = c
            .event("playback to complete", |e| {
                e.event_name().as_deref() == Some("CHANNEL_EXECUTE_COMPLETE")
                    && e.application_uuid().as_deref() == Some(app.as_str())
            })
            .await;
        assert_eq!(done.application_response().as_deref(), Some("FILE PLAYED"));
        assert_eq!(done.variable("playback_ms").as_deref(), Some("800"));
    }
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the second playback came from the cache"
    );
    vs.shutdown().await;
}

#[tokio::test]
async fn uuid_transfer_moves_a_parked_call_into_a_dialplan_extension() {
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let uuid = uuid_of(&c.api("vswitch_inbound 1000 2000").await);
    c.channel_event(&uuid, "CHANNEL_PARK").await;
    assert_eq!(
        c.api(&format!("uuid_transfer {uuid} 9664 XML default"))
            .await,
        "+OK\n"
    );
    let exec = c
        .event("music on hold", |e| {
            e.event_name().as_deref() == Some("CHANNEL_EXECUTE")
                && e.application().as_deref() == Some("playback")
        })
        .await;
    assert_eq!(
        exec.application_data().as_deref(),
        Some("local_stream://moh")
    );
    assert_eq!(h(&exec, "Caller-Destination-Number"), "9664");
    assert_eq!(c.api(&format!("uuid_break {uuid}")).await, "+OK\n");
    let stop = c.channel_event(&uuid, "PLAYBACK_STOP").await;
    assert_eq!(h(&stop, "Playback-Status"), "break");
    vs.shutdown().await;
}

#[tokio::test]
async fn a_conference_gathers_members_and_kicks_them() {
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let a = uuid_of(&c.api("vswitch_inbound 1000 3500").await);
    c.channel_event(&a, "CHANNEL_PARK").await;
    assert_eq!(
        c.api(&format!("uuid_transfer {a} 3500 XML default")).await,
        "+OK\n"
    );
    let add = c
        .event("add-member", |e| {
            e.header("Action").as_deref() == Some("add-member")
        })
        .await;
    assert_eq!(h(&add, "Conference-Name"), "3500");
    let list = c.api("conference list").await;
    assert!(
        list.starts_with("+OK Conference 3500 (1 member rate: 8000"),
        "{list}"
    );
    assert_eq!(c.api("conference 3500 kick all").await, "+OK kicked 1\n");
    c.event("del-member", |e| {
        e.header("Action").as_deref() == Some("del-member")
    })
    .await;
    c.event("conference-destroy", |e| {
        e.header("Action").as_deref() == Some("conference-destroy")
    })
    .await;
    c.channel_event(&a, "CHANNEL_HANGUP_COMPLETE").await;
    vs.shutdown().await;
}

#[tokio::test]
async fn sched_hangup_and_the_hangup_application_end_calls_with_their_causes() {
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let a = uuid_of(&c.api("originate vswitch/ring=0;answer &park()").await);
    c.execute(&a, "sched_hangup", "+2 ALLOTTED_TIMEOUT").await;
    let done = c.channel_event(&a, "CHANNEL_HANGUP_COMPLETE").await;
    assert_eq!(h(&done, "Hangup-Cause"), "ALLOTTED_TIMEOUT");
    assert_eq!(done.variable("hangup_cause_q850").as_deref(), Some("602"));
    // The same limit set at origination, counted from the answer.
    let limited = uuid_of(
        &c.api("originate {execute_on_answer='sched_hangup +2 ALLOTTED_TIMEOUT'}vswitch/ring=1;answer &park()")
            .await,
    );
    let executed = c.channel_event(&limited, "CHANNEL_EXECUTE_COMPLETE").await;
    assert_eq!(h(&executed, "Application"), "sched_hangup");
    let done = c.channel_event(&limited, "CHANNEL_HANGUP_COMPLETE").await;
    assert_eq!(h(&done, "Hangup-Cause"), "ALLOTTED_TIMEOUT");
    assert_eq!(done.variable("billsec").as_deref(), Some("2"));
    let b = uuid_of(&c.api("originate vswitch/ring=0;answer &park()").await);
    c.execute(&b, "hangup", "USER_BUSY").await;
    let done = c.channel_event(&b, "CHANNEL_HANGUP_COMPLETE").await;
    assert_eq!(h(&done, "Hangup-Cause"), "USER_BUSY");
    // An inbound call rejected before answer, as <Reject reason="rejected">.
    let i = uuid_of(&c.api("vswitch_inbound 1000 2000").await);
    c.channel_event(&i, "CHANNEL_PARK").await;
    c.execute(&i, "respond", "603 Decline").await;
    let done = c.channel_event(&i, "CHANNEL_HANGUP_COMPLETE").await;
    assert_eq!(h(&done, "Hangup-Cause"), "CALL_REJECTED");
    assert_eq!(done.variable("billsec").as_deref(), Some("0"));
    vs.shutdown().await;
}

#[tokio::test]
async fn variables_set_by_api_and_by_applications_read_back() {
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let a = uuid_of(
        &c.api("originate {greeting=hello}vswitch/ring=0;answer &park()")
            .await,
    );
    assert_eq!(c.api(&format!("uuid_getvar {a} greeting")).await, "hello");
    assert_eq!(
        c.api(&format!("uuid_setvar {a} account AC123")).await,
        "+OK\n"
    );
    let app = c
        .execute(&a, "set", "mood=${greeting} from ${account}")
        .await;
    c.event("set to complete", |e| {
        e.application_uuid().as_deref() == Some(app.as_str())
    })
    .await;
    assert_eq!(
        c.api(&format!("uuid_getvar {a} mood")).await,
        "hello from AC123"
    );
    assert_eq!(c.api(&format!("uuid_getvar {a} missing")).await, "_undef_");
    assert_eq!(
        c.api("uuid_getvar 00000000-0000-0000-0000-000000000000 x")
            .await,
        "-ERR No such channel!\n"
    );
    vs.shutdown().await;
}

#[tokio::test]
async fn read_collects_digits_until_the_terminator() {
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let a = uuid_of(
        &c.api("originate vswitch/ring=0;answer;dtmf=77*@500ms &park()")
            .await,
    );
    let app = c
        .execute(&a, "read", "1 5 silence_stream://100 pin 3000 *")
        .await;
    let done = c
        .event("read to complete", |e| {
            e.event_name().as_deref() == Some("CHANNEL_EXECUTE_COMPLETE")
                && e.application_uuid().as_deref() == Some(app.as_str())
        })
        .await;
    assert_eq!(done.variable("pin").as_deref(), Some("77"));
    assert_eq!(done.variable("read_result").as_deref(), Some("success"));
    assert_eq!(done.variable("read_terminator_used").as_deref(), Some("*"));
    vs.shutdown().await;
}

#[tokio::test]
async fn the_log_and_event_applications_reach_esl_listeners() {
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    assert_eq!(c.command("log 6").await, "+OK log level 6 [6]");
    let a = uuid_of(&c.api("originate vswitch/ring=0;answer &park()").await);
    c.execute(
        &a,
        "event",
        "Event-Subclass=my::thing,Event-Name=CUSTOM,X-Colour=blue",
    )
    .await;
    let ev = c
        .event("my::thing", |e| {
            e.subclass().as_deref() == Some("my::thing")
        })
        .await;
    assert_eq!(h(&ev, "X-Colour"), "blue");
    assert_eq!(h(&ev, "Unique-ID"), a);
    c.execute(&a, "log", "NOTICE hello from the dialplan").await;
    c.send_raw(&format!("api uuid_kill {a}\n\n")).await;
    let line = c
        .log_line(|l| l.contains("hello from the dialplan") && !l.starts_with("EXECUTE"))
        .await;
    assert!(line.contains("[NOTICE] mod_dptools.c:"), "{line}");
    assert!(line.ends_with(" hello from the dialplan\n"), "{line}");
    vs.shutdown().await;
}

#[tokio::test]
async fn conference_members_can_be_muted_and_unmuted() {
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let a = uuid_of(&c.api("vswitch_inbound 1000 3501").await);
    c.channel_event(&a, "CHANNEL_PARK").await;
    c.api(&format!("uuid_transfer {a} 3501 XML default")).await;
    c.event("add-member", |e| {
        e.header("Action").as_deref() == Some("add-member")
    })
    .await;
    assert_eq!(c.api("conference 3501 mute all").await, "+OK mute 1\n");
    let mute = c
        .event("mute-member", |e| {
            e.header("Action").as_deref() == Some("mute-member")
        })
        .await;
    assert_eq!(h(&mute, "Speak"), "false");
    assert!(c.api("conference 3501 list").await.contains(";hear|floor;"));
    assert_eq!(c.api("conference 3501 unmute 1").await, "+OK unmute 1\n");
    let unmute = c
        .event("unmute-member", |e| {
            e.header("Action").as_deref() == Some("unmute-member")
        })
        .await;
    assert_eq!(h(&unmute, "Speak"), "true");
    assert_eq!(
        c.api("conference nope list").await,
        "Conference nope not found\n"
    );
    vs.shutdown().await;
}

#[tokio::test]
async fn members_join_muted_with_flags_and_can_be_held() {
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    c.api("originate vswitch/ring=0;answer &conference(3502@default+flags{mute})")
        .await;
    let add = c
        .event("add-member", |e| {
            e.header("Action").as_deref() == Some("add-member")
        })
        .await;
    assert_eq!(h(&add, "Speak"), "false");
    assert_eq!(h(&add, "Hold"), "false");
    assert_eq!(c.api("conference 3502 hold 1").await, "+OK hold 1\n");
    let hold = c
        .event("hold-member", |e| {
            e.header("Action").as_deref() == Some("hold-member")
        })
        .await;
    assert_eq!(h(&hold, "Hold"), "true");
    let list = c.api("conference 3502 json_list").await;
    assert!(list.contains("\"hold\":\ttrue"), "{list}");
    assert_eq!(c.api("conference 3502 unhold 1").await, "+OK unhold 1\n");
    assert_eq!(
        c.api("conference 3502 play tone_stream://%(100,0,800)")
            .await,
        "(play) Playing file tone_stream://%(100,0,800)\n"
    );
    vs.shutdown().await;
}

#[tokio::test]
async fn park_after_bridge_keeps_the_survivor_of_a_uuid_bridge() {
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let a = uuid_of(&c.api("vswitch_inbound 1000 2000").await);
    c.channel_event(&a, "CHANNEL_PARK").await;
    let b = uuid_of(&c.api("vswitch_inbound 1001 2000").await);
    c.channel_event(&b, "CHANNEL_PARK").await;
    for uuid in [&a, &b] {
        c.api(&format!("uuid_setvar {uuid} park_after_bridge true"))
            .await;
    }
    assert_eq!(
        c.api(&format!("uuid_bridge {a} {b}")).await,
        format!("+OK {b}\n")
    );
    c.channel_event(&a, "CHANNEL_BRIDGE").await;
    c.api(&format!("uuid_kill {b}")).await;
    c.channel_event(&a, "CHANNEL_UNBRIDGE").await;
    // The survivor parks again, ready for more instructions.
    c.channel_event(&a, "CHANNEL_PARK").await;
    assert_eq!(c.api(&format!("uuid_exists {a}")).await, "true");
    c.execute(&a, "playback", "silence_stream://100").await;
    vs.shutdown().await;
}

#[tokio::test]
async fn hupall_hangs_up_the_matching_channels_only() {
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let tenant_a = uuid_of(
        &c.api("originate {tenant=a}vswitch/ring=0;answer &park()")
            .await,
    );
    let tenant_b = uuid_of(
        &c.api("originate {tenant=b}vswitch/ring=0;answer &park()")
            .await,
    );
    assert_eq!(
        c.api("hupall NORMAL_CLEARING tenant a").await,
        "+OK hangup all channels matching [tenant]=[a] with cause: NORMAL_CLEARING\n"
    );
    c.channel_event(&tenant_a, "CHANNEL_HANGUP_COMPLETE").await;
    assert_eq!(c.api(&format!("uuid_exists {tenant_b}")).await, "true");
    assert_eq!(
        c.api("hupall").await,
        "+OK hangup all channels with cause MANAGER_REQUEST\n"
    );
    let done = c.channel_event(&tenant_b, "CHANNEL_HANGUP_COMPLETE").await;
    assert_eq!(h(&done, "Hangup-Cause"), "MANAGER_REQUEST");
    vs.shutdown().await;
}

#[tokio::test]
async fn a_missing_file_is_reported_and_speech_takes_time_to_say() {
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let a = uuid_of(&c.api("originate vswitch/ring=0;answer &park()").await);
    let app = c.execute(&a, "playback", "no/such/prompt.wav").await;
    let done = c
        .event("playback to complete", |e| {
            e.event_name().as_deref() == Some("CHANNEL_EXECUTE_COMPLETE")
                && e.application_uuid().as_deref() == Some(app.as_str())
        })
        .await;
    assert_eq!(
        done.application_response().as_deref(),
        Some("FILE NOT FOUND")
    );
    assert!(
        !c.backlog
            .iter()
            .any(|e| e.event_name().as_deref() == Some("PLAYBACK_START")),
        "nothing played"
    );
    let app = c
        .execute(&a, "speak", "flite|kal|Hello from the virtual switch")
        .await;
    let start = c
        .event("speak to start", |e| {
            e.event_name().as_deref() == Some("CHANNEL_EXECUTE")
                && e.application_uuid().as_deref() == Some(app.as_str())
        })
        .await;
    let done = c
        .event("speak to complete", |e| {
            e.event_name().as_deref() == Some("CHANNEL_EXECUTE_COMPLETE")
                && e.application_uuid().as_deref() == Some(app.as_str())
        })
        .await;
    let took = done.timestamp_micros().unwrap() - start.timestamp_micros().unwrap();
    assert!(
        took >= 1_000_000,
        "29 characters take more than a second to say, took {took} µs"
    );
    vs.shutdown().await;
}

#[tokio::test]
async fn transferring_the_b_leg_ends_the_bridge_and_runs_its_new_extension() {
    let vs = switch(20.0).await;
    let mut c = Client::connect(vs.local_addr()).await;
    let a = uuid_of(&c.api("vswitch_inbound 1000 2000").await);
    c.channel_event(&a, "CHANNEL_PARK").await;
    c.execute(&a, "bridge", "sofia/gateway/trunk/+15005550000")
        .await;
    let bridge = c.channel_event(&a, "CHANNEL_BRIDGE").await;
    let b = h(&bridge, "Bridge-B-Unique-ID");
    assert_eq!(
        c.api(&format!("uuid_transfer {a} -bleg 9664 XML default"))
            .await,
        "+OK\n"
    );
    let moh = c
        .event("the B-leg's music on hold", |e| {
            e.event_name().as_deref() == Some("CHANNEL_EXECUTE")
                && e.unique_id().as_deref() == Some(b.as_str())
                && e.application().as_deref() == Some("playback")
        })
        .await;
    assert_eq!(
        moh.application_data().as_deref(),
        Some("local_stream://moh")
    );
    c.channel_event(&a, "CHANNEL_UNBRIDGE").await;
    // hangup_after_bridge=true in the switchboard context.
    c.channel_event(&a, "CHANNEL_HANGUP_COMPLETE").await;
    assert_eq!(c.api(&format!("uuid_exists {b}")).await, "true");
    vs.shutdown().await;
}
