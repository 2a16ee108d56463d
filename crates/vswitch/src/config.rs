//! The virtual switch's configuration.

use std::path::PathBuf;

use crate::switch::StartError;

/// How the virtual switch presents itself and behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// The ESL password (`auth <password>`).
    pub password: String,
    /// `FreeSWITCH-Hostname` / `FreeSWITCH-Switchname`.
    pub hostname: String,
    /// `FreeSWITCH-IPv4` / `FreeSWITCH-IPv6`.
    pub ipv4: String,
    pub ipv6: String,
    /// `Core-UUID`; a random one when `None`.
    pub core_uuid: Option<String>,
    /// Time compression: 1.0 is real time, 50.0 makes a 5 s ring last 100 ms.
    pub speed: f64,
    /// An XML dialplan document; the built-in one when `None`.
    pub dialplan_xml: Option<String>,
    /// The context injected inbound calls enter.
    pub inbound_context: String,
    /// The domain of injected inbound calls (`sofia/external/<from>@<domain>`).
    pub domain: String,
    /// Where relative playback paths are looked up.
    pub sounds_dir: PathBuf,
    /// Where relative recording paths are written.
    pub recordings_dir: PathBuf,
    /// `max-sessions`: originates beyond it fail with `SWITCH_CONGESTION`.
    pub max_sessions: usize,
    /// HEARTBEAT interval in switch time (FreeSWITCH's default is 20 s).
    pub heartbeat_secs: u64,
}

impl Config {
    /// Refuses settings the switch cannot run with, naming the key.
    pub fn validate(&self) -> Result<(), StartError> {
        let bad = |key, reason| Err(StartError::Config { key, reason });
        if !(self.speed.is_finite() && self.speed > 0.0) {
            return bad("speed", "must be a number above 0");
        }
        if self.password.is_empty() {
            return bad("password", "must not be empty");
        }
        if self.max_sessions == 0 {
            return bad("max_sessions", "must be at least 1");
        }
        if self.inbound_context.is_empty() {
            return bad("inbound_context", "must name a dialplan context");
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            password: "ClueCon".to_owned(),
            hostname: "vswitch".to_owned(),
            ipv4: "127.0.0.1".to_owned(),
            ipv6: "::1".to_owned(),
            core_uuid: None,
            speed: 1.0,
            dialplan_xml: None,
            inbound_context: "switchboard".to_owned(),
            domain: "127.0.0.1".to_owned(),
            sounds_dir: PathBuf::from("."),
            recordings_dir: std::env::temp_dir(),
            max_sessions: 100_000,
            heartbeat_secs: 20,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_refused_by_name() {
        assert!(Config::default().validate().is_ok());
        let err = Config {
            speed: 0.0,
            ..Config::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration `speed`: must be a number above 0"
        );
        let err = Config {
            password: String::new(),
            ..Config::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("`password`"));
    }
}
