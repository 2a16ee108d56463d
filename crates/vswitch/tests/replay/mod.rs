//! Replays the commands of a recorded FreeSWITCH fixture against the virtual
//! switch over real TCP, and compares what comes back with the recording.
//!
//! Each command is sent once the switch has sent at least what FreeSWITCH
//! had sent before it in the recording (same replies, same events per
//! Channel), so a command that names a Channel finds it. UUIDs the switch
//! picks itself (loopback B-legs) are mapped from the recording's by Channel
//! name and order of appearance.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use esl::{ClientCodec, Frame};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::codec::FramedRead;

/// The recordings: `VSWITCH_FIXTURES`, or `../shared/fixtures/freeswitch`
/// beside the repository (where DESIGN.md puts them).
pub fn fixture_dir() -> PathBuf {
    std::env::var_os("VSWITCH_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/freeswitch")
        })
}

/// A switch configured as the recording machine was.
pub fn fixture_config() -> vswitch::Config {
    vswitch::Config {
        hostname: "vm".into(),
        ipv4: "192.0.2.2".into(),
        ipv6: "fd00::2".into(),
        core_uuid: Some("437ebbec-8006-4180-b829-fc3c274bb7fa".into()),
        speed: 20.0,
        ..vswitch::Config::default()
    }
}

/// Events FreeSWITCH fires that the virtual switch does not emulate, and why.
pub const NOT_EMULATED: &[&str] = &[
    // Timer-driven, present only when a 20 s tick fell inside the recording.
    "HEARTBEAT",
    "RE_SCHEDULE",
    // Presence is a SIP-profile feature; the switch has no presence.
    "PRESENCE_IN",
    // Codec negotiation and the loopback endpoint's UUID swap are media
    // internals with no meaning for a controller.
    "CODEC",
    "CHANNEL_UUID",
    // mod_conference's enter/alone sounds (not installed on the recording
    // machine either: they fail), and the PRIVATE_COMMAND of uuid_broadcast.
    "CUSTOM:play-file",
    "CUSTOM:play-file-done",
    "PRIVATE_COMMAND",
];

/// Events whose presence in a recording was a race inside FreeSWITCH.
fn racy(recording: &str, item: &Item) -> bool {
    // The `socket` Application parks the Channel while the client sends
    // `myevents`: the plain recording lost that race (no CHANNEL_PARK), the
    // JSON one won it. The switch parks right after `connect`, as the plain
    // recording shows.
    recording == "outbound_socket_json"
        && matches!(item, Item::Event { name, .. } if name == "CHANNEL_PARK")
}

/// One frame reduced to what the comparison looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Reply(String),
    Event {
        name: String,
        channel: Option<String>,
        uuid: Option<String>,
        headers: Vec<String>,
    },
    /// A log line without its time stamp, with UUIDs and session numbers masked.
    Log(String),
}

fn reply_key(frame: &Frame) -> String {
    let kind = frame.content_type().unwrap_or("").to_owned();
    let text = match kind.as_str() {
        "command/reply" => frame.reply_text().unwrap_or("").to_owned(),
        "api/response" | "text/disconnect-notice" => frame.body_str().unwrap_or("").to_owned(),
        _ => String::new(),
    };
    // The outcome class (+OK / -ERR / -USAGE) and, for errors, the whole text
    // with UUIDs removed: errors are FreeSWITCH's fixed texts.
    let first = text.split_whitespace().next().unwrap_or("").to_owned();
    let class = if first.starts_with("-ERR") || first.starts_with("-USAGE") {
        normalise(text.trim_end())
    } else if text.starts_with("+OK") {
        let t = normalise(text.lines().next().unwrap_or(""));
        if t.starts_with("+OK Conference") || t.starts_with("+OK kicked") {
            "+OK".to_owned()
        } else {
            t
        }
    } else if text.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_default();
        format!("json row_count={}", v["row_count"])
    } else {
        first.chars().take(3).collect()
    };
    format!("{kind} {class}")
}

