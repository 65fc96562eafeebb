//! Load test of the Lambda's handler against a moto server on loopback.
//!
//! Drives `reset_mailer::trigger::handle_event` with the real DynamoDB and SES v2 adapters.
//! The invocations are spread over seeded profiles, a share of them repeat earlier
//! deliveries, and they mix EventBridge events, HTTP API (payload 2.0) requests and direct
//! invokes. Then it compares the responses with the mail moto accepted and prints a report.
//! `scripts/load-test.sh` starts moto, seeds it and runs this twice; see the load-test section of BENCHMARKS.md.
//!
//! Settings and table names come from the same environment variables as the Lambda
//! (`EMAIL_FROM`, `RESET_URL_BASE`, `APP_NAME`, `RESEND_INTERVAL_SECONDS`,
//! `MAX_RESETS_PER_HOUR`, `PROFILES_TABLE`, `TOKENS_TABLE`, `REQUESTS_TABLE`). The AWS
//! clients reach only the `--endpoint` given, which must be a loopback URL, with dummy
//! credentials. Set `RUST_LOG` to see the handler's log on stderr.
//!
//! The exit status is 1 when a check fails: emails that differ from the accepted deliveries,
//! two emails for one delivery, a lost request, or invocations left unsent at the time limit.
//! Stored tokens that no email carries are reported without failing the run: BENCHMARKS.md
//! explains how time-outs under load leave them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

use reset_mailer::aws::{app_with, ATTEMPT_TIMEOUT, CONNECT_TIMEOUT, MAX_ATTEMPTS, OPERATION_TIMEOUT};
use reset_mailer::config::{Settings, Tables};
use reset_mailer::domain::token_digest;
use reset_mailer::reset::App;
use reset_mailer::trigger::handle_event;

const USAGE: &str = "\
Usage: cargo run --release --example load -- --endpoint URL [options]

Options:
  --endpoint URL             moto server URL on 127.0.0.1, localhost or [::1] (required)
  --requests N               invocations to send, duplicates included (default 1000, max 100000)
  --profiles N               profiles to spread them over (default 200)
  --profile-prefix TEXT      profile ids are TEXT0, TEXT1, ... (default load-profile-)
  --concurrency N            invocations in flight at once (default 16, max 256)
  --duplicate-percent N      share of invocations that repeat an earlier delivery (default 10)
  --seed N                   seed of the request plan (default 1)
  --time-limit-seconds N     stop starting invocations after N seconds (default 600)
";

/// Maximum time one invocation may take before it counts as lost. The handler's own
/// time-outs end it within 24 s.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads of moto's state before the report gives up.
const MOTO_DATA_ATTEMPTS: usize = 5;

struct Options {
    endpoint: String,
    requests: usize,
    profiles: usize,
    profile_prefix: String,
    concurrency: usize,
    duplicate_percent: usize,
    seed: u64,
    time_limit: Duration,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        endpoint: String::new(),
        requests: 1000,
        profiles: 200,
        profile_prefix: "load-profile-".to_owned(),
        concurrency: 16,
        duplicate_percent: 10,
        seed: 1,
        time_limit: Duration::from_secs(600),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |max: u64| -> Result<u64, String> {
            value
                .parse::<u64>()
                .ok()
                .filter(|number| (1..=max).contains(number))
                .ok_or_else(|| format!("{flag} must be a whole number from 1 to {max}, got {value:?}"))
        };
        match flag.as_str() {
            "--endpoint" => options.endpoint = value.clone(),
            "--requests" => options.requests = number(100_000)? as usize,
            "--profiles" => options.profiles = number(100_000)? as usize,
            "--profile-prefix" => options.profile_prefix = value.clone(),
            "--concurrency" => options.concurrency = number(256)? as usize,
            "--duplicate-percent" => {
                options.duplicate_percent =
                    value.parse().ok().filter(|percent| *percent <= 90).ok_or_else(|| {
                        format!("--duplicate-percent must be a whole number from 0 to 90, got {value:?}")
                    })?
            }
            "--seed" => {
                options.seed = value.parse().map_err(|_| format!("--seed must be a whole number, got {value:?}"))?
            }
            "--time-limit-seconds" => options.time_limit = Duration::from_secs(number(3600)?),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if options.endpoint.is_empty() {
        return Err("--endpoint is required".to_owned());
    }
    check_loopback(&options.endpoint)?;
    Ok(options)
}

fn check_loopback(endpoint: &str) -> Result<(), String> {
    let url = Url::parse(endpoint).map_err(|err| format!("--endpoint {endpoint:?} is not a URL: {err}"))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if url.scheme() != "http" || !loopback {
        return Err(format!("--endpoint must be an http URL on 127.0.0.1, localhost or [::1], got {endpoint:?}"));
    }
    Ok(())
}

/// Builds an SDK configuration that can reach only `endpoint`: explicit endpoint, region
/// and dummy credentials, no host environment or profile files. Time-outs and retries are
/// the Lambda's (`reset_mailer::aws::load_sdk_config`).
async fn sdk_config(endpoint: &str) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .empty_test_environment()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "reset-mailer-load-test"))
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .load()
        .await
}

