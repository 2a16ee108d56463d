//! The inbound client against scripted servers over loopback TCP: recorded FreeSWITCH
//! transcripts replayed as the client sends the matching commands, plus liveness,
//! reconnection and back-pressure against small hand-written servers.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::replay::Replay;
use esl::{
    Client, ClientConfig, Command, ContentType, Error, Event, EventFormat, Frame, Incoming,
    Overflow,
};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_util::codec::Framed;

const T: Duration = Duration::from_secs(10);

async fn replay_server(scenario: &'static str) -> (String, tokio::task::JoinHandle<Vec<Command>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        Replay::new(scenario).run(s).await
    });
    (addr, task)
}

fn config(addr: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new(addr, "ClueCon");
    cfg.reconnect = None;
    cfg.connect_timeout = T;
    cfg.command_timeout = Some(T);
    cfg
}

#[tokio::test]
async fn auth_api_bgapi_filters_sendevent_exit() {
    let (addr, server) = replay_server("inbound_auth_and_api").await;
    let (client, mut events) = Client::connect(config(&addr)).await.unwrap();
    let collector = tokio::spawn(async move {
        let mut items = Vec::new();
        while let Some(i) = events.recv().await {
            items.push(i);
        }
        items
    });

    let status = client.api("status").await.unwrap();
    assert!(status.starts_with("UP 0 years"), "{status}");
    assert_eq!(
        client.api("show channels as json").await.unwrap(),
        "{\"row_count\": 0}\n"
    );
    client.subscribe(&["BACKGROUND_JOB"]).await.unwrap();

    let job = client.bgapi("status").await.unwrap();
    let id = job.job_uuid().to_owned();
    let done = tokio::time::timeout(T, job).await.unwrap().unwrap();
    assert_eq!(done.job_uuid().as_deref(), Some(id.as_str()));
    assert!(done.body_str().unwrap().starts_with("UP 0 years"));

    let job = client.bgapi("version").await.unwrap();
    let done = tokio::time::timeout(T, job).await.unwrap().unwrap();
    assert!(done
        .body_str()
        .unwrap()
        .starts_with("FreeSWITCH Version 1.10.12"));

    assert_eq!(
        client.api("no_such_command_xyz").await.unwrap(),
        "-ERR no_such_command_xyz Command not found!\n"
    );
    assert!(matches!(
        client.api_ok("uuid_kill 00000000-0000-0000-0000-000000000000").await,
        Err(Error::CommandFailed(t)) if t == "-ERR No such channel!"
    ));
    assert!(client
        .api("originate")
        .await
        .unwrap()
        .starts_with("-USAGE:"));
    let job = client.bgapi("no_such_command_xyz").await.unwrap();
    let done = tokio::time::timeout(T, job).await.unwrap().unwrap();
    assert_eq!(
        done.body_str(),
        Some("-ERR no_such_command_xyz Command not found!\n")
    );

    let reply = client
        .send(Command::Other {
            line: "no_such_esl_command".into(),
            headers: vec![],
            body: None,
        })
        .await
        .unwrap();
    assert_eq!(reply.reply(), Some(Err("-ERR command not found".into())));

    client.filter("Event-Name", "CHANNEL_CREATE").await.unwrap();
    client
        .filter_delete("Event-Name", Some("CHANNEL_CREATE"))
        .await
        .unwrap();
    client.subscribe(&["CUSTOM", "esl::fixture"]).await.unwrap();
    let reply = client
        .send(Command::SendEvent {
            name: "CUSTOM".into(),
            headers: vec![
                ("Event-Subclass".into(), "esl::fixture".into()),
                ("X-Fixture-Header".into(), "some value".into()),
                ("Content-Type".into(), "text/plain".into()),
            ],
            body: Some(Bytes::from_static(b"hello from sendevent\n")),
        })
        .await
        .unwrap();
    assert!(reply.is_ok());
    client
        .send(Command::NixEvent {
            events: vec!["BACKGROUND_JOB".into()],
        })
        .await
        .unwrap();
    client.noevents().await.unwrap();
    client.exit().await.unwrap();

    let items = tokio::time::timeout(T, collector).await.unwrap().unwrap();
    let evs: Vec<&Event> = items
        .iter()
        .filter_map(|i| match i {
            Incoming::Event(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(evs.len(), 4, "{items:?}");
    assert_eq!(
        evs.iter()
            .filter(|e| e.event_name().as_deref() == Some("BACKGROUND_JOB"))
            .count(),
        3
    );
    let custom = evs
        .iter()
        .find(|e| e.subclass().as_deref() == Some("esl::fixture"))
        .unwrap();
    assert_eq!(custom.body_str(), Some("hello from sendevent\n"));
    assert!(
        matches!(items.last(), Some(Incoming::Disconnect(f)) if f.body_str() == Some(esl::frame::GOODBYE))
    );

    // After exit the client is closed for good.
    assert!(matches!(client.api("status").await, Err(Error::Closed)));
    let stats = client.stats();
    assert_eq!(stats.events_received, 4);
    assert_eq!(stats.events_dropped, 0);
    let sent = server.await.unwrap();
    assert_eq!(sent.last(), Some(&Command::Exit));
}

#[tokio::test]
async fn wrong_password_is_an_auth_error() {
    let (addr, server) = replay_server("inbound_auth_wrong_password").await;
    let mut cfg = config(&addr);
    cfg.password = "NotTheRightPassword".into();
    match Client::connect(cfg).await {
        Err(Error::AuthFailed(t)) => assert_eq!(t, "-ERR invalid"),
        other => panic!("{other:?}"),
    }
    server.await.unwrap();
}

#[tokio::test]
async fn events_plain_and_json_call_flow() {
    for (scenario, format) in [
        ("inbound_events_plain", EventFormat::Plain),
        ("inbound_events_json", EventFormat::Json),
    ] {
        let (addr, server) = replay_server(scenario).await;
        let mut cfg = config(&addr);
        cfg.format = format;
        let (client, mut events) = Client::connect(cfg).await.unwrap();
        let sent = server_commands(scenario);
        // Drive the recorded commands after `auth`: event <format> ALL, then the rest.
        let collector = tokio::spawn(async move {
            let mut v = Vec::new();
            while let Some(i) = events.recv().await {
                v.push(i);
            }
            v
        });
        for cmd in sent.into_iter().skip(1) {
            match cmd {
                Command::Event { events, .. } => {
                    let names: Vec<&str> = events.iter().map(String::as_str).collect();
                    client.subscribe(&names).await.unwrap();
                }
                Command::BgApi { command, .. } => {
                    let job = client.bgapi(&command).await.unwrap();
                    let id = job.job_uuid().to_owned();
                    // The job completes later (after uuid_answer); check it in the stream.
                    tokio::spawn(async move {
                        let ev = job.await.unwrap();
                        assert_eq!(ev.job_uuid().as_deref(), Some(id.as_str()));
                        assert!(ev.body_str().unwrap().starts_with("+OK "));
                    });
                }
                Command::Api { command } => {
                    let out = client.api(&command).await.unwrap();
                    assert!(
                        out.starts_with("+OK") || out.starts_with('{'),
                        "{command}: {out}"
                    );
                }
                Command::Exit => client.exit().await.unwrap(),
                other => panic!("unexpected {other:?}"),
            }
        }
        let items = tokio::time::timeout(T, collector).await.unwrap().unwrap();
        let evs: Vec<&Event> = items
            .iter()
            .filter_map(|i| match i {
                Incoming::Event(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(evs.len(), 82, "{scenario}");
        let hc = evs
            .iter()
            .filter(|e| e.event_name().as_deref() == Some("CHANNEL_HANGUP_COMPLETE"))
            .count();
        assert_eq!(hc, 2);
        server.await.unwrap();
    }
}

fn server_commands(scenario: &str) -> Vec<Command> {
    use tokio_util::codec::Decoder;
    let data = common::read(&format!("{scenario}.sent"));
    let mut buf = bytes::BytesMut::from(&data[..]);
    let mut c = esl::ServerCodec::new();
    let mut v = Vec::new();
    while let Some(x) = c.decode(&mut buf).unwrap() {
        v.push(x);
    }
    v
}

/// A minimal ESL server: auth/request, accepts any password, answers `event` and
/// `api`, and sends what the test pushes.
async fn tiny_server(listener: &TcpListener) -> Framed<tokio::net::TcpStream, esl::ServerCodec> {
    let (s, _) = listener.accept().await.unwrap();
    let mut f = Framed::new(s, esl::ServerCodec::new());
    f.send(Frame::auth_request()).await.unwrap();
    match f.next().await.unwrap().unwrap() {
        Command::Auth { .. } => f.send(Frame::command_reply("+OK accepted")).await.unwrap(),
        other => panic!("{other:?}"),
    }
    match f.next().await.unwrap().unwrap() {
        Command::Event { format, .. } => f
            .send(Frame::command_reply(&format!(
                "+OK event listener enabled {format}"
            )))
            .await
            .unwrap(),
        other => panic!("{other:?}"),
    }
    f
}

fn heartbeat(seq: u64) -> Frame {
    let ev = Event::new("HEARTBEAT").with_header("Event-Sequence", &seq.to_string());
    Frame::event(&ev, EventFormat::Plain)
}

#[tokio::test]
async fn reconnects_and_resubscribes_after_liveness_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut cfg = config(&addr);
    cfg.events = vec!["CHANNEL_CREATE".into()];
    cfg.liveness_timeout = Some(Duration::from_millis(300));
    cfg.reconnect = Some(esl::Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(50),
        factor: 2,
    });
    let accept = tokio::spawn(async move {
        // First connection: one heartbeat, then silence (a hung FreeSWITCH).
        let mut first = tiny_server(&listener).await;
        first.send(heartbeat(1)).await.unwrap();
        // Second connection: the client must authenticate and subscribe again.
        let mut second = tiny_server(&listener).await;
        let ev = Event::new("CHANNEL_CREATE").with_header("Unique-ID", "abc");
        second
            .send(Frame::event(&ev, EventFormat::Plain))
            .await
            .unwrap();
        // Then answer one api.
        match second.next().await.unwrap().unwrap() {
            Command::Api { command } => assert_eq!(command, "status"),
            other => panic!("{other:?}"),
        }
        second.send(Frame::api_response("UP\n")).await.unwrap();
        drop(first);
        second
    });
    let (client, mut events) = Client::connect(cfg).await.unwrap();
    // HEARTBEAT is internal (not subscribed by the app): not delivered.
    let first = tokio::time::timeout(T, events.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(first, Incoming::Disconnected { .. }), "{first:?}");
    let second = tokio::time::timeout(T, events.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(second, Incoming::Reconnected), "{second:?}");
    let third = tokio::time::timeout(T, events.next_event())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.unique_id().as_deref(), Some("abc"));
    assert_eq!(client.api("status").await.unwrap(), "UP\n");
    assert_eq!(client.stats().reconnects, 1);
    accept.await.unwrap();
}

#[tokio::test]
async fn backpressure_is_lossless_and_bounded() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut cfg = config(&addr);
    cfg.events = vec!["ALL".into()];
    cfg.event_capacity = 4;
    const N: u64 = 2000;
    let server = tokio::spawn(async move {
        let mut s = tiny_server(&listener).await;
        for i in 0..N {
            let ev = Event::new("CUSTOM").with_header("Seq", &i.to_string());
            s.feed(Frame::event(&ev, EventFormat::Json)).await.unwrap();
        }
        SinkExt::<Frame>::flush(&mut s).await.unwrap();
        s
    });
    let (client, mut events) = Client::connect(cfg).await.unwrap();
    // Consume slowly at first so the channel fills and the reader must wait.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 0..N {
        let ev = tokio::time::timeout(T, events.next_event())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ev.header("Seq").as_deref(), Some(i.to_string().as_str()));
    }
    let stats = client.stats();
    assert_eq!(stats.events_dropped, 0);
    assert!(stats.backpressure_waits > 0, "{stats:?}");
    drop(server.await.unwrap());
}

