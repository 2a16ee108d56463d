//! Conferences (mod_conference): rooms of member Channels, the `conference`
//! Application (with member `+flags{mute}`), the `conference` API (`list`,
//! `json_list`, `kick`, `mute`, `unmute`, `hold`, `unhold`, `play`) and the
//! `conference::maintenance` CUSTOM events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::event::{origin, Origin, SwitchEvent};
use crate::session::{ChannelHandle, Command, Interrupts, Session, Wake};
use crate::switch::Switch;

pub const MAINTENANCE: &str = "conference::maintenance";

#[derive(Debug, Clone)]
struct Member {
    id: u32,
    uuid: String,
    handle: ChannelHandle,
    can_speak: bool,
    /// On hold: hears neither the room nor is heard.
    hold: bool,
    floor: bool,
}

#[derive(Debug)]
struct Room {
    uuid: String,
    profile: String,
    members: Vec<Member>,
    created_us: i64,
}

/// All conferences of the switch.
#[derive(Debug, Default)]
pub struct Conferences {
    rooms: Mutex<HashMap<String, Room>>,
    next_member: Mutex<u32>,
}

impl Conferences {
    fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<String, Room>> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes a Channel from every room (its session ended).
    pub fn leave_all(&self, uuid: &str) {
        for room in self.rooms().values_mut() {
            room.members.retain(|m| m.uuid != uuid);
        }
    }
}

/// A room as its events describe it.
struct RoomRef<'a> {
    name: &'a str,
    uuid: &'a str,
    profile: &'a str,
    size: usize,
}

fn conference_headers(ev: &mut SwitchEvent, room: &RoomRef, domain: &str) {
    ev.push("Conference-Name", room.name);
    ev.push("Conference-Domain", domain);
    ev.push("Conference-Size", room.size.to_string());
    ev.push("Conference-Ghosts", "0");
    ev.push("Conference-Profile-Name", room.profile);
    ev.push("Conference-Unique-ID", room.uuid);
}

fn member_headers(ev: &mut SwitchEvent, m: &Member) {
    ev.push("Video", "false");
    ev.push("Hear", "true");
    ev.push("See", "true");
    ev.push("Speak", if m.can_speak { "true" } else { "false" });
    ev.push("Talking", "false");
    ev.push("Mute-Detect", "false");
    ev.push("Hold", if m.hold { "true" } else { "false" });
    ev.push("Member-ID", m.id.to_string());
    ev.push("Member-Type", "member");
    ev.push("Member-Ghost", "false");
    ev.push("Energy-Level", "100");
    ev.push("Current-Energy", "0");
}

impl Switch {
    /// Fires a conference-level event (create, destroy).
    fn fire_room(&self, room: &RoomRef, action: &str, at: Origin) {
        if !self.bus.wants("CUSTOM", Some(MAINTENANCE)) {
            return;
        }
        let mut ev = self.events.event("CUSTOM", Some(MAINTENANCE), at);
        conference_headers(&mut ev, room, &self.config.domain);
        ev.push("Action", action);
        self.bus.publish(ev);
    }

    /// Fires a member event (add, del, kick, mute …) with the member's channel data.
    fn fire_member(&self, room: &RoomRef, member: &Member, action: &str, at: Origin) {
        if !self.bus.wants("CUSTOM", Some(MAINTENANCE)) {
            return;
        }
        let mut ev = self.events.event("CUSTOM", Some(MAINTENANCE), at);
        conference_headers(&mut ev, room, &self.config.domain);
        ev.push("Floor", if member.floor { "true" } else { "false" });
        member.handle.with(|d| d.write_headers(&mut ev, false));
        member_headers(&mut ev, member);
        ev.push("Action", action);
        self.bus.publish(ev);
    }