/// Replaces UUIDs with `<uuid>`.
pub fn normalise(s: &str) -> String {
    let re =
        regex::Regex::new("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    re.replace_all(s, "<uuid>").into_owned()
}

pub fn item_of(frame: &Frame) -> Item {
    match frame.content_type() {
        Some(ct) if ct.starts_with("text/event-") => {
            let ev = frame
                .to_event()
                .expect("event frame")
                .expect("event parses");
            let mut name = ev.event_name().map(|n| n.into_owned()).unwrap_or_default();
            if name == "CUSTOM" {
                name = format!(
                    "CUSTOM:{}",
                    ev.header("Action")
                        .map(|a| a.into_owned())
                        .unwrap_or_default()
                );
            }
            let headers = ev.headers().map(|(k, _)| k.into_owned()).collect();
            Item::Event {
                name,
                channel: ev.channel_name().map(|c| c.into_owned()),
                uuid: ev.unique_id().map(|u| u.into_owned()),
                headers,
            }
        }
        Some("log/data") => {
            let text = frame.body_str().unwrap_or_default();
            // Drop `<date> <time> <cpu>% ` before `[LEVEL]`.
            let text = match text.find(" [") {
                Some(i) if text.starts_with(|c: char| c.is_ascii_digit()) => &text[i + 1..],
                _ => text,
            };
            let session = regex::Regex::new(r"Session \d+ ").unwrap();
            Item::Log(
                session
                    .replace(&normalise(text), "Session <n> ")
                    .into_owned(),
            )
        }
        _ => Item::Reply(reply_key(frame)),
    }
}

/// Decodes a whole recording.
pub fn recorded_frames(name: &str) -> Vec<Frame> {
    let data = std::fs::read(fixture_dir().join(format!("{name}.recv"))).expect("fixture .recv");
    let mut codec = ClientCodec::new();
    let mut buf = bytes::BytesMut::from(&data[..]);
    let mut out = Vec::new();
    while let Some(f) =
        tokio_util::codec::Decoder::decode(&mut codec, &mut buf).expect("fixture decodes")
    {
        out.push(f);
    }
    out
}

/// The commands of a recording, each with the number of frames FreeSWITCH
/// had sent before it (from the timeline).
pub fn recorded_commands(name: &str) -> Vec<(Bytes, usize)> {
    let dir = fixture_dir();
    let sent = std::fs::read(dir.join(format!("{name}.sent"))).expect("fixture .sent");
    let recv = std::fs::read(dir.join(format!("{name}.recv"))).expect("fixture .recv");
    let timeline =
        std::fs::read_to_string(dir.join(format!("{name}.timeline.tsv"))).expect("timeline");
    // Split .sent into commands: a header block, plus a body if it has a Content-Length.
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < sent.len() {
        let Some(end) = sent[i..].windows(2).position(|w| w == b"\n\n") else {
            break;
        };
        let head = &sent[i..i + end];
        let mut next = i + end + 2;
        if let Some(cl) = String::from_utf8_lossy(head).lines().find_map(|l| {
            l.strip_prefix("Content-Length: ")
                .map(|n| n.trim().parse::<usize>().unwrap_or(0))
        }) {
            next += cl;
        }
        cmds.push((i, Bytes::copy_from_slice(&sent[i..next])));
        i = next;
    }
    // Bytes received before each send, in the timeline's order. (Replies are
    // not taken from here: a reply is sometimes logged just before the
    // command it answers; the caller counts one reply per command instead.)
    let rows: Vec<(String, usize, usize)> = timeline
        .lines()
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Some((
                c.get(1)?.to_string(),
                c.get(2)?.parse().ok()?,
                c.get(3)?.parse().ok()?,
            ))
        })
        .collect();
    let frame_ends = frame_ends(&recv);
    cmds.into_iter()
        .map(|(offset, cmd)| {
            let mut received = 0;
            for (dir, off, len) in &rows {
                if dir == "sent" && off + len > offset {
                    break;
                }
                if dir == "recv" {
                    received = received.max(off + len);
                }
            }
            let frames = frame_ends.iter().filter(|e| **e <= received).count();
            (cmd, frames)
        })
        .collect()
}

fn frame_ends(data: &[u8]) -> Vec<usize> {
    let mut codec = ClientCodec::new();
    let mut buf = bytes::BytesMut::from(data);
    let mut ends = Vec::new();
    while let Some(_f) = tokio_util::codec::Decoder::decode(&mut codec, &mut buf).expect("decodes")
    {
        ends.push(data.len() - buf.len());
    }
    ends
}

/// Per-Channel role names: `loopback/7300-b#1` is the second 7300 B-leg.
#[derive(Default)]
pub struct Roles {
    by_uuid: HashMap<String, String>,
    counts: HashMap<String, usize>,
}

impl Roles {
    pub fn role(&mut self, uuid: &str, channel: &str) -> String {
        if let Some(r) = self.by_uuid.get(uuid) {
            return r.clone();
        }
        let n = self.counts.entry(channel.to_owned()).or_insert(0);
        let role = format!("{channel}#{n}");
        *n += 1;
        self.by_uuid.insert(uuid.to_owned(), role.clone());
        role
    }