#[tokio::test]
async fn drop_newest_counts_overflow() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut cfg = config(&addr);
    cfg.events = vec!["ALL".into()];
    cfg.event_capacity = 4;
    cfg.overflow = Overflow::DropNewest;
    let server = tokio::spawn(async move {
        let mut s = tiny_server(&listener).await;
        for i in 0..100 {
            let ev = Event::new("CUSTOM").with_header("Seq", &i.to_string());
            s.feed(Frame::event(&ev, EventFormat::Plain)).await.unwrap();
        }
        SinkExt::<Frame>::flush(&mut s).await.unwrap();
        // Then an api round trip, so the test knows all events were read.
        assert!(matches!(
            s.next().await.unwrap().unwrap(),
            Command::Api { .. }
        ));
        s.send(Frame::api_response("+OK\n")).await.unwrap();
        s
    });
    let (client, mut events) = Client::connect(cfg).await.unwrap();
    client.api("status").await.unwrap();
    let stats = client.stats();
    assert_eq!(stats.events_received, 100);
    assert_eq!(stats.events_delivered + stats.events_dropped, 100);
    assert_eq!(stats.events_delivered, 4);
    let mut n = 0;
    while let Some(Incoming::Event(_)) = events.try_recv() {
        n += 1;
    }
    assert_eq!(n, 4);
    drop(server.await.unwrap());
}