    /// The `conference` API.
    pub(crate) async fn conference_api(self: &Arc<Self>, args: &str) -> String {
        let mut parts = args.split_whitespace();
        let first = parts.next().unwrap_or("");
        if first.is_empty() || first == "list" {
            return self.conference_list(None);
        }
        let name = first;
        let sub = parts.next().unwrap_or("");
        if !self.conferences.rooms().contains_key(name) {
            return format!("Conference {name} not found\n");
        }
        match sub {
            "list" => self.conference_list(Some(name)),
            "json_list" => self.conference_json(name),
            "kick" | "hup" => {
                let target = parts.next().unwrap_or("");
                let members = self.select_members(name, target);
                let mut out = String::new();
                for m in members {
                    let (uuid, profile, size) = self.room_info(name);
                    let room = RoomRef {
                        name,
                        uuid: &uuid,
                        profile: &profile,
                        size,
                    };
                    self.fire_member(
                        &room,
                        &m,
                        "kick-member",
                        origin("conference_api.c", "conference_api_sub_kick", 902),
                    );
                    m.handle.send(Command::Kick).await;
                    out.push_str(&format!("+OK kicked {}\n", m.id));
                }
                if out.is_empty() {
                    out = "Non-Existant ID 0\n".to_owned();
                }
                out
            }
            "mute" | "unmute" | "hold" | "unhold" => {
                let target = parts.next().unwrap_or("");
                let on = matches!(sub, "mute" | "hold");
                let mut out = String::new();
                let members = {
                    let mut rooms = self.conferences.rooms();
                    let room = rooms.get_mut(name).map(|r| &mut r.members);
                    let mut changed = Vec::new();
                    for m in room.into_iter().flatten() {
                        if target == "all" || m.id.to_string() == target || m.uuid == target {
                            if sub.ends_with("mute") {
                                m.can_speak = !on;
                            } else {
                                m.hold = on;
                            }
                            changed.push(m.clone());
                        }
                    }
                    changed
                };
                let (uuid, profile, size) = self.room_info(name);
                let room = RoomRef {
                    name,
                    uuid: &uuid,
                    profile: &profile,
                    size,
                };
                for m in members {
                    self.fire_member(
                        &room,
                        &m,
                        &format!("{sub}-member"),
                        match sub {
                            "mute" => origin("conference_api.c", "conference_api_sub_mute", 360),
                            "unmute" => {
                                origin("conference_api.c", "conference_api_sub_unmute", 455)
                            }
                            "hold" => origin("conference_api.c", "conference_api_sub_hold", 286),
                            _ => origin("conference_api.c", "conference_api_sub_unhold", 328),
                        },
                    );
                    out.push_str(&format!("+OK {sub} {}\n", m.id));
                }
                if out.is_empty() {
                    out = "Non-Existant ID 0\n".to_owned();
                }
                out
            }
            // mod_conference mixes the file into the room; the emulator has no mix.
            "play" => match parts.next() {
                Some(file) => format!("(play) Playing file {file}\n"),
                None => "-ERR Usage: play <file>\n".to_owned(),
            },
            other => format!("-ERR Unsupported command {other}\n"),
        }
    }

    fn room_info(&self, name: &str) -> (String, String, usize) {
        let rooms = self.conferences.rooms();
        rooms
            .get(name)
            .map(|r| (r.uuid.clone(), r.profile.clone(), r.members.len()))
            .unwrap_or_default()
    }

    fn select_members(&self, name: &str, target: &str) -> Vec<Member> {
        let rooms = self.conferences.rooms();
        let Some(room) = rooms.get(name) else {
            return Vec::new();
        };
        let mut members: Vec<Member> = room
            .members
            .iter()
            .filter(|m| {
                matches!(target, "all" | "") || m.id.to_string() == target || m.uuid == target
            })
            .cloned()
            .collect();
        // Newest member first, as mod_conference walks its member list.
        members.sort_by_key(|m| std::cmp::Reverse(m.id));
        members
    }

    fn conference_list(&self, only: Option<&str>) -> String {
        let rooms = self.conferences.rooms();
        let mut names: Vec<&String> = rooms
            .keys()
            .filter(|n| only.is_none_or(|o| o == n.as_str()))
            .collect();
        names.sort();
        if names.is_empty() {
            return "-ERR No active conferences.\n".to_owned();
        }
        let mut out = String::new();
        for name in names {
            let room = &rooms[name];
            if only.is_none() {
                out.push_str(&format!(
                    "+OK Conference {name} ({} member{} rate: 8000 flags: running|answered|enforce_min|dynamic|exit_sound|enter_sound|json_status)\n",
                    room.members.len(),
                    if room.members.len() == 1 { "" } else { "s" }
                ));
            }
            let mut members = room.members.clone();
            members.sort_by_key(|m| std::cmp::Reverse(m.id));
            for m in members {
                let (chan, cid_name, cid_num) = m.handle.with(|d| {
                    (
                        d.name.clone(),
                        d.profile.caller_id_name.clone(),
                        d.profile.caller_id_number.clone(),
                    )
                });
                let mut flags = vec!["hear"];
                if m.can_speak {
                    flags.push("speak");
                }
                if m.floor {
                    flags.push("floor");
                }
                out.push_str(&format!(
                    "{};{chan};{};{cid_name};{cid_num};{};0;0;100\n",
                    m.id,
                    m.uuid,
                    flags.join("|")
                ));
            }
        }
        out
    }

