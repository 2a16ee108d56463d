//! The media layer end to end: a real origin on 127.0.0.1 counting its
//! requests, real transcoding, real speech engines (flite, espeak-ng), the
//! real SQL index on SQLite and PostgreSQL, and the files decoded back.

mod common;
#[path = "media/origin.rs"]
mod origin;

use std::io::Cursor;
use std::time::Duration;

use common::{Db, TestApp};
use origin::Origin;
use serde_json::{json, Value};
use switchboard::media::{
    Format, Gender, Media, MediaConfig, MediaError, MediaRequest, Outcome, Speech, SpeechEngine,
};
use switchboard::metrics::Metrics;
use switchboard::store::Store;
use symphonia::core::codecs::{CODEC_TYPE_PCM_MULAW, CODEC_TYPE_PCM_S16LE};

/// A media layer on its own SQLite index and directory, with `adjust`ed settings.
struct Rig {
    media: Media,
    metrics: Metrics,
    store: Store,
    dir: tempfile::TempDir,
}

impl Rig {
    async fn start(adjust: impl FnOnce(&mut MediaConfig)) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("index.db").display()
        ))
        .await
        .unwrap();
        store.migrate().await.unwrap();
        let metrics = Metrics::new();
        let media = Rig::open(dir.path(), &store, &metrics, adjust).await;
        Rig {
            media,
            metrics,
            store,
            dir,
        }
    }

    async fn open(
        dir: &std::path::Path,
        store: &Store,
        metrics: &Metrics,
        adjust: impl FnOnce(&mut MediaConfig),
    ) -> Media {
        let mut config = MediaConfig::new(dir.join("media"));
        adjust(&mut config);
        let public = url::Url::parse("http://127.0.0.1:8080/").unwrap();
        Media::open(config, store.clone(), metrics, &public)
            .await
            .unwrap()
    }

    /// Whether the exposition has exactly this line.
    fn has_metric(&self, line: &str) -> bool {
        self.metrics.encode().lines().any(|l| l == line)
    }

    /// The produced file, read from the cache directory.
    async fn file(&self, key: &str) -> Vec<u8> {
        let path = self.media.file(key).await.expect("the file is cached");
        tokio::fs::read(path).await.unwrap()
    }
}

/// What a decoded telephony WAV holds.
#[derive(Debug)]
struct Decoded {
    rate: u32,
    channels: usize,
    codec: symphonia::core::codecs::CodecType,
    bits: Option<u32>,
    frames: u64,
    peak: f32,
}

/// Decodes a produced file with symphonia, independently of how it was written.
fn decode(wav: &[u8]) -> Decoded {
    use symphonia::core::audio::SampleBuffer;
    let stream = symphonia::core::io::MediaSourceStream::new(
        Box::new(Cursor::new(wav.to_vec())),
        Default::default(),
    );
    let mut hint = symphonia::core::probe::Hint::new();
    hint.with_extension("wav");
    let probed = symphonia::default::get_probe()
        .format(&hint, stream, &Default::default(), &Default::default())
        .expect("a WAV container");
    let mut reader = probed.format;
    let params = reader.default_track().unwrap().codec_params.clone();
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &Default::default())
        .unwrap();
    let (mut frames, mut peak) = (0u64, 0f32);
    while let Ok(packet) = reader.next_packet() {
        let decoded = decoder.decode(&packet).unwrap();
        let mut buffer = SampleBuffer::<f32>::new(decoded.capacity() as u64, *decoded.spec());
        buffer.copy_interleaved_ref(decoded);
        frames += buffer.samples().len() as u64;
        peak = buffer.samples().iter().fold(peak, |p, s| p.max(s.abs()));
    }
    Decoded {
        rate: params.sample_rate.unwrap(),
        channels: params.channels.unwrap().count(),
        codec: params.codec,
        bits: params.bits_per_sample,
        frames,
        peak,
    }
}

