//! Configuration: an optional `switchboard.toml` overlaid by `SWITCHBOARD_*`
//! environment variables, validated once at start-up.
//!
//! Sources are plain maps so tests pass values instead of mutating the process
//! environment. Every invalid value fails start-up with the key and the value.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::events::EventsConfig;
use crate::media::{Format, IpNet, MediaConfig};

/// Everything Switchboard reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// The base of every URL Switchboard hands out (webhooks, media); `None`
    /// means "derive it from the address the server actually bound".
    pub public_url: Option<Url>,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub redis_url: Option<String>,
    pub media_nodes: MediaNodes,
    /// How an outbound number becomes a FreeSWITCH dial string; `{number}` is replaced.
    pub dial_template: String,
    pub media_cache_dir: PathBuf,
    /// The media layer: cache size, fetch limits and policy, format, speech engines.
    pub media: MediaConfig,
    pub log_format: LogFormat,
    /// How long in-flight work may run after a shutdown signal.
    pub shutdown_grace: Duration,
    /// How long an application may take to answer a webhook.
    pub webhook_timeout: Duration,
    /// Time compression of the embedded virtual switch (1 is real time).
    pub vswitch_speed: f64,
    /// In-flight API requests allowed per account and resource type, unless
    /// the account has its own threshold in the store.
    pub api_concurrency: u32,
    /// API requests allowed per minute per credential (account or API key),
    /// whatever their concurrency; `None` is no rate limit.
    pub api_rate_per_minute: Option<std::num::NonZeroU32>,
    /// Calls each account may originate per second through the API, unless
    /// it has its own rate in the store; calls beyond it wait their turn.
    pub calls_per_second: u32,
    /// How long an instance's shares of the counters in Redis (and the
    /// calls in its origination queue) outlive it when it stops renewing them.
    pub limits_lease: Duration,
    /// The event router: event socket, webhook retries, log retention.
    pub events: EventsConfig,
}

/// Where calls are placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaNodes {
    /// The built-in virtual switch, started in-process.
    Embedded,
    /// FreeSWITCH nodes reached over the Event Socket.
    Esl(Vec<EslNode>),
}

/// A FreeSWITCH node's Event Socket address, from `esl://:PASSWORD@HOST:PORT`.
#[derive(Clone, PartialEq, Eq)]
pub struct EslNode {
    pub host: String,
    pub port: u16,
    pub password: String,
}

impl std::fmt::Debug for EslNode {
    // The password never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "esl://{}:{}", self.host, self.port)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A value that stops start-up, named by the key the operator set.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid {key}={value:?}: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid TOML: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("unknown key {key:?} in {path}")]
    UnknownKey { key: String, path: PathBuf },
}