    fn conference_json(&self, name: &str) -> String {
        let rooms = self.conferences.rooms();
        let Some(room) = rooms.get(name) else {
            return format!("Conference {name} not found\n");
        };
        let now = self.events.clock.now_us();
        let run_time = (now - room.created_us).max(0) / 1_000_000;
        let mut sorted = room.members.clone();
        sorted.sort_by_key(|m| std::cmp::Reverse(m.id));
        let members = sorted
            .iter()
            .map(|m| {
                let (cid_name, cid_num) = m.handle.with(|d| {
                    (
                        d.profile.caller_id_name.clone(),
                        d.profile.caller_id_number.clone(),
                    )
                });
                let flags = [
                    ("can_hear", true),
                    ("can_see", true),
                    ("can_speak", m.can_speak),
                    ("hold", m.hold),
                    ("mute_detect", false),
                    ("talking", false),
                    ("has_video", false),
                    ("video_bridge", false),
                    ("has_floor", m.floor),
                    ("is_moderator", false),
                    ("end_conference", false),
                    ("mandatory_member_end_conference", false),
                    ("pass_digits", false),
                ];
                Json::Obj(vec![
                    ("type", Json::Str("caller".into())),
                    ("id", Json::Num(i64::from(m.id))),
                    (
                        "flags",
                        Json::Obj(flags.iter().map(|(k, v)| (*k, Json::Bool(*v))).collect()),
                    ),
                    ("uuid", Json::Str(m.uuid.clone())),
                    ("caller_id_name", Json::Str(cid_name)),
                    ("caller_id_number", Json::Str(cid_num)),
                    ("join_time", Json::Num(run_time)),
                    ("last_talking", Json::Num(0)),
                    ("energy", Json::Num(100)),
                    ("volume_in", Json::Num(0)),
                    ("volume_out", Json::Num(0)),
                    ("output-volume", Json::Num(0)),
                    ("input-volume", Json::Num(0)),
                ])
            })
            .collect();
        let f = |b: bool| Json::Bool(b);
        let conf = Json::Obj(vec![
            ("conference_name", Json::Str(name.to_owned())),
            ("member_count", Json::Num(room.members.len() as i64)),
            ("ghost_count", Json::Num(0)),
            ("rate", Json::Num(8000)),
            ("run_time", Json::Num(run_time)),
            ("conference_uuid", Json::Str(room.uuid.clone())),
            ("canvas_count", Json::Num(0)),
            ("max_bw_in", Json::Num(0)),
            ("force_bw_in", Json::Num(0)),
            ("video_floor_packets", Json::Num(0)),
            ("locked", f(false)),
            ("destruct", f(false)),
            ("wait_mod", f(false)),
            ("audio_always", f(false)),
            ("running", f(true)),
            ("answered", f(true)),
            ("enforce_min", f(true)),
            ("bridge_to", f(false)),
            ("dynamic", f(true)),
            ("exit_sound", f(true)),
            ("enter_sound", f(true)),
            ("recording", f(false)),
            ("video_bridge", f(false)),
            ("video_floor_only", f(false)),
            ("video_rfc4579", f(false)),
            ("variables", Json::Obj(Vec::new())),
            ("members", Json::Arr(members)),
        ]);
        let mut out = String::new();
        Json::Arr(vec![conf]).print(0, &mut out);
        out
    }
}

/// A JSON value printed the way cJSON_Print formats it (tabs, `:\t`,
/// arrays inline with `, `), which is what `json_list` returns.
enum Json {
    Str(String),
    Num(i64),
    Bool(bool),
    Obj(Vec<(&'static str, Json)>),
    Arr(Vec<Json>),
}

impl Json {
    fn print(&self, depth: usize, out: &mut String) {
        match self {
            Json::Str(s) => out.push_str(&serde_json::Value::String(s.clone()).to_string()),
            Json::Num(n) => out.push_str(&n.to_string()),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.print(depth + 1, out);
                }
                out.push(']');
            }
            Json::Obj(fields) => {
                out.push_str("{\n");
                for (i, (k, v)) in fields.iter().enumerate() {
                    out.push_str(&"\t".repeat(depth + 1));
                    out.push_str(&format!("\"{k}\":\t"));
                    v.print(depth + 1, out);
                    if i + 1 < fields.len() {
                        out.push(',');
                    }
                    out.push('\n');
                }
                out.push_str(&"\t".repeat(depth));
                out.push('}');
            }
        }
    }
}

