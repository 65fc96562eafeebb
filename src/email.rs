//! Composition of the reset email: subject, plain-text body and HTML body.

use std::time::{Duration, UNIX_EPOCH};

use url::Url;

use crate::config::Settings;
use crate::domain::{EmailAddress, ResetToken, TokenTtl};
use crate::ports::{OutgoingEmail, ProfileRecord};

/// Builds the reset link: `base` with the token appended as the `token` query parameter.
pub fn reset_link(base: &Url, token: &ResetToken) -> Url {
    let mut link = base.clone();
    link.query_pairs_mut().append_pair("token", token.expose());
    link
}

/// Composes the email for `profile`. Both bodies state the lifetime and the absolute
/// expiry time derived from `expires_at` (epoch seconds), so they agree with the stored item.
pub fn compose(
    settings: &Settings,
    profile: &ProfileRecord,
    to: EmailAddress,
    link: &Url,
    ttl: TokenTtl,
    expires_at: u64,
) -> OutgoingEmail {
    let app = settings.app_name.as_str();
    let greeting_name = profile.user_name.as_deref().map(printable).filter(|name| !name.is_empty());
    let lifetime = ttl.describe();
    let expiry = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(expires_at));

    let subject = format!("Reset your {app} password");

    let text_greeting = match &greeting_name {
        Some(name) => format!("Hello {name},"),
        None => "Hello,".to_string(),
    };
    let text = format!(
        "{text_greeting}\n\n\
         We received a request to reset the password of your {app} account. \
         To choose a new password, open this link:\n\n\
         {link}\n\n\
         The link expires in {lifetime} (at {expiry}).\n\n\
         If you did not request a password reset, you can ignore this email: \
         your password stays the same.\n"
    );

    let html_greeting = match &greeting_name {
        Some(name) => format!("Hello {},", escape_html(name)),
        None => "Hello,".to_string(),
    };
    let lang = profile.language_code.as_deref().filter(|code| is_language_tag(code)).unwrap_or("en");
    let app_html = escape_html(app);
    let link_html = escape_html(link.as_str());
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head><meta charset=\"utf-8\">\
         <title>Reset your {app_html} password</title></head>\n<body>\n\
         <p>{html_greeting}</p>\n\
         <p>We received a request to reset the password of your {app_html} account. \
         To choose a new password, open this link:</p>\n\
         <p><a href=\"{link_html}\">Reset my password</a></p>\n\
         <p>If the button does not work, copy this address into your browser:<br>{link_html}</p>\n\
         <p>The link expires in {lifetime} (at {expiry}).</p>\n\
         <p>If you did not request a password reset, you can ignore this email: \
         your password stays the same.</p>\n\
         </body>\n</html>\n"
    );

    OutgoingEmail { from: settings.email_from.clone(), to, subject, text, html }
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape_html(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// Replaces control characters (line breaks included) with spaces and trims the result,
/// so a stored name cannot add lines to the message.
fn printable(raw: &str) -> String {
    raw.chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim().to_string()
}

/// Accepts simple BCP 47 tags such as `en`, `fr-CA` or `zh-Hant`.
fn is_language_tag(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 35
        && code
            .split('-')
            .all(|part| !part.is_empty() && part.len() <= 8 && part.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ProfileId, TOKEN_SECRET_BYTES};
    use crate::ports::EmailIdentity;

    fn settings() -> Settings {
        Settings {
            email_from: "no-reply@example.com".into(),
            reset_url_base: Url::parse("https://example.com/reset?lang=en").expect("url"),
            app_name: "Tom & Jerry's".into(),
            max_ttl_minutes: 10080,
            resend_interval_seconds: 60,
            max_resets_per_hour: 5,
        }
    }

    fn profile(user_name: Option<&str>, language_code: Option<&str>) -> ProfileRecord {
        ProfileRecord {
            email: EmailIdentity::Text("a@example.com".into()),
            user_name: user_name.map(str::to_owned),
            language_code: language_code.map(str::to_owned),
        }
    }

    fn compose_for(profile: &ProfileRecord) -> (OutgoingEmail, Url) {
        let token = ResetToken::new(&ProfileId::parse("p-1").expect("id"), [1; TOKEN_SECRET_BYTES]);
        let link = reset_link(&settings().reset_url_base, &token);
        let to = EmailAddress::parse("a@example.com").expect("address");
        let ttl = TokenTtl::new(1440, 10080).expect("ttl");
        (compose(&settings(), profile, to, &link, ttl, 1_765_000_000), link)
    }

    #[test]
    fn link_keeps_base_query() {
        let token = ResetToken::new(&ProfileId::parse("p-1").expect("id"), [1; TOKEN_SECRET_BYTES]);
        let link = reset_link(&settings().reset_url_base, &token);

        let pairs: Vec<(String, String)> = link.query_pairs().into_owned().collect();
        assert_eq!(pairs, vec![("lang".into(), "en".into()), ("token".into(), token.expose().into())]);
        assert!(link.as_str().starts_with("https://example.com/reset?lang=en&token="));
    }

    #[test]
    fn bodies_carry_link_and_expiry() {
        let (email, link) = compose_for(&profile(Some("Ann"), Some("en")));

        assert!(email.text.contains(link.as_str()));
        assert!(email.html.contains(&escape_html(link.as_str())));
        assert!(email.text.contains("expires in 24 hours"));
        assert!(email.html.contains("expires in 24 hours"));
        assert!(email.text.contains("Sat, 06 Dec 2025 05:46:40 GMT"));
        assert!(email.html.contains("Sat, 06 Dec 2025 05:46:40 GMT"));
        assert!(email.text.starts_with("Hello Ann,"));
        assert_eq!(email.subject, "Reset your Tom & Jerry's password");
    }

    #[test]
    fn html_escapes_profile_values() {
        let (email, _) = compose_for(&profile(Some("<script>alert(1)</script>"), Some("en\"><script>")));

        assert!(!email.html.contains("<script>"));
        assert!(email.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(email.html.contains("<html lang=\"en\">"));
        assert!(email.html.contains("Tom &amp; Jerry&#39;s"));
    }

    #[test]
    fn name_cannot_add_lines() {
        let (email, _) = compose_for(&profile(Some("Eve\r\nBcc: x@example.com"), None));

        assert!(email.text.starts_with("Hello Eve  Bcc: x@example.com,\n"));
    }

    #[test]
    fn missing_name_uses_plain_greeting() {
        let (email, _) = compose_for(&profile(Some(" \n "), None));

        assert!(email.text.starts_with("Hello,\n"));
        assert!(email.html.contains("<p>Hello,</p>"));
    }
}
