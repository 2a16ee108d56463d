//! The media layer: turns a `<Play>` URL or `<Say>` text into a
//! telephony-ready WAV at a persistent, content-addressed URL that a media
//! node plays (`http_cache://` on FreeSWITCH).
//!
//! `Media::resolve` looks in the cache; on a miss it fetches (conditionally,
//! when a stale copy has validators) or synthesises, transcodes, stores, and
//! answers with `GET /media/{key}.wav`. Concurrent misses for one source are
//! coalesced into one fetch or synthesis. Fresh hits never touch the origin.

mod cache;
mod fetch;
mod http;
mod speech;
mod transcode;
mod trim;

pub use cache::{content_key, FileEntry};
pub use fetch::{is_public, AddressPolicy, IpNet, AUDIO_TYPES};
pub use http::router;
pub use speech::{gender_of, EspeakNg, Flite, Gender, Speech, SpeechEngine, MAX_TEXT_CHARS};
pub use transcode::{transcode, Format, TranscodeError, Transcoded};
pub use trim::{trim_silence, SILENCE_THRESHOLD};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use url::Url;

use self::cache::{Cache, SourceEntry};
use self::fetch::{Fetched, Origin, Validators};
use crate::metrics::Metrics;
use crate::store::{now_millis, Store};

/// The media layer's settings (the `media_*` and `tts_engines` keys).
#[derive(Debug, Clone)]
pub struct MediaConfig {
    pub cache_dir: PathBuf,
    /// Beyond this, least-recently-used unpinned files are evicted.
    pub cache_max_bytes: u64,
    /// A Play source larger than this is refused.
    pub fetch_max_bytes: u64,
    pub fetch_timeout: Duration,
    /// Freshness of a fetched file whose origin says nothing (no Cache-Control or Expires).
    pub default_max_age: Duration,
    /// Non-public networks the fetcher may still reach (loopback in development).
    pub allowed_networks: Vec<IpNet>,
    /// The format produced when a request names none.
    pub format: Format,
    /// Speech engines in order of preference.
    pub speech_engines: Vec<String>,
}

impl MediaConfig {
    /// The development defaults, storing under `cache_dir`.
    pub fn new(cache_dir: PathBuf) -> MediaConfig {
        MediaConfig {
            cache_dir,
            cache_max_bytes: 1 << 30,
            fetch_max_bytes: 16 << 20,
            fetch_timeout: Duration::from_secs(15),
            default_max_age: Duration::from_secs(300),
            allowed_networks: vec![
                IpNet::parse("127.0.0.0/8").expect("valid"),
                IpNet::parse("::1/128").expect("valid"),
            ],
            format: Format::Pcm8k,
            speech_engines: vec!["flite".into(), "espeak-ng".into()],
        }
    }
}

/// What the call router asks for: the audio of a `<Play>` or a `<Say>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum MediaRequest {
    Play {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        format: Option<Format>,
    },
    Say {
        text: String,
        /// Twilio's voice attribute: `man`, `woman`, `alice`, `Polly.*`, `Google.*`.
        #[serde(default)]
        voice: Option<String>,
        /// BCP-47, Twilio's `language` attribute; `en-US` when absent.
        #[serde(default)]
        language: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        format: Option<Format>,
    },
}

impl MediaRequest {
    pub fn play(url: impl Into<String>) -> MediaRequest {
        MediaRequest::Play {
            url: url.into(),
            format: None,
        }
    }

    pub fn say(text: impl Into<String>, voice: &str, language: &str) -> MediaRequest {
        MediaRequest::Say {
            text: text.into(),
            voice: Some(voice.to_owned()),
            language: Some(language.to_owned()),
            format: None,
        }
    }
}

/// How a request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// From the cache, nobody asked.
    Hit,
    /// The origin confirmed the cached copy (HTTP 304).
    Revalidated,
    /// Fetched or synthesised, then transcoded.
    Miss,
}