/// Asserts `wav` is what a telephony leg plays: mono 16-bit PCM at `rate`,
/// lasting about `secs`, and not silent.
fn assert_telephony_wav(wav: &[u8], rate: u32, secs: f64) {
    let d = decode(wav);
    assert_eq!(
        (d.rate, d.channels, d.codec, d.bits),
        (rate, 1, CODEC_TYPE_PCM_S16LE, Some(16)),
        "{d:?}"
    );
    let duration = d.frames as f64 / f64::from(rate);
    assert!(
        (duration - secs).abs() < 0.05,
        "lasts {duration} s, expected {secs} s"
    );
    assert!(d.peak > 0.1, "the audio is silent: {d:?}");
}

async fn resolve_over_http(t: &TestApp, auth: (&str, &str), body: Value) -> (u16, Value) {
    let response = t
        .http
        .post(t.url("/media/resolve"))
        .basic_auth(auth.0, Some(auth.1))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn the_second_play_of_a_url_makes_no_origin_request(db: Db) {
    let origin = Origin::start().await;
    let t = TestApp::start(db).await;
    let account = t.app.store.create_account("Media", None).await.unwrap();
    let auth = (account.sid.as_str(), account.auth_token.as_str());
    let play = json!({"kind": "play", "url": origin.url("/tone.mp3")});

    let (status, first) = resolve_over_http(&t, auth, play.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["outcome"], "miss");
    assert_eq!(origin.count("/tone.mp3"), 1);
    let key = first["key"].as_str().unwrap();
    assert_eq!(first["url"], t.url(&format!("/media/{key}.wav")));
    assert_eq!(
        first["playback"],
        format!("http_cache://{}", first["url"].as_str().unwrap())
    );
    assert!(
        (2_990..3_010).contains(&first["duration_ms"].as_u64().unwrap()),
        "{first}"
    );

    let (status, second) = resolve_over_http(&t, auth, play).await;
    assert_eq!(status, 200);
    assert_eq!(second["outcome"], "hit");
    assert_eq!(second["key"], first["key"]);
    assert_eq!(
        origin.count("/tone.mp3"),
        1,
        "a cache hit never asks the origin"
    );

    // The persistent URL serves a telephony WAV, immutable and revalidatable.
    let served = t
        .http
        .get(first["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "audio/wav");
    let etag = served.headers()["etag"].clone();
    assert!(served.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let wav = served.bytes().await.unwrap();
    assert_telephony_wav(&wav, 8_000, 3.0);
    let again = t
        .http
        .get(first["url"].as_str().unwrap())
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    let metrics = t
        .http
        .get(t.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "switchboard_media_cache_hits_total 1",
        "switchboard_media_cache_misses_total 1",
        &format!("switchboard_media_bytes_served_total {}", wav.len()),
        "switchboard_media_fetch_seconds_count 1",
        "switchboard_media_transcode_seconds_count 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line:?} in\n{metrics}"
        );
    }
    t.stop().await;
}

#[tokio::test]
async fn the_second_play_of_a_url_makes_no_origin_request_on_sqlite() {
    the_second_play_of_a_url_makes_no_origin_request(Db::Sqlite).await;
}

#[tokio::test]
async fn the_second_play_of_a_url_makes_no_origin_request_on_postgres() {
    the_second_play_of_a_url_makes_no_origin_request(Db::Postgres).await;
}

#[tokio::test]
async fn a_changed_etag_is_fetched_again_and_an_unchanged_one_is_not() {
    let origin = Origin::start().await;
    let rig = Rig::start(|_| {}).await;
    let play = || MediaRequest::play(origin.url("/prompt.wav"));

    let first = rig.media.resolve(play()).await.unwrap();
    assert_eq!(first.outcome, Outcome::Miss);

    // no-cache: asked again, with the ETag; 304 keeps the same file.
    let second = rig.media.resolve(play()).await.unwrap();
    assert_eq!(second.outcome, Outcome::Revalidated);
    assert_eq!(second.key, first.key);
    let asked = origin.requests("/prompt.wav");
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[0].if_none_match, None);
    assert_eq!(asked[1].if_none_match.as_deref(), Some("\"v1\""));

    origin.change_audio();
    let third = rig.media.resolve(play()).await.unwrap();
    assert_eq!(third.outcome, Outcome::Miss);
    assert_ne!(third.key, first.key, "new audio, new content address");
    assert_eq!(origin.count("/prompt.wav"), 3);
    // The old URL stays playable for calls that already hold it.
    assert!(rig.media.file(&first.key).await.is_some());
    assert_telephony_wav(&rig.file(&third.key).await, 8_000, 0.5);
}

#[tokio::test]
async fn a_source_validated_by_date_is_refetched_only_when_it_changed() {
    let origin = Origin::start().await;
    let rig = Rig::start(|_| {}).await;
    let play = || MediaRequest::play(origin.url("/dated.wav"));
    let first = rig.media.resolve(play()).await.unwrap();
    let second = rig.media.resolve(play()).await.unwrap();
    assert_eq!(second.outcome, Outcome::Revalidated);
    assert!(origin.requests("/dated.wav")[1].if_modified_since.is_some());
    origin.change_audio();
    let third = rig.media.resolve(play()).await.unwrap();
    assert_eq!(
        (third.outcome, third.key == first.key),
        (Outcome::Miss, false)
    );
}

#[tokio::test]
async fn ten_concurrent_first_requests_make_one_fetch() {
    let origin = Origin::start().await;
    let rig = Rig::start(|_| {}).await;
    let url = origin.url("/slow.mp3");
    let answers = futures::future::join_all(
        (0..10).map(|_| rig.media.resolve(MediaRequest::play(url.clone()))),
    )
    .await;
    let answers: Vec<_> = answers.into_iter().map(Result::unwrap).collect();
    assert_eq!(origin.count("/slow.mp3"), 1);
    assert!(answers.iter().all(|a| a.key == answers[0].key));
    assert_eq!(
        rig.media.metrics.misses.get(),
        1,
        "one fetch, one transcode"
    );
}

#[tokio::test]
async fn oversized_and_non_audio_sources_are_refused_with_11200() {
    let origin = Origin::start().await;
    let t = TestApp::start(Db::Sqlite).await;
    let account = t.app.store.create_account("Media", None).await.unwrap();
    let auth = (account.sid.as_str(), account.auth_token.as_str());
    for (path, says) in [
        ("/huge.wav", "larger than the 16777216-byte limit"),
        ("/huge-chunked.wav", "larger than the 16777216-byte limit"),
        ("/page.html", "Content-Type \"text/html\""),
        ("/liar.wav", "cannot be played"),
        ("/missing.wav", "answered HTTP 404"),
    ] {
        let (status, body) =
            resolve_over_http(&t, auth, json!({"kind": "play", "url": origin.url(path)})).await;
        assert_eq!(status, 502, "{path}: {body}");
        assert_eq!(body["code"], 11200, "{path}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(says),
            "{path}: {body}"
        );
    }
    assert_eq!(
        t.app.media.cache_bytes().await.unwrap(),
        0,
        "nothing was stored"
    );
    t.stop().await;
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let origin = Origin::start().await;
    let strict = Rig::start(|c| c.allowed_networks.clear()).await;
    let port = origin.addr.port();
    for url in [
        format!("http://127.0.0.1:{port}/tone.mp3"),
        // A name that resolves to loopback is caught by the resolver.
        format!("http://localhost:{port}/tone.mp3"),
        "http://10.0.0.7/tone.mp3".to_owned(),
        "http://192.168.1.20/tone.mp3".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://[fe80::1]/tone.mp3".to_owned(),
    ] {
        let err = strict
            .media
            .resolve(MediaRequest::play(&url))
            .await
            .unwrap_err();
        assert!(matches!(err, MediaError::Refused { .. }), "{url}: {err}");
        assert_eq!(err.code(), 11200, "{url}");
    }
    assert_eq!(origin.total(), 0, "no refused request reached the origin");

    // The development default allows loopback, never a redirect to a private network.
    let default = Rig::start(|_| {}).await;
    let url = format!("http://localhost:{port}/tone.mp3");
    assert!(default.media.resolve(MediaRequest::play(url)).await.is_ok());
    let err = default
        .media
        .resolve(MediaRequest::play(origin.url("/moved.mp3")))
        .await
        .unwrap_err();
    assert!(matches!(err, MediaError::Refused { .. }), "{err}");
    let err = default
        .media
        .resolve(MediaRequest::play(origin.url("/loop.mp3")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), 11215, "{err}");
}

#[tokio::test]
async fn a_silent_origin_times_out_and_bad_urls_are_refused() {
    let origin = Origin::start().await;
    let rig = Rig::start(|c| c.fetch_timeout = Duration::from_millis(300)).await;
    let err = rig
        .media
        .resolve(MediaRequest::play(origin.url("/hang.wav")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), 11205, "{err}");
    for url in ["not a url", "ftp://example.com/a.wav", "/relative.wav"] {
        let err = rig
            .media
            .resolve(MediaRequest::play(url))
            .await
            .unwrap_err();
        assert_eq!(err.code(), 11100, "{url}: {err}");
    }
}

#[tokio::test]
async fn wav_mp3_ogg_and_flac_become_telephony_wav_in_each_format() {
    let origin = Origin::start().await;
    let rig = Rig::start(|_| {}).await;
    for (path, secs) in [
        ("/tone.wav", 1.0),
        ("/tone.mp3", 3.0),
        ("/tone.ogg", 1.0),
        ("/tone.flac", 1.0),
    ] {
        let resolved = rig
            .media
            .resolve(MediaRequest::play(origin.url(path)))
            .await
            .unwrap();
        assert_eq!(resolved.format, Format::Pcm8k);
        assert_telephony_wav(&rig.file(&resolved.key).await, 8_000, secs);
    }
    let wide = MediaRequest::Play {
        url: origin.url("/tone.mp3"),
        format: Some(Format::Pcm16k),
    };
    let wide = rig.media.resolve(wide).await.unwrap();
    assert_telephony_wav(&rig.file(&wide.key).await, 16_000, 3.0);

    let ulaw = MediaRequest::Play {
        url: origin.url("/tone.mp3"),
        format: Some(Format::Ulaw),
    };
    let ulaw = rig.media.resolve(ulaw).await.unwrap();
    let decoded = decode(&rig.file(&ulaw.key).await);
    assert_eq!(
        (decoded.rate, decoded.channels, decoded.codec),
        (8_000, 1, CODEC_TYPE_PCM_MULAW)
    );
    assert!(
        (decoded.frames as f64 / 8_000.0 - 3.0).abs() < 0.05,
        "{decoded:?}"
    );
    assert!(decoded.peak > 0.1);
    // Each format is its own cache entry: three files from one fetch each.
    assert_eq!(origin.count("/tone.mp3"), 3);
}

#[tokio::test]
async fn say_is_synthesised_once_per_text_voice_and_language() {
    let rig = Rig::start(|_| {}).await;
    let welcome = || MediaRequest::say("Welcome to Switchboard.", "alice", "en-US");
    let first = rig.media.resolve(welcome()).await.unwrap();
    assert_eq!(first.outcome, Outcome::Miss);
    assert_eq!(first.engine.as_deref(), Some("flite/slt"));
    let wav = rig.file(&first.key).await;
    let decoded = decode(&wav);
    assert_eq!(
        (decoded.rate, decoded.channels, decoded.bits),
        (8_000, 1, Some(16))
    );
    assert!(decoded.frames > 4_000 && decoded.peak > 0.05, "{decoded:?}");

    let again = rig.media.resolve(welcome()).await.unwrap();
    assert_eq!((again.outcome, &again.key), (Outcome::Hit, &first.key));
    assert!(
        rig.has_metric("switchboard_media_synthesis_seconds_count 1"),
        "never re-synthesised"
    );

    let man = rig
        .media
        .resolve(MediaRequest::say(
            "Welcome to Switchboard.",
            "Polly.Matthew",
            "en-GB",
        ))
        .await
        .unwrap();
    assert_eq!(man.engine.as_deref(), Some("flite/rms"));
    assert_ne!(man.key, first.key);

    let french = rig
        .media
        .resolve(MediaRequest::say(
            "Bienvenue chez Switchboard.",
            "woman",
            "fr-FR",
        ))
        .await
        .unwrap();
    assert_eq!(french.engine.as_deref(), Some("espeak-ng/fr-fr+f3"));
    assert!(decode(&rig.file(&french.key).await).peak > 0.05);

    let err = rig
        .media
        .resolve(MediaRequest::say("  ", "alice", "en-US"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), 13520);
    let err = rig
        .media
        .resolve(MediaRequest::say("x".repeat(4_097), "alice", "en-US"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), 13520);
    let err = rig
        .media
        .resolve(MediaRequest::say("Hello", "robot", "en-US"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), 13511);
}

/// A stand-in for a hosted speech service: counts its syntheses.
struct HostedSpeech {
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl SpeechEngine for HostedSpeech {
    fn name(&self) -> &str {
        "hosted"
    }

    fn voice(&self, gender: Gender, language: &str) -> Option<String> {
        Some(format!("{language}-{gender:?}"))
    }

    fn synthesize<'a>(
        &'a self,
        _text: &'a str,
        _voice: &'a str,
        _scratch: &'a std::path::Path,
    ) -> futures::future::BoxFuture<'a, Result<Vec<u8>, MediaError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(200)).await;
            Ok(origin::tone_wav(22_050, 0.5, 440.0))
        })
    }
}

