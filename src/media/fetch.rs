//! Fetching `<Play>` audio from developers' origins: conditional requests,
//! timeouts, a size cap, an audio content-type allow-list, and an address
//! guard that keeps the fetcher off private and link-local networks.
//!
//! The guard sits in the DNS resolver, so the address checked is the address
//! connected to (no window for DNS rebinding); literal IPs, which skip the
//! resolver, are checked before the request and on every redirect.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use reqwest::header::{self, HeaderMap};
use reqwest::StatusCode;
use url::{Host, Url};

use super::MediaError;

/// The content types `<Play>` accepts, as Twilio lists them, plus common aliases.
pub const AUDIO_TYPES: &[&str] = &[
    "audio/wav",
    "audio/x-wav",
    "audio/wave",
    "audio/mpeg",
    "audio/mp3",
    "audio/ogg",
    "application/ogg",
    "audio/flac",
    "audio/x-flac",
];

const MAX_REDIRECTS: usize = 5;

/// An IP network in CIDR form (`10.0.0.0/8`, `::1/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Option<IpNet> {
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr.parse().ok()?, Some(prefix.parse().ok()?)),
            None => (s.parse().ok()?, None),
        };
        let max = if matches!(addr, IpAddr::V4(_)) {
            32
        } else {
            128
        };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        fn bits_match(a: u128, b: u128, prefix: u8, width: u8) -> bool {
            if prefix == 0 {
                return true;
            }
            let shift = width - prefix;
            (a >> shift) == (b >> shift)
        }
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                bits_match(u32::from(net).into(), u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                bits_match(u128::from(net), u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Whether `ip` is on the public internet: not private, loopback, link-local,
/// shared (CGNAT), multicast, documentation or otherwise reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(ip) => {
            let [a, b, c, _] = ip.octets();
            !(ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_multicast()
                || ip.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(ip) => {
            let first = ip.segments()[0];
            !(ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first == 0x2001 && ip.segments()[1] == 0x0db8)) // documentation
        }
    }
}

/// Which addresses the fetcher may connect to: public ones, and the
/// operator's allowed networks (loopback by default, for development).
#[derive(Debug, Clone)]
pub struct AddressPolicy {
    pub allowed: Vec<IpNet>,
}

impl AddressPolicy {
    pub fn permits(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.allowed.iter().any(|net| net.contains(ip))
    }
}

/// The resolver's refusal, found again in reqwest's error chain.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to addresses this server does not fetch from ({addrs})")]
struct Refused {
    host: String,
    addrs: String,
}