/// The keys Switchboard knows: the name in `switchboard.toml` and in the environment.
const KEYS: &[(&str, &str)] = &[
    ("listen", "SWITCHBOARD_LISTEN"),
    ("public_url", "SWITCHBOARD_PUBLIC_URL"),
    ("data_dir", "SWITCHBOARD_DATA_DIR"),
    ("database_url", "SWITCHBOARD_DATABASE_URL"),
    ("redis_url", "SWITCHBOARD_REDIS_URL"),
    ("media_nodes", "SWITCHBOARD_MEDIA_NODES"),
    ("dial_template", "SWITCHBOARD_DIAL_TEMPLATE"),
    ("media_cache_dir", "SWITCHBOARD_MEDIA_CACHE_DIR"),
    ("media_cache_max_bytes", "SWITCHBOARD_MEDIA_CACHE_MAX_BYTES"),
    ("media_fetch_max_bytes", "SWITCHBOARD_MEDIA_FETCH_MAX_BYTES"),
    ("media_timeout_secs", "SWITCHBOARD_MEDIA_TIMEOUT_SECS"),
    ("media_max_age_secs", "SWITCHBOARD_MEDIA_MAX_AGE_SECS"),
    ("media_allow_networks", "SWITCHBOARD_MEDIA_ALLOW_NETWORKS"),
    ("media_format", "SWITCHBOARD_MEDIA_FORMAT"),
    ("tts_engines", "SWITCHBOARD_TTS_ENGINES"),
    ("log_format", "SWITCHBOARD_LOG_FORMAT"),
    ("shutdown_grace_secs", "SWITCHBOARD_SHUTDOWN_GRACE_SECS"),
    ("webhook_timeout_secs", "SWITCHBOARD_WEBHOOK_TIMEOUT_SECS"),
    ("vswitch_speed", "SWITCHBOARD_VSWITCH_SPEED"),
    ("api_concurrency", "SWITCHBOARD_API_CONCURRENCY"),
    ("api_rate_per_minute", "SWITCHBOARD_API_RATE_PER_MINUTE"),
    ("calls_per_second", "SWITCHBOARD_CALLS_PER_SECOND"),
    ("limits_lease_ms", "SWITCHBOARD_LIMITS_LEASE_MS"),
    ("event_socket", "SWITCHBOARD_EVENT_SOCKET"),
    ("event_retry_max_secs", "SWITCHBOARD_EVENT_RETRY_MAX_SECS"),
    (
        "event_sink_disable_after_secs",
        "SWITCHBOARD_EVENT_SINK_DISABLE_AFTER_SECS",
    ),
    ("event_retention_secs", "SWITCHBOARD_EVENT_RETENTION_SECS"),
];

/// The dial string that reaches the virtual switch's scripted far ends.
pub const EMBEDDED_DIAL_TEMPLATE: &str = "sofia/gateway/vswitch/{number}";

