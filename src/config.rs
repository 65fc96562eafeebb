//! Configuration from environment variables, validated once at cold start.

use url::Url;

use crate::domain::EmailAddress;

/// Default for `MAX_TTL_MINUTES`: seven days.
pub const DEFAULT_MAX_TTL_MINUTES: u32 = 10_080;

/// Upper bound for `MAX_TTL_MINUTES`: one year.
pub const MAX_TTL_LIMIT_MINUTES: u32 = 525_600;

/// Default for `RESEND_INTERVAL_SECONDS`: at most one email per profile per minute.
pub const DEFAULT_RESEND_INTERVAL_SECONDS: u32 = 60;

/// Default for `MAX_RESETS_PER_HOUR`.
pub const DEFAULT_MAX_RESETS_PER_HOUR: u32 = 5;

/// A missing or invalid setting, named by its environment variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable} {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self { variable, problem: problem.into() }
    }
}

/// Settings that shape the email, shared by the Lambda and the local runner.
#[derive(Debug, Clone)]
pub struct Settings {
    /// SES sender: `address` or `Display Name <address>`.
    pub email_from: String,
    /// Page the link opens; the token is appended as the `token` query parameter.
    pub reset_url_base: Url,
    pub app_name: String,
    pub max_ttl_minutes: u32,
    /// Shortest time between two emails to one profile, in seconds.
    pub resend_interval_seconds: u32,
    /// Maximum number of emails to one profile in any 60-minute window.
    pub max_resets_per_hour: u32,
}

/// DynamoDB table names, needed only by the AWS adapters.
#[derive(Debug, Clone)]
pub struct Tables {
    pub profiles: String,
    pub tokens: String,
    /// Delivery records (idempotency) and per-profile send history (rate limit): partition
    /// key `pk` (S), TTL attribute `expiresAt`.
    pub requests: String,
}

impl Settings {
    /// Reads `EMAIL_FROM`, `RESET_URL_BASE`, `APP_NAME` and `MAX_TTL_MINUTES` through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let email_from = required(&lookup, "EMAIL_FROM")?;
        check_sender(&email_from).map_err(|problem| ConfigError::new("EMAIL_FROM", problem))?;

        let reset_url_base = required(&lookup, "RESET_URL_BASE")?;
        let reset_url_base =
            parse_reset_url(&reset_url_base).map_err(|problem| ConfigError::new("RESET_URL_BASE", problem))?;

        let app_name = required(&lookup, "APP_NAME")?;
        if app_name.chars().count() > 64 || app_name.chars().any(char::is_control) {
            return Err(ConfigError::new("APP_NAME", "must be at most 64 characters, without control characters"));
        }

        let max_ttl_minutes =
            optional_number(&lookup, "MAX_TTL_MINUTES", DEFAULT_MAX_TTL_MINUTES, 1..=MAX_TTL_LIMIT_MINUTES, "minutes")?;
        let resend_interval_seconds = optional_number(
            &lookup,
            "RESEND_INTERVAL_SECONDS",
            DEFAULT_RESEND_INTERVAL_SECONDS,
            0..=86_400,
            "seconds",
        )?;
        let max_resets_per_hour =
            optional_number(&lookup, "MAX_RESETS_PER_HOUR", DEFAULT_MAX_RESETS_PER_HOUR, 1..=1_000, "emails")?;

        Ok(Self { email_from, reset_url_base, app_name, max_ttl_minutes, resend_interval_seconds, max_resets_per_hour })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_var)
    }
}

impl Tables {
    /// Reads `PROFILES_TABLE` and `TOKENS_TABLE` through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let profiles = required(&lookup, "PROFILES_TABLE")?;
        check_table(&profiles).map_err(|problem| ConfigError::new("PROFILES_TABLE", problem))?;
        let tokens = required(&lookup, "TOKENS_TABLE")?;
        check_table(&tokens).map_err(|problem| ConfigError::new("TOKENS_TABLE", problem))?;
        let requests = required(&lookup, "REQUESTS_TABLE")?;
        check_table(&requests).map_err(|problem| ConfigError::new("REQUESTS_TABLE", problem))?;
        Ok(Self { profiles, tokens, requests })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_var)
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn required(lookup: &impl Fn(&str) -> Option<String>, variable: &'static str) -> Result<String, ConfigError> {
    match lookup(variable) {
        Some(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(ConfigError::new(variable, "is not set")),
    }
}

fn optional_number(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
    unit: &str,
) -> Result<u32, ConfigError> {
    let Some(raw) = lookup(variable) else {
        return Ok(default);
    };
    raw.trim().parse::<u32>().ok().filter(|value| range.contains(value)).ok_or_else(|| {
        let (low, high) = (range.start(), range.end());
        ConfigError::new(variable, format!("must be a whole number of {unit} from {low} to {high}, got {raw:?}"))
    })
}

fn check_sender(sender: &str) -> Result<(), String> {
    let address = match sender.rsplit_once('<') {
        Some((name, rest)) if rest.ends_with('>') && !name.contains('>') => &rest[..rest.len() - 1],
        Some(_) => return Err(format!("must be an address or 'Name <address>', got {sender:?}")),
        None => sender,
    };
    if sender.chars().any(char::is_control) || EmailAddress::parse(address).is_none() {
        return Err(format!("must be an address or 'Name <address>', got {sender:?}"));
    }
    Ok(())
}

fn parse_reset_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|err| format!("must be an absolute URL ({err}), got {raw:?}"))?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(format!("must use https (http only for localhost), got {raw:?}")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("must name a host, got {raw:?}"));
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!("must not contain a fragment or credentials, got {raw:?}"));
    }
    if url.query_pairs().any(|(key, _)| key == "token") {
        return Err(format!("must not already contain a 'token' query parameter, got {raw:?}"));
    }
    Ok(url)
}