#[tokio::test]
async fn a_hosted_engine_plugs_in_and_concurrent_says_synthesise_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("i.db").display()
    ))
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let engine = HostedSpeech {
        calls: calls.clone(),
    };
    let media = Media::with_speech(
        MediaConfig::new(dir.path().join("media")),
        store,
        &Metrics::new(),
        &url::Url::parse("http://127.0.0.1:8080/").unwrap(),
        Speech::new(vec![Box::new(engine)]),
    )
    .await
    .unwrap();
    let say = || MediaRequest::say("Please hold.", "Google.en-US-Standard-C", "en-US");
    let answers = futures::future::join_all((0..10).map(|_| media.resolve(say()))).await;
    let answers: Vec<_> = answers.into_iter().map(Result::unwrap).collect();
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(answers.iter().all(|a| a.key == answers[0].key));
    assert_eq!(answers[0].engine.as_deref(), Some("hosted/en-US-Female"));
    assert_eq!(answers[0].duration_ms, 500);

    let spanish = MediaRequest::say("Please hold.", "Google.en-US-Standard-C", "es-ES");
    let spanish = media.resolve(spanish).await.unwrap();
    assert_eq!(
        spanish.outcome,
        Outcome::Miss,
        "the language is part of the key"
    );
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_cache_survives_a_restart() {
    let origin = Origin::start().await;
    let rig = Rig::start(|_| {}).await;
    let play = MediaRequest::play(origin.url("/tone.mp3"));
    let say = MediaRequest::say("Your call is important to us.", "man", "en-US");
    let played = rig.media.resolve(play.clone()).await.unwrap();
    let said = rig.media.resolve(say.clone()).await.unwrap();
    drop(rig.media);

    let reopened = Rig::open(rig.dir.path(), &rig.store, &Metrics::new(), |_| {}).await;
    let played_again = reopened.resolve(play.clone()).await.unwrap();
    let said_again = reopened.resolve(say).await.unwrap();
    assert_eq!(
        (played_again.outcome, &played_again.key),
        (Outcome::Hit, &played.key)
    );
    assert_eq!(
        (said_again.outcome, &said_again.key),
        (Outcome::Hit, &said.key)
    );
    assert_eq!(origin.count("/tone.mp3"), 1);
    drop(reopened);

    // A file lost from disk is forgotten at start and produced again.
    let path = rig
        .dir
        .path()
        .join("media")
        .join(&played.key[..2])
        .join(format!("{}.wav", played.key));
    std::fs::remove_file(path).unwrap();
    let reopened = Rig::open(rig.dir.path(), &rig.store, &Metrics::new(), |_| {}).await;
    let refetched = reopened.resolve(play).await.unwrap();
    assert_eq!(
        (refetched.outcome, &refetched.key),
        (Outcome::Miss, &played.key)
    );
    assert_eq!(origin.count("/tone.mp3"), 2);
}