/// A playable file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolved {
    /// The content key: the file's name, and its identity.
    pub key: String,
    /// `GET /media/{key}.wav` on this server.
    pub url: String,
    /// What a FreeSWITCH node plays: `http_cache://` + `url`.
    pub playback: String,
    pub duration_ms: u64,
    pub bytes: u64,
    pub format: Format,
    pub outcome: Outcome,
    /// For `<Say>`: the engine and local voice that spoke it (metering, debugging).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
}

impl Resolved {
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.duration_ms)
    }
}

/// Why a request could not be resolved, each with Twilio's error code.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MediaError {
    #[error("{url:?} is not a valid absolute http or https URL")]
    InvalidUrl { url: String },
    #[error("{url} was refused: {reason}")]
    Refused { url: String, reason: String },
    #[error("{url}: the host name does not resolve")]
    BadHost { url: String },
    #[error("{url} could not be reached: {reason}")]
    Connection { url: String, reason: String },
    #[error("{url} did not answer within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("{url} redirected too many times")]
    TooManyRedirects { url: String },
    #[error("{url}: TLS handshake failed: {reason}")]
    Tls { url: String, reason: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} answered Content-Type {content_type:?}; Play accepts audio/wav, audio/x-wav, audio/mpeg, audio/ogg and audio/flac")]
    ContentType { url: String, content_type: String },
    #[error("{url} is larger than the {limit}-byte limit")]
    TooLarge { url: String, limit: u64 },
    #[error("the audio from {source_name} cannot be played: {reason}")]
    Undecodable { source_name: String, reason: String },
    #[error("Say text is invalid: {reason}")]
    InvalidText { reason: String },
    #[error(
        "Say voice {voice:?} is not a Twilio voice name (man, woman, alice, Polly.*, Google.*)"
    )]
    InvalidVoice { voice: String },
    #[error("no speech engine here speaks language {language:?}")]
    UnsupportedLanguage { language: String },
    #[error("speech engine {engine} failed: {reason}")]
    Speech { engine: String, reason: String },
    #[error("media cache: {0}")]
    Storage(String),
}

impl MediaError {
    /// Twilio's error code for this failure.
    pub fn code(&self) -> u32 {
        match self {
            MediaError::InvalidUrl { .. } => 11100,
            MediaError::BadHost { .. } => 11210,
            MediaError::Connection { .. } | MediaError::Timeout { .. } => 11205,
            MediaError::TooManyRedirects { .. } => 11215,
            MediaError::Tls { .. } => 11220,
            // Twilio lists private addresses, bad statuses, wrong content
            // types and unusable bodies under "HTTP retrieval failure".
            MediaError::Refused { .. }
            | MediaError::Status { .. }
            | MediaError::ContentType { .. }
            | MediaError::TooLarge { .. }
            | MediaError::Undecodable { .. } => 11200,
            MediaError::InvalidText { .. } => 13520,
            MediaError::InvalidVoice { .. } | MediaError::UnsupportedLanguage { .. } => 13511,
            MediaError::Speech { .. } | MediaError::Storage(_) => 20500,
        }
    }
}

/// The media layer's metrics, registered in the service's registry.
#[derive(Clone)]
pub struct MediaMetrics {
    pub hits: Counter,
    pub misses: Counter,
    pub revalidations: Counter,
    pub bytes_served: Counter,
    pub fetch_seconds: Histogram,
    pub transcode_seconds: Histogram,
    pub synthesis_seconds: Histogram,
}

impl MediaMetrics {
    pub fn register(metrics: &Metrics) -> MediaMetrics {
        let seconds = || Histogram::new(exponential_buckets(0.001, 2.5, 12));
        let m = MediaMetrics {
            hits: Counter::default(),
            misses: Counter::default(),
            revalidations: Counter::default(),
            bytes_served: Counter::default(),
            fetch_seconds: seconds(),
            transcode_seconds: seconds(),
            synthesis_seconds: seconds(),
        };
        metrics.register(
            "media_cache_hits",
            "Play and Say answered from the media cache",
            m.hits.clone(),
        );
        metrics.register(
            "media_cache_misses",
            "Play and Say that had to be fetched or synthesised",
            m.misses.clone(),
        );
        metrics.register(
            "media_revalidations",
            "Stale Play sources the origin confirmed unchanged (304)",
            m.revalidations.clone(),
        );
        metrics.register(
            "media_bytes_served",
            "Bytes of media files served to media nodes",
            m.bytes_served.clone(),
        );
        metrics.register(
            "media_fetch_seconds",
            "Time to fetch a Play source from its origin",
            m.fetch_seconds.clone(),
        );
        metrics.register(
            "media_transcode_seconds",
            "Time to transcode one source to telephony WAV",
            m.transcode_seconds.clone(),
        );
        metrics.register(
            "media_synthesis_seconds",
            "Time for a speech engine to speak one Say",
            m.synthesis_seconds.clone(),
        );
        m
    }
}

