//! Typed values of a password reset: profile id, token lifetime, email address and token.
//!
//! Each `parse` or `new` returns a plain-words problem on failure; the servop parser turns
//! it into a brainCloud error that names the field.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Maximum length of a profile id, in characters. brainCloud profile ids are 36-character
/// UUIDs; the margin leaves room for other id schemes.
pub const MAX_PROFILE_ID_CHARS: usize = 128;

/// Number of random bytes in a reset token (256 bits from the OS CSPRNG).
pub const TOKEN_SECRET_BYTES: usize = 32;

/// A brainCloud profile id: non-empty, at most [`MAX_PROFILE_ID_CHARS`] characters, without
/// control characters or surrounding whitespace.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ProfileId(String);

impl ProfileId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("must not be empty".into());
        }
        if raw.chars().count() > MAX_PROFILE_ID_CHARS {
            return Err(format!("must be at most {MAX_PROFILE_ID_CHARS} characters long"));
        }
        if raw.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        if raw.trim() != raw {
            return Err("must not start or end with whitespace".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProfileId({:?})", self.0)
    }
}

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How long a reset token stays usable, in whole minutes, from 1 to the configured maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTtl {
    minutes: u32,
}

impl TokenTtl {
    pub fn new(minutes: u64, max_minutes: u32) -> Result<Self, String> {
        if minutes < 1 || minutes > u64::from(max_minutes) {
            return Err(format!("must be between 1 and {max_minutes} minutes"));
        }
        // The range check above guarantees the value fits.
        let minutes = u32::try_from(minutes).map_err(|_| "is too large".to_string())?;
        Ok(Self { minutes })
    }

    pub fn minutes(self) -> u32 {
        self.minutes
    }

    pub fn seconds(self) -> u64 {
        u64::from(self.minutes) * 60
    }

    /// Describes the lifetime in words, largest units first: "24 hours", "1 day 2 hours",
    /// "90 minutes" is written "1 hour 30 minutes".
    pub fn describe(self) -> String {
        let days = self.minutes / 1440;
        let hours = self.minutes % 1440 / 60;
        let minutes = self.minutes % 60;

        // Whole days below two read better as hours: "24 hours" rather than "1 day".
        let (days, hours) = if days == 1 && hours == 0 && minutes == 0 { (0, 24) } else { (days, hours) };

        let parts: Vec<String> = [(days, "day"), (hours, "hour"), (minutes, "minute")]
            .into_iter()
            .filter(|(count, _)| *count > 0)
            .map(|(count, unit)| format!("{count} {unit}{}", if count == 1 { "" } else { "s" }))
            .collect();
        parts.join(" ")
    }
}

/// A single email address, kept exactly as stored.
///
/// Accepts what SES can deliver to: ASCII only (SES does not support SMTPUTF8), one `@`,
/// a dot-atom local part of at most 64 characters and a domain of at least two labels.
/// Display names, lists and quoted local parts are rejected.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

const LOCAL_PART_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~.";

impl EmailAddress {
    pub fn parse(raw: &str) -> Option<Self> {
        if raw.len() > 254 {
            return None;
        }
        let (local, domain) = raw.split_once('@')?;
        if valid_local_part(local) && valid_domain(domain) {
            Some(Self(raw.to_owned()))
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn valid_local_part(local: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || LOCAL_PART_SPECIALS.contains(c);
    !local.is_empty()
        && local.len() <= 64
        && local.chars().all(allowed)
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let valid_label = |label: &&str| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    labels.len() >= 2 && labels.iter().all(valid_label)
}

// Personal data: keep addresses out of debug output and panics.
impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailAddress(<redacted>)")
    }
}

/// A freshly issued reset token: `<profile id, base64url>.<secret, base64url>`.
///
/// The profile id inside lets the reset page find the token item by its key; the secret
/// part carries the 256 random bits. Only [`ResetToken::digest`] is ever stored.
#[derive(Clone)]
pub struct ResetToken(String);

impl ResetToken {
    pub fn new(profile_id: &ProfileId, secret: [u8; TOKEN_SECRET_BYTES]) -> Self {
        let id_part = URL_SAFE_NO_PAD.encode(profile_id.as_str());
        let secret_part = URL_SAFE_NO_PAD.encode(secret);
        Self(format!("{id_part}.{secret_part}"))
    }