/// SplitMix64: a small deterministic generator, so a seed reproduces the same plan.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Returns a number in `0..bound`. `bound` must be positive.
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Shape {
    /// EventBridge event whose `id` is the delivery key.
    EventBridge,
    /// HTTP API request with an `Idempotency-Key` header.
    HttpV2,
    /// Direct invoke with `data.idempotencyKey`.
    Direct,
}

/// One planned invocation.
#[derive(Clone)]
struct Invocation {
    profile: usize,
    shape: Shape,
    /// The delivery key in the event: the EventBridge `id` or the idempotency key.
    key: String,
    /// Whether an earlier invocation in the plan carries the same delivery.
    duplicate: bool,
}

impl Invocation {
    /// Builds the event. HTTP requests get a new `requestId` on every send, as API Gateway
    /// assigns one per request; the `Idempotency-Key` header identifies the delivery.
    fn event(&self, profile_id: &str) -> Value {
        let data = json!({ "profileId": profile_id, "tokenTtlInMinutes": 60 });
        match self.shape {
            Shape::EventBridge => json!({
                "version": "0",
                "id": self.key,
                "detail-type": "PasswordResetRequested",
                "source": "com.example.accounts",
                "account": "123456789012",
                "time": "2026-12-04T20:15:00Z",
                "region": "us-east-1",
                "resources": [],
                "detail": data,
            }),
            Shape::HttpV2 => json!({
                "version": "2.0",
                "routeKey": "POST /password-reset",
                "rawPath": "/password-reset",
                "rawQueryString": "",
                "headers": { "content-type": "application/json", "idempotency-key": self.key },
                "requestContext": {
                    "http": { "method": "POST", "path": "/password-reset" },
                    "requestId": uuid::Uuid::new_v4().to_string(),
                },
                "body": servop(&data).to_string(),
                "isBase64Encoded": false,
            }),
            Shape::Direct => {
                let mut data = data;
                data["idempotencyKey"] = json!(self.key);
                servop(&data)
            }
        }
    }
}

/// Plans `requests` invocations: distinct deliveries to random profiles in rotating shapes,
/// and `duplicate_percent` of the total as repeats, each placed after the delivery it repeats.
fn plan(options: &Options, run_id: &str) -> Vec<Invocation> {
    let mut random = SplitMix64(options.seed);
    let duplicates = options.requests * options.duplicate_percent / 100;
    let distinct = options.requests - duplicates;
    let shapes = [Shape::EventBridge, Shape::HttpV2, Shape::Direct];

    let originals: Vec<Invocation> = (0..distinct)
        .map(|index| Invocation {
            profile: random.below(options.profiles),
            shape: shapes[index % shapes.len()],
            key: format!("{run_id}-{index}"),
            duplicate: false,
        })
        .collect();

    // Each invocation gets a place in the sending order: delivery `i` at `i`, a repeat of
    // delivery `i` at a random place after it.
    let mut placed: Vec<(f64, Invocation)> =
        originals.iter().enumerate().map(|(index, invocation)| (index as f64, invocation.clone())).collect();
    for _ in 0..duplicates {
        let original = random.below(distinct);
        let offset = (random.below(1_000_000) as f64 + 1.0) / 1_000_001.0;
        let place = original as f64 + offset * (distinct - original) as f64;
        placed.push((place, Invocation { duplicate: true, ..originals[original].clone() }));
    }
    placed.sort_by(|left, right| left.0.total_cmp(&right.0));
    placed.into_iter().map(|(_, invocation)| invocation).collect()
}

