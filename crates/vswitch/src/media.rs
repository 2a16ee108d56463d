//! Media the switch "plays" and "records": how long a playback source lasts
//! (local WAV files by their real length, `tone_stream://`, `silence_stream://`,
//! `http_cache://` URLs fetched for real) and the WAV files `record` writes.
//!
//! No audio flows anywhere: a playback is a wait of the source's real length,
//! a recording is a real 8 kHz 16-bit mono WAV of the recorded length.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use thiserror::Error;

/// The sample rate of the switch's channels (L16 at 8 kHz, as the fixtures show).
pub const RATE: u32 = 8000;

/// A playback source that cannot be played (`Playback-Status` is not `done`).
#[derive(Debug, Error)]
pub enum MediaError {
    #[error("file not found: {0}")]
    NotFound(String),
    #[error("not a playable WAV file: {0}")]
    BadWav(String),
    #[error("fetching {url} failed: {reason}")]
    Fetch { url: String, reason: String },
    #[error("unsupported playback source: {0}")]
    Unsupported(String),
}

/// How long a source plays. `None` means until broken or hung up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Length(pub Option<Duration>);

/// What a playback source is, for `Playback-File-Type`.
pub fn file_type(source: &str) -> &str {
    match source.split_once("://") {
        Some((scheme, _)) => scheme,
        None => Path::new(source)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("wav"),
    }
}

/// Resolves playback sources to their lengths, caching `http_cache://` fetches
/// as FreeSWITCH's mod_http_cache does (a cached URL is never fetched again).
#[derive(Debug)]
pub struct Media {
    sounds_dir: PathBuf,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Duration>>,
}

impl Media {
    pub fn new(sounds_dir: PathBuf) -> Self {
        // Whatever TLS features a build unifies into reqwest, a client needs a
        // process-wide provider once rustls is in; a second install is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            sounds_dir,
            http: reqwest::Client::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The length of a playback source.
    pub async fn length(&self, source: &str) -> Result<Length, MediaError> {
        if let Some(spec) = source.strip_prefix("tone_stream://") {
            return Ok(tone_length(spec));
        }
        if let Some(spec) = source.strip_prefix("silence_stream://") {
            let ms: i64 = spec
                .split(',')
                .next()
                .unwrap_or("")
                .trim()
                .parse()
                .unwrap_or(-1);
            return Ok(Length((ms >= 0).then(|| Duration::from_millis(ms as u64))));
        }
        if source.starts_with("local_stream://") {
            return Ok(Length(None));
        }
        if let Some(url) = source.strip_prefix("http_cache://") {
            return self.fetch(url).await.map(|d| Length(Some(d)));
        }
        if source.starts_with("http://") || source.starts_with("https://") {
            return self.fetch(source).await.map(|d| Length(Some(d)));
        }
        if source.contains("://") {
            return Err(MediaError::Unsupported(source.to_owned()));
        }
        let path = if Path::new(source).is_absolute() {
            PathBuf::from(source)
        } else {
            self.sounds_dir.join(source)
        };
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|_| MediaError::NotFound(path.display().to_string()))?;
        wav_length(&bytes)
            .map(|d| Length(Some(d)))
            .ok_or_else(|| MediaError::BadWav(path.display().to_string()))
    }

    async fn fetch(&self, url: &str) -> Result<Duration, MediaError> {
        if let Some(d) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(url)
        {
            return Ok(*d);
        }
        let err = |reason: String| MediaError::Fetch {
            url: url.to_owned(),
            reason,
        };
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| err(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(err(format!("HTTP {}", resp.status())));
        }
        let bytes = resp.bytes().await.map_err(|e| err(e.to_string()))?;
        let length = wav_length(&bytes).ok_or_else(|| MediaError::BadWav(url.to_owned()))?;
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(url.to_owned(), length);
        Ok(length)
    }
}

/// `%(on,off,freq…)` segments and a `loops=N` parameter (-1 = forever).
fn tone_length(spec: &str) -> Length {
    let mut once = 0u64;
    let mut loops: i64 = 1;
    for part in spec.split(';') {
        if let Some(n) = part.strip_prefix("loops=") {
            loops = n.trim().parse().unwrap_or(1);
            continue;
        }
        let mut rest = part;
        while let Some(start) = rest.find("%(") {
            let Some(end) = rest[start..].find(')') else {
                break;
            };
            let mut nums = rest[start + 2..start + end]
                .split(',')
                .map(|n| n.trim().parse::<u64>().unwrap_or(0));
            once += nums.next().unwrap_or(0) + nums.next().unwrap_or(0);
            rest = &rest[start + end..];
        }
    }
    if loops < 0 {
        Length(None)
    } else {
        Length(Some(Duration::from_millis(once * loops.max(1) as u64)))
    }
}