#[tokio::test]
async fn instances_sharing_an_index_keep_to_their_own_directories() {
    let origin = Origin::start().await;
    let first = Rig::start(|_| {}).await;
    let play = MediaRequest::play(origin.url("/tone.mp3"));
    let mine = first.media.resolve(play.clone()).await.unwrap();

    // A second instance on the same database, with its own cache directory.
    let other_dir = tempfile::tempdir().unwrap();
    let second = Rig::open(other_dir.path(), &first.store, &Metrics::new(), |_| {}).await;
    let theirs = second.resolve(play.clone()).await.unwrap();
    assert_eq!(
        theirs.outcome,
        Outcome::Miss,
        "the file is not in its directory"
    );
    assert_eq!(theirs.key, mine.key, "the same bytes, the same address");
    assert!(second.file(&mine.key).await.is_some());

    // Opening the second did not make the first forget its file.
    let reopened = Rig::open(first.dir.path(), &first.store, &Metrics::new(), |_| {}).await;
    assert_eq!(reopened.resolve(play).await.unwrap().outcome, Outcome::Hit);
    assert_eq!(origin.count("/tone.mp3"), 2);
}

#[tokio::test]
async fn eviction_drops_the_least_recently_used_and_keeps_pinned_prompts() {
    // A 1 s tone at 8 kHz is 16 044 bytes: the cap holds three.
    let rig = Rig::start(|c| c.cache_max_bytes = 50_000).await;
    let say = |text: &str| MediaRequest::say(text, "alice", "en-US");
    let pinned = rig
        .media
        .resolve_pinned(say("Press one for sales."), true)
        .await
        .unwrap();
    let mut unpinned = Vec::new();
    for text in ["Two.", "Three.", "Four.", "Five.", "Six.", "Seven."] {
        unpinned.push(rig.media.resolve(say(text)).await.unwrap());
    }
    assert!(rig.media.cache_bytes().await.unwrap() <= 50_000);
    assert!(
        rig.media.file(&pinned.key).await.is_some(),
        "the pinned prompt stays"
    );
    let newest = unpinned.last().unwrap();
    assert!(
        rig.media.file(&newest.key).await.is_some(),
        "the newest stays"
    );
    assert!(
        rig.media.file(&unpinned[0].key).await.is_none(),
        "the oldest went"
    );
    // An evicted source is produced again on its next use.
    let back = rig.media.resolve(say("Two.")).await.unwrap();
    assert_eq!((back.outcome, &back.key), (Outcome::Miss, &unpinned[0].key));
    assert!(
        rig.media
            .resolve(say("Press one for sales."))
            .await
            .unwrap()
            .outcome
            == Outcome::Hit
    );
}