/// Result of one invocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Outcome {
    /// A function result: the servop status (the HTTP status mirrors it) and reason code.
    Response { status: u64, reason_code: Option<u64> },
    /// An EventBridge invocation error, which Lambda retries.
    RetryableFailure { reason_code: u32 },
    /// No result within the time-out, or the task panicked.
    Lost(String),
    /// Not started because the time limit passed.
    NotSent,
}

struct Record {
    invocation: Invocation,
    outcome: Outcome,
    latency: Duration,
}

async fn invoke(app: Arc<App>, invocation: Invocation, profile_id: String, deadline: Instant) -> Record {
    if Instant::now() >= deadline {
        return Record { invocation, outcome: Outcome::NotSent, latency: Duration::ZERO };
    }
    let event = invocation.event(&profile_id);
    let started = Instant::now();
    let task = tokio::spawn(async move { tokio::time::timeout(INVOCATION_TIMEOUT, handle_event(&app, event)).await });
    let outcome = match task.await {
        Ok(Ok(Ok(result))) => {
            let body = match result.get("statusCode") {
                Some(_) => serde_json::from_str(result["body"].as_str().unwrap_or_default()).unwrap_or(Value::Null),
                None => result,
            };
            Outcome::Response {
                status: body["status"].as_u64().unwrap_or(0),
                reason_code: body["reason_code"].as_u64(),
            }
        }
        Ok(Ok(Err(failure))) => Outcome::RetryableFailure { reason_code: failure.reason_code },
        Ok(Err(_)) => Outcome::Lost(format!("no result within {INVOCATION_TIMEOUT:?}")),
        Err(join_error) => Outcome::Lost(format!("the invocation task failed: {join_error}")),
    };
    Record { invocation, outcome, latency: started.elapsed() }
}

/// One email that moto accepted.
struct Email {
    to: String,
    token: Option<String>,
}

/// Reads the mail that moto accepted from `sender`. Retries when moto returns HTTP 500,
/// because moto 5.2 fails `/moto-api/data.json` when a table gets its first item while it
/// serialises its state.
async fn sent_mail(endpoint: &str, sender: &str) -> Result<Vec<Email>, String> {
    let mut failures = Vec::new();
    for _ in 0..MOTO_DATA_ATTEMPTS {
        match moto_data(endpoint).await {
            Ok(state) => {
                let messages = state["ses"]["Message"].as_array().cloned().unwrap_or_default();
                return Ok(messages
                    .iter()
                    .filter(|message| message["source"] == sender)
                    .map(|message| Email {
                        to: message["destinations"]["ToAddresses"][0].as_str().unwrap_or_default().to_owned(),
                        token: link_token(message["body"].as_str().unwrap_or_default()),
                    })
                    .collect());
            }
            Err(failure) => failures.push(failure),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!("reading moto's sent mail failed {MOTO_DATA_ATTEMPTS} times: {failures:?}"))
}

/// Reads moto's state from `GET /moto-api/data.json`.
async fn moto_data(endpoint: &str) -> Result<Value, String> {
    let url = Url::parse(endpoint).map_err(|err| err.to_string())?;
    let address = url.socket_addrs(|| None).map_err(|err| err.to_string())?[0];
    let mut stream = TcpStream::connect(address).await.map_err(|err| format!("connecting failed: {err}"))?;
    let request = format!("GET /moto-api/data.json HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.map_err(|err| format!("sending failed: {err}"))?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.map_err(|err| format!("reading failed: {err}"))?;

    let split = response.windows(4).position(|window| window == b"\r\n\r\n").ok_or("no header end")?;
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    let status_line = head.lines().next().unwrap_or_default().to_owned();
    if status_line.split(' ').nth(1) != Some("200") {
        return Err(status_line);
    }
    if head.contains("transfer-encoding: chunked") {
        return Err("moto sent a chunked body, which this reader does not decode".to_owned());
    }
    serde_json::from_slice(&response[split + 4..]).map_err(|err| format!("the body is not JSON: {err}"))
}

/// Returns the `token` query parameter of the first link in an HTML body.
fn link_token(html: &str) -> Option<String> {
    let start = html.find("href=\"")? + "href=\"".len();
    let length = html[start..].find('"')?;
    let link = html[start..start + length].replace("&amp;", "&");
    let url = Url::parse(&link).ok()?;
    url.query_pairs().find(|(key, _)| key == "token").map(|(_, value)| value.into_owned())
}

/// Reads each profile's email address and token hash.
async fn read_profiles(
    client: &aws_sdk_dynamodb::Client,
    tables: &Tables,
    profile_ids: &[String],
) -> Result<Vec<(String, Option<String>)>, String> {
    let mut profiles = Vec::with_capacity(profile_ids.len());
    for profile_id in profile_ids {
        let key = AttributeValue::S(profile_id.clone());
        let profile = client
            .get_item()
            .table_name(&tables.profiles)
            .key("profileId", key.clone())
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| format!("GetItem of profile {profile_id} failed: {err}"))?
            .item
            .ok_or_else(|| format!("profile {profile_id} is missing; seed it before the run"))?;
        let email = match profile.get("identities") {
            Some(AttributeValue::M(identities)) => match identities.get("Email") {
                Some(AttributeValue::S(email)) => email.clone(),
                _ => return Err(format!("profile {profile_id} has no identities.Email")),
            },
            _ => return Err(format!("profile {profile_id} has no identities map")),
        };
        let token = client
            .get_item()
            .table_name(&tables.tokens)
            .key("profileId", key)
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| format!("GetItem of token {profile_id} failed: {err}"))?
            .item
            .and_then(|item| match item.get("tokenHash") {
                Some(AttributeValue::S(hash)) => Some(hash.clone()),
                _ => None,
            });
        profiles.push((email, token));
    }
    Ok(profiles)
}