    /// Returns the lowercase hex SHA-256 of the whole token string, as stored in `tokenHash`.
    pub fn digest(&self) -> String {
        token_digest(&self.0)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ResetToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResetToken(<redacted>)")
    }
}

/// Computes the lowercase hex SHA-256 of a token string, as a verifier does from a link.
pub fn token_digest(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Fills a token secret from the operating system's CSPRNG.
pub fn os_random_secret() -> [u8; TOKEN_SECRET_BYTES] {
    let mut secret = [0u8; TOKEN_SECRET_BYTES];
    // NOTE: a failing OS random source leaves no safe way to issue tokens, so this aborts
    // the invocation. On Linux getrandom(2) fails only before the pool is seeded.
    getrandom::fill(&mut secret).expect("the OS random number generator failed");
    secret
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_id_rules() {
        let too_long = "a".repeat(MAX_PROFILE_ID_CHARS + 1);
        let longest = "é".repeat(MAX_PROFILE_ID_CHARS);

        assert!(ProfileId::parse("case-profile-1").is_ok());
        assert!(ProfileId::parse(&longest).is_ok());
        assert!(ProfileId::parse("").is_err());
        assert!(ProfileId::parse(&too_long).is_err());
        assert!(ProfileId::parse("a\nb").is_err());
        assert!(ProfileId::parse("a\u{0}").is_err());
        assert!(ProfileId::parse(" a").is_err());
        assert!(ProfileId::parse("   ").is_err());
    }

    #[test]
    fn ttl_bounds() {
        assert!(TokenTtl::new(0, 10080).is_err());
        assert!(TokenTtl::new(10081, 10080).is_err());
        assert!(TokenTtl::new(u64::MAX, 10080).is_err());
        assert_eq!(TokenTtl::new(10080, 10080).map(TokenTtl::seconds), Ok(604_800));
        assert_eq!(TokenTtl::new(1, 10080).map(TokenTtl::seconds), Ok(60));
    }

    #[test]
    fn ttl_descriptions() {
        let cases = [
            (1, "1 minute"),
            (45, "45 minutes"),
            (60, "1 hour"),
            (90, "1 hour 30 minutes"),
            (1440, "24 hours"),
            (1500, "1 day 1 hour"),
            (2880, "2 days"),
            (10080, "7 days"),
            (10081, "7 days 1 minute"),
        ];
        for (minutes, expected) in cases {
            let ttl = TokenTtl::new(minutes, 20_000).expect("in range");
            assert_eq!(ttl.describe(), expected, "for {minutes} minutes");
        }
    }

    #[test]
    fn email_addresses() {
        let valid = ["a@example.com", "First.Last+tag@mail.example.co.uk", "o'neil@x-y.org", "UPPER@EXAMPLE.COM"];
        let invalid = [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a@@example.com",
            "a@b@example.com",
            "a b@example.com",
            "a@example..com",
            ".a@example.com",
            "a.@example.com",
            "a..b@example.com",
            "a@-example.com",
            "a@example.com,b@example.com",
            "a@example.com\r\nBcc: b@example.com",
            "Name <a@example.com>",
            "\"quoted\"@example.com",
            "ü@example.com",
            "a@exämple.com",
        ];
        for raw in valid {
            assert_eq!(EmailAddress::parse(raw).map(|e| e.as_str().to_owned()), Some(raw.to_owned()), "{raw}");
        }
        for raw in invalid {
            assert!(EmailAddress::parse(raw).is_none(), "accepted {raw:?}");
        }
        let too_long = format!("{}@{}.com", "a".repeat(64), "b".repeat(190));
        assert!(EmailAddress::parse(&too_long).is_none());
    }

    #[test]
    fn token_format_and_digest() {
        let id = ProfileId::parse("case-profile-1").expect("valid id");
        let token = ResetToken::new(&id, [7; TOKEN_SECRET_BYTES]);
        let (id_part, secret_part) = token.expose().split_once('.').expect("two parts");

        assert_eq!(URL_SAFE_NO_PAD.decode(id_part).expect("base64url"), b"case-profile-1");
        assert_eq!(URL_SAFE_NO_PAD.decode(secret_part).expect("base64url"), vec![7; 32]);
        assert_eq!(token.digest().len(), 64);
        assert_eq!(token.digest(), token_digest(token.expose()));
        assert_ne!(token.digest(), ResetToken::new(&id, [8; TOKEN_SECRET_BYTES]).digest());
        assert_eq!(format!("{token:?}"), "ResetToken(<redacted>)");
    }

    #[test]
    fn sha256_known_vector() {
        assert_eq!(token_digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn os_secrets_differ() {
        assert_ne!(os_random_secret(), os_random_secret());
    }
}
