//! Shared pieces of the side-by-side decode benchmark: the recorded event streams,
//! a tiny ESL server that plays them over loopback TCP, and one runner per crate and
//! transport. Everything runs on one thread (a current-thread Tokio runtime).

use std::time::Duration;

use bytes::BytesMut;
use esl::{ClientCodec, ContentType, EventFormat};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Decoder;

/// The recorded stream of one format: every event frame of the
/// `inbound_events_<format>` transcript (82 events of one call), back to back.
pub struct Stream {
    /// `plain` or `json`.
    pub name: &'static str,
    /// One pass: the event frames exactly as FreeSWITCH sent them.
    pub pass: Vec<u8>,
    /// Events in one pass.
    pub events_per_pass: usize,
}

impl Stream {
    pub fn load(format: EventFormat) -> Stream {
        let (name, file, ct) = match format {
            EventFormat::Plain => (
                "plain",
                "inbound_events_plain.recv",
                ContentType::EventPlain,
            ),
            EventFormat::Json => ("json", "inbound_events_json.recv", ContentType::EventJson),
            EventFormat::Xml => ("xml", "inbound_events_xml.recv", ContentType::EventXml),
        };
        let path = format!(
            "{}/../../../shared/fixtures/freeswitch/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut codec = ClientCodec::new();
        let mut buf = BytesMut::from(&data[..]);
        let mut pass = Vec::new();
        let mut n = 0;
        while let Some(f) = codec.decode(&mut buf).unwrap() {
            if f.kind() == ct {
                pass.extend_from_slice(&f.to_bytes());
                n += 1;
            }
        }
        Stream {
            name,
            pass,
            events_per_pass: n,
        }
    }

    /// `passes` copies of the pass.
    pub fn repeated(&self, passes: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.pass.len() * passes);
        for _ in 0..passes {
            v.extend_from_slice(&self.pass);
        }
        v
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

// ------------------------------------------------------------------ esl (this repo)

/// Decodes `data` fed in 64 KiB reads: frames, then each event parsed (headers
/// indexed; values decoded when read). Reads `Event-Name` and `Unique-ID` of each.
pub fn esl_memory(data: &[u8]) -> usize {
    let mut codec = ClientCodec::new();
    let mut buf = BytesMut::with_capacity(128 * 1024);
    let mut n = 0;
    let mut check = 0usize;
    for chunk in data.chunks(64 * 1024) {
        buf.extend_from_slice(chunk);
        while let Some(f) = codec.decode(&mut buf).unwrap() {
            let ev = f.to_event().unwrap().unwrap();
            check += ev.event_name().map_or(0, |s| s.len()) + ev.unique_id().map_or(0, |s| s.len());
            n += 1;
        }
    }
    std::hint::black_box(check);
    n
}

/// As [`esl_memory`], but decodes every header value and the body too (what a
/// parser that builds a map of owned strings does up front).
pub fn esl_memory_all_values(data: &[u8]) -> usize {
    let mut codec = ClientCodec::new();
    let mut buf = BytesMut::with_capacity(128 * 1024);
    let mut n = 0;
    let mut check = 0usize;
    for chunk in data.chunks(64 * 1024) {
        buf.extend_from_slice(chunk);
        while let Some(f) = codec.decode(&mut buf).unwrap() {
            let ev = f.to_event().unwrap().unwrap();
            for (k, v) in ev.headers() {
                check += k.len() + v.len();
            }
            check += ev.body().map_or(0, |b| b.len());
            n += 1;
        }
    }
    std::hint::black_box(check);
    n
}

/// A tiny inbound ESL server on loopback: `auth/request`, accepts `auth` (and, for
/// our client, the `event` subscription), then writes `data` and waits for the
/// client to hang up.
async fn serve(listener: TcpListener, data: std::sync::Arc<Vec<u8>>, replies: usize) {
    let (mut s, _) = listener.accept().await.unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(b"Content-Type: auth/request\n\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let mut answered = 0;
    while answered < replies {
        let n = s.read(&mut tmp).await.unwrap();
        assert!(n > 0, "client closed during the handshake");
        buf.extend_from_slice(&tmp[..n]);
        while let Some(end) = find(&buf, b"\n\n") {
            let cmd = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 2);
            let reply = if cmd.starts_with("auth") {
                "Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
            } else {
                "Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n"
            };
            s.write_all(reply.as_bytes()).await.unwrap();
            answered += 1;
        }
    }
    s.write_all(&data).await.unwrap();
    // Wait for the client to close.
    while let Ok(n) = s.read(&mut tmp).await {
        if n == 0 {
            break;
        }
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// Where the scripted server runs: as a task on the client's own thread (both ends
/// on one core), or on a thread of its own (the client's core does only the client).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    SameThread,
    OwnThread,
}

enum ServerHandle {
    Task(tokio::task::JoinHandle<()>),
    Thread(std::thread::JoinHandle<()>),
}

impl ServerHandle {
    async fn join(self) {
        match self {
            ServerHandle::Task(t) => t.await.unwrap(),
            ServerHandle::Thread(t) => tokio::task::spawn_blocking(move || t.join().unwrap())
                .await
                .unwrap(),
        }
    }
}

async fn start_server(
    data: std::sync::Arc<Vec<u8>>,
    replies: usize,
    mode: Server,
) -> (std::net::SocketAddr, ServerHandle) {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let handle = match mode {
        Server::SameThread => {
            let listener = TcpListener::from_std(std_listener).unwrap();
            ServerHandle::Task(tokio::spawn(serve(listener, data, replies)))
        }
        Server::OwnThread => ServerHandle::Thread(std::thread::spawn(move || {
            runtime().block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                serve(listener, data, replies).await
            })
        })),
    };
    (addr, handle)
}

/// Our full inbound client over loopback TCP: connect, auth, subscribe, then receive
/// `expected` events from its event channel.
pub async fn esl_tcp(data: std::sync::Arc<Vec<u8>>, expected: usize) -> usize {
    esl_tcp_with(data, expected, Server::SameThread).await
}

/// [`esl_tcp`] with the server placed as given.
pub async fn esl_tcp_with(data: std::sync::Arc<Vec<u8>>, expected: usize, mode: Server) -> usize {
    let (addr, server) = start_server(data, 2, mode).await;
    let addr = addr.to_string();
    let mut cfg = esl::ClientConfig::new(addr, "ClueCon");
    cfg.events = vec!["ALL".into()];
    cfg.reconnect = None;
    cfg.event_capacity = 1000;
    let (client, mut events) = esl::Client::connect(cfg).await.unwrap();
    let mut n = 0;
    let mut check = 0usize;
    while n < expected {
        match events.recv().await {
            Some(esl::Incoming::Event(ev)) => {
                check +=
                    ev.event_name().map_or(0, |s| s.len()) + ev.unique_id().map_or(0, |s| s.len());
                n += 1;
            }
            Some(_) => {}
            None => break,
        }
    }
    std::hint::black_box(check);
    assert_eq!(client.stats().events_dropped, 0);
    drop(client);
    drop(events);
    server.join().await;
    n
}

// ----------------------------------------------------------- freeswitch-esl-tokio

use freeswitch_esl_tokio::{EslClient, EslConnectOptions, EventOverflow};

fn fsesl_options() -> EslConnectOptions {
    // Lossless like ours: wait for room instead of dropping.
    EslConnectOptions::new()
        .with_event_queue_size(1000)
        .with_event_overflow(EventOverflow::BlockFor(Duration::from_secs(60)))
}

/// freeswitch-esl-tokio from memory: its parser is private, so the bytes go in as
/// the `residual_bytes` of `adopt_stream` (fed straight to its parser) over an idle
/// loopback socket; its reader task decodes them into its event channel.
pub async fn fsesl_memory(idle: TcpStream, data: &[u8], expected: usize) -> usize {
    let (client, mut events) =
        EslClient::adopt_stream_with_options(idle, data, fsesl_options()).unwrap();
    let mut n = 0;
    let mut check = 0usize;
    while n < expected {
        match events.recv().await {
            Some(Ok(ev)) => {
                check += ev.header_str("Event-Name").map_or(0, |s| s.len())
                    + ev.header_str("Unique-ID").map_or(0, |s| s.len());
                n += 1;
            }
            Some(Err(e)) => panic!("freeswitch-esl-tokio: {e}"),
            None => break,
        }
    }
    std::hint::black_box(check);
    assert_eq!(client.dropped_event_count(), 0);
    drop(client);
    n
}

/// A connected loopback socket pair (one end for `adopt_stream`, the other kept idle).
pub async fn socket_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (a, b) = tokio::join!(TcpStream::connect(addr), listener.accept());
    (a.unwrap(), b.unwrap().0)
}