/// Returns the profile ids of the delivery records still in state SENDING: deliveries whose
/// token was stored but whose invocation did not record a result.
async fn sending_deliveries(client: &aws_sdk_dynamodb::Client, tables: &Tables) -> Result<Vec<String>, String> {
    let mut pages = client.scan().table_name(&tables.requests).consistent_read(true).into_paginator().items().send();
    let mut profiles = Vec::new();
    while let Some(item) = pages.next().await {
        let item = item.map_err(|err| format!("Scan of the requests table failed: {err}"))?;
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(value)) => value.clone(),
            _ => String::new(),
        };
        if text("pk").starts_with("delivery#") && text("state") == "SENDING" {
            profiles.push(text("profileId"));
        }
    }
    profiles.sort();
    Ok(profiles)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) if message.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("load: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if std::env::var_os("RUST_LOG").is_some() {
        reset_mailer::telemetry::init();
    }
    let (settings, tables) = match Settings::from_env().and_then(|settings| Ok((settings, Tables::from_env()?))) {
        Ok(configuration) => configuration,
        Err(error) => {
            eprintln!("load: {error}");
            return ExitCode::from(2);
        }
    };

    match run(options, settings, tables).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("load: {message}");
            ExitCode::from(2)
        }
    }
}

/// Runs the plan, prints the report and returns whether every check passed.
async fn run(options: Options, settings: Settings, tables: Tables) -> Result<bool, String> {
    let sdk_config = sdk_config(&options.endpoint).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config);
    let sender = settings.email_from.clone();
    let (resend_interval, hourly_max) = (settings.resend_interval_seconds, settings.max_resets_per_hour);
    let app = Arc::new(app_with(settings, tables.clone(), &sdk_config));

    let profile_ids: Vec<String> =
        (0..options.profiles).map(|index| format!("{}{index}", options.profile_prefix)).collect();
    let run_id = format!("load-{}", uuid::Uuid::new_v4().simple());
    let invocations = plan(&options, &run_id);
    let mail_before = sent_mail(&options.endpoint, &sender).await?.len();
    if mail_before > 0 {
        return Err(format!("moto already holds {mail_before} emails from {sender}; use a new sender for each run"));
    }

    let started = Instant::now();
    let deadline = started + options.time_limit;
    let records: Vec<Record> = stream::iter(invocations)
        .map(|invocation| {
            let profile_id = profile_ids[invocation.profile].clone();
            invoke(app.clone(), invocation, profile_id, deadline)
        })
        .buffer_unordered(options.concurrency)
        .collect()
        .await;
    let wall_time = started.elapsed();

    let mail = sent_mail(&options.endpoint, &sender).await?;
    let profiles = read_profiles(&dynamodb, &tables, &profile_ids).await?;
    let sending = sending_deliveries(&dynamodb, &tables).await?;

    let mut report = Report::new(&options, &records, &mail, &profiles, wall_time);
    report.sending_deliveries = sending;
    println!("{}", report.render(&options, resend_interval, hourly_max));
    Ok(report.passed())
}

