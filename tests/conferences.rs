//! `<Dial><Conference>` over the embedded virtual switch, and the Conferences
//! and Participants resources that show and steer the room.

mod common;

use common::{api, eventually, get, place, AppServer, Db, TestApp};
use serde_json::Value;
use switchboard::store::Account;

/// The room's participants' call SIDs, once there are `n` of them.
async fn participants(t: &TestApp, account: &Account, conference: &str, n: usize) -> Vec<Value> {
    let path = format!("/Conferences/{conference}/Participants.json");
    eventually(&format!("{n} participants"), || async {
        let list = get(t, account, &path).await;
        let items = list["participants"].as_array().cloned().unwrap_or_default();
        (items.len() == n).then_some(items)
    })
    .await
}

async fn a_conference_starts_with_its_moderator_and_ends_when_they_leave(db: Db) {
    let t = TestApp::start(db).await;
    let app = AppServer::start().await;
    let acme = t.app.store.create_account("Acme", None).await.unwrap();
    let other = t.app.store.create_account("Other", None).await.unwrap();
    let events = app.url("/room-events");
    app.twiml(
        "/listener",
        &format!(
            r#"<Response><Dial><Conference startConferenceOnEnter="false" statusCallback="{events}" statusCallbackEvent="start end join leave mute" participantLabel="listener">Team Room</Conference></Dial><Say>The meeting is over</Say></Response>"#
        ),
    );
    app.twiml(
        "/moderator",
        r#"<Response><Dial action="/after-moderator"><Conference endConferenceOnExit="true" beep="false">Team Room</Conference></Dial></Response>"#,
    );
    app.twiml("/after-moderator", "<Response><Hangup/></Response>");

    // The listener waits alone: the room exists but has not started.
    let listener = place(&t, &acme, app.url("/listener")).await;
    let rooms = eventually("the room", || async {
        let list = get(&t, &acme, "/Conferences.json").await;
        let rooms = list["conferences"].as_array().cloned().unwrap_or_default();
        (!rooms.is_empty()).then_some(rooms)
    })
    .await;
    assert_eq!(rooms.len(), 1);
    let room = rooms[0]["sid"].as_str().unwrap().to_owned();
    assert!(room.starts_with("CF"));
    assert_eq!(rooms[0]["friendly_name"], "Team Room");
    assert_eq!(rooms[0]["status"], "init");
    let waiting = participants(&t, &acme, &room, 1).await;
    assert_eq!(waiting[0]["call_sid"], listener.as_str());
    assert_eq!(waiting[0]["label"], "listener");
    assert_eq!(waiting[0]["start_conference_on_enter"], false);

    // Another tenant sees none of it, even by SID.
    let others = get(&t, &other, "/Conferences.json").await;
    assert_eq!(others["conferences"], serde_json::json!([]));
    let (status, body) = api(
        &t,
        &other,
        reqwest::Method::GET,
        &format!("/Conferences/{room}.json"),
        &[],
    )
    .await;
    assert_eq!((status, body["code"].as_u64()), (404, Some(20404)));

    // The moderator enters: the room starts.
    let moderator = place(&t, &acme, app.url("/moderator")).await;
    participants(&t, &acme, &room, 2).await;
    eventually("the room to start", || async {
        let room = get(&t, &acme, &format!("/Conferences/{room}.json")).await;
        (room["status"] == "in-progress").then_some(())
    })
    .await;

    // Mute the listener through the API; the filter finds them.
    let listener_path = format!("/Conferences/{room}/Participants/{listener}.json");
    let (status, body) = api(
        &t,
        &acme,
        reqwest::Method::POST,
        &listener_path,
        &[("Muted", "true")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["muted"], true);
    let muted = get(
        &t,
        &acme,
        &format!("/Conferences/{room}/Participants.json?Muted=true"),
    )
    .await;
    assert_eq!(muted["participants"].as_array().unwrap().len(), 1);
    assert_eq!(muted["participants"][0]["call_sid"], listener.as_str());
    let (status, _) = api(
        &t,
        &acme,
        reqwest::Method::POST,
        &listener_path,
        &[("Muted", "maybe")],
    )
    .await;
    assert_eq!(status, 400);

    // Remove the moderator: they end the room, the listener goes on with
    // the rest of their document, the moderator with their Dial action.
    let (status, _) = api(
        &t,
        &acme,
        reqwest::Method::DELETE,
        &format!("/Conferences/{room}/Participants/{moderator}.json"),
        &[],
    )
    .await;
    assert_eq!(status, 204);
    let after = eventually("the moderator's Dial action", || async {
        app.requests_to("/after-moderator").pop()
    })
    .await;
    assert_eq!(after.param("CallSid"), Some(moderator.as_str()));
    assert_eq!(after.param("DialCallStatus"), Some("completed"));
    let ended = eventually("the room to end", || async {
        let room = get(&t, &acme, &format!("/Conferences/{room}.json")).await;
        (room["status"] == "completed").then_some(room)
    })
    .await;
    assert_eq!(
        ended["reason_conference_ended"],
        "participant-with-end-conference-on-exit-left"
    );
    assert_eq!(ended["call_sid_ending_conference"], moderator.as_str());
    participants(&t, &acme, &room, 0).await;
    for call in [&listener, &moderator] {
        eventually("the calls to complete", || async {
            let call = get(&t, &acme, &format!("/Calls/{call}.json")).await;
            (call["status"] == "completed").then_some(())
        })
        .await;
    }

    // The room's subscriber heard every moment, in order.
    let reported = eventually("the room's last event", || async {
        let events: Vec<(String, String)> = app
            .requests_to("/room-events")
            .iter()
            .map(|r| {
                (
                    r.param("StatusCallbackEvent").unwrap_or("").to_owned(),
                    r.param("CallSid").unwrap_or("").to_owned(),
                )
            })
            .collect();
        (events.len() >= 7).then_some(events)
    })
    .await;
    let expected = [
        ("participant-join", listener.as_str()),
        ("participant-join", moderator.as_str()),
        ("conference-start", ""),
        ("participant-mute", listener.as_str()),
        ("participant-leave", moderator.as_str()),
        ("conference-end", ""),
        ("participant-leave", listener.as_str()),
    ];
    let reported: Vec<(&str, &str)> = reported
        .iter()
        .map(|(e, c)| (e.as_str(), c.as_str()))
        .collect();
    assert_eq!(reported, expected);
    let end = &app.requests_to("/room-events")[5];
    assert_eq!(end.param("ConferenceSid"), Some(room.as_str()));
    assert_eq!(end.param("FriendlyName"), Some("Team Room"));
    assert_eq!(
        end.param("ReasonConferenceEnded"),
        Some("participant-with-end-conference-on-exit-left")
    );
    let sequence: Vec<u32> = app
        .requests_to("/room-events")
        .iter()
        .map(|r| r.param("SequenceNumber").unwrap().parse().unwrap())
        .collect();
    assert!(sequence.windows(2).all(|w| w[0] < w[1]), "{sequence:?}");
    t.stop().await;
}

#[tokio::test]
async fn a_conference_starts_with_its_moderator_and_ends_when_they_leave_on_sqlite() {
    a_conference_starts_with_its_moderator_and_ends_when_they_leave(Db::Sqlite).await;
}

#[tokio::test]
async fn a_conference_starts_with_its_moderator_and_ends_when_they_leave_on_postgres() {
    a_conference_starts_with_its_moderator_and_ends_when_they_leave(Db::Postgres).await;
}

#[tokio::test]
async fn the_api_ends_a_conference_and_rooms_of_two_tenants_never_meet() {
    let t = TestApp::start(Db::Sqlite).await;
    let app = AppServer::start().await;
    let acme = t.app.store.create_account("Acme", None).await.unwrap();
    let other = t.app.store.create_account("Other", None).await.unwrap();
    app.twiml(
        "/room",
        "<Response><Dial><Conference>Lobby</Conference></Dial><Say>Goodbye</Say></Response>",
    );
    let first = place(&t, &acme, app.url("/room")).await;
    let second = place(&t, &other, app.url("/room")).await;
    let acme_rooms = eventually("Acme's room", || async {
        let list = get(&t, &acme, "/Conferences.json?Status=in-progress").await;
        let rooms = list["conferences"].as_array().cloned().unwrap_or_default();
        (rooms.len() == 1).then_some(rooms)
    })
    .await;
    let other_rooms = eventually("Other's room", || async {
        let list = get(&t, &other, "/Conferences.json?FriendlyName=Lobby").await;
        let rooms = list["conferences"].as_array().cloned().unwrap_or_default();
        (rooms.len() == 1).then_some(rooms)
    })
    .await;
    // Same friendly name, two rooms: each tenant's call is alone in its own.
    let acme_room = acme_rooms[0]["sid"].as_str().unwrap().to_owned();
    assert_ne!(acme_room, other_rooms[0]["sid"].as_str().unwrap());
    let inside = participants(&t, &acme, &acme_room, 1).await;
    assert_eq!(inside[0]["call_sid"], first.as_str());
    let (status, _) = api(
        &t,
        &acme,
        reqwest::Method::GET,
        "/Conferences.json?Status=bogus",
        &[],
    )
    .await;
    assert_eq!(status, 400);

    let (status, body) = api(
        &t,
        &acme,
        reqwest::Method::POST,
        &format!("/Conferences/{acme_room}.json"),
        &[("Status", "completed")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["reason_conference_ended"], "conference-ended-via-api");
    // Acme's caller goes on with the document and completes; Other's stays.
    eventually("Acme's call to complete", || async {
        let call = get(&t, &acme, &format!("/Calls/{first}.json")).await;
        (call["status"] == "completed").then_some(())
    })
    .await;
    let call = get(&t, &other, &format!("/Calls/{second}.json")).await;
    assert_eq!(call["status"], "in-progress");
    let room = get(
        &t,
        &other,
        &format!(
            "/Conferences/{}.json",
            other_rooms[0]["sid"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(room["status"], "in-progress");
    t.stop().await;
}

#[tokio::test]
async fn another_instance_sharing_redis_and_the_database_steers_a_conference() {
    let (a, b) = TestApp::two_sharing_a_database().await;
    let app = AppServer::start().await;
    app.twiml(
        "/room",
        "<Response><Dial><Conference>Lobby</Conference></Dial><Say>Goodbye</Say></Response>",
    );
    let acme = a.app.store.create_account("Acme", None).await.unwrap();
    // A holds the room on its media node; the API requests go to B.
    let first = place(&a, &acme, app.url("/room")).await;
    let second = place(&a, &acme, app.url("/room")).await;
    let rooms = eventually("the room", || async {
        let list = get(&b, &acme, "/Conferences.json?Status=in-progress").await;
        let rooms = list["conferences"].as_array().cloned().unwrap_or_default();
        (rooms.len() == 1).then_some(rooms)
    })
    .await;
    let room = rooms[0]["sid"].as_str().unwrap().to_owned();
    participants(&b, &acme, &room, 2).await;

    let first_path = format!("/Conferences/{room}/Participants/{first}.json");
    let (status, body) = api(
        &b,
        &acme,
        reqwest::Method::POST,
        &first_path,
        &[("Muted", "true")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["muted"], true);

    // Removed through B, the second caller goes on with its document on A.
    let (status, body) = api(
        &b,
        &acme,
        reqwest::Method::DELETE,
        &format!("/Conferences/{room}/Participants/{second}.json"),
        &[],
    )
    .await;
    assert_eq!(status, 204, "{body}");
    eventually("the removed caller's call to complete", || async {
        let call = get(&b, &acme, &format!("/Calls/{second}.json")).await;
        (call["status"] == "completed").then_some(())
    })
    .await;

    let (status, body) = api(
        &b,
        &acme,
        reqwest::Method::POST,
        &format!("/Conferences/{room}.json"),
        &[("Status", "completed")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "completed", "{body}");
    assert_eq!(body["reason_conference_ended"], "conference-ended-via-api");
    eventually("the last caller's call to complete", || async {
        let call = get(&b, &acme, &format!("/Calls/{first}.json")).await;
        (call["status"] == "completed").then_some(())
    })
    .await;
    // Ended, the room is live nowhere: a participant change is not found.
    let (status, _) = api(
        &b,
        &acme,
        reqwest::Method::POST,
        &first_path,
        &[("Muted", "false")],
    )
    .await;
    assert_eq!(status, 404);
    b.stop().await;
    a.stop().await;
}
