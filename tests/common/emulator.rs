//! Helpers for the tests that drive the DynamoDB and SES v2 adapters over HTTP against a
//! moto server.
//!
//! `scripts/test.sh` starts moto on a loopback port and exports its URL as
//! `RESET_MAILER_TEST_ENDPOINT`. The tests run in parallel against that one server, so each
//! test takes a [`Sandbox`]: its own tables, its own verified sender and its own recipient.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use serde_json::{json, Value};
use url::Url;

use reset_mailer::aws::{app_with, ATTEMPT_TIMEOUT, CONNECT_TIMEOUT, MAX_ATTEMPTS, OPERATION_TIMEOUT};
use reset_mailer::config::{Settings, Tables, DEFAULT_MAX_TTL_MINUTES};
use reset_mailer::reset::{epoch_seconds, App};

/// Environment variable with the emulator's base URL, for example `http://127.0.0.1:5000`.
pub const ENDPOINT_VARIABLE: &str = "RESET_MAILER_TEST_ENDPOINT";

/// `APP_NAME` of every sandbox app. The subject of its email is "Reset your Reset Mailer Tests password".
pub const APP_NAME: &str = "Reset Mailer Tests";

/// `RESET_URL_BASE` of every sandbox app. Its own query parameter makes the HTML body escape
/// the `&` in front of `token`.
pub const RESET_URL_BASE: &str = "https://example.com/reset?lang=en";

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Returns the emulator URL from [`ENDPOINT_VARIABLE`], or `None` when the test should be
/// skipped.
///
/// # Panics
///
/// When the variable is missing and `CI` is set (to anything but an empty string, `0` or
/// `false`), because CI must run these tests. Also when the URL is not a loopback address,
/// because the AWS clients must never leave this machine.
pub fn endpoint() -> Option<String> {
    let Ok(endpoint) = std::env::var(ENDPOINT_VARIABLE) else {
        if running_in_ci() {
            panic!(
                "{ENDPOINT_VARIABLE} is not set, and CI requires the emulator tests: \
                 run them with `bash scripts/test.sh`, which starts moto and sets the variable"
            );
        }
        eprintln!(
            "note: {ENDPOINT_VARIABLE} is not set, so this emulator test is skipped; \
             `bash scripts/test.sh` starts moto and runs it"
        );
        return None;
    };
    check_loopback(&endpoint);
    Some(endpoint)
}

fn running_in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !matches!(value.trim(), "" | "0" | "false"))
}

fn check_loopback(endpoint: &str) {
    let url = Url::parse(endpoint).unwrap_or_else(|err| panic!("{ENDPOINT_VARIABLE}={endpoint:?} is not a URL: {err}"));
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    assert!(
        url.scheme() == "http" && loopback,
        "{ENDPOINT_VARIABLE}={endpoint:?} must be an http URL on 127.0.0.1, localhost or [::1]"
    );
}

/// Builds an SDK configuration that can only reach `endpoint`: explicit endpoint, region and
/// dummy credentials, and no host environment or profile files, so neither `AWS_*` variables
/// nor `~/.aws/config` can redirect a client. Time-outs and retries match
/// `reset_mailer::aws::load_sdk_config`.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .empty_test_environment()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "reset-mailer-tests"))
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .load()
        .await
}

/// Returns a unique sender address that is not verified in SES, so moto rejects mail from it.
pub fn unverified_sender() -> String {
    format!("unverified-{}@example.com", unique_id())
}

fn unique_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Builds the servop of a password reset request.
pub fn servop(profile_id: &str, ttl_minutes: u32) -> Value {
    json!({
        "service": "user",
        "operation": "SYS_SEND_PASSWORD_RESET_EMAIL_WITH_EXPIRY",
        "data": { "profileId": profile_id, "tokenTtlInMinutes": ttl_minutes },
    })
}

/// Builds a profile item with a user name, a language code and, when given, an `identities` map.
pub fn profile_item(profile_id: &str, identities: Option<Item>) -> Item {
    let mut item = Item::from([
        ("profileId".to_owned(), AttributeValue::S(profile_id.to_owned())),
        ("userName".to_owned(), AttributeValue::S("Ann Example".to_owned())),
        ("languageCode".to_owned(), AttributeValue::S("fr".to_owned())),
    ]);
    if let Some(identities) = identities {
        item.insert("identities".to_owned(), AttributeValue::M(identities));
    }
    item
}

/// Builds an `identities` map with `Email` set to `email` and an unrelated `Anonymous` entry.
pub fn identities_with_email(email: AttributeValue) -> Item {
    Item::from([("Email".to_owned(), email), ("Anonymous".to_owned(), AttributeValue::S("anonymous-id".to_owned()))])
}

/// Reads a Number (`N`) attribute as a whole number. Panics when it is missing or of another type.
pub fn number(item: &Item, name: &str) -> u64 {
    match item.get(name) {
        Some(AttributeValue::N(text)) => {
            text.parse().unwrap_or_else(|_| panic!("{name} = {text:?} is not a whole number"))
        }
        other => panic!("{name} must be a DynamoDB Number (N), got {other:?}"),
    }
}