/// Raw values gathered from the sources, each remembering which key set it.
struct Values(BTreeMap<&'static str, (String, String)>);

impl Values {
    fn get(&self, key: &str) -> Option<(&str, &str)> {
        self.0.get(key).map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        value: value.to_owned(),
        reason: reason.into(),
    }
}

impl Config {
    /// Reads `file` if given (it must exist) or `./switchboard.toml` if present,
    /// then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("SWITCHBOARD_"))
            .collect();
        let default_file = Path::new("switchboard.toml");
        let file = match file {
            Some(path) => Some(path),
            None => default_file.exists().then_some(default_file),
        };
        let toml = match file {
            Some(path) => Some((
                path.to_owned(),
                std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?,
            )),
            None => None,
        };
        Config::from_sources(toml.as_ref().map(|(p, s)| (p.as_path(), s.as_str())), &env)
    }

    /// Builds a configuration from a TOML document (path, text) and an
    /// environment map; the environment wins.
    pub fn from_sources(
        toml: Option<(&Path, &str)>,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let mut values = BTreeMap::new();
        if let Some((path, text)) = toml {
            let table: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| ConfigError::Toml {
                        path: path.to_owned(),
                        message: e.message().to_owned(),
                    })?;
            for (key, value) in table {
                let Some(&(name, _)) = KEYS.iter().find(|(name, _)| *name == key) else {
                    return Err(ConfigError::UnknownKey {
                        key,
                        path: path.to_owned(),
                    });
                };
                let text = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Array(items) => items
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| v.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    other => other.to_string(),
                };
                values.insert(name, (format!("{name} (in {})", path.display()), text));
            }
        }
        for &(name, env_name) in KEYS {
            if let Some(value) = env.get(env_name) {
                values.insert(name, (env_name.to_owned(), value.clone()));
            }
        }
        Config::parse(&Values(values))
    }

    fn parse(values: &Values) -> Result<Config, ConfigError> {
        let listen = match values.get("listen") {
            Some((key, v)) => v
                .parse()
                .map_err(|_| invalid(key, v, "expected HOST:PORT, e.g. 127.0.0.1:8080"))?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        let public_url = match values.get("public_url") {
            Some((key, v)) => Some(parse_http_url(key, v)?),
            None => None,
        };
        let data_dir = match values.get("data_dir") {
            Some((key, v)) if v.is_empty() => return Err(invalid(key, v, "must not be empty")),
            Some((_, v)) => PathBuf::from(v),
            None => PathBuf::from("./data"),
        };
        let database_url = match values.get("database_url") {
            Some((key, v)) => {
                let known = ["sqlite:", "postgres://", "postgresql://"];
                if !known.iter().any(|p| v.starts_with(p)) {
                    return Err(invalid(
                        key,
                        v,
                        "expected sqlite:PATH, postgres://… or postgresql://…",
                    ));
                }
                v.to_owned()
            }
            None => format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("switchboard.db").display()
            ),
        };
        let redis_url = match values.get("redis_url") {
            Some((_, "")) | None => None,
            Some((key, v)) => {
                let url = Url::parse(v).map_err(|e| invalid(key, v, e.to_string()))?;
                if !matches!(url.scheme(), "redis" | "rediss") {
                    return Err(invalid(key, v, "expected redis://HOST:PORT or rediss://…"));
                }
                Some(v.to_owned())
            }
        };
        let media_nodes = match values.get("media_nodes") {
            Some((_, "embedded")) | None => MediaNodes::Embedded,
            Some((key, v)) => MediaNodes::Esl(
                v.split(',')
                    .map(|node| parse_esl_node(key, node.trim()))
                    .collect::<Result<_, _>>()?,
            ),
        };
        let dial_template = match values.get("dial_template") {
            Some((key, v)) if !v.contains("{number}") => {
                return Err(invalid(key, v, "must contain {number}"))
            }
            Some((_, v)) => v.to_owned(),
            None => EMBEDDED_DIAL_TEMPLATE.to_owned(),
        };
        let media_cache_dir = match values.get("media_cache_dir") {
            Some((key, v)) if v.is_empty() => return Err(invalid(key, v, "must not be empty")),
            Some((_, v)) => PathBuf::from(v),
            None => data_dir.join("media"),
        };
        let media = parse_media(values, &media_cache_dir)?;
        let log_format = match values.get("log_format") {
            Some((_, "text")) | None => LogFormat::Text,
            Some((_, "json")) => LogFormat::Json,
            Some((key, v)) => return Err(invalid(key, v, "expected text or json")),
        };
        let shutdown_grace = match values.get("shutdown_grace_secs") {
            Some((key, v)) => Duration::from_secs(
                v.parse::<u16>()
                    .map_err(|_| invalid(key, v, "expected whole seconds (0-65535)"))?
                    .into(),
            ),
            None => Duration::from_secs(10),
        };
        let webhook_timeout = match values.get("webhook_timeout_secs") {
            Some((key, v)) => match v.parse::<u64>() {
                Ok(secs) if (1..=600).contains(&secs) => Duration::from_secs(secs),
                _ => return Err(invalid(key, v, "expected whole seconds from 1 to 600")),
            },
            None => Duration::from_secs(15),
        };
        let vswitch_speed = match values.get("vswitch_speed") {
            Some((key, v)) => match v.parse::<f64>() {
                Ok(speed) if (0.01..=1000.0).contains(&speed) => speed,
                _ => return Err(invalid(key, v, "expected a factor from 0.01 to 1000")),
            },
            None => 1.0,
        };
        let api_concurrency = match values.get("api_concurrency") {
            Some((key, v)) => match v.parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => return Err(invalid(key, v, "expected a whole number of at least 1")),
            },
            None => 100,
        };
        let api_rate_per_minute = match values.get("api_rate_per_minute") {
            Some((_, "")) | None => None,
            Some((key, v)) => match v.parse::<u32>() {
                Ok(n) => std::num::NonZeroU32::new(n),
                Err(_) => return Err(invalid(key, v, "expected a whole number (0 for none)")),
            },
        };
        let calls_per_second = match values.get("calls_per_second") {
            Some((key, v)) => match v.parse::<u32>() {
                Ok(n) if (1..=10_000).contains(&n) => n,
                _ => return Err(invalid(key, v, "expected a whole number from 1 to 10000")),
            },
            None => 1,
        };
        let limits_lease = match values.get("limits_lease_ms") {
            Some((key, v)) => match v.parse::<u64>() {
                Ok(ms) if (300..=600_000).contains(&ms) => Duration::from_millis(ms),
                _ => return Err(invalid(key, v, "expected milliseconds from 300 to 600000")),
            },
            None => crate::limits::shared::LEASE,
        };
        let events = parse_events(values)?;
        Ok(Config {
            listen,
            public_url,
            data_dir,
            database_url,
            redis_url,
            media_nodes,
            dial_template,
            media_cache_dir,
            media,
            log_format,
            shutdown_grace,
            webhook_timeout,
            vswitch_speed,
            api_concurrency,
            api_rate_per_minute,
            calls_per_second,
            limits_lease,
            events,
        })
    }

    /// The configuration used by tests and `serve` defaults, rooted at `data_dir`.
    pub fn embedded(data_dir: &Path) -> Config {
        let env = BTreeMap::from([(
            "SWITCHBOARD_DATA_DIR".to_owned(),
            data_dir.display().to_string(),
        )]);
        let mut config = Config::from_sources(None, &env).expect("the defaults are valid");
        // Many may run at once: each takes a free port for its event socket.
        config.events.socket = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        config
    }

    /// The public base URL: the configured one, or one derived from the bound address.
    pub fn public_url_for(&self, bound: SocketAddr) -> Url {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        let ip = match bound.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        Url::parse(&format!("http://{}", SocketAddr::new(ip, bound.port())))
            .expect("a socket address makes a valid URL")
    }
}

