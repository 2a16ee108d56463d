//! Twilio-shaped resource identifiers: a two-letter prefix and 32 lowercase hex digits.

use std::fmt;

/// The kinds of resource Switchboard names, with the prefix Twilio uses for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Account,
    Call,
    Recording,
    Application,
    PhoneNumber,
    Notification,
    Conference,
    Queue,
    ApiKey,
    ConnectApp,
    Request,
    /// An Event Streams sink.
    Sink,
    /// An Event Streams subscription.
    Subscription,
}

impl Kind {
    pub const fn prefix(self) -> &'static str {
        match self {
            Kind::Account => "AC",
            Kind::Call => "CA",
            Kind::Recording => "RE",
            Kind::Application => "AP",
            Kind::PhoneNumber => "PN",
            Kind::Notification => "NO",
            Kind::Conference => "CF",
            Kind::Queue => "QU",
            Kind::ApiKey => "SK",
            Kind::ConnectApp => "CN",
            Kind::Request => "RQ",
            Kind::Sink => "DG",
            Kind::Subscription => "DF",
        }
    }
}

/// A resource identifier such as `AC0123…` (34 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid(String);

impl Sid {
    /// A fresh random identifier of the given kind.
    pub fn new(kind: Kind) -> Sid {
        let bytes: [u8; 16] = rand::random();
        Sid(format!("{}{}", kind.prefix(), hex::encode(bytes)))
    }

    /// Accepts `s` only if it is a well-formed identifier of `kind`.
    pub fn parse(kind: Kind, s: &str) -> Option<Sid> {
        let hex = s.strip_prefix(kind.prefix())?;
        let well_formed = hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| Sid(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A random secret of 32 lowercase hex digits, the shape of a Twilio AuthToken.
pub fn new_secret() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_sid_has_its_prefix_and_32_lowercase_hex_digits() {
        let sid = Sid::new(Kind::Call);
        assert_eq!(sid.as_str().len(), 34);
        assert!(sid.as_str().starts_with("CA"));
        assert_eq!(Sid::parse(Kind::Call, sid.as_str()), Some(sid));
    }

    #[test]
    fn parse_refuses_the_wrong_prefix_length_or_case() {
        let good = "AC0123456789abcdef0123456789abcdef";
        assert!(Sid::parse(Kind::Account, good).is_some());
        assert!(Sid::parse(Kind::Call, good).is_none());
        assert!(Sid::parse(Kind::Account, &good[..33]).is_none());
        assert!(Sid::parse(Kind::Account, &good.to_uppercase()).is_none());
        assert!(Sid::parse(Kind::Account, "AC0123456789abcdef0123456789abcdeg").is_none());
    }
}
