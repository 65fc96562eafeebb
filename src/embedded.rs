//! Local adapters: profiles from a JSON fixture, tokens in memory (optionally mirrored to a
//! JSON file) and an outbox that keeps sent messages (optionally written as files). The
//! local runner uses them, and so do tests that need no emulator.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::config::Settings;
use crate::domain::ProfileId;
use crate::error::BackendError;
use crate::ports::{
    BeginOutcome, DeliveryRecord, EmailIdentity, Ledger, Mailer, OutgoingEmail, ProfileRecord, ProfileStore,
    SendHistory, SendPlan, TokenRecord, TokenStore,
};

/// The fixture compiled into the binary: `fixtures/profiles.json`.
pub const DEFAULT_PROFILES: &str = include_str!("../fixtures/profiles.json");

/// Settings the local runner uses for any variable that is not set.
pub fn demo_setting(variable: &str) -> Option<String> {
    let value = match variable {
        "EMAIL_FROM" => "Example App <no-reply@example.com>",
        "RESET_URL_BASE" => "https://example.com/reset-password",
        "APP_NAME" => "Example App",
        _ => return None,
    };
    Some(value.to_string())
}

/// Demo settings: the environment first, then [`demo_setting`].
pub fn demo_settings() -> Result<Settings, crate::config::ConfigError> {
    Settings::from_lookup(|name| std::env::var(name).ok().or_else(|| demo_setting(name)))
}

/// Profiles read once from a JSON document `{"profiles": [...]}` whose items look like the
/// DynamoDB items: `profileId`, `identities.Email`, `userName`, `languageCode`.
pub struct FixtureProfiles {
    profiles: HashMap<String, ProfileRecord>,
}

impl FixtureProfiles {
    pub fn from_json(document: &str) -> Result<Self, String> {
        let root: Value =
            serde_json::from_str(document).map_err(|err| format!("profiles fixture is not JSON: {err}"))?;
        let items = root["profiles"].as_array().ok_or("profiles fixture has no \"profiles\" array")?;

        let mut profiles = HashMap::new();
        for item in items {
            let id = item["profileId"].as_str().ok_or("a fixture profile has no string \"profileId\"")?;
            profiles.insert(id.to_owned(), record_from_json(item));
        }
        Ok(Self { profiles })
    }
}

fn record_from_json(item: &Value) -> ProfileRecord {
    let email = match item.get("identities").and_then(|ids| ids.get("Email")) {
        None | Some(Value::Null) => EmailIdentity::Absent,
        Some(Value::String(raw)) if raw.is_empty() => EmailIdentity::Absent,
        Some(Value::String(raw)) => EmailIdentity::Text(raw.clone()),
        Some(_) => EmailIdentity::NotText,
    };
    ProfileRecord {
        email,
        user_name: item["userName"].as_str().map(str::to_owned),
        language_code: item["languageCode"].as_str().map(str::to_owned),
    }
}

#[async_trait]
impl ProfileStore for FixtureProfiles {
    async fn find_profile(&self, id: &ProfileId) -> Result<Option<ProfileRecord>, BackendError> {
        Ok(self.profiles.get(id.as_str()).cloned())
    }
}

/// Token items keyed by profile id, like the DynamoDB table, plus the request records
/// (delivery records and send histories). One lock makes each method atomic. With a file,
/// every change of the token items is written to it as JSON so the user can inspect them.
#[derive(Default)]
pub struct MemoryTokens {
    state: Mutex<LedgerState>,
    file: Option<PathBuf>,
}

#[derive(Default)]
struct LedgerState {
    tokens: HashMap<String, TokenRecord>,
    deliveries: HashMap<String, DeliveryRecord>,
    histories: HashMap<String, SendHistory>,
}

impl MemoryTokens {
    /// Creates a store that starts with the token items in `file` (if it exists) and writes every
    /// change back.
    pub fn with_file(file: PathBuf) -> Result<Self, String> {
        let mut state = LedgerState::default();
        if file.exists() {
            let text = fs::read_to_string(&file).map_err(|err| format!("cannot read {}: {err}", file.display()))?;
            let stored: Value =
                serde_json::from_str(&text).map_err(|err| format!("{} is not JSON: {err}", file.display()))?;
            for item in stored.as_array().into_iter().flatten() {
                if let Some(record) = record_from_item(item) {
                    state.tokens.insert(record.profile_id.as_str().to_owned(), record);
                }
            }
        }
        Ok(Self { state: Mutex::new(state), file: Some(file) })
    }

    /// Returns a copy of every stored token item.
    pub fn snapshot(&self) -> Vec<TokenRecord> {
        self.lock().tokens.values().cloned().collect()
    }

