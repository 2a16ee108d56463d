#![allow(dead_code)]

use std::path::PathBuf;

use bytes::BytesMut;
use esl::{ClientCodec, Frame};
use tokio_util::codec::Decoder;

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/freeswitch")
}

pub fn read(name: &str) -> Vec<u8> {
    let p = fixtures_dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// Every `<scenario>` that has a `.recv` file.
pub fn scenarios() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures directory")
        .filter_map(|e| {
            let n = e.ok()?.file_name().into_string().ok()?;
            n.strip_suffix(".recv").map(str::to_owned)
        })
        .collect();
    v.sort();
    v
}

pub fn decode_all(data: &[u8]) -> (Vec<Frame>, usize) {
    let mut codec = ClientCodec::new();
    let mut buf = BytesMut::from(data);
    let mut frames = Vec::new();
    while let Some(f) = codec.decode(&mut buf).expect("decode") {
        frames.push(f);
    }
    (frames, buf.len())
}

/// The key summary.json uses for an event: the name, and for CUSTOM events
/// `CUSTOM/<subclass>` plus `:<Action>` when there is one.
pub fn summary_key(ev: &esl::Event) -> String {
    let name = ev.event_name().unwrap_or_default().into_owned();
    if name == "CUSTOM" {
        let mut k = format!("CUSTOM/{}", ev.subclass().unwrap_or_default());
        if let Some(a) = ev.header("Action") {
            k.push(':');
            k.push_str(&a);
        }
        k
    } else {
        name
    }
}

pub mod replay {
    //! A scripted peer that replays a recorded `.recv` against live commands: for each
    //! command the client sends that matches the next recorded one, it sends the
    //! recorded frames up to that command's reply and everything after it until the
    //! next reply. UUIDs the client chose (`Job-UUID`, `Event-UUID`) replace the
    //! recorded ones (same length, so every Content-Length holds).

    use bytes::{Bytes, BytesMut};
    use esl::{ClientCodec, Command, ContentType, Frame, ServerCodec};
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    use tokio_util::codec::{Decoder, FramedRead};

    pub struct Replay {
        frames: Vec<Frame>,
        pos: usize,
        cmds: Vec<Command>,
        next_cmd: usize,
        subs: Vec<(Vec<u8>, Vec<u8>)>,
    }

    fn is_reply(f: &Frame) -> bool {
        matches!(
            f.kind(),
            ContentType::CommandReply | ContentType::ApiResponse
        )
    }

    impl Replay {
        pub fn new(scenario: &str) -> Replay {
            let recv = super::read(&format!("{scenario}.recv"));
            let sent = super::read(&format!("{scenario}.sent"));
            let mut codec = ClientCodec::new();
            let mut buf = BytesMut::from(&recv[..]);
            let mut frames = Vec::new();
            while let Some(f) = codec.decode(&mut buf).unwrap() {
                frames.push(f);
            }
            let mut sc = ServerCodec::new();
            let mut buf = BytesMut::from(&sent[..]);
            let mut cmds = Vec::new();
            while let Some(c) = sc.decode(&mut buf).unwrap() {
                cmds.push(c);
            }
            Replay {
                frames,
                pos: 0,
                cmds,
                next_cmd: 0,
                subs: Vec::new(),
            }
        }

        fn bytes(&self, f: &Frame) -> Bytes {
            let mut b = f.to_bytes().to_vec();
            for (from, to) in &self.subs {
                let hits: Vec<usize> = memchr::memmem::find_iter(&b, from).collect();
                for h in hits {
                    b[h..h + to.len()].copy_from_slice(to);
                }
            }
            Bytes::from(b)
        }

