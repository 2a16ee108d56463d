//! Dial strings and the `originate` command line, parsed as
//! `switch_ivr_originate.c` and mod_commands read them.
//!
//! `{var=value,…}` prefixes become channel variables (values may be quoted
//! with `'…'` to hold commas). Endpoints: `loopback/EXT[/CONTEXT]` (the other
//! leg runs the dialplan), `sofia/PROFILE/USER[@HOST]`,
//! `sofia/gateway/GW/USER`, `user/USER[@DOMAIN]` and `vswitch/SCRIPT` (a
//! scripted far end chosen by USER), and `error/CAUSE`. Only the first leg
//! of a `,`/`|` list is dialled.

use crate::channel::{is_true, HangupCause};

/// The far side of a dial string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Loopback {
        exten: String,
        context: String,
    },
    /// A network endpoint played by a scripted far end; `name` is the
    /// Channel name, `user` picks the script, `host` is the peer's address
    /// (`Caller-Network-Addr`) when the dial string names one.
    FarEnd {
        name: String,
        user: String,
        host: Option<String>,
    },
    Error(HangupCause),
    Unsupported(String),
}

/// A parsed dial string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialString {
    pub vars: Vec<(String, String)>,
    pub endpoint: Endpoint,
}

impl DialString {
    pub fn parse(s: &str) -> Self {
        let mut vars = Vec::new();
        let mut rest = s.trim();
        while let Some(open) = rest
            .chars()
            .next()
            .filter(|c| *c == '{' || *c == '[' || *c == '<')
        {
            let close = match open {
                '{' => '}',
                '[' => ']',
                _ => '>',
            };
            let Some(end) = find_close(rest, close) else {
                break;
            };
            vars.extend(parse_vars(&rest[1..end]));
            rest = &rest[end + 1..];
        }
        // Only the first leg of a simultaneous (`,`) or sequential (`|`) list.
        let leg = rest.split([',', '|']).next().unwrap_or("").trim();
        Self {
            vars,
            endpoint: parse_endpoint(leg),
        }
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn ignore_early_media(&self) -> bool {
        self.var("ignore_early_media").is_some_and(is_true)
    }
}

fn find_close(s: &str, close: char) -> Option<usize> {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            c if c == close && !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn parse_vars(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut push = |cur: &mut String| {
        if let Some((k, v)) = cur.split_once('=') {
            out.push((k.trim().to_owned(), v.trim().trim_matches('\'').to_owned()));
        }
        cur.clear();
    };
    for c in s.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => push(&mut cur),
            _ => cur.push(c),
        }
    }
    push(&mut cur);
    out
}

fn parse_endpoint(s: &str) -> Endpoint {
    let mut parts = s.splitn(2, '/');
    let kind = parts.next().unwrap_or("");
    let rest = parts.next().unwrap_or("");
    match kind {
        "loopback" => {
            let mut p = rest.split('/');
            let exten = p.next().unwrap_or("").to_owned();
            let context = p
                .next()
                .filter(|c| !c.is_empty())
                .unwrap_or("default")
                .to_owned();
            Endpoint::Loopback { exten, context }
        }
        "sofia" => {
            let mut p = rest.splitn(2, '/');
            let profile = p.next().unwrap_or("");
            let tail = p.next().unwrap_or("");
            let target = if profile == "gateway" {
                tail.split_once('/').map_or(tail, |(_, user)| user)
            } else {
                tail
            };
            let (user, host) = split_user(target.trim_start_matches("sip:"));
            Endpoint::FarEnd {
                name: s.to_owned(),
                user,
                host,
            }
        }
        "user" | "vswitch" => {
            let (user, _) = split_user(rest);
            Endpoint::FarEnd {
                name: s.to_owned(),
                user,
                host: None,
            }
        }
        "error" => {
            Endpoint::Error(HangupCause::parse(rest).unwrap_or(HangupCause::NormalTemporaryFailure))
        }
        _ => Endpoint::Unsupported(s.to_owned()),
    }
}

/// The user and host parts of `user@host[:port]`. A far-end script may itself contain `@`
/// (`dtmf=12@3s`): only a trailing `@…` that is not a duration is a host.
fn split_user(target: &str) -> (String, Option<String>) {
    match target.rsplit_once('@') {
        Some((user, host)) if crate::farend::duration(host).is_err() => {
            let addr = host.split([':', ';']).next().unwrap_or(host);
            (user.to_owned(), Some(addr.to_owned()))
        }
        _ => (target.to_owned(), None),
    }
}

/// What an originated Channel does once answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `&app(args)`.
    App { name: String, arg: String },
    /// `<exten> [<dialplan>] [<context>]`.
    Extension { exten: String, context: String },
}

/// The parsed arguments of the `originate` API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginateArgs {
    pub dial: DialString,
    pub target: Target,
    pub cid_name: Option<String>,
    pub cid_number: Option<String>,
    pub timeout_secs: Option<u64>,
}