impl Session {
    /// `conference <name>[@profile][+flags]`: join, stay until kicked or
    /// hung up, leave.
    pub(crate) async fn conference_app(&mut self, arg: &str) {
        self.answer().await;
        let spec = arg.split_whitespace().next().unwrap_or("");
        let muted = member_flags(spec).any(|f| f == "mute");
        let spec = spec.split('+').next().unwrap_or(spec);
        let (name, profile) = spec.split_once('@').unwrap_or((spec, "default"));
        let sw = self.sw.clone();
        let now = sw.events.clock.now_us();
        let id = {
            let mut next = sw
                .conferences
                .next_member
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            *next += 1;
            *next
        };
        let (room_uuid, created, first) = {
            let mut rooms = sw.conferences.rooms();
            let created = !rooms.contains_key(name);
            let room = rooms.entry(name.to_owned()).or_insert_with(|| Room {
                uuid: uuid::Uuid::new_v4().to_string(),
                profile: profile.to_owned(),
                members: Vec::new(),
                created_us: now,
            });
            let first = room.members.is_empty();
            room.members.push(Member {
                id,
                uuid: self.uuid.clone(),
                handle: self.handle.clone(),
                can_speak: !muted,
                hold: false,
                floor: false,
            });
            (room.uuid.clone(), created, first)
        };
        let room = |size| RoomRef {
            name,
            uuid: &room_uuid,
            profile,
            size,
        };
        if created {
            sw.fire_room(
                &room(0),
                "conference-create",
                origin("mod_conference.c", "conference_new", 3848),
            );
        }
        let member = |floor: bool| Member {
            id,
            uuid: self.uuid.clone(),
            handle: self.handle.clone(),
            can_speak: !muted,
            hold: false,
            floor,
        };
        let size = sw.room_info(name).2;
        sw.fire_member(
            &room(size),
            &member(false),
            "add-member",
            origin("conference_member.c", "conference_member_add", 962),
        );
        if first {
            sw.set_floor(name, id);
            self.fire_custom(
                MAINTENANCE,
                origin(
                    "conference_member.c",
                    "conference_member_set_floor_holder",
                    1158,
                ),
                |ev, d| {
                    conference_headers(ev, &room(size), &sw.config.domain);
                    ev.push("Action", "floor-change");
                    ev.push("Old-ID", "none");
                    conference_headers(ev, &room(size), &sw.config.domain);
                    ev.push("Floor", "true");
                    d.write_headers(ev, false);
                    member_headers(ev, &member(true));
                    ev.push("New-ID", id.to_string());
                },
            );
        }
        loop {
            match self.wait(None, Interrupts::NONE).await {
                Wake::Hangup | Wake::Kicked | Wake::Transfer | Wake::Break => break,
                _ => {}
            }
        }
        let (left, remaining) = {
            let mut rooms = sw.conferences.rooms();
            let Some(room) = rooms.get_mut(name) else {
                return;
            };
            let left = room.members.iter().find(|m| m.id == id).cloned();
            room.members.retain(|m| m.id != id);
            let remaining = room.members.len();
            if remaining == 0 {
                rooms.remove(name);
            }
            (left, remaining)
        };
        if let Some(m) = &left {
            if m.floor {
                // mod_conference announces the floor going to nobody.
                sw.fire_floor_to_nobody(&room(remaining + 1));
            }
        }
        if let Some(m) = left {
            sw.fire_member(
                &room(remaining),
                &m,
                "del-member",
                origin("conference_member.c", "conference_member_del", 1355),
            );
        }
        if remaining == 0 {
            sw.fire_room(
                &room(0),
                "conference-destroy",
                origin("mod_conference.c", "conference_thread_run", 863),
            );
        }
    }
}

/// The member flags of a `conference` argument: `room@profile+flags{mute|endconf}`.
fn member_flags(spec: &str) -> impl Iterator<Item = &str> {
    spec.split_once("+flags{")
        .and_then(|(_, rest)| rest.split_once('}'))
        .map_or("", |(flags, _)| flags)
        .split('|')
        .filter(|f| !f.is_empty())
}

impl Switch {
    fn fire_floor_to_nobody(&self, room: &RoomRef) {
        if !self.bus.wants("CUSTOM", Some(MAINTENANCE)) {
            return;
        }
        let at = origin(
            "conference_member.c",
            "conference_member_set_floor_holder",
            1158,
        );
        let mut ev = self.events.event("CUSTOM", Some(MAINTENANCE), at);
        conference_headers(&mut ev, room, &self.config.domain);
        ev.push("Action", "floor-change");
        ev.push("Old-ID", "none");
        ev.push("New-ID", "none");
        self.bus.publish(ev);
    }

    fn set_floor(&self, name: &str, id: u32) {
        if let Some(room) = self.conferences.rooms().get_mut(name) {
            for m in room.members.iter_mut() {
                m.floor = m.id == id;
            }
        }
    }
}