/// The playing time of a RIFF/WAVE file: its data chunk over its byte rate.
pub fn wav_length(bytes: &[u8]) -> Option<Duration> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let mut pos = 12;
    let mut byte_rate = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().ok()?) as usize;
        let body = pos + 8;
        if id == b"fmt " && body + 12 <= bytes.len() {
            byte_rate = Some(u32::from_le_bytes(
                bytes[body + 8..body + 12].try_into().ok()?,
            ));
        }
        if id == b"data" {
            let rate = byte_rate.filter(|r| *r > 0)?;
            // A streamed WAV may claim more data than it holds: trust the file.
            let size = size.min(bytes.len() - body);
            return Some(Duration::from_secs_f64(size as f64 / rate as f64));
        }
        pos = body + size + (size & 1);
    }
    None
}

/// A 16-bit mono WAV at [`RATE`] of `total` length, with a 440 Hz tone for
/// the first `voiced` of it (the far end talking) and silence after.
pub fn wav_bytes(total: Duration, voiced: Duration, channels: u16) -> Vec<u8> {
    let samples = (total.as_secs_f64() * RATE as f64).round() as usize;
    let voiced = ((voiced.as_secs_f64() * RATE as f64).round() as usize).min(samples);
    let channels = channels.max(1);
    let frame = 2 * usize::from(channels);
    let data_len = samples * frame;
    let mut out = Vec::with_capacity(44 + data_len);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&RATE.to_le_bytes());
    out.extend_from_slice(&(RATE * frame as u32).to_le_bytes());
    out.extend_from_slice(&(frame as u16).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data_len as u32).to_le_bytes());
    for i in 0..samples {
        let s = if i < voiced {
            let t = i as f64 / RATE as f64;
            ((t * 440.0 * std::f64::consts::TAU).sin() * 8000.0) as i16
        } else {
            0
        };
        for _ in 0..channels {
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_streams_last_their_segments_times_their_loops() {
        assert_eq!(
            tone_length("%(1000,0,440);loops=1"),
            Length(Some(Duration::from_millis(1000)))
        );
        assert_eq!(
            tone_length("%(500,0,800)"),
            Length(Some(Duration::from_millis(500)))
        );
        assert_eq!(
            tone_length("%(200,100,500,600);loops=3"),
            Length(Some(Duration::from_millis(900)))
        );
        assert_eq!(tone_length("%(10000,0,1004);loops=-1"), Length(None));
    }

    #[test]
    fn a_stereo_wav_has_both_channels_for_the_same_length() {
        let bytes = wav_bytes(Duration::from_millis(1500), Duration::from_millis(500), 2);
        assert_eq!(bytes.len(), 44 + 12_000 * 4);
        assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 2);
        assert_eq!(wav_length(&bytes), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn a_written_wav_reads_back_with_its_length() {
        let bytes = wav_bytes(Duration::from_millis(1500), Duration::from_millis(500), 1);
        assert_eq!(bytes.len(), 44 + 12_000 * 2);
        assert_eq!(wav_length(&bytes), Some(Duration::from_millis(1500)));
        assert!(
            bytes[44..44 + 2 * 100].iter().any(|b| *b != 0),
            "voiced part has sound"
        );
        assert!(
            bytes[44 + 2 * 4000..].iter().all(|b| *b == 0),
            "the rest is silence"
        );
        assert_eq!(wav_length(b"not a wav at all"), None);
    }

    #[tokio::test]
    async fn sources_resolve_to_their_lengths() {
        let dir = std::env::temp_dir().join(format!("vswitch-media-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("two.wav"),
            wav_bytes(Duration::from_secs(2), Duration::ZERO, 1),
        )
        .unwrap();
        let media = Media::new(dir.clone());
        assert_eq!(
            media.length("two.wav").await.unwrap(),
            Length(Some(Duration::from_secs(2)))
        );
        assert_eq!(
            media.length("silence_stream://250").await.unwrap(),
            Length(Some(Duration::from_millis(250)))
        );
        assert_eq!(
            media.length("local_stream://moh").await.unwrap(),
            Length(None)
        );
        assert!(matches!(
            media.length("missing.wav").await,
            Err(MediaError::NotFound(_))
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