/// mod_commands' usage text, returned for a bad command line.
pub const ORIGINATE_USAGE: &str =
    "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n";

impl OriginateArgs {
    /// Parses `<call url> <target> [dialplan] [context] [cid_name] [cid_num] [timeout]`.
    pub fn parse(line: &str) -> Option<Self> {
        let argv = split_args(line);
        if argv.len() < 2 {
            return None;
        }
        let dial = DialString::parse(&argv[0]);
        let target = if let Some(app) = argv[1].strip_prefix('&') {
            let (name, arg) = match app.split_once('(') {
                Some((n, a)) => (n, a.strip_suffix(')').unwrap_or(a)),
                None => (app, ""),
            };
            Target::App {
                name: name.to_owned(),
                arg: arg.to_owned(),
            }
        } else {
            Target::Extension {
                exten: argv[1].clone(),
                context: argv.get(3).cloned().unwrap_or_else(|| "default".to_owned()),
            }
        };
        Some(Self {
            dial,
            target,
            cid_name: argv.get(4).cloned(),
            cid_number: argv.get(5).cloned(),
            timeout_secs: argv.get(6).and_then(|t| t.parse().ok()),
        })
    }
}

/// Splits on spaces outside `{…}` / `[…]` and `'…'`, as
/// `switch_separate_string` does for originate.
pub fn split_args(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut depth, mut quoted, mut parens) = (0i32, false, 0i32);
    for c in line.trim().chars() {
        match c {
            '{' | '[' if !quoted => depth += 1,
            '}' | ']' if !quoted => depth -= 1,
            '(' if !quoted => parens += 1,
            ')' if !quoted => parens -= 1,
            '\'' => quoted = !quoted,
            _ => {}
        }
        if c.is_whitespace() && depth <= 0 && !quoted && parens <= 0 {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_originate_line_parses() {
        let line = "{origination_uuid=3e219e2f-ffaa-49d2-bc7e-54d131d761a7,origination_caller_id_number=1000,origination_caller_id_name=ESL-Fixture,ignore_early_media=true}loopback/7101/esl_fixtures &park()";
        let args = OriginateArgs::parse(line).unwrap();
        assert_eq!(
            args.dial.var("origination_uuid"),
            Some("3e219e2f-ffaa-49d2-bc7e-54d131d761a7")
        );
        assert!(args.dial.ignore_early_media());
        assert_eq!(
            args.dial.endpoint,
            Endpoint::Loopback {
                exten: "7101".into(),
                context: "esl_fixtures".into()
            }
        );
        assert_eq!(
            args.target,
            Target::App {
                name: "park".into(),
                arg: "".into()
            }
        );
    }

    #[test]
    fn sofia_users_pick_the_far_end_and_quotes_keep_commas() {
        let d = DialString::parse("{a='x,y',b=2}sofia/gateway/trunk1/+15005550003");
        assert_eq!(d.var("a"), Some("x,y"));
        assert_eq!(d.var("b"), Some("2"));
        assert_eq!(
            d.endpoint,
            Endpoint::FarEnd {
                name: "sofia/gateway/trunk1/+15005550003".into(),
                user: "+15005550003".into(),
                host: None,
            }
        );
        let d = DialString::parse("sofia/external/ring=2s;busy@127.0.0.1:5090");
        assert!(
            matches!(d.endpoint, Endpoint::FarEnd { ref user, ref host, .. }
            if user == "ring=2s;busy" && host.as_deref() == Some("127.0.0.1"))
        );
        let d = DialString::parse("sofia/external/dtmf=12@3s@127.0.0.1");
        assert!(matches!(d.endpoint, Endpoint::FarEnd { ref user, .. } if user == "dtmf=12@3s"));
        let d = DialString::parse("vswitch/answer;dtmf=12@3s");
        assert!(
            matches!(d.endpoint, Endpoint::FarEnd { ref user, .. } if user == "answer;dtmf=12@3s")
        );
        assert_eq!(
            DialString::parse("error/user_busy").endpoint,
            Endpoint::Error(HangupCause::UserBusy)
        );
        assert!(matches!(
            DialString::parse("skype/x").endpoint,
            Endpoint::Unsupported(_)
        ));
    }

    #[test]
    fn extension_targets_and_app_arguments_with_spaces() {
        let a = OriginateArgs::parse("vswitch/answer 9196 XML default Bob 1234 30").unwrap();
        assert_eq!(
            a.target,
            Target::Extension {
                exten: "9196".into(),
                context: "default".into()
            }
        );
        assert_eq!(a.cid_name.as_deref(), Some("Bob"));
        assert_eq!(a.timeout_secs, Some(30));
        let a = OriginateArgs::parse("vswitch/answer &playback(/tmp/a b.wav)").unwrap();
        assert_eq!(
            a.target,
            Target::App {
                name: "playback".into(),
                arg: "/tmp/a b.wav".into()
            }
        );
        assert!(OriginateArgs::parse("").is_none());
    }
}
