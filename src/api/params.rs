//! Request parameters as Twilio sends them: form-encoded bodies and query
//! strings, with repeated keys (`StatusCallbackEvent=a&StatusCallbackEvent=b`).
//! Each typed getter answers a Twilio error that names the parameter.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;

use super::ApiError;

/// Twilio's code for an invalid parameter when no more specific one exists.
pub const INVALID_PARAMETER: u32 = 20001;
/// Twilio's code for a URL parameter that is not a valid URL.
pub const INVALID_URL: u32 = 21205;

#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(encoded: &[u8]) -> Params {
        Params(url::form_urlencoded::parse(encoded).into_owned().collect())
    }

    pub fn from_query(query: Option<&str>) -> Params {
        Params::parse(query.unwrap_or_default().as_bytes())
    }

    /// The last value given for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value given for a repeated parameter, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn require(&self, name: &str, code: u32) -> Result<&str, ApiError> {
        match self.get(name) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(ApiError::bad_request(
                code,
                format!("Required parameter {name} missing."),
            )),
        }
    }

    /// An absolute http(s) URL, or an error naming the parameter.
    pub fn url(&self, name: &str, code: u32) -> Result<Option<String>, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) => check_url(name, v, code).map(Some),
        }
    }

    /// `GET` or `POST` (any case), normalised to upper case.
    pub fn method(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("GET") || v.eq_ignore_ascii_case("POST") => {
                Ok(Some(v.to_ascii_uppercase()))
            }
            Some(v) => Err(invalid(name, v, "must be GET or POST")),
        }
    }

    /// One of `allowed`, exactly as Twilio spells it.
    pub fn keyword(&self, name: &str, allowed: &[&str]) -> Result<Option<&str>, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v)),
            Some(v) => Err(invalid(name, v, &one_of(allowed))),
        }
    }

    /// Any of `allowed`, given space-separated or as repeated parameters.
    pub fn keywords(&self, name: &str, allowed: &[&str]) -> Result<Vec<&str>, ApiError> {
        let mut found = Vec::new();
        for word in self.all(name).into_iter().flat_map(str::split_whitespace) {
            if !allowed.contains(&word) {
                return Err(invalid(name, word, &one_of(allowed)));
            }
            found.push(word);
        }
        Ok(found)
    }

    pub fn boolean(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(invalid(name, v, "must be true or false")),
        }
    }

    pub fn integer(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if range.contains(&n) => Ok(Some(n)),
                _ => Err(invalid(
                    name,
                    v,
                    &format!(
                        "must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )),
            },
        }
    }
}

/// "must be a, b or c".
fn one_of(allowed: &[&str]) -> String {
    match allowed {
        [] => "must be empty".into(),
        [only] => format!("must be {only}"),
        [init @ .., last] => format!("must be {} or {last}", init.join(", ")),
    }
}

pub fn invalid(name: &str, value: &str, why: &str) -> ApiError {
    ApiError::bad_request(
        INVALID_PARAMETER,
        format!("Invalid {name}: {value:?} {why}."),
    )
}

pub fn check_url(name: &str, value: &str, code: u32) -> Result<String, ApiError> {
    match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            Ok(value.to_owned())
        }
        _ => Err(ApiError::bad_request(
            code,
            format!("{name} is not a valid URL: {value:?}"),
        )),
    }
}

/// A form-encoded request body. Anything else is refused as Twilio does.
pub struct Form(pub Params);

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let form_encoded = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v.starts_with("application/x-www-form-urlencoded"));
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::bad_request(INVALID_PARAMETER, e.body_text()))?;
        if !form_encoded && !body.is_empty() {
            return Err(ApiError::bad_request(
                INVALID_PARAMETER,
                "Request bodies must be application/x-www-form-urlencoded.",
            ));
        }
        Ok(Form(Params::parse(&body)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_keep_every_value_and_the_last_wins_for_one() {
        let p = Params::parse(
            b"StatusCallbackEvent=initiated&StatusCallbackEvent=answered&Url=a&Url=b",
        );
        assert_eq!(p.all("StatusCallbackEvent"), ["initiated", "answered"]);
        assert_eq!(p.get("Url"), Some("b"));
    }

    #[test]
    fn typed_getters_name_the_parameter_in_their_errors() {
        let p = Params::parse(b"VoiceUrl=not+a+url&VoiceMethod=PUT&Trim=yes&Timeout=700");
        let err = p.url("VoiceUrl", INVALID_URL).unwrap_err();
        assert_eq!(err.code, 21205);
        assert!(err.message.contains("VoiceUrl"));
        assert!(p
            .method("VoiceMethod")
            .unwrap_err()
            .message
            .contains("VoiceMethod"));
        assert!(p.boolean("Trim").unwrap_err().message.contains("Trim"));
        assert_eq!(p.integer("Timeout", 1..=600).unwrap_err().code, 20001);
        assert_eq!(
            Params::parse(b"m=post").method("m").unwrap().as_deref(),
            Some("POST")
        );
    }
}