    /// Returns the delivery record stored under `key`.
    pub fn delivery(&self, key: &str) -> Option<DeliveryRecord> {
        self.lock().deliveries.get(key).cloned()
    }

    /// Returns the stored send history of `profile_id`.
    pub fn history(&self, profile_id: &str) -> SendHistory {
        self.lock().histories.get(profile_id).cloned().unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LedgerState> {
        // A panic while holding the lock leaves plain data behind, still usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn persist(&self, tokens: &HashMap<String, TokenRecord>, operation: &'static str) -> Result<(), BackendError> {
        let Some(file) = &self.file else { return Ok(()) };
        let mut list: Vec<&TokenRecord> = tokens.values().collect();
        list.sort_by(|a, b| a.profile_id.as_str().cmp(b.profile_id.as_str()));
        let document = Value::Array(list.into_iter().map(item_from_record).collect());
        let text = serde_json::to_string_pretty(&document).unwrap_or_default();
        fs::write(file, text)
            .map_err(|err| BackendError::permanent(operation, format!("writing the token file failed: {err}")))
    }
}

fn item_from_record(record: &TokenRecord) -> Value {
    json!({
        "profileId": record.profile_id.as_str(),
        "tokenHash": record.token_hash,
        "createdAt": record.created_at,
        "expiresAt": record.expires_at,
    })
}

fn record_from_item(item: &Value) -> Option<TokenRecord> {
    Some(TokenRecord {
        profile_id: ProfileId::parse(item["profileId"].as_str()?).ok()?,
        token_hash: item["tokenHash"].as_str()?.to_owned(),
        created_at: item["createdAt"].as_u64()?,
        expires_at: item["expiresAt"].as_u64()?,
    })
}

#[async_trait]
impl TokenStore for MemoryTokens {
    async fn load(&self, delivery_key: Option<&str>, profile_id: &ProfileId) -> Result<Ledger, BackendError> {
        let state = self.lock();
        Ok(Ledger {
            delivery: delivery_key.and_then(|key| state.deliveries.get(key).cloned()),
            history: state.histories.get(profile_id.as_str()).cloned().unwrap_or_default(),
        })
    }

    async fn begin_send(&self, plan: &SendPlan) -> Result<BeginOutcome, BackendError> {
        let mut state = self.lock();
        let profile = plan.token.profile_id.as_str();

        let stored_version = state.histories.get(profile).map_or(0, |history| history.version);
        let claimed = plan.delivery_key.as_ref().is_some_and(|key| match state.deliveries.get(key) {
            None => false,
            Some(DeliveryRecord::Sending { token_hash, .. }) => plan.replaces_attempt.as_ref() != Some(token_hash),
            Some(DeliveryRecord::Completed { .. }) => true,
        });
        if stored_version != plan.history_before.version || claimed {
            return Ok(BeginOutcome::Conflict);
        }

        state.tokens.insert(profile.to_owned(), plan.token.clone());
        state.histories.insert(profile.to_owned(), plan.history_after.clone());
        if let Some(key) = &plan.delivery_key {
            let record = DeliveryRecord::Sending {
                profile_id: profile.to_owned(),
                token_hash: plan.token.token_hash.clone(),
                locked_until: plan.locked_until,
            };
            state.deliveries.insert(key.clone(), record);
        }
        self.persist(&state.tokens, "TransactWriteItems")?;
        Ok(BeginOutcome::Started)
    }

    async fn abort_send(&self, plan: &SendPlan) -> Result<(), BackendError> {
        let mut state = self.lock();
        let profile = plan.token.profile_id.as_str();

        if state.tokens.get(profile).is_some_and(|item| item.token_hash == plan.token.token_hash) {
            state.tokens.remove(profile);
        }
        if state.histories.get(profile).is_some_and(|history| history.version == plan.history_after.version) {
            // A fresh version, as the DynamoDB adapter writes, keeps the optimistic lock safe.
            let restored =
                SendHistory { sends: plan.history_before.sends.clone(), version: plan.history_after.version + 1 };
            state.histories.insert(profile.to_owned(), restored);
        }
        if let Some(key) = &plan.delivery_key {
            let ours = |record: &DeliveryRecord| matches!(record, DeliveryRecord::Sending { token_hash, .. } if *token_hash == plan.token.token_hash);
            if state.deliveries.get(key).is_some_and(ours) {
                state.deliveries.remove(key);
            }
        }
        self.persist(&state.tokens, "DeleteItem")
    }