fn check_table(name: &str) -> Result<(), String> {
    let valid_name = (3..=255).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let arn = name.starts_with("arn:") && name.len() <= 1024 && !name.chars().any(|c| c.is_whitespace());
    if valid_name || arn {
        Ok(())
    } else {
        Err(format!("must be a DynamoDB table name (3-255 of a-z A-Z 0-9 _ - .) or a table ARN, got {name:?}"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup_from(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |key| map.get(key).cloned()
    }

    const VALID: &[(&str, &str)] = &[
        ("EMAIL_FROM", "Example <no-reply@example.com>"),
        ("RESET_URL_BASE", "https://example.com/reset?lang=en"),
        ("APP_NAME", "Example"),
    ];

    fn with(overrides: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut pairs: Vec<_> = VALID.iter().copied().filter(|(k, _)| !overrides.iter().any(|(o, _)| o == k)).collect();
        pairs.extend(overrides.iter().copied().filter(|(_, v)| !v.is_empty()));
        pairs
    }

    #[test]
    fn valid_settings() {
        let settings = Settings::from_lookup(lookup_from(VALID)).expect("valid");

        assert_eq!(settings.max_ttl_minutes, DEFAULT_MAX_TTL_MINUTES);
        assert_eq!(settings.resend_interval_seconds, DEFAULT_RESEND_INTERVAL_SECONDS);
        assert_eq!(settings.max_resets_per_hour, DEFAULT_MAX_RESETS_PER_HOUR);
        assert_eq!(settings.reset_url_base.as_str(), "https://example.com/reset?lang=en");
    }

    #[test]
    fn invalid_settings_name_the_variable() {
        let cases: &[(&str, &str)] = &[
            ("EMAIL_FROM", ""),
            ("EMAIL_FROM", "not-an-address"),
            ("EMAIL_FROM", "a@example.com, b@example.com"),
            ("EMAIL_FROM", "Name <a@example.com"),
            ("RESET_URL_BASE", ""),
            ("RESET_URL_BASE", "/relative/path"),
            ("RESET_URL_BASE", "http://example.com/reset"),
            ("RESET_URL_BASE", "ftp://example.com/reset"),
            ("RESET_URL_BASE", "https://example.com/reset#top"),
            ("RESET_URL_BASE", "https://user:pw@example.com/reset"),
            ("RESET_URL_BASE", "https://example.com/reset?token=x"),
            ("APP_NAME", ""),
            ("APP_NAME", "line\nbreak"),
            ("MAX_TTL_MINUTES", "0"),
            ("MAX_TTL_MINUTES", "-1"),
            ("MAX_TTL_MINUTES", "abc"),
            ("MAX_TTL_MINUTES", "525601"),
            ("RESEND_INTERVAL_SECONDS", "-1"),
            ("RESEND_INTERVAL_SECONDS", "86401"),
            ("MAX_RESETS_PER_HOUR", "0"),
            ("MAX_RESETS_PER_HOUR", "many"),
        ];
        for (variable, value) in cases {
            let pairs = with(&[(variable, value)]);
            let error = Settings::from_lookup(lookup_from(&pairs)).expect_err(value);
            assert_eq!(error.variable, *variable, "{variable}={value:?}");
            assert!(error.to_string().contains(variable));
        }
    }

    #[test]
    fn loopback_http_is_allowed() {
        let pairs = with(&[("RESET_URL_BASE", "http://localhost:3000/reset")]);

        assert!(Settings::from_lookup(lookup_from(&pairs)).is_ok());
    }

    #[test]
    fn table_names() {
        let ok = Tables::from_lookup(lookup_from(&[
            ("PROFILES_TABLE", "profiles"),
            ("TOKENS_TABLE", "reset-tokens"),
            ("REQUESTS_TABLE", "reset-requests"),
        ]));
        let missing = Tables::from_lookup(lookup_from(&[("PROFILES_TABLE", "profiles")])).expect_err("missing");
        let bad = Tables::from_lookup(lookup_from(&[
            ("PROFILES_TABLE", "a b"),
            ("TOKENS_TABLE", "t-1"),
            ("REQUESTS_TABLE", "r-1"),
        ]))
        .expect_err("bad");

        assert!(ok.is_ok());
        assert_eq!(missing.variable, "TOKENS_TABLE");
        assert_eq!(bad.variable, "PROFILES_TABLE");
    }
}