/// A request checked and reduced to its cache identity.
struct Job {
    source_key: String,
    format: Format,
    what: What,
}

enum What {
    Play {
        url: Url,
    },
    Say {
        text: String,
        engine: usize,
        voice: String,
        engine_name: String,
    },
}

type Shared = Arc<OnceCell<Result<Resolved, MediaError>>>;

/// The media layer. One per process, on `App::media`.
pub struct Media {
    config: MediaConfig,
    cache: Cache,
    origin: Origin,
    speech: Speech,
    /// `…/media/`, where files are served.
    base: Url,
    inflight: Mutex<HashMap<String, Shared>>,
    pub metrics: MediaMetrics,
}

impl Media {
    /// Opens the cache (its directory and index) and finds the speech engines.
    /// `public_url` is the base of the URLs handed out.
    pub async fn open(
        config: MediaConfig,
        store: Store,
        metrics: &Metrics,
        public_url: &Url,
    ) -> Result<Media, MediaError> {
        let speech = Speech::from_names(&config.speech_engines).await;
        Media::with_speech(config, store, metrics, public_url, speech).await
    }

    /// As [`Media::open`], with the speech engines given (tests, hosted engines).
    pub async fn with_speech(
        config: MediaConfig,
        store: Store,
        metrics: &Metrics,
        public_url: &Url,
        speech: Speech,
    ) -> Result<Media, MediaError> {
        let cache = Cache::open(&config.cache_dir, store, config.cache_max_bytes).await?;
        let origin = Origin::new(
            AddressPolicy {
                allowed: config.allowed_networks.clone(),
            },
            config.fetch_max_bytes,
            config.fetch_timeout,
        );
        let base = public_url
            .join("media/")
            .map_err(|e| MediaError::Storage(format!("public URL {public_url}: {e}")))?;
        Ok(Media {
            config,
            cache,
            origin,
            speech,
            base,
            inflight: Mutex::new(HashMap::new()),
            metrics: MediaMetrics::register(metrics),
        })
    }

    /// The playable file for `request`: from the cache when fresh, else
    /// fetched or synthesised once however many callers ask at the same time.
    pub async fn resolve(&self, request: MediaRequest) -> Result<Resolved, MediaError> {
        self.resolve_pinned(request, false).await
    }

    /// As [`Media::resolve`]; `pin` keeps the file out of eviction (prompts).
    pub async fn resolve_pinned(
        &self,
        request: MediaRequest,
        pin: bool,
    ) -> Result<Resolved, MediaError> {
        let job = self.job(request)?;
        if let Some(hit) = self.fresh_hit(&job, pin).await? {
            return Ok(hit);
        }
        let cell = {
            let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            inflight.entry(job.source_key.clone()).or_default().clone()
        };
        // The first caller produces; the others wait for its answer. Should the
        // first be cancelled, the next waiter takes over.
        let result = cell.get_or_init(|| self.produce(&job, pin)).await.clone();
        {
            let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            if inflight
                .get(&job.source_key)
                .is_some_and(|c| Arc::ptr_eq(c, &cell))
            {
                inflight.remove(&job.source_key);
            }
        }
        result
    }

