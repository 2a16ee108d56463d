//! A small ESL test client over real TCP, built on the `esl` crate's codec.

#![allow(dead_code)]

use std::time::Duration;

use esl::{ClientCodec, Event, Frame};
use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

pub struct Client {
    framed: Framed<TcpStream, ClientCodec>,
    /// Events received while waiting for something else.
    pub backlog: Vec<Event>,
    /// Log lines received while waiting for something else.
    pub logs: Vec<String>,
}

/// How long a scenario may wait for one thing before failing (not a speed
/// expectation: it only turns a hang into a failure).
const PATIENCE: Duration = Duration::from_secs(20);

impl Client {
    /// Connects, authenticates and subscribes to every event in plain form.
    pub async fn connect(addr: std::net::SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let mut c = Self {
            framed: Framed::new(stream, ClientCodec::new()),
            backlog: Vec::new(),
            logs: Vec::new(),
        };
        let greeting = c.next_frame().await;
        assert_eq!(greeting.content_type(), Some("auth/request"));
        assert_eq!(c.command("auth ClueCon").await, "+OK accepted");
        assert_eq!(
            c.command("event plain ALL").await,
            "+OK event listener enabled plain"
        );
        c
    }

    async fn next_frame(&mut self) -> Frame {
        tokio::time::timeout(PATIENCE, self.framed.next())
            .await
            .expect("the switch answered in time")
            .expect("connection open")
            .expect("frame decodes")
    }

    /// Sends raw command text (it must end with a blank line).
    pub async fn send_raw(&mut self, text: &str) {
        use tokio::io::AsyncWriteExt;
        self.framed
            .get_mut()
            .write_all(text.as_bytes())
            .await
            .expect("send");
    }

    /// Next reply frame, keeping events and log lines for later.
    async fn reply(&mut self) -> Frame {
        loop {
            let f = self.next_frame().await;
            if f.content_type() == Some("log/data") {
                self.logs.push(f.body_str().unwrap_or_default().to_owned());
                continue;
            }
            match f.to_event() {
                Some(ev) => self.backlog.push(ev.expect("event parses")),
                None => return f,
            }
        }
    }

    /// A command and its Reply-Text.
    pub async fn command(&mut self, line: &str) -> String {
        self.send_raw(&format!("{line}\n\n")).await;
        let f = self.reply().await;
        f.reply_text().unwrap_or_default().to_owned()
    }

    /// `api …` and its body.
    pub async fn api(&mut self, line: &str) -> String {
        self.send_raw(&format!("api {line}\n\n")).await;
        let f = self.reply().await;
        f.body_str().unwrap_or_default().to_owned()
    }

    /// `sendmsg <uuid>` executing an application; returns the Event-UUID used.
    pub async fn execute(&mut self, uuid: &str, app: &str, arg: &str) -> String {
        let event_uuid = uuid::Uuid::new_v4().to_string();
        let msg = format!(
            "sendmsg {uuid}\ncall-command: execute\nexecute-app-name: {app}\nexecute-app-arg: {arg}\nEvent-UUID: {event_uuid}\n\n"
        );
        self.send_raw(&msg).await;
        let f = self.reply().await;
        assert_eq!(f.reply_text(), Some("+OK"), "sendmsg {app} accepted");
        event_uuid
    }

    /// Waits for an event matching `pred` (looking at the backlog first).
    pub async fn event(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
        if let Some(i) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(i);
        }
        loop {
            let f = tokio::time::timeout(PATIENCE, self.framed.next())
                .await
                .unwrap_or_else(|_| panic!("waited in vain for {what}"))
                .expect("connection open")
                .expect("frame decodes");
            if let Some(ev) = f.to_event() {
                let ev = ev.expect("event parses");
                if pred(&ev) {
                    return ev;
                }
                self.backlog.push(ev);
            }
        }
    }

    /// Waits for a `log/data` line matching `pred`; returns its text.
    pub async fn log_line(&mut self, pred: impl Fn(&str) -> bool) -> String {
        if let Some(i) = self.logs.iter().position(|l| pred(l)) {
            return self.logs.remove(i);
        }
        loop {
            let f = tokio::time::timeout(PATIENCE, self.framed.next())
                .await
                .expect("waited in vain for a log line")
                .expect("connection open")
                .expect("frame decodes");
            if f.content_type() == Some("log/data") {
                let text = f.body_str().unwrap_or_default().to_owned();
                if pred(&text) {
                    return text;
                }
            } else if let Some(ev) = f.to_event() {
                self.backlog.push(ev.expect("event parses"));
            }
        }
    }

    /// Waits for an event by name on one Channel.
    pub async fn channel_event(&mut self, uuid: &str, name: &str) -> Event {
        let what = format!("{name} on {uuid}");
        self.event(&what, |e| {
            e.event_name().as_deref() == Some(name) && e.unique_id().as_deref() == Some(uuid)
        })
        .await
    }
}

/// A header's value, or "" (for short assertions).
pub fn h(ev: &Event, name: &str) -> String {
    ev.header(name).map(|v| v.into_owned()).unwrap_or_default()
}
