//! Media layer benchmarks: transcoding speed in multiples of real time on
//! one core, and cache hits over loopback (latency percentiles, throughput)
//! against a real server with its SQLite index.
//!
//! `cargo bench --bench media` prints a summary first, then criterion's runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use switchboard::app::App;
use switchboard::config::Config;
use switchboard::media::{transcode, Format, MediaRequest};
use tokio::net::TcpListener;

const MP3: &[u8] = include_bytes!("../tests/media/tone.mp3");

/// 10 s of 44.1 kHz stereo 16-bit PCM: a sweep over a steady tone.
fn wav_44k_stereo() -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut out, spec).unwrap();
    for n in 0..441_000u32 {
        let t = n as f32 / 44_100.0;
        let s = ((t * 440.0 * std::f32::consts::TAU).sin()
            + (t * (300.0 + 270.0 * t) * std::f32::consts::TAU).sin())
            * 8_000.0;
        writer.write_sample(s as i16).unwrap();
        writer.write_sample((s * 0.5) as i16).unwrap();
    }
    writer.finalize().unwrap();
    out.into_inner()
}

/// Seconds of audio in `input`, from the transcoded output.
fn audio_secs(input: &[u8], mime: &str) -> f64 {
    transcode(input.to_vec(), Some(mime), Format::Pcm8k)
        .unwrap()
        .duration_ms() as f64
        / 1000.0
}

/// Times `runs` transcodes and answers the real-time multiple on this core.
fn realtime_multiple(input: &[u8], mime: &str, format: Format, runs: u32) -> f64 {
    let secs = audio_secs(input, mime);
    let started = Instant::now();
    for _ in 0..runs {
        std::hint::black_box(transcode(input.to_vec(), Some(mime), format).unwrap());
    }
    secs * f64::from(runs) / started.elapsed().as_secs_f64()
}

/// A running server with one cached Play, and credentials to ask for it.
struct Loopback {
    rt: tokio::runtime::Runtime,
    app: Arc<App>,
    base: String,
    sid: String,
    token: String,
    play: serde_json::Value,
    file_url: String,
    _dir: tempfile::TempDir,
}

fn loopback() -> Loopback {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (app, base, origin) = rt.block_on(async {
        let origin = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin_addr = origin.local_addr().unwrap();
        let files = axum::Router::new().route(
            "/tone.mp3",
            axum::routing::get(|| async {
                (
                    [
                        ("content-type", "audio/mpeg"),
                        ("cache-control", "max-age=86400"),
                    ],
                    MP3,
                )
            }),
        );
        tokio::spawn(async move { axum::serve(origin, files).await });

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = Config::embedded(dir.path());
        let public = config.public_url_for(addr);
        let app = Arc::new(App::open(config, public).await.unwrap());
        let served = app.clone();
        tokio::spawn(async move {
            switchboard::server::serve(listener, served, std::future::pending()).await
        });
        (
            app,
            format!("http://{addr}"),
            format!("http://{origin_addr}/tone.mp3"),
        )
    });
    let account = rt
        .block_on(app.store.create_account("Bench", None))
        .unwrap();
    let play = serde_json::json!({"kind": "play", "url": origin});
    let resolved = rt
        .block_on(app.media.resolve(MediaRequest::play(origin)))
        .unwrap();
    Loopback {
        rt,
        app,
        base,
        sid: account.sid,
        token: account.auth_token,
        play,
        file_url: resolved.url,
        _dir: dir,
    }
}

impl Loopback {
    async fn resolve_hit(&self, http: &reqwest::Client) {
        let response = http
            .post(format!("{}/media/resolve", self.base))
            .basic_auth(&self.sid, Some(&self.token))
            .json(&self.play)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
    }

