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