struct Report {
    sent: usize,
    not_sent: usize,
    distinct: usize,
    duplicates_sent: usize,
    responses_200: usize,
    accepted: usize,
    emails: usize,
    duplicate_emails: usize,
    missing_emails: usize,
    lost: Vec<String>,
    outcomes: BTreeMap<String, usize>,
    shapes: BTreeMap<Shape, usize>,
    tokens_checked: usize,
    /// Profiles whose stored token no email carries.
    unsent_tokens: Vec<String>,
    /// Profiles of the delivery records left in state SENDING.
    sending_deliveries: Vec<String>,
    wall_time: Duration,
    latencies: Vec<Duration>,
}

impl Report {
    fn new(
        options: &Options,
        records: &[Record],
        mail: &[Email],
        profiles: &[(String, Option<String>)],
        wall_time: Duration,
    ) -> Self {
        let sent: Vec<&Record> = records.iter().filter(|record| record.outcome != Outcome::NotSent).collect();
        let distinct: HashSet<&str> = sent.iter().map(|record| record.invocation.key.as_str()).collect();
        let accepted_keys: HashSet<(&str, usize)> = sent
            .iter()
            .filter(|record| matches!(record.outcome, Outcome::Response { status: 200, .. }))
            .map(|record| (record.invocation.key.as_str(), record.invocation.profile))
            .collect();

        // Emails per recipient against accepted deliveries per profile: one delivery key
        // belongs to one profile, so extra emails for a profile mean a delivery mailed twice.
        let mut accepted_per_profile = vec![0usize; options.profiles];
        for (_, profile) in &accepted_keys {
            accepted_per_profile[*profile] += 1;
        }
        let mut mail_per_address: HashMap<String, Vec<&Email>> = HashMap::new();
        for email in mail {
            mail_per_address.entry(email.to.to_ascii_lowercase()).or_default().push(email);
        }
        let (mut duplicate_emails, mut missing_emails, mut tokens_checked) = (0, 0, 0);
        let mut unsent_tokens = Vec::new();
        for (profile, (address, token_hash)) in profiles.iter().enumerate() {
            let emails = mail_per_address.get(&address.to_ascii_lowercase()).map(Vec::as_slice).unwrap_or_default();
            duplicate_emails += emails.len().saturating_sub(accepted_per_profile[profile]);
            missing_emails += accepted_per_profile[profile].saturating_sub(emails.len());
            if let Some(hash) = token_hash {
                tokens_checked += 1;
                let emailed =
                    emails.iter().any(|email| email.token.as_deref().map(token_digest).as_ref() == Some(hash));
                if !emailed {
                    unsent_tokens.push(format!("{}{profile}", options.profile_prefix));
                }
            }
        }

        let mut outcomes = BTreeMap::new();
        let mut lost = Vec::new();
        for record in &sent {
            let label = match &record.outcome {
                Outcome::Response { status, reason_code: Some(code) } => format!("status {status}, reason {code}"),
                Outcome::Response { status, reason_code: None } => format!("status {status}"),
                Outcome::RetryableFailure { reason_code } => {
                    format!("EventBridge invocation error (retryable), reason {reason_code}")
                }
                Outcome::Lost(reason) => {
                    lost.push(reason.clone());
                    "lost".to_owned()
                }
                Outcome::NotSent => unreachable!("filtered out above"),
            };
            *outcomes.entry(label).or_default() += 1;
        }
        let mut shapes = BTreeMap::new();
        for record in &sent {
            *shapes.entry(record.invocation.shape).or_default() += 1;
        }
        let mut latencies: Vec<Duration> = sent.iter().map(|record| record.latency).collect();
        latencies.sort_unstable();

        Self {
            sent: sent.len(),
            not_sent: records.len() - sent.len(),
            distinct: distinct.len(),
            duplicates_sent: sent.iter().filter(|record| record.invocation.duplicate).count(),
            responses_200: sent
                .iter()
                .filter(|record| matches!(record.outcome, Outcome::Response { status: 200, .. }))
                .count(),
            accepted: accepted_keys.len(),
            emails: mail.len(),
            duplicate_emails,
            missing_emails,
            lost,
            outcomes,
            shapes,
            tokens_checked,
            unsent_tokens,
            sending_deliveries: Vec::new(),
            wall_time,
            latencies,
        }
    }