    async fn current_token_hash(&self, profile_id: &ProfileId) -> Result<Option<String>, BackendError> {
        Ok(self.lock().tokens.get(profile_id.as_str()).map(|record| record.token_hash.clone()))
    }

    async fn complete(
        &self,
        delivery_key: &str,
        profile_id: &ProfileId,
        response: &str,
        _expires_at: u64,
    ) -> Result<(), BackendError> {
        let record =
            DeliveryRecord::Completed { profile_id: profile_id.as_str().to_owned(), response: response.to_owned() };
        self.lock().deliveries.insert(delivery_key.to_owned(), record);
        Ok(())
    }
}

/// A mailer that keeps every message. With a folder, each message is also written there as
/// `reset-N.eml` (MIME, openable in a mail client) and `reset-N.html`.
#[derive(Default)]
pub struct Outbox {
    sent: Mutex<Vec<OutgoingEmail>>,
    folder: Option<PathBuf>,
}

impl Outbox {
    pub fn with_folder(folder: PathBuf) -> Self {
        Self { sent: Mutex::default(), folder: Some(folder) }
    }

    pub fn sent(&self) -> Vec<OutgoingEmail> {
        self.sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Path of the `.eml` file of message number `index` (from 1).
    pub fn message_path(folder: &Path, index: usize, extension: &str) -> PathBuf {
        folder.join(format!("reset-{index}.{extension}"))
    }
}

#[async_trait]
impl Mailer for Outbox {
    async fn send_email(&self, email: &OutgoingEmail) -> Result<(), BackendError> {
        let mut sent = self.sent.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        sent.push(email.clone());

        if let Some(folder) = &self.folder {
            let write_error =
                |err: std::io::Error| BackendError::permanent("SendEmail", format!("writing the outbox failed: {err}"));
            fs::create_dir_all(folder).map_err(write_error)?;
            fs::write(Self::message_path(folder, sent.len(), "eml"), to_mime(email)).map_err(write_error)?;
            fs::write(Self::message_path(folder, sent.len(), "html"), &email.html).map_err(write_error)?;
        }
        Ok(())
    }
}

/// Renders a message as a MIME `multipart/alternative` document with 8-bit UTF-8 parts.
fn to_mime(email: &OutgoingEmail) -> String {
    let boundary = "reset-mailer-alternative";
    format!(
        "Date: {date}\r\nMessage-ID: <{id}@reset-mailer.local>\r\n\
         From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n\
         --{boundary}\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{html}\r\n\
         --{boundary}--\r\n",
        date = httpdate::fmt_http_date(std::time::SystemTime::now()),
        id = uuid::Uuid::new_v4(),
        from = email.from,
        to = email.to.as_str(),
        subject = email.subject,
        text = email.text,
        html = email.html,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_fixture_loads() {
        let profiles = FixtureProfiles::from_json(DEFAULT_PROFILES).expect("fixture");

        let demo = &profiles.profiles["demo-profile-1"];
        assert_eq!(demo.email, EmailIdentity::Text("demo.user@example.com".into()));
        assert_eq!(profiles.profiles["demo-no-email"].email, EmailIdentity::Absent);
    }

    #[test]
    fn identity_shapes() {
        let cases = [
            (json!({}), EmailIdentity::Absent),
            (json!({"identities": {}}), EmailIdentity::Absent),
            (json!({"identities": {"Email": ""}}), EmailIdentity::Absent),
            (json!({"identities": {"Email": ["a@example.com"]}}), EmailIdentity::NotText),
            (json!({"identities": {"Email": "a@example.com"}}), EmailIdentity::Text("a@example.com".into())),
        ];
        for (item, expected) in cases {
            assert_eq!(record_from_json(&item).email, expected, "{item}");
        }
    }

    #[tokio::test]
    async fn token_file_round_trip() {
        let dir = std::env::temp_dir().join(format!("reset-mailer-tokens-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("tokens.json");
        let record = TokenRecord {
            profile_id: ProfileId::parse("p-1").expect("id"),
            token_hash: "ab".repeat(32),
            created_at: 100,
            expires_at: 160,
        };

        let plan = SendPlan {
            token: record.clone(),
            delivery_key: None,
            replaces_attempt: None,
            locked_until: 160,
            history_before: SendHistory::default(),
            history_after: SendHistory { sends: vec![100], version: 1 },
        };
        let store = MemoryTokens::with_file(file.clone()).expect("store");
        assert_eq!(store.begin_send(&plan).await.expect("begin"), BeginOutcome::Started);
        let reopened = MemoryTokens::with_file(file).expect("reopen");

        assert_eq!(reopened.snapshot(), vec![record]);
        fs::remove_dir_all(dir).ok();
    }
}