    pub fn uuid_of(&self, role: &str) -> Option<&str> {
        self.by_uuid
            .iter()
            .find(|(_, r)| *r == role)
            .map(|(u, _)| u.as_str())
    }

    pub fn role_of(&self, uuid: &str) -> Option<&str> {
        self.by_uuid.get(uuid).map(String::as_str)
    }
}

/// What the comparison looks at, per stream.
#[derive(Debug, Default)]
pub struct Digest {
    pub replies: Vec<String>,
    /// Event names per Channel role (`-` for non-channel events).
    pub events: BTreeMap<String, Vec<String>>,
    /// For each event name and Channel, the header names of its first occurrence.
    pub headers: BTreeMap<String, Vec<String>>,
    /// Log lines, sorted (lines about different Channels interleave freely).
    pub logs: Vec<String>,
}

pub fn digest(items: &[Item], roles: &mut Roles) -> Digest {
    let mut d = Digest::default();
    for item in items {
        match item {
            Item::Reply(r) => d.replies.push(r.clone()),
            Item::Log(line) => {
                let at = d.logs.partition_point(|l| l < line);
                d.logs.insert(at, line.clone());
            }
            Item::Event {
                name,
                channel,
                uuid,
                headers,
            } => {
                if NOT_EMULATED.contains(&name.as_str()) {
                    continue;
                }
                let role = match (uuid, channel) {
                    (Some(u), Some(c)) => roles.role(u, c),
                    _ => "-".to_owned(),
                };
                d.headers
                    .entry(format!("{name} of {role}"))
                    .or_insert_with(|| headers.clone());
                d.events.entry(role).or_default().push(name.clone());
            }
        }
    }
    d
}

fn counts(d: &Digest) -> (usize, BTreeMap<String, usize>) {
    (
        d.replies.len(),
        d.events.iter().map(|(k, v)| (k.clone(), v.len())).collect(),
    )
}

/// A live replay connection.
pub struct Replay {
    pub reader: FramedRead<tokio::net::tcp::OwnedReadHalf, ClientCodec>,
    pub writer: tokio::net::tcp::OwnedWriteHalf,
    pub items: Vec<Item>,
    pub roles: Roles,
}

impl Replay {
    pub async fn connect(addr: std::net::SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Self::over(stream)
    }

    pub fn over(stream: TcpStream) -> Self {
        let (r, w) = stream.into_split();
        Self {
            reader: FramedRead::new(r, ClientCodec::new()),
            writer: w,
            items: Vec::new(),
            roles: Roles::default(),
        }
    }

    /// Reads frames until `done` says the digest so far is enough; panics
    /// with what was received if the switch falls silent.
    pub async fn read_until(&mut self, what: &str, mut done: impl FnMut(&Digest) -> bool) {
        // A generous bound so a missing event fails the test instead of
        // hanging it; not a speed expectation.
        let give_up = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let d = digest(&self.items, &mut self.roles);
            if done(&d) {
                return;
            }
            match tokio::time::timeout_at(give_up, self.reader.next()).await {
                Ok(Some(Ok(frame))) => self.items.push(item_of(&frame)),
                Ok(Some(Err(e))) => panic!("decoding the switch's output failed: {e}"),
                Ok(None) => {
                    let d = digest(&self.items, &mut self.roles);
                    assert!(
                        done(&d),
                        "connection closed while waiting for {what}; got {:?} in {d:#?}",
                        counts(&d)
                    );
                    return;
                }
                Err(_) => {
                    let d = digest(&self.items, &mut self.roles);
                    panic!(
                        "the switch fell silent while waiting for {what}; got {:?} in {d:#?}",
                        counts(&d)
                    )
                }
            }
        }
    }

    pub async fn send(&mut self, cmd: &[u8]) {
        self.writer.write_all(cmd).await.expect("send");
    }
}

/// Maps UUIDs the recording's client sent to the ones this run uses, and
/// the recording machine's paths to local ones.
pub fn rewrite(cmd: &Bytes, recorded: &Roles, live: &Roles) -> Bytes {
    // Recordings went to the recording machine's /rec/; keep ours in a temp dir.
    let rec_dir = std::env::temp_dir().join("vswitch-replay-rec/");
    let text = String::from_utf8_lossy(cmd).replace(" /rec/", &format!(" {}", rec_dir.display()));
    let re =
        regex::Regex::new("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    let out = re.replace_all(&text, |c: &regex::Captures| {
        let u = &c[0];
        match recorded.role_of(u).and_then(|role| live.uuid_of(role)) {
            Some(mine) => mine.to_owned(),
            None => u.to_owned(),
        }
    });
    Bytes::from(out.into_owned())
}

