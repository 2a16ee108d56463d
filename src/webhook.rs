//! Requests to developers' applications (TwiML fetches, status callbacks),
//! signed exactly as Twilio signs them so `RequestValidator` accepts them.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// `X-Twilio-Signature`: HMAC-SHA1, keyed by the account's AuthToken, over the
/// full URL followed by each POST parameter's name and value, sorted by name.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac =
        Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Chooses the process-wide TLS implementation every HTTP client uses; a
/// second call is harmless.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    /// Twilio's method attribute values; anything but GET is POST.
    pub fn parse(s: Option<&str>) -> Method {
        match s {
            Some(m) if m.eq_ignore_ascii_case("GET") => Method::Get,
            _ => Method::Post,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One request to an application.
#[derive(Debug, Clone)]
pub struct Request {
    pub url: String,
    pub method: Method,
    pub params: Vec<(String, String)>,
}

/// What the application answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{url} is not a valid URL")]
    BadUrl { url: String },
    #[error("{url} could not be reached: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} did not answer within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("{url} answered HTTP {status}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{url} answered more than {limit} bytes")]
    TooLarge { url: String, limit: usize },
}

/// The HTTP client for webhooks, shared by every call.
#[derive(Clone)]
pub struct Webhooks {
    http: reqwest::Client,
    timeout: Duration,
}

/// Twilio refuses TwiML documents larger than this.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

impl Webhooks {
    pub fn new(timeout: Duration) -> Webhooks {
        install_tls_provider();
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "TwilioProxy/1.1 Switchboard/",
                env!("CARGO_PKG_VERSION")
            ))
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            // Thousands of calls fetch at once; keeping every connection
            // afterwards would cost each one its buffers for nothing.
            .pool_max_idle_per_host(64)
            .build()
            .expect("the HTTP client's configuration is valid");
        Webhooks { http, timeout }
    }

    /// Sends `request` signed with `auth_token`; a non-2xx answer is an error.
    pub async fn send(&self, request: &Request, auth_token: &str) -> Result<Answer, WebhookError> {
        let mut url = url::Url::parse(&request.url).map_err(|_| WebhookError::BadUrl {
            url: request.url.clone(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(WebhookError::BadUrl {
                url: request.url.clone(),
            });
        }
        let builder = match request.method {
            Method::Get => {
                url.query_pairs_mut().extend_pairs(&request.params);
                let signed = signature(auth_token, url.as_str(), &[]);
                self.http
                    .get(url.clone())
                    .header("X-Twilio-Signature", signed)
            }
            Method::Post => {
                let signed = signature(auth_token, url.as_str(), &request.params);
                self.http
                    .post(url.clone())
                    .header("X-Twilio-Signature", signed)
                    .form(&request.params)
            }
        };
        let shown = request.url.clone();
        let response = builder.timeout(self.timeout).send().await.map_err(|e| {
            if e.is_timeout() {
                WebhookError::Timeout {
                    url: shown.clone(),
                    secs: self.timeout.as_secs(),
                }
            } else {
                WebhookError::Unreachable {
                    url: shown.clone(),
                    reason: root_cause(&e),
                }
            }
        })?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = read_limited(response, &shown).await?;
        if !(200..300).contains(&status) {
            return Err(WebhookError::Status {
                url: shown,
                status,
                body,
            });
        }
        Ok(Answer {
            status,
            content_type,
            body,
        })
    }
}

impl Webhooks {
    /// POSTs a JSON body (an Event Streams delivery). Twilio signs these over
    /// the URL alone: the body is not form parameters.
    pub async fn send_json(
        &self,
        url: &str,
        body: String,
        auth_token: &str,
    ) -> Result<(), WebhookError> {
        let parsed = url::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| WebhookError::BadUrl {
                url: url.to_owned(),
            })?;
        let response = self
            .http
            .post(parsed.clone())
            .header(
                "X-Twilio-Signature",
                signature(auth_token, parsed.as_str(), &[]),
            )
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .body(body)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    WebhookError::Timeout {
                        url: url.to_owned(),
                        secs: self.timeout.as_secs(),
                    }
                } else {
                    WebhookError::Unreachable {
                        url: url.to_owned(),
                        reason: root_cause(&e),
                    }
                }
            })?;
        let status = response.status().as_u16();
        let body = read_limited(response, url).await?;
        if !(200..300).contains(&status) {
            return Err(WebhookError::Status {
                url: url.to_owned(),
                status,
                body,
            });
        }
        Ok(())
    }
}

async fn read_limited(mut response: reqwest::Response, url: &str) -> Result<String, WebhookError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_ANSWER_BYTES {
                    return Err(WebhookError::TooLarge {
                        url: url.to_owned(),
                        limit: MAX_ANSWER_BYTES,
                    });
                }
            }
            Ok(None) => return Ok(String::from_utf8_lossy(&body).into_owned()),
            Err(e) => {
                return Err(WebhookError::Unreachable {
                    url: url.to_owned(),
                    reason: root_cause(&e),
                })
            }
        }
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_twilios_documented_example() {
        let params = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(
            signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }
}
