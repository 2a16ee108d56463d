//! A developer's media origin for the media tests: an HTTP server on
//! 127.0.0.1:0 serving audio fixtures (and a few bad answers), counting
//! every request it receives per path.

use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const MP3: &[u8] = include_bytes!("tone.mp3");
pub const OGG: &[u8] = include_bytes!("tone.ogg");
pub const FLAC: &[u8] = include_bytes!("tone.flac");

/// One request as the origin saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
}

#[derive(Default)]
struct Shared {
    seen: Mutex<Vec<Seen>>,
    /// The version of `/prompt.wav` and `/dated.wav`: a new version is new audio.
    version: AtomicU32,
}

pub struct Origin {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Origin {
    pub async fn start() -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        shared.version.store(1, Ordering::SeqCst);
        let router = Router::new().fallback(answer).with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Origin { addr, shared, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Requests received for `path`.
    pub fn requests(&self, path: &str) -> Vec<Seen> {
        let seen = self.shared.seen.lock().unwrap();
        seen.iter().filter(|s| s.path == path).cloned().collect()
    }

    pub fn count(&self, path: &str) -> usize {
        self.requests(path).len()
    }

    pub fn total(&self) -> usize {
        self.shared.seen.lock().unwrap().len()
    }

    /// Publishes new audio at the versioned paths (new ETag, new Last-Modified).
    pub fn change_audio(&self) {
        self.shared.version.fetch_add(1, Ordering::SeqCst);
    }
}

/// A mono 16-bit WAV: `secs` of a tone at `hz`.
pub fn tone_wav(rate: u32, secs: f32, hz: f32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut out, spec).unwrap();
    for n in 0..(rate as f32 * secs) as u32 {
        let t = n as f32 / rate as f32;
        let s = (t * hz * std::f32::consts::TAU).sin() * 12_000.0;
        writer.write_sample(s as i16).unwrap();
    }
    writer.finalize().unwrap();
    out.into_inner()
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).map(|v| v.to_str().unwrap().to_owned())
}

async fn answer(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let headers = request.headers().clone();
    shared.seen.lock().unwrap().push(Seen {
        path: path.clone(),
        if_none_match: header_text(&headers, header::IF_NONE_MATCH),
        if_modified_since: header_text(&headers, header::IF_MODIFIED_SINCE),
    });
    let version = shared.version.load(Ordering::SeqCst);
    let long_lived = [
        (header::CACHE_CONTROL, "public, max-age=3600".to_owned()),
        (header::ETAG, "\"fixture\"".to_owned()),
    ];
    match path.as_str() {
        "/tone.mp3" => ([(header::CONTENT_TYPE, "audio/mpeg")], long_lived, MP3).into_response(),
        "/tone.ogg" => ([(header::CONTENT_TYPE, "audio/ogg")], long_lived, OGG).into_response(),
        "/tone.flac" => ([(header::CONTENT_TYPE, "audio/flac")], long_lived, FLAC).into_response(),
        "/tone.wav" => (
            [(header::CONTENT_TYPE, "audio/x-wav")],
            long_lived,
            tone_wav(16_000, 1.0, 440.0),
        )
            .into_response(),
        // Slow to answer, so concurrent first requests overlap for certain.
        "/slow.mp3" => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            ([(header::CONTENT_TYPE, "audio/mpeg")], long_lived, MP3).into_response()
        }
        // Must be revalidated on every use; answers 304 while its ETag is unchanged.
        "/prompt.wav" => {
            let etag = format!("\"v{version}\"");
            let reply = [
                (header::CACHE_CONTROL, "no-cache".to_owned()),
                (header::ETAG, etag.clone()),
            ];
            if header_text(&headers, header::IF_NONE_MATCH).as_deref() == Some(etag.as_str()) {
                return (StatusCode::NOT_MODIFIED, reply).into_response();
            }
            (
                [(header::CONTENT_TYPE, "audio/wav")],
                reply,
                tone_wav(8_000, 0.5, 300.0 * version as f32),
            )
                .into_response()
        }
        // Validated by date only.
        "/dated.wav" => {
            let modified = httpdate::fmt_http_date(
                std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + u64::from(version)),
            );
            let reply = [
                (header::CACHE_CONTROL, "max-age=0".to_owned()),
                (header::LAST_MODIFIED, modified.clone()),
            ];
            if header_text(&headers, header::IF_MODIFIED_SINCE).as_deref()
                == Some(modified.as_str())
            {
                return (StatusCode::NOT_MODIFIED, reply).into_response();
            }
            (
                [(header::CONTENT_TYPE, "audio/wav")],
                reply,
                tone_wav(8_000, 0.5, 250.0 * version as f32),
            )
                .into_response()
        }
        // 50 MB, announced up front.
        "/huge.wav" => {
            let chunks =
                (0..800).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![0u8; 64 * 1024])));
            Response::builder()
                .header(header::CONTENT_TYPE, "audio/wav")
                .header(header::CONTENT_LENGTH, 800 * 64 * 1024)
                .body(Body::from_stream(futures::stream::iter(chunks)))
                .unwrap()
        }
        // 50 MB, length unannounced (chunked): the cap must hold while reading.
        "/huge-chunked.wav" => {
            let chunks =
                (0..800).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![0u8; 64 * 1024])));
            Response::builder()
                .header(header::CONTENT_TYPE, "audio/wav")
                .body(Body::from_stream(futures::stream::iter(chunks)))
                .unwrap()
        }
        "/page.html" => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<html><body>Not audio</body></html>",
        )
            .into_response(),
        // Says it is audio, is not.
        "/liar.wav" => ([(header::CONTENT_TYPE, "audio/wav")], "<html>nope</html>").into_response(),
        // Sends the fetcher towards a private network.
        "/moved.mp3" => (
            StatusCode::FOUND,
            [(header::LOCATION, "http://10.0.0.7/tone.mp3")],
        )
            .into_response(),
        // Redirects to itself forever.
        "/loop.mp3" => (StatusCode::FOUND, [(header::LOCATION, "/loop.mp3")]).into_response(),
        "/hang.wav" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::NO_CONTENT.into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