#[tokio::test]
async fn injection_is_refused_before_anything_is_sent() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let mut s = tiny_server(&listener).await;
        // The only command that may arrive is the clean one.
        match s.next().await.unwrap().unwrap() {
            Command::Api { command } => assert_eq!(command, "status"),
            other => panic!("{other:?}"),
        }
        s.send(Frame::api_response("ok\n")).await.unwrap();
        s
    });
    let (client, _events) = Client::connect(config(&addr)).await.unwrap();
    assert!(matches!(
        client.api("status\n\napi shutdown").await,
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        client
            .execute("uuid", "playback", Some("x\r\nsendmsg"))
            .await,
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        client.bgapi("a\0b").await,
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(client.api("status").await.unwrap(), "ok\n");
    drop(server.await.unwrap());
}

#[tokio::test]
async fn replies_match_strictly_in_order_under_concurrency() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let mut s = tiny_server(&listener).await;
        for _ in 0..50 {
            match s.next().await.unwrap().unwrap() {
                Command::Api { command } => s
                    .send(Frame::api_response(format!("{command}\n")))
                    .await
                    .unwrap(),
                other => panic!("{other:?}"),
            }
        }
        s
    });
    let (client, _events) = Client::connect(config(&addr)).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let out = c.api(&format!("echo {i}")).await.unwrap();
            assert_eq!(out, format!("echo {i}\n"));
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    drop(server.await.unwrap());
    let _ = ContentType::ApiResponse;
}