/// The event router's keys (`event_*`).
fn parse_events(values: &Values) -> Result<EventsConfig, ConfigError> {
    let mut events = EventsConfig::default();
    match values.get("event_socket") {
        None => {}
        Some((_, "" | "off" | "none")) => events.socket = None,
        Some((key, v)) => {
            events.socket =
                Some(v.parse().map_err(|_| {
                    invalid(key, v, "expected HOST:PORT, e.g. 127.0.0.1:8022, or off")
                })?)
        }
    }
    let secs = |name: &str, default: Duration| -> Result<Duration, ConfigError> {
        match values.get(name) {
            Some((key, v)) => match v.parse::<u64>() {
                Ok(n) if (1..=30 * 86_400).contains(&n) => Ok(Duration::from_secs(n)),
                _ => Err(invalid(key, v, "expected whole seconds from 1 to 2592000")),
            },
            None => Ok(default),
        }
    };
    events.retry_max = secs("event_retry_max_secs", events.retry_max)?;
    events.sink_disable_after = secs("event_sink_disable_after_secs", events.sink_disable_after)?;
    events.retention = secs("event_retention_secs", events.retention)?;
    Ok(events)
}

/// The media layer's keys (`media_*`, `tts_engines`).
fn parse_media(values: &Values, cache_dir: &Path) -> Result<MediaConfig, ConfigError> {
    let mut media = MediaConfig::new(cache_dir.to_owned());
    let bytes = |name: &str, default: u64| -> Result<u64, ConfigError> {
        match values.get(name) {
            Some((key, v)) => match v.parse::<u64>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(invalid(key, v, "expected a positive number of bytes")),
            },
            None => Ok(default),
        }
    };
    let secs = |name: &str, default: Duration, min: u64| -> Result<Duration, ConfigError> {
        match values.get(name) {
            Some((key, v)) => match v.parse::<u64>() {
                Ok(n) if (min..=86_400).contains(&n) => Ok(Duration::from_secs(n)),
                _ => Err(invalid(
                    key,
                    v,
                    format!("expected whole seconds from {min} to 86400"),
                )),
            },
            None => Ok(default),
        }
    };
    media.cache_max_bytes = bytes("media_cache_max_bytes", media.cache_max_bytes)?;
    media.fetch_max_bytes = bytes("media_fetch_max_bytes", media.fetch_max_bytes)?;
    media.fetch_timeout = secs("media_timeout_secs", media.fetch_timeout, 1)?;
    media.default_max_age = secs("media_max_age_secs", media.default_max_age, 0)?;
    if let Some((key, v)) = values.get("media_allow_networks") {
        media.allowed_networks = v
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty() && *n != "none")
            .map(|n| {
                IpNet::parse(n).ok_or_else(|| {
                    invalid(
                        key,
                        v,
                        format!("{n:?} is not a network, e.g. 10.0.0.0/8 or ::1"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some((key, v)) = values.get("media_format") {
        media.format =
            Format::parse(v).ok_or_else(|| invalid(key, v, "expected pcm8k, pcm16k or ulaw"))?;
    }
    if let Some((key, v)) = values.get("tts_engines") {
        media.speech_engines = v.split(',').map(|e| e.trim().to_owned()).collect();
        if let Some(unknown) = media
            .speech_engines
            .iter()
            .find(|e| !matches!(e.as_str(), "flite" | "espeak-ng"))
        {
            return Err(invalid(
                key,
                v,
                format!("unknown engine {unknown:?}; known: flite, espeak-ng"),
            ));
        }
    }
    Ok(media)
}

fn parse_http_url(key: &str, v: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(v).map_err(|e| invalid(key, v, e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(key, v, "expected an http:// or https:// URL"));
    }
    Ok(url)
}

fn parse_esl_node(key: &str, v: &str) -> Result<EslNode, ConfigError> {
    const SHAPE: &str = "expected esl://:PASSWORD@HOST:PORT (comma-separated) or embedded";
    // The value itself may carry a password: echo it back without.
    let shown = |url: &Url| {
        let mut url = url.clone();
        let _ = url.set_password(None);
        url.to_string()
    };
    let url = Url::parse(v).map_err(|_| invalid(key, "<unparsable>", SHAPE))?;
    if url.scheme() != "esl" || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(key, &shown(&url), SHAPE));
    }
    let password = url.password().unwrap_or_default();
    if password.is_empty() {
        return Err(invalid(
            key,
            &shown(&url),
            "the node's ESL password is missing",
        ));
    }
    let password = percent_decode(password);
    Ok(EslNode {
        host: url
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_owned(),
        port: url.port().unwrap_or(8021),
        password,
    })
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("p={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_give_an_embedded_switchboard_on_localhost() {
        let config = Config::from_sources(None, &env(&[])).unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.media_nodes, MediaNodes::Embedded);
        assert_eq!(
            config.database_url,
            "sqlite://./data/switchboard.db?mode=rwc"
        );
        assert_eq!(config.media_cache_dir, PathBuf::from("./data/media"));
        assert_eq!(config.api_concurrency, 100);
        assert_eq!(config.api_rate_per_minute, None);
        assert_eq!(config.calls_per_second, 1, "Twilio's default");
        assert_eq!(config.limits_lease, Duration::from_secs(15));
        assert_eq!(
            config.events.socket,
            Some("127.0.0.1:8022".parse().unwrap())
        );
        assert_eq!(
            config.public_url_for(config.listen).as_str(),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(
            config
                .public_url_for("0.0.0.0:9000".parse().unwrap())
                .as_str(),
            "http://127.0.0.1:9000/"
        );
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let toml = "listen = \"127.0.0.1:9000\"\ndial_template = \"sofia/gateway/a/{number}\"\n";
        let config = Config::from_sources(
            Some((Path::new("switchboard.toml"), toml)),
            &env(&[("SWITCHBOARD_LISTEN", "127.0.0.1:9100")]),
        )
        .unwrap();
        assert_eq!(config.listen.port(), 9100);
        assert_eq!(config.dial_template, "sofia/gateway/a/{number}");
    }

    #[test]
    fn an_invalid_value_names_its_key_and_value() {
        let err =
            Config::from_sources(None, &env(&[("SWITCHBOARD_LISTEN", "nowhere")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid SWITCHBOARD_LISTEN=\"nowhere\": expected HOST:PORT, e.g. 127.0.0.1:8080"
        );
        let err = Config::from_sources(
            Some((Path::new("sb.toml"), "database_url = \"mysql://x\"")),
            &env(&[]),
        )
        .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("invalid database_url (in sb.toml)=\"mysql://x\""));
        for (key, value) in [
            ("SWITCHBOARD_DIAL_TEMPLATE", "sofia/gateway/x"),
            ("SWITCHBOARD_PUBLIC_URL", "ftp://example.com"),
            ("SWITCHBOARD_REDIS_URL", "http://localhost"),
            ("SWITCHBOARD_LOG_FORMAT", "xml"),
            ("SWITCHBOARD_SHUTDOWN_GRACE_SECS", "-1"),
            ("SWITCHBOARD_API_CONCURRENCY", "0"),
            ("SWITCHBOARD_API_RATE_PER_MINUTE", "-5"),
            ("SWITCHBOARD_CALLS_PER_SECOND", "0"),
            ("SWITCHBOARD_LIMITS_LEASE_MS", "50"),
            ("SWITCHBOARD_EVENT_SOCKET", "8022"),
            ("SWITCHBOARD_EVENT_RETRY_MAX_SECS", "0"),
        ] {
            let err = Config::from_sources(None, &env(&[(key, value)])).unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn media_nodes_are_esl_urls_and_their_passwords_never_show() {
        let config = Config::from_sources(
            None,
            &env(&[(
                "SWITCHBOARD_MEDIA_NODES",
                "esl://:ClueCon@10.0.0.5:8021, esl://:p%40ss@fs2",
            )]),
        )
        .unwrap();
        let MediaNodes::Esl(nodes) = &config.media_nodes else {
            panic!()
        };
        assert_eq!(nodes[0].host, "10.0.0.5");
        assert_eq!(nodes[0].password, "ClueCon");
        assert_eq!(nodes[1].port, 8021);
        assert_eq!(nodes[1].password, "p@ss");
        assert_eq!(
            format!("{nodes:?}"),
            "[esl://10.0.0.5:8021, esl://fs2:8021]"
        );

        let err = Config::from_sources(
            None,
            &env(&[("SWITCHBOARD_MEDIA_NODES", "esl://10.0.0.5:8021")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("password is missing"), "{err}");
    }

    #[test]
    fn media_keys_set_the_media_layer() {
        let config = Config::from_sources(None, &env(&[])).unwrap();
        assert_eq!(config.media.cache_dir, PathBuf::from("./data/media"));
        assert_eq!(config.media.format, Format::Pcm8k);
        assert!(config
            .media
            .allowed_networks
            .iter()
            .any(|n| n.contains("127.0.0.1".parse().unwrap())));
        let config = Config::from_sources(
            None,
            &env(&[
                ("SWITCHBOARD_MEDIA_FORMAT", "ulaw"),
                ("SWITCHBOARD_MEDIA_ALLOW_NETWORKS", "none"),
                ("SWITCHBOARD_MEDIA_CACHE_MAX_BYTES", "1000000"),
                ("SWITCHBOARD_TTS_ENGINES", "espeak-ng"),
            ]),
        )
        .unwrap();
        assert_eq!(config.media.format, Format::Ulaw);
        assert!(config.media.allowed_networks.is_empty());
        assert_eq!(config.media.cache_max_bytes, 1_000_000);
        assert_eq!(config.media.speech_engines, ["espeak-ng"]);
        for (key, value) in [
            ("SWITCHBOARD_MEDIA_FORMAT", "mp3"),
            ("SWITCHBOARD_MEDIA_ALLOW_NETWORKS", "10.0.0.0/99"),
            ("SWITCHBOARD_MEDIA_FETCH_MAX_BYTES", "0"),
            ("SWITCHBOARD_TTS_ENGINES", "festival"),
        ] {
            let err = Config::from_sources(None, &env(&[(key, value)])).unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn an_unknown_key_in_the_file_is_refused() {
        let err = Config::from_sources(Some((Path::new("sb.toml"), "lisen = \"x\"")), &env(&[]))
            .unwrap_err();
        assert_eq!(err.to_string(), "unknown key \"lisen\" in sb.toml");
    }
}