/// freeswitch-esl-tokio's client over loopback TCP: connect, auth, then receive
/// `expected` events.
pub async fn fsesl_tcp(data: std::sync::Arc<Vec<u8>>, expected: usize) -> usize {
    fsesl_tcp_with(data, expected, Server::SameThread).await
}

/// [`fsesl_tcp`] with the server placed as given.
pub async fn fsesl_tcp_with(data: std::sync::Arc<Vec<u8>>, expected: usize, mode: Server) -> usize {
    let (addr, server) = start_server(data, 1, mode).await;
    let port = addr.port();
    let (client, mut events) =
        EslClient::connect_with_options("127.0.0.1", port, "ClueCon", fsesl_options())
            .await
            .unwrap();
    let mut n = 0;
    let mut check = 0usize;
    while n < expected {
        match events.recv().await {
            Some(Ok(ev)) => {
                check += ev.header_str("Event-Name").map_or(0, |s| s.len())
                    + ev.header_str("Unique-ID").map_or(0, |s| s.len());
                n += 1;
            }
            Some(Err(e)) => panic!("freeswitch-esl-tokio: {e}"),
            None => break,
        }
    }
    std::hint::black_box(check);
    assert_eq!(client.dropped_event_count(), 0);
    drop(client);
    drop(events);
    server.join().await;
    n
}

/// Our codec alone over loopback TCP (`FramedRead` + event parsing, no client task
/// or channel), for reference.
pub async fn esl_tcp_codec(data: std::sync::Arc<Vec<u8>>, expected: usize) -> usize {
    use futures_util::StreamExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(&data).await.unwrap();
        let mut tmp = [0u8; 64];
        while let Ok(n) = s.read(&mut tmp).await {
            if n == 0 {
                break;
            }
        }
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut framed =
        tokio_util::codec::FramedRead::with_capacity(tcp, ClientCodec::new(), 64 * 1024);
    let mut n = 0;
    let mut check = 0usize;
    while n < expected {
        let f = framed.next().await.unwrap().unwrap();
        let ev = f.to_event().unwrap().unwrap();
        check += ev.event_name().map_or(0, |s| s.len()) + ev.unique_id().map_or(0, |s| s.len());
        n += 1;
    }
    std::hint::black_box(check);
    drop(framed);
    server.await.unwrap();
    n
}
