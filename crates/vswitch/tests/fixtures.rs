//! Every recorded FreeSWITCH session the switch can play, replayed over real
//! TCP: the same replies, the same events per Channel in the same order, the
//! same headers (see `replay/mod.rs` for what is compared and what is not).

mod replay;

use replay::{fixture_config, replay_and_compare, Replay};
use tokio::net::TcpListener;

async fn replay_fixture(name: &str) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let vswitch = vswitch::start(listener, fixture_config()).unwrap();
    let mut replay = Replay::connect(vswitch.local_addr()).await;
    replay_and_compare(name, &mut replay).await;
    vswitch.shutdown().await;
}

#[tokio::test]
async fn auth_then_api_bgapi_filters_sendevent_and_exit_replay_like_freeswitch() {
    replay_fixture("inbound_auth_and_api").await;
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_disconnected_like_freeswitch() {
    replay_fixture("inbound_auth_wrong_password").await;
}

#[tokio::test]
async fn a_command_before_auth_is_refused_without_disconnecting() {
    replay_fixture("inbound_command_before_auth").await;
}

#[tokio::test]
async fn an_early_media_call_with_dtmf_broadcast_and_record_replays_in_plain() {
    replay_fixture("inbound_events_plain").await;
}

#[tokio::test]
async fn the_same_call_replays_in_json() {
    replay_fixture("inbound_events_json").await;
}

#[tokio::test]
async fn a_short_call_replays_in_xml() {
    replay_fixture("inbound_events_xml").await;
}

#[tokio::test]
async fn log_subscription_and_a_short_call_replay() {
    replay_fixture("inbound_log").await;
}

#[tokio::test]
async fn uuid_bridge_and_a_two_member_conference_replay() {
    replay_fixture("bridge_and_conference").await;
}

/// The outbound pair: a control connection originates to 7200, whose
/// dialplan runs `socket`; the switch connects out to the test's listener,
/// and the recorded outbound session is replayed on that connection.
async fn replay_outbound(outbound: &str, control: &str) {
    let socket_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let socket_addr = socket_listener.local_addr().unwrap();
    let mut config = fixture_config();
    config.dialplan_xml = Some(
        vswitch::dialplan::DEFAULT_DIALPLAN.replace("127.0.0.1:8084", &socket_addr.to_string()),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let vswitch = vswitch::start(listener, config).unwrap();
    let addr = vswitch.local_addr();
    let control = control.to_owned();
    let control_task = tokio::spawn(async move {
        let mut replay = Replay::connect(addr).await;
        replay_and_compare(&control, &mut replay).await;
    });
    let (stream, _) = socket_listener.accept().await.unwrap();
    let mut replay = Replay::over(stream);
    replay_and_compare(outbound, &mut replay).await;
    control_task.await.unwrap();
    vswitch.shutdown().await;
}

#[tokio::test]
async fn an_outbound_socket_session_with_plain_linger_replays() {
    replay_outbound("outbound_socket", "outbound_socket_control").await;
}

#[tokio::test]
async fn an_outbound_socket_session_with_json_events_and_timed_linger_replays() {
    replay_outbound("outbound_socket_json", "outbound_socket_json_control").await;
}

#[tokio::test]
async fn a_sip_call_answered_by_its_far_end_replays() {
    // SIPp answered after a 180 Ringing: the default far end does the same.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let vswitch = vswitch::start(listener, fixture_config()).unwrap();
    let mut replay = Replay::connect(vswitch.local_addr()).await;
    replay::replay_with_far_ends("sip_call", &mut replay, &[]).await;
    vswitch.shutdown().await;
}

#[tokio::test]
async fn sip_calls_refused_by_the_network_and_by_a_busy_peer_replay() {
    // Nothing listened on :5099 (sofia gave up with 503, no provisional
    // response); SIPp on :5091 answered 486 Busy Here at once.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let vswitch = vswitch::start(listener, fixture_config()).unwrap();
    let mut replay = Replay::connect(vswitch.local_addr()).await;
    let far_ends = [
        (
            "}sofia/external/5555@",
            ",vswitch_far_end='ring=0;reject=NORMAL_TEMPORARY_FAILURE'}sofia/external/5555@",
        ),
        (
            "}sofia/external/486@",
            ",vswitch_far_end='ring=0;busy'}sofia/external/486@",
        ),
    ];
    replay::replay_with_far_ends("sip_call_failure", &mut replay, &far_ends).await;
    vswitch.shutdown().await;
}