/// Reads a String (`S`) attribute. Panics when it is missing or of another type.
pub fn string<'a>(item: &'a Item, name: &str) -> &'a str {
    match item.get(name) {
        Some(AttributeValue::S(text)) => text,
        other => panic!("{name} must be a DynamoDB String (S), got {other:?}"),
    }
}

/// Returns the current time as epoch seconds.
pub fn now() -> u64 {
    epoch_seconds(SystemTime::now())
}

/// One test's part of the emulator: two fresh tables, a verified sender and a recipient,
/// all with unique names.
pub struct Sandbox {
    pub endpoint: String,
    pub sdk_config: SdkConfig,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub ses: aws_sdk_sesv2::Client,
    pub tables: Tables,
    /// `EMAIL_FROM` of [`Sandbox::app`], with a display name. Its address is verified in SES.
    pub sender: String,
    /// Address stored in the profiles that [`Sandbox::put_profile_with_email`] writes. Mixed
    /// case and a `+` tag check that the address reaches SES byte for byte.
    pub recipient: String,
}

impl Sandbox {
    /// Creates the tables (the tokens table with TTL on `expiresAt`, as the README sets it
    /// up) and verifies the sender. Returns `None` when the emulator tests are skipped.
    pub async fn start() -> Option<Self> {
        let endpoint = endpoint()?;
        let sdk_config = sdk_config(&endpoint).await;
        let id = unique_id();
        let sandbox = Self {
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk_config),
            ses: aws_sdk_sesv2::Client::new(&sdk_config),
            endpoint,
            sdk_config,
            tables: Tables {
                profiles: format!("profiles-{id}"),
                tokens: format!("tokens-{id}"),
                requests: format!("requests-{id}"),
            },
            sender: format!("{APP_NAME} <no-reply-{id}@example.com>"),
            recipient: format!("Reset.User+{id}@Example.COM"),
        };