#[tokio::test]
async fn prefetch_warms_prompts_for_authenticated_callers_only() {
    let origin = Origin::start().await;
    let t = TestApp::start(Db::Sqlite).await;
    let account = t.app.store.create_account("Media", None).await.unwrap();
    let items = json!({"items": [
        {"kind": "play", "url": origin.url("/tone.ogg")},
        {"kind": "say", "text": "Thank you for calling.", "voice": "woman"},
        {"kind": "play", "url": origin.url("/page.html")},
    ]});
    let anonymous = t
        .http
        .post(t.url("/media/prefetch"))
        .json(&items)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = t
        .http
        .post(t.url("/media/resolve"))
        .basic_auth(&account.sid, Some("not-the-token"))
        .json(&json!({"kind": "say", "text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let answer: Value = t
        .http
        .post(t.url("/media/prefetch"))
        .basic_auth(&account.sid, Some(&account.auth_token))
        .json(&items)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (answer["resolved"].as_u64(), answer["failed"].as_u64()),
        (Some(2), Some(1)),
        "{answer}"
    );
    assert_eq!(answer["items"][2]["code"], 11200);
    let said = t
        .app
        .media
        .resolve(MediaRequest::Say {
            text: "Thank you for calling.".into(),
            voice: Some("woman".into()),
            language: None,
            format: None,
        })
        .await
        .unwrap();
    assert_eq!(said.outcome, Outcome::Hit);
    assert_eq!(origin.count("/tone.ogg"), 1);

    let garbage = t
        .http
        .post(t.url("/media/resolve"))
        .basic_auth(&account.sid, Some(&account.auth_token))
        .json(&json!({"kind": "sing"}))
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    for path in [
        "/media/0123456789abcdef0123456789abcdef.wav",
        "/media/..%2F..%2Fetc%2Fpasswd",
        "/media/x.mp3",
    ] {
        let missing = t.http.get(t.url(path)).send().await.unwrap();
        assert_eq!(missing.status(), 404, "{path}");
    }
    t.stop().await;
}