    async fn fetch_file(&self, http: &reqwest::Client) {
        let response = http.get(&self.file_url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// Latency percentiles of sequential hits, then throughput with 32 in flight.
fn loopback_summary(lb: &Loopback) {
    let http = reqwest::Client::new();
    for (name, requests) in [
        ("POST /media/resolve (hit)", 2_000),
        ("GET /media/{key}.wav", 2_000),
    ] {
        let mut times = Vec::with_capacity(requests);
        lb.rt.block_on(async {
            for _ in 0..requests {
                let started = Instant::now();
                if name.starts_with("POST") {
                    lb.resolve_hit(&http).await;
                } else {
                    lb.fetch_file(&http).await;
                }
                times.push(started.elapsed());
            }
        });
        times.sort();
        let total = 8_000;
        let started = Instant::now();
        lb.rt.block_on(async {
            use futures::StreamExt;
            futures::stream::iter(0..total)
                .for_each_concurrent(32, |_| async {
                    if name.starts_with("POST") {
                        lb.resolve_hit(&http).await;
                    } else {
                        lb.fetch_file(&http).await;
                    }
                })
                .await;
        });
        let rate = f64::from(total) / started.elapsed().as_secs_f64();
        println!(
            "{name:28} p50 {:>7.0} µs  p99 {:>7.0} µs  max {:>7.0} µs  | {rate:>6.0} req/s with 32 in flight",
            percentile(&times, 0.50).as_secs_f64() * 1e6,
            percentile(&times, 0.99).as_secs_f64() * 1e6,
            times.last().unwrap().as_secs_f64() * 1e6,
        );
    }
    // What the call router pays in-process for a hit (SQL lookup, no HTTP).
    let mut times = Vec::with_capacity(2_000);
    let play = MediaRequest::play(lb.play["url"].as_str().unwrap());
    lb.rt.block_on(async {
        for _ in 0..2_000 {
            let started = Instant::now();
            lb.app.media.resolve(play.clone()).await.unwrap();
            times.push(started.elapsed());
        }
    });
    times.sort();
    println!(
        "{:28} p50 {:>7.0} µs  p99 {:>7.0} µs",
        "Media::resolve (hit)",
        percentile(&times, 0.50).as_secs_f64() * 1e6,
        percentile(&times, 0.99).as_secs_f64() * 1e6,
    );
}

fn summary() {
    let wav = wav_44k_stereo();
    println!("\n== media: transcoding on one core (multiples of real time)");
    for (name, input, mime, format) in [
        (
            "MP3 44.1 kHz stereo -> 8 kHz PCM",
            MP3,
            "audio/mpeg",
            Format::Pcm8k,
        ),
        (
            "MP3 44.1 kHz stereo -> 16 kHz PCM",
            MP3,
            "audio/mpeg",
            Format::Pcm16k,
        ),
        (
            "MP3 44.1 kHz stereo -> 8 kHz µ-law",
            MP3,
            "audio/mpeg",
            Format::Ulaw,
        ),
        (
            "WAV 44.1 kHz stereo -> 8 kHz PCM",
            &wav[..],
            "audio/wav",
            Format::Pcm8k,
        ),
    ] {
        let multiple = realtime_multiple(input, mime, format, 20);
        println!("{name:36} {multiple:>7.0}x real time");
    }
    println!("\n== media: cache hits over loopback (SQLite index)");
    let lb = loopback();
    loopback_summary(&lb);
    println!();
}

fn transcoding(c: &mut Criterion) {
    let wav = wav_44k_stereo();
    let mut group = c.benchmark_group("media_transcode");
    // Elements are milliseconds of audio: Kelem/s is seconds of audio per second.
    for (name, input, mime) in [
        ("mp3_44k_to_8k", MP3, "audio/mpeg"),
        ("wav_44k_to_8k", &wav[..], "audio/wav"),
    ] {
        let ms = (audio_secs(input, mime) * 1000.0) as u64;
        group.throughput(Throughput::Elements(ms));
        group.bench_function(name, |b| {
            b.iter(|| transcode(input.to_vec(), Some(mime), Format::Pcm8k).unwrap())
        });
    }
    group.finish();
}

fn cache_hits(c: &mut Criterion) {
    let lb = loopback();
    let http = reqwest::Client::new();
    let mut group = c.benchmark_group("media_cache_hit");
    group.bench_function("post_resolve_loopback", |b| {
        b.iter(|| lb.rt.block_on(lb.resolve_hit(&http)))
    });
    group.bench_function("get_file_loopback", |b| {
        b.iter(|| lb.rt.block_on(lb.fetch_file(&http)))
    });
    let play = MediaRequest::play(lb.play["url"].as_str().unwrap());
    group.bench_function("resolve_in_process", |b| {
        b.iter(|| lb.rt.block_on(lb.app.media.resolve(play.clone())).unwrap())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    targets = transcoding, cache_hits
}

fn main() {
    // `cargo test --benches` runs each bench once as a smoke test: skip the summary there.
    if !std::env::args().any(|a| a == "--test" || a == "--list") {
        summary();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