/// Replays a recording on `replay`, then compares: the same replies in the
/// same order, the same events per Channel in the same order, and every
/// header the recording's events carry (except channel variables) present
/// and in the same order.
pub async fn replay_and_compare(name: &str, replay: &mut Replay) {
    replay_with_far_ends(name, replay, &[]).await;
}

/// [`replay_and_compare`], with dialled SIP destinations replaced by far-end
/// scripts that behave as the recording's SIP peer did (`from`, `to` pairs).
pub async fn replay_with_far_ends(name: &str, replay: &mut Replay, far_ends: &[(&str, &str)]) {
    let all_items: Vec<Item> = recorded_frames(name).iter().map(item_of).collect();
    let without_races = |items: &[Item]| -> Vec<Item> {
        items.iter().filter(|i| !racy(name, i)).cloned().collect()
    };
    let recorded_items = without_races(&all_items);
    let mut recorded_roles = Roles::default();
    let commands = recorded_commands(name);
    // Inbound connections open with auth/request; outbound ones wait for `connect`.
    let greeting = usize::from(
        matches!(recorded_items.first(), Some(Item::Reply(r)) if r.starts_with("auth/request")),
    );
    for (k, (cmd, before)) in commands.into_iter().enumerate() {
        let expected = digest(&without_races(&all_items[..before]), &mut recorded_roles);
        // The greeting plus one reply per command sent so far, and the
        // Channels' events (switch-wide events like API are logged out of
        // order with the commands that cause them, so they do not pace).
        let (_, mut want_events) = counts(&expected);
        want_events.remove("-");
        let want_replies = k + greeting;
        let what = String::from_utf8_lossy(&cmd)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned();
        replay
            .read_until(&format!("what preceded `{what}`: {want_replies} replies, events per Channel {want_events:?}"), |d| {
                let (replies, events) = counts(d);
                replies >= want_replies && want_events.iter().all(|(role, n)| events.get(role).copied().unwrap_or(0) >= *n)
            })
            .await;
        let mut cmd = rewrite(&cmd, &recorded_roles, &replay.roles);
        for (from, to) in far_ends {
            cmd = Bytes::from(String::from_utf8_lossy(&cmd).replace(from, to));
        }
        replay.send(&cmd).await;
    }
    let expected = digest(&recorded_items, &mut recorded_roles);
    let (want_replies, want_events) = counts(&expected);
    replay
        .read_until(&format!("the rest of the recording: {want_replies} replies, events per Channel {want_events:?}"), |d| {
            let (replies, events) = counts(d);
            replies >= want_replies && want_events.iter().all(|(role, n)| events.get(role).copied().unwrap_or(0) >= *n)
        })
        .await;
    let got = digest(&replay.items, &mut replay.roles);
    assert_eq!(got.replies, expected.replies, "{name}: replies differ");
    assert_eq!(got.logs, expected.logs, "{name}: log lines differ");
    for (role, names) in &expected.events {
        let mut mine = got.events.get(role).cloned().unwrap_or_default();
        let mut names = names.clone();
        if role == "-" {
            // Switch-wide events (API, BACKGROUND_JOB, conference-level) come
            // from concurrent jobs: compared as a set of counts, not an order.
            mine.sort();
            names.sort();
        }
        assert_eq!(mine, names, "{name}: events of {role} differ");
    }
    for (event, headers) in &expected.headers {
        let Some(mine) = got.headers.get(event) else {
            continue;
        };
        let missing: Vec<&String> = headers
            .iter()
            .filter(|h| !h.starts_with("variable_") && !mine.contains(h))
            .collect();
        assert!(
            missing.is_empty(),
            "{name}: {event} lacks headers {missing:?}"
        );
        // And in FreeSWITCH's order.
        let theirs: Vec<&String> = headers
            .iter()
            .filter(|h| !h.starts_with("variable_"))
            .collect();
        let ours: Vec<&String> = mine
            .iter()
            .filter(|h| !h.starts_with("variable_") && headers.contains(h))
            .collect();
        assert_eq!(
            ours, theirs,
            "{name}: {event} has its headers in another order"
        );
    }
}