    fn passed(&self) -> bool {
        self.emails == self.accepted
            && self.duplicate_emails == 0
            && self.missing_emails == 0
            && self.lost.is_empty()
            && self.not_sent == 0
    }

    fn render(&self, options: &Options, resend_interval: u32, hourly_max: u32) -> String {
        let seconds = self.wall_time.as_secs_f64();
        let check = |ok: bool| if ok { "ok" } else { "FAILED" };
        let mut lines = vec![
            format!(
                "load test: {} requests, {} profiles, concurrency {}, {}% duplicates, seed {}, \
                 RESEND_INTERVAL_SECONDS={resend_interval}, MAX_RESETS_PER_HOUR={hourly_max}",
                options.requests, options.profiles, options.concurrency, options.duplicate_percent, options.seed
            ),
            String::new(),
            "| figure | value | check |".to_owned(),
            "|---|---|---|".to_owned(),
            format!("| requests sent | {} | {} |", self.sent, check(self.not_sent == 0)),
            format!("| not sent (time limit) | {} | |", self.not_sent),
            format!("| duplicate deliveries among them | {} | |", self.duplicates_sent),
            format!(
                "| trigger shapes | {} | |",
                self.shapes.iter().map(|(shape, count)| format!("{shape:?} {count}")).collect::<Vec<_>>().join(", ")
            ),
            format!("| distinct deliveries | {} | |", self.distinct),
            format!("| responses 200 | {} | |", self.responses_200),
            format!("| distinct deliveries accepted (200) | {} | |", self.accepted),
            format!("| emails sent (moto) | {} | {} |", self.emails, check(self.emails == self.accepted)),
            format!(
                "| duplicate emails (one delivery, two emails) | {} | {} |",
                self.duplicate_emails,
                check(self.duplicate_emails == 0)
            ),
            format!(
                "| accepted deliveries without an email | {} | {} |",
                self.missing_emails,
                check(self.missing_emails == 0)
            ),
            format!("| lost requests | {} | {} |", self.lost.len(), check(self.lost.is_empty())),
            format!(
                "| stored tokens that no email carries | {} of {} | {} |",
                self.unsent_tokens.len(),
                self.tokens_checked,
                if self.unsent_tokens.is_empty() { "ok" } else { "reported, not checked" }
            ),
            format!("| delivery records left SENDING | {} | |", self.sending_deliveries.len()),
            format!("| wall time | {seconds:.2} s | |"),
            format!("| throughput | {:.1} requests/s | |", self.sent as f64 / seconds.max(f64::EPSILON)),
            format!(
                "| latency p50 / p95 / p99 / max | {} / {} / {} / {} ms | |",
                percentile(&self.latencies, 0.50).as_millis(),
                percentile(&self.latencies, 0.95).as_millis(),
                percentile(&self.latencies, 0.99).as_millis(),
                self.latencies.last().copied().unwrap_or_default().as_millis()
            ),
            String::new(),
            "| outcome | invocations |".to_owned(),
            "|---|---|".to_owned(),
        ];
        lines.extend(self.outcomes.iter().map(|(label, count)| format!("| {label} | {count} |")));
        for reason in self.lost.iter().take(10) {
            lines.push(format!("lost: {reason}"));
        }
        if !self.unsent_tokens.is_empty() {
            let first: Vec<&str> = self.unsent_tokens.iter().take(10).map(String::as_str).collect();
            lines.push(format!("profiles with a stored token that no email carries: {}", first.join(", ")));
        }
        if !self.sending_deliveries.is_empty() {
            let first: Vec<&str> = self.sending_deliveries.iter().take(10).map(String::as_str).collect();
            lines.push(format!("profiles of delivery records left SENDING: {}", first.join(", ")));
        }
        lines.push(String::new());
        lines.push(format!("result: {}", if self.passed() { "all checks passed" } else { "a check FAILED" }));
        lines.join("\n")
    }
}

/// Builds the password reset servop around `data`.
fn servop(data: &Value) -> Value {
    json!({
        "service": "user",
        "operation": "SYS_SEND_PASSWORD_RESET_EMAIL_WITH_EXPIRY",
        "data": data,
    })
}