    /// The local file behind a key, for serving; records the use for LRU.
    pub async fn file(&self, key: &str) -> Option<std::path::PathBuf> {
        if !cache::is_key(key) {
            return None;
        }
        let path = self.cache.path(key);
        if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return None;
        }
        if let Err(e) = self.cache.touch(key).await {
            tracing::warn!(error = %e, key, "cannot record a media file's use");
        }
        Some(path)
    }

    /// Bytes held in the cache.
    pub async fn cache_bytes(&self) -> Result<u64, MediaError> {
        self.cache.total_bytes().await
    }

    fn job(&self, request: MediaRequest) -> Result<Job, MediaError> {
        match request {
            MediaRequest::Play { url, format } => {
                let format = format.unwrap_or(self.config.format);
                let parsed = Url::parse(&url)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                    .ok_or(MediaError::InvalidUrl { url })?;
                self.origin.check(&parsed)?;
                Ok(Job {
                    source_key: source_key(&["play", parsed.as_str(), format.as_str()]),
                    format,
                    what: What::Play { url: parsed },
                })
            }
            MediaRequest::Say {
                text,
                voice,
                language,
                format,
            } => {
                let format = format.unwrap_or(self.config.format);
                let text = text.trim().to_owned();
                if text.is_empty() {
                    return Err(MediaError::InvalidText {
                        reason: "it is empty".into(),
                    });
                }
                if text.chars().count() > MAX_TEXT_CHARS {
                    return Err(MediaError::InvalidText {
                        reason: format!("it is longer than {MAX_TEXT_CHARS} characters"),
                    });
                }
                let voice_name = voice.unwrap_or_default();
                let gender = gender_of(&voice_name)?;
                let language = language
                    .filter(|l| !l.is_empty())
                    .unwrap_or_else(|| "en-US".into());
                let (index, local_voice) =
                    self.speech.choose(gender, &language).ok_or_else(|| {
                        MediaError::UnsupportedLanguage {
                            language: language.clone(),
                        }
                    })?;
                let engine_name = self.speech.engine(index).name().to_owned();
                Ok(Job {
                    source_key: source_key(&[
                        "say",
                        &engine_name,
                        &local_voice,
                        &voice_name,
                        &language,
                        format.as_str(),
                        &text,
                    ]),
                    format,
                    what: What::Say {
                        text,
                        engine: index,
                        voice: local_voice,
                        engine_name,
                    },
                })
            }
        }
    }

    async fn fresh_hit(&self, job: &Job, pin: bool) -> Result<Option<Resolved>, MediaError> {
        let Some(entry) = self.cache.source(&job.source_key).await? else {
            return Ok(None);
        };
        // Fresh while younger than its max-age: a no-cache copy (max-age 0)
        // is stale the moment it is stored, even within the same millisecond.
        if entry.fresh_until <= now_millis() {
            return Ok(None);
        }
        if pin && !entry.pinned {
            self.cache.pin(&job.source_key, true).await?;
        }
        self.cache.touch(&entry.file.key).await?;
        self.metrics.hits.inc();
        Ok(Some(self.answer(&entry.file, Outcome::Hit, job)))
    }

    async fn produce(&self, job: &Job, pin: bool) -> Result<Resolved, MediaError> {
        // A caller that looked before the previous producer finished lands here.
        if let Some(hit) = self.fresh_hit(job, pin).await? {
            return Ok(hit);
        }
        let stale = self.cache.source(&job.source_key).await?;
        let produced = match &job.what {
            What::Play { url } => self.fetch(job, url, stale.as_ref(), pin).await?,
            What::Say {
                text,
                engine,
                voice,
                ..
            } => {
                let started = Instant::now();
                let scratch = self.cache.scratch();
                let audio = self
                    .speech
                    .engine(*engine)
                    .synthesize(text, voice, &scratch)
                    .await?;
                self.metrics
                    .synthesis_seconds
                    .observe(started.elapsed().as_secs_f64());
                self.metrics.misses.inc();
                let source_name = format!("speech engine {}", self.speech.engine(*engine).name());
                let file = self.store(audio, None, job.format, &source_name).await?;
                let entry = SourceEntry {
                    source_key: job.source_key.clone(),
                    file,
                    etag: None,
                    last_modified: None,
                    // The same text in the same voice never changes.
                    fresh_until: i64::MAX,
                    pinned: pin,
                };
                self.cache.set_source(&entry, "say", voice).await?;
                (entry.file, Outcome::Miss)
            }
        };
        let (file, outcome) = produced;
        if outcome == Outcome::Miss {
            let evicted = self.cache.evict(&file.key).await?;
            if !evicted.is_empty() {
                tracing::info!(
                    count = evicted.len(),
                    "media cache evicted files over its cap"
                );
            }
        }
        Ok(self.answer(&file, outcome, job))
    }

    async fn fetch(
        &self,
        job: &Job,
        url: &Url,
        stale: Option<&SourceEntry>,
        pin: bool,
    ) -> Result<(FileEntry, Outcome), MediaError> {
        let validators = stale
            .map(|s| Validators {
                etag: s.etag.clone(),
                last_modified: s.last_modified.clone(),
            })
            .filter(|v| v.etag.is_some() || v.last_modified.is_some());
        let started = Instant::now();
        let fetched = self.origin.fetch(url, validators.as_ref()).await;
        self.metrics
            .fetch_seconds
            .observe(started.elapsed().as_secs_f64());
        let fresh_until = |max_age: Option<Duration>| {
            let age = max_age.unwrap_or(self.config.default_max_age);
            now_millis().saturating_add(age.as_millis().min(i64::MAX as u128) as i64)
        };
        match (fetched?, stale) {
            (Fetched::NotModified { max_age }, Some(stale)) => {
                self.cache
                    .refresh(&job.source_key, fresh_until(max_age))
                    .await?;
                if pin && !stale.pinned {
                    self.cache.pin(&job.source_key, true).await?;
                }
                self.cache.touch(&stale.file.key).await?;
                self.metrics.revalidations.inc();
                Ok((stale.file.clone(), Outcome::Revalidated))
            }
            (Fetched::NotModified { .. }, None) => Err(MediaError::Status {
                url: url.to_string(),
                status: 304,
            }),
            (
                Fetched::Body {
                    body,
                    content_type,
                    validators,
                    max_age,
                },
                _,
            ) => {
                self.metrics.misses.inc();
                let file = self
                    .store(body.to_vec(), Some(&content_type), job.format, url.as_str())
                    .await?;
                let entry = SourceEntry {
                    source_key: job.source_key.clone(),
                    file,
                    etag: validators.etag,
                    last_modified: validators.last_modified,
                    fresh_until: fresh_until(max_age),
                    pinned: pin,
                };
                self.cache.set_source(&entry, "play", url.as_str()).await?;
                Ok((entry.file, Outcome::Miss))
            }
        }
    }

    /// Transcodes on the blocking pool and stores the result.
    async fn store(
        &self,
        audio: Vec<u8>,
        mime: Option<&str>,
        format: Format,
        source_name: &str,
    ) -> Result<FileEntry, MediaError> {
        let started = Instant::now();
        let mime = mime.map(str::to_owned);
        let transcoded =
            tokio::task::spawn_blocking(move || transcode(audio, mime.as_deref(), format))
                .await
                .map_err(|e| MediaError::Storage(format!("transcoder task: {e}")))?
                .map_err(|e| MediaError::Undecodable {
                    source_name: source_name.to_owned(),
                    reason: e.to_string(),
                })?;
        self.metrics
            .transcode_seconds
            .observe(started.elapsed().as_secs_f64());
        let duration_ms = transcoded.duration_ms();
        self.cache
            .put_file(transcoded.wav, format, duration_ms)
            .await
    }

    fn answer(&self, file: &FileEntry, outcome: Outcome, job: &Job) -> Resolved {
        let url = self
            .base
            .join(&format!("{}.wav", file.key))
            .expect("a hex key is a valid path segment")
            .to_string();
        Resolved {
            key: file.key.clone(),
            playback: format!("http_cache://{url}"),
            url,
            duration_ms: file.duration_ms,
            bytes: file.bytes,
            format: file.format,
            outcome,
            engine: match &job.what {
                What::Say {
                    engine_name, voice, ..
                } => Some(format!("{engine_name}/{voice}")),
                What::Play { .. } => None,
            },
        }
    }
}

/// The cache identity of a request: a hash over its parts, NUL-separated so
/// no two different requests can collide by concatenation.
fn source_key(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(hash.finalize())
}