        fn matches(got: &Command, want: &Command) -> bool {
            match (got, want) {
                (Command::BgApi { command: a, .. }, Command::BgApi { command: b, .. }) => a == b,
                (
                    Command::SendMsg {
                        uuid: ua,
                        headers: ha,
                        body: ba,
                    },
                    Command::SendMsg {
                        uuid: ub,
                        headers: hb,
                        body: bb,
                    },
                ) => {
                    let strip = |h: &Vec<(String, String)>| {
                        h.iter()
                            .filter(|(n, _)| !n.eq_ignore_ascii_case("Event-UUID"))
                            .cloned()
                            .collect::<Vec<_>>()
                    };
                    ua == ub && strip(ha) == strip(hb) && ba == bb
                }
                _ => got == want,
            }
        }

        fn synthesize(cmd: &Command) -> Option<Frame> {
            match cmd {
                Command::Event { format, .. } => Some(Frame::command_reply(&format!(
                    "+OK event listener enabled {format}"
                ))),
                Command::Filter { header, value } => Some(Frame::command_reply(&format!(
                    "+OK filter added. [{header}]=[{value}]"
                ))),
                _ => None,
            }
        }

        /// Learns the UUID substitutions the command implies, from the recorded frames
        /// starting at `self.pos`.
        fn learn(&mut self, cmd: &Command) {
            let reply_at = (self.pos..self.frames.len()).find(|&i| is_reply(&self.frames[i]));
            if let (
                Command::BgApi {
                    job_uuid: Some(ours),
                    ..
                },
                Some(r),
            ) = (cmd, reply_at)
            {
                if let Some(theirs) = self.frames[r].job_uuid() {
                    self.subs
                        .push((theirs.as_bytes().to_vec(), ours.as_bytes().to_vec()));
                }
            }
            if let (Command::SendMsg { .. }, Some(r)) = (cmd, reply_at) {
                let (Some(ours), Some(app)) =
                    (cmd.header("Event-UUID"), cmd.header("execute-app-name"))
                else {
                    return;
                };
                for f in &self.frames[r + 1..] {
                    let Some(Ok(ev)) = f.to_event() else { continue };
                    if ev.event_name().as_deref() == Some("CHANNEL_EXECUTE")
                        && ev.application().as_deref() == Some(app)
                    {
                        if let Some(theirs) = ev.application_uuid() {
                            self.subs
                                .push((theirs.as_bytes().to_vec(), ours.as_bytes().to_vec()));
                        }
                        break;
                    }
                }
            }
        }

        /// Plays the script over `stream`. Returns the commands received.
        pub async fn run(mut self, stream: TcpStream) -> Vec<Command> {
            let (rd, mut wr) = stream.into_split();
            let mut reader = FramedRead::new(rd, ServerCodec::new());
            let mut got = Vec::new();
            // Whatever comes before the first reply is sent unprompted (auth/request).
            while self.pos < self.frames.len() && !is_reply(&self.frames[self.pos]) {
                let b = self.bytes(&self.frames[self.pos]);
                wr.write_all(&b).await.unwrap();
                self.pos += 1;
            }
            while let Some(cmd) = reader.next().await {
                let cmd = cmd.expect("client sent a malformed command");
                got.push(cmd.clone());
                let expected = self.cmds.get(self.next_cmd);
                if expected.is_some_and(|e| Self::matches(&cmd, e)) {
                    self.next_cmd += 1;
                    self.learn(&cmd);
                    let last = self.next_cmd == self.cmds.len();
                    // The reply, then everything up to the next reply (or the end).
                    let mut seen_reply = false;
                    while self.pos < self.frames.len() {
                        let f = &self.frames[self.pos];
                        if is_reply(f) {
                            if seen_reply && !last {
                                break;
                            }
                            seen_reply = true;
                        }
                        let b = self.bytes(f);
                        wr.write_all(&b).await.unwrap();
                        self.pos += 1;
                    }
                    if last {
                        break;
                    }
                } else if let Some(f) = Self::synthesize(&cmd) {
                    wr.write_all(&f.to_bytes()).await.unwrap();
                } else {
                    panic!("unexpected command {cmd:?}; the recording expects {expected:?}");
                }
            }
            let _ = wr.shutdown().await;
            got
        }
    }
}