struct GuardedResolver {
    policy: Arc<AddressPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (permitted, refused): (Vec<_>, Vec<_>) =
                found.into_iter().partition(|a| policy.permits(a.ip()));
            if permitted.is_empty() && !refused.is_empty() {
                let addrs = refused
                    .iter()
                    .map(|a| a.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Box::new(Refused { host, addrs }) as _);
            }
            Ok(Box::new(permitted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What an origin said about a cached copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// One fetch's outcome.
#[derive(Debug)]
pub enum Fetched {
    /// 304: the cached copy is still current.
    NotModified { max_age: Option<Duration> },
    /// A new body.
    Body {
        body: Bytes,
        content_type: String,
        validators: Validators,
        max_age: Option<Duration>,
    },
}

/// The HTTP client for media origins.
pub struct Origin {
    http: reqwest::Client,
    policy: Arc<AddressPolicy>,
    max_bytes: u64,
    timeout: Duration,
}

impl Origin {
    pub fn new(policy: AddressPolicy, max_bytes: u64, timeout: Duration) -> Origin {
        // One process-wide TLS provider; a second install is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let policy = Arc::new(policy);
        let redirect_policy = policy.clone();
        let http = reqwest::Client::builder()
            .user_agent(concat!("Switchboard-Media/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error("too many redirects");
                }
                if let Err(reason) = check_url(attempt.url(), &redirect_policy) {
                    return attempt.error(reason);
                }
                attempt.follow()
            }))
            .build()
            .expect("the media HTTP client configuration is valid");
        Origin {
            http,
            policy,
            max_bytes,
            timeout,
        }
    }

    /// Checks that `url` may be fetched at all (scheme, literal address).
    pub fn check(&self, url: &Url) -> Result<(), MediaError> {
        check_url(url, &self.policy).map_err(|reason| MediaError::Refused {
            url: url.to_string(),
            reason,
        })
    }

    /// GETs `url`, conditionally when `cached` holds validators.
    pub async fn fetch(
        &self,
        url: &Url,
        cached: Option<&Validators>,
    ) -> Result<Fetched, MediaError> {
        self.check(url)?;
        let shown = url.to_string();
        let mut request = self.http.get(url.clone()).timeout(self.timeout);
        if let Some(v) = cached {
            if let Some(etag) = &v.etag {
                request = request.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(date) = &v.last_modified {
                request = request.header(header::IF_MODIFIED_SINCE, date);
            }
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.request_error(&shown, e))?;
        let status = response.status();
        let max_age = freshness(response.headers());
        if status == StatusCode::NOT_MODIFIED && cached.is_some() {
            return Ok(Fetched::NotModified { max_age });
        }
        if !status.is_success() {
            return Err(MediaError::Status {
                url: shown,
                status: status.as_u16(),
            });
        }
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !AUDIO_TYPES.contains(&content_type.as_str()) {
            return Err(MediaError::ContentType {
                url: shown,
                content_type,
            });
        }
        let too_large = || MediaError::TooLarge {
            url: shown.clone(),
            limit: self.max_bytes,
        };
        // Refuse on the announced length before reading a byte of the body.
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes)
        {
            return Err(too_large());
        }
        let validators = Validators {
            etag: header_text(response.headers(), header::ETAG),
            last_modified: header_text(response.headers(), header::LAST_MODIFIED),
        };
        let mut response = response;
        let mut body = BytesMut::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.request_error(&shown, e))?
        {
            if (body.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body {
            body: body.freeze(),
            content_type,
            validators,
            max_age,
        })
    }

    fn request_error(&self, url: &str, err: reqwest::Error) -> MediaError {
        let url = url.to_owned();
        let mut source: Option<&dyn std::error::Error> = Some(&err);
        while let Some(e) = source {
            if let Some(refused) = e.downcast_ref::<Refused>() {
                return MediaError::Refused {
                    url,
                    reason: refused.to_string(),
                };
            }
            let text = e.to_string();
            if err.is_redirect() && text.contains("too many redirects") {
                return MediaError::TooManyRedirects { url };
            }
            if err.is_redirect() && text.contains("does not fetch from") {
                return MediaError::Refused { url, reason: text };
            }
            // tokio's getaddrinfo failure, passed through the resolver.
            if text.contains("failed to lookup address") {
                return MediaError::BadHost { url };
            }
            if e.downcast_ref::<rustls::Error>().is_some() {
                return MediaError::Tls { url, reason: text };
            }
            source = e.source();
        }
        if err.is_timeout() {
            return MediaError::Timeout {
                url,
                secs: self.timeout.as_secs(),
            };
        }
        MediaError::Connection {
            url,
            reason: error_chain(&err),
        }
    }
}

fn check_url(url: &Url, policy: &AddressPolicy) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("the {} scheme is not fetched", url.scheme()));
    }
    let ip = match url.host() {
        None => return Err("the URL has no host".into()),
        Some(Host::Domain(_)) => return Ok(()),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
    };
    if policy.permits(ip) {
        Ok(())
    } else {
        Err(format!(
            "{ip} is a private, loopback or link-local address this server does not fetch from"
        ))
    }
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// How long a response may be used without asking again: `Cache-Control`
/// (`no-cache`/`no-store` mean "ask every time"), else `Expires`, else unknown.
pub fn freshness(headers: &HeaderMap) -> Option<Duration> {
    if let Some(cc) = headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
    {
        for directive in cc.split(',').map(|d| d.trim().to_ascii_lowercase()) {
            if directive == "no-cache" || directive == "no-store" {
                return Some(Duration::ZERO);
            }
            if let Some(secs) = directive.strip_prefix("max-age=") {
                if let Ok(secs) = secs.trim_matches('"').parse::<u64>() {
                    return Some(Duration::from_secs(secs));
                }
            }
        }
    }
    let expires = headers.get(header::EXPIRES)?.to_str().ok()?;
    let expires = httpdate::parse_http_date(expires).ok()?;
    let now = headers
        .get(header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .unwrap_or_else(SystemTime::now);
    Some(expires.duration_since(now).unwrap_or(Duration::ZERO))
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &[&str]) -> AddressPolicy {
        AddressPolicy {
            allowed: allowed.iter().map(|s| IpNet::parse(s).unwrap()).collect(),
        }
    }

    #[test]
    fn private_loopback_and_link_local_addresses_are_not_public() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn allowed_networks_open_exactly_their_range() {
        let p = policy(&["127.0.0.0/8", "::1", "10.20.0.0/16"]);
        assert!(p.permits("127.0.0.1".parse().unwrap()));
        assert!(p.permits("::1".parse().unwrap()));
        assert!(p.permits("10.20.255.1".parse().unwrap()));
        assert!(!p.permits("10.21.0.1".parse().unwrap()));
        assert!(!p.permits("169.254.169.254".parse().unwrap()));
        assert!(IpNet::parse("10.0.0.0/33").is_none());
        assert!(IpNet::parse("nonsense").is_none());
    }

    #[test]
    fn literal_private_urls_and_odd_schemes_are_refused_before_any_request() {
        let p = policy(&[]);
        for url in [
            "http://10.0.0.1/a.wav",
            "http://[fe80::1]/a.wav",
            "http://169.254.169.254/latest",
            "file:///etc/passwd",
        ] {
            assert!(check_url(&Url::parse(url).unwrap(), &p).is_err(), "{url}");
        }
        assert!(check_url(&Url::parse("https://example.com/a.wav").unwrap(), &p).is_ok());
    }

    #[test]
    fn freshness_follows_cache_control_then_expires() {
        let mut h = HeaderMap::new();
        assert_eq!(freshness(&h), None);
        h.insert(
            header::CACHE_CONTROL,
            "public, max-age=600".parse().unwrap(),
        );
        assert_eq!(freshness(&h), Some(Duration::from_secs(600)));
        h.insert(header::CACHE_CONTROL, "no-cache".parse().unwrap());
        assert_eq!(freshness(&h), Some(Duration::ZERO));
        h.remove(header::CACHE_CONTROL);
        h.insert(
            header::DATE,
            "Wed, 25 Nov 2026 01:00:00 GMT".parse().unwrap(),
        );
        h.insert(
            header::EXPIRES,
            "Wed, 25 Nov 2026 01:01:00 GMT".parse().unwrap(),
        );
        assert_eq!(freshness(&h), Some(Duration::from_secs(60)));
    }
}