#[tokio::test]
async fn userauth_and_filters_survive_reconnect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut cfg = config(&addr);
    cfg.user = Some("1000@default".into());
    cfg.password = "secret".into();
    cfg.format = EventFormat::Json;
    cfg.filters = vec![("Unique-ID".into(), "abc".into())];
    cfg.reconnect = Some(esl::Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(10),
        factor: 1,
    });
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        for round in 0..2 {
            let (s, _) = listener.accept().await.unwrap();
            let mut f = Framed::new(s, esl::ServerCodec::new());
            f.send(Frame::auth_request()).await.unwrap();
            // userauth, event json …, 3 internal filters, the configured filter.
            for _ in 0..6 {
                let cmd = f.next().await.unwrap().unwrap();
                let reply = match &cmd {
                    Command::UserAuth { user, password } => {
                        assert_eq!(
                            (user.as_str(), password.as_str()),
                            ("1000@default", "secret")
                        );
                        Frame::command_reply("+OK accepted")
                    }
                    Command::Event { format, .. } => {
                        assert_eq!(*format, EventFormat::Json);
                        Frame::command_reply("+OK event listener enabled json")
                    }
                    Command::Filter { header, value } => {
                        Frame::command_reply(&format!("+OK filter added. [{header}]=[{value}]"))
                    }
                    other => panic!("{other:?}"),
                };
                seen.push(cmd);
                f.send(reply).await.unwrap();
            }
            if round == 1 {
                return seen;
            }
            // Drop the first connection: the client reconnects.
        }
        unreachable!()
    });
    let (client, mut events) = Client::connect(cfg).await.unwrap();
    let seen = tokio::time::timeout(T, server).await.unwrap().unwrap();
    assert!(matches!(
        tokio::time::timeout(T, events.recv()).await.unwrap(),
        Some(Incoming::Disconnected { .. })
    ));
    let first: Vec<&Command> = seen.iter().take(6).collect();
    let second: Vec<&Command> = seen.iter().skip(6).collect();
    assert_eq!(first, second, "the same handshake after the reconnect");
    assert!(seen.contains(&Command::Filter {
        header: "Unique-ID".into(),
        value: "abc".into()
    }));
    drop(client);
}
