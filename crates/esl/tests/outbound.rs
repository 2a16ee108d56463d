//! The outbound server: a scripted "FreeSWITCH" connects to it over loopback TCP and
//! replays the recorded outbound socket sessions as the session sends its commands.

mod common;

use std::time::Duration;

use common::replay::Replay;
use esl::{Command, Error, EventFormat, Incoming, OutboundConfig, OutboundServer};
use tokio::net::TcpStream;

const T: Duration = Duration::from_secs(10);

#[tokio::test]
async fn outbound_socket_plain_with_linger_and_exit() {
    let server = OutboundServer::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let fs = tokio::spawn(async move {
        let s = TcpStream::connect(addr).await.unwrap();
        Replay::new("outbound_socket").run(s).await
    });
    let (session, mut events) = tokio::time::timeout(T, server.accept())
        .await
        .unwrap()
        .unwrap();
    let uuid = session.uuid().unwrap();
    assert!(session.is_full());
    assert_eq!(
        session
            .channel_data()
            .variable("current_application_data")
            .as_deref(),
        Some("127.0.0.1:8084 async full")
    );
    assert_eq!(
        session
            .channel_data()
            .header("Caller-Destination-Number")
            .as_deref(),
        Some("7200")
    );

    session.myevents(None).await.unwrap();
    session.linger(None).await.unwrap();
    let answered = session.execute("answer", None).await.unwrap();
    let done = tokio::time::timeout(T, answered).await.unwrap().unwrap();
    assert_eq!(
        done.event_name().as_deref(),
        Some("CHANNEL_EXECUTE_COMPLETE")
    );
    assert_eq!(done.application().as_deref(), Some("answer"));

    let play = session
        .sendmsg(
            Command::execute(
                Some(&uuid),
                "playback",
                Some("tone_stream://%(1000,0,440);loops=1"),
            )
            .with_header("event-lock", "true"),
        )
        .await
        .unwrap();
    let id = play.event_uuid().to_owned();
    let done = tokio::time::timeout(T, play).await.unwrap().unwrap();
    assert_eq!(done.application_uuid().as_deref(), Some(id.as_str()));
    assert_eq!(done.application().as_deref(), Some("playback"));
    assert_eq!(done.application_response().as_deref(), Some("FILE PLAYED"));

    assert_eq!(
        session
            .api(&format!("uuid_getvar {uuid} answer_epoch"))
            .await
            .unwrap(),
        "_undef_"
    );
    assert_eq!(
        session
            .api(&format!("uuid_getvar {uuid} destination_number"))
            .await
            .unwrap(),
        "7200"
    );
    session.hangup("NORMAL_CLEARING").await.unwrap();

    // The linger notice arrives, then we exit and get the final notice.
    let mut names = Vec::new();
    let linger = loop {
        match tokio::time::timeout(T, events.recv())
            .await
            .unwrap()
            .unwrap()
        {
            Incoming::Event(e) => names.push(e.event_name().unwrap().into_owned()),
            Incoming::Disconnect(f) => break f,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(linger.content_disposition(), Some("linger"));
    assert_eq!(linger.header("Linger-Time"), Some("-1"));
    assert!(
        names.iter().any(|n| n == "CHANNEL_HANGUP_COMPLETE"),
        "{names:?}"
    );
    assert_eq!(names.len(), 11);
    session.exit().await.unwrap();
    match tokio::time::timeout(T, events.recv())
        .await
        .unwrap()
        .unwrap()
    {
        Incoming::Disconnect(f) => assert_eq!(f.content_disposition(), Some("disconnect")),
        other => panic!("{other:?}"),
    }
    assert!(tokio::time::timeout(T, events.recv())
        .await
        .unwrap()
        .is_none());
    assert!(matches!(session.api("status").await, Err(Error::Closed)));
    let sent = fs.await.unwrap();
    assert_eq!(sent.first(), Some(&Command::Connect));
    assert_eq!(sent.last(), Some(&Command::Exit));
}

#[tokio::test]
async fn outbound_socket_json_linger_timeout() {
    let server = OutboundServer::bind_with("127.0.0.1:0", OutboundConfig::default())
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let fs = tokio::spawn(async move {
        let s = TcpStream::connect(addr).await.unwrap();
        Replay::new("outbound_socket_json").run(s).await
    });
    let (session, mut events) = server.accept().await.unwrap();
    let uuid = session.uuid().unwrap();
    session.myevents(Some(EventFormat::Json)).await.unwrap();
    session.linger(Some(3)).await.unwrap();
    session
        .execute("answer", None)
        .await
        .unwrap()
        .await
        .unwrap();
    let play = session
        .sendmsg(
            Command::execute(
                Some(&uuid),
                "playback",
                Some("tone_stream://%(1000,0,440);loops=1"),
            )
            .with_header("event-lock", "true"),
        )
        .await
        .unwrap();
    tokio::time::timeout(T, play).await.unwrap().unwrap();
    session
        .api(&format!("uuid_getvar {uuid} answer_epoch"))
        .await
        .unwrap();
    session
        .api(&format!("uuid_getvar {uuid} destination_number"))
        .await
        .unwrap();
    session.hangup("NORMAL_CLEARING").await.unwrap();
    let mut notices = Vec::new();
    let mut n_events = 0;
    while let Some(item) = tokio::time::timeout(T, events.recv()).await.unwrap() {
        match item {
            Incoming::Event(_) => n_events += 1,
            Incoming::Disconnect(f) => notices.push(f),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(n_events, 12);
    assert_eq!(notices.len(), 2);
    assert_eq!(notices[0].header("Linger-Time"), Some("3"));
    assert_eq!(notices[1].content_disposition(), Some("disconnect"));
    fs.await.unwrap();
}

#[tokio::test]
async fn api_needs_async_full() {
    use esl::{ClientCodec, Frame, ServerCodec};
    use futures_util::{SinkExt, StreamExt};
    let server = OutboundServer::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let fs = tokio::spawn(async move {
        let s = TcpStream::connect(addr).await.unwrap();
        let mut f = tokio_util::codec::Framed::new(s, ServerCodec::new());
        assert_eq!(f.next().await.unwrap().unwrap(), Command::Connect);
        let reply = Frame::new()
            .with_header("Event-Name", "CHANNEL_DATA")
            .with_header("Unique-ID", "u-1")
            .with_header("Content-Type", "command/reply")
            .with_header("Reply-Text", "%2BOK%0A")
            .with_header("Socket-Mode", "async")
            .with_header("Control", "single-channel");
        f.send(reply).await.unwrap();
        // Nothing else is sent by the session.
        assert!(f.next().await.is_none());
    });
    let (session, _events) = server.accept().await.unwrap();
    assert_eq!(session.uuid().as_deref(), Some("u-1"));
    assert!(!session.is_full());
    assert!(matches!(
        session.api("status").await,
        Err(Error::Protocol(_))
    ));
    assert!(matches!(
        session.bgapi("status").await,
        Err(Error::Protocol(_))
    ));
    drop(session);
    drop(_events);
    fs.await.unwrap();
    let _ = ClientCodec::new();
}