        sandbox.create_table(&sandbox.tables.profiles, "profileId").await;
        sandbox.create_table(&sandbox.tables.tokens, "profileId").await;
        sandbox.create_table(&sandbox.tables.requests, "pk").await;
        sandbox.enable_ttl(&sandbox.tables.tokens).await;
        sandbox.enable_ttl(&sandbox.tables.requests).await;
        sandbox.verify(&format!("no-reply-{id}@example.com")).await;
        Some(sandbox)
    }

    async fn create_table(&self, name: &str, key_name: &str) {
        let key_attribute = AttributeDefinition::builder()
            .attribute_name(key_name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute definition");
        let key = KeySchemaElement::builder().attribute_name(key_name).key_type(KeyType::Hash).build().expect("key");
        self.dynamodb
            .create_table()
            .table_name(name)
            .attribute_definitions(key_attribute)
            .key_schema(key)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .unwrap_or_else(|err| panic!("CreateTable {name} failed: {}", DisplayErrorContext(&err)));
    }

    async fn enable_ttl(&self, table: &str) {
        let specification =
            TimeToLiveSpecification::builder().enabled(true).attribute_name("expiresAt").build().expect("TTL spec");
        self.dynamodb
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(specification)
            .send()
            .await
            .unwrap_or_else(|err| panic!("UpdateTimeToLive failed: {}", DisplayErrorContext(&err)));
    }

    async fn verify(&self, address: &str) {
        self.ses
            .create_email_identity()
            .email_identity(address)
            .send()
            .await
            .unwrap_or_else(|err| panic!("CreateEmailIdentity failed: {}", DisplayErrorContext(&err)));
    }

    /// Builds the settings of a sandbox app that sends from `email_from`.
    pub fn settings(&self, email_from: &str) -> Settings {
        Settings {
            email_from: email_from.to_owned(),
            reset_url_base: Url::parse(RESET_URL_BASE).expect("reset URL"),
            app_name: APP_NAME.to_owned(),
            max_ttl_minutes: DEFAULT_MAX_TTL_MINUTES,
            ..Settings::from_lookup(reset_mailer::embedded::demo_setting).expect("demo settings")
        }
    }

    /// Builds the Lambda's app, wired to the emulator through the real DynamoDB and SES adapters.
    pub fn app(&self) -> App {
        self.app_sending_from(&self.sender)
    }

    /// Builds the app like [`Sandbox::app`], with another `EMAIL_FROM`.
    pub fn app_sending_from(&self, email_from: &str) -> App {
        app_with(self.settings(email_from), self.tables.clone(), &self.sdk_config)
    }

    pub async fn put_profile(&self, item: Item) {
        self.dynamodb
            .put_item()
            .table_name(&self.tables.profiles)
            .set_item(Some(item))
            .send()
            .await
            .unwrap_or_else(|err| panic!("PutItem into the profiles table failed: {}", DisplayErrorContext(&err)));
    }

    /// Stores a profile whose `identities.Email` is [`Sandbox::recipient`].
    pub async fn put_profile_with_email(&self, profile_id: &str) {
        let identities = identities_with_email(AttributeValue::S(self.recipient.clone()));
        self.put_profile(profile_item(profile_id, Some(identities))).await;
    }

    /// Reads the profile's token item with a consistent read.
    pub async fn token_item(&self, profile_id: &str) -> Option<Item> {
        self.dynamodb
            .get_item()
            .table_name(&self.tables.tokens)
            .key("profileId", AttributeValue::S(profile_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap_or_else(|err| panic!("GetItem from the tokens table failed: {}", DisplayErrorContext(&err)))
            .item
    }

    /// Scans the tokens table and returns every item.
    pub async fn token_items(&self) -> Vec<Item> {
        self.dynamodb
            .scan()
            .table_name(&self.tables.tokens)
            .consistent_read(true)
            .send()
            .await
            .unwrap_or_else(|err| panic!("Scan of the tokens table failed: {}", DisplayErrorContext(&err)))
            .items
            .unwrap_or_default()
    }

    /// Returns the mail that moto accepted from [`Sandbox::sender`], oldest first.
    pub fn sent_mail(&self) -> Vec<SentMail> {
        self.sent_mail_from(&self.sender)
    }

    /// Returns the mail that moto accepted from `source`, oldest first.
    pub fn sent_mail_from(&self, source: &str) -> Vec<SentMail> {
        let state: Value = serde_json::from_slice(&http_get(&self.endpoint, "/moto-api/data.json"))
            .expect("moto's /moto-api/data.json is not JSON");
        let messages = state["ses"]["Message"].as_array().cloned().unwrap_or_default();
        messages.iter().map(SentMail::from_moto).filter(|mail| mail.source == source).collect()
    }
}

/// One message as moto's SES backend recorded it.
#[derive(Debug, Clone)]
pub struct SentMail {
    pub source: String,
    pub to: Vec<String>,
    pub subject: String,
    /// The HTML part, which moto keeps when a message has both a text and an HTML part.
    pub body: String,
}

impl SentMail {
    fn from_moto(message: &Value) -> Self {
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        let to = message["destinations"]["ToAddresses"].as_array().map(|list| list.iter().map(text).collect());
        Self {
            source: text(&message["source"]),
            to: to.unwrap_or_default(),
            subject: text(&message["subject"]),
            body: text(&message["body"]),
        }
    }

    /// Extracts the reset link: the `href` of the first anchor in the HTML body, unescaped.
    pub fn link(&self) -> Url {
        let start = self.body.find("href=\"").expect("the HTML body has no link") + "href=\"".len();
        let length = self.body[start..].find('"').expect("unterminated href");
        let escaped = &self.body[start..start + length];
        let raw = escaped
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        Url::parse(&raw).unwrap_or_else(|err| panic!("the link {raw:?} is not a URL: {err}"))
    }

    /// Returns the `token` query parameter of the reset link.
    pub fn token(&self) -> String {
        let link = self.link();
        let mut tokens = link.query_pairs().filter(|(key, _)| key == "token").map(|(_, value)| value.into_owned());
        let token = tokens.next().unwrap_or_else(|| panic!("the link {link} has no token parameter"));
        assert!(tokens.next().is_none(), "the link {link} has more than one token parameter");
        token
    }
}

/// Sends `GET path` to the loopback `endpoint` and returns the body of a 200 response.
/// moto 5.2 sometimes returns a 500 for `/moto-api/data.json` while tables get their first
/// items, so a 500 is tried again a few times.
fn http_get(endpoint: &str, path: &str) -> Vec<u8> {
    for _ in 0..5 {
        match try_http_get(endpoint, path) {
            Ok(body) => return body,
            Err(status_line) if status_line.contains(" 500 ") => std::thread::sleep(Duration::from_millis(200)),
            Err(status_line) => panic!("GET {path} returned {status_line:?}"),
        }
    }
    panic!("GET {path} returned 500 five times");
}

/// Sends one `GET` and returns the body, or the status line of a response other than 200.
fn try_http_get(endpoint: &str, path: &str) -> Result<Vec<u8>, String> {
    let url = Url::parse(endpoint).expect("endpoint URL");
    let address = url.socket_addrs(|| None).expect("endpoint address")[0];
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))
        .unwrap_or_else(|err| panic!("connecting to the emulator at {endpoint} failed: {err}"));
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("read time-out");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").expect("sending the request");

    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap_or_else(|err| panic!("reading GET {path} failed: {err}"));
    let split =
        response.windows(4).position(|window| window == b"\r\n\r\n").expect("HTTP response without a header end");
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();

    let status_line = head.lines().next().unwrap_or_default();
    if status_line.split(' ').nth(1) != Some("200") {
        return Err(format!("{status_line} "));
    }
    // With `Connection: close` moto's server (Werkzeug 3.1) sends a plain body. A chunked body
    // would need decoding, so it fails the request here.
    assert!(!head.contains("transfer-encoding: chunked"), "GET {path} returned a chunked body");
    Ok(response.split_off(split + 4))
}
