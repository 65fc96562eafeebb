//! Faults injected between the real AWS SDK clients and moto, one table of (operation,
//! attempt, fault) cases per step of a request: the reads, the token transaction, the send,
//! the completion write and the undo after a failed send.
//!
//! Each case runs one delivery through the Lambda's handler with a fault on. It checks the
//! response and the end state: moto's sent mail, the tokens table and the requests table.
//! Then it clears the fault, moves the app's clock past the delivery lock and sends the same
//! delivery again.
//!
//! The guarantee: a delivery ends with one email whose token is the stored, unexpired token
//! item, or with no email and no token item. The retry ends with exactly one email. Cases
//! that break the guarantee carry an `exception` that explains why.
//!
//! Run with `bash scripts/test.sh`, which starts moto and sets `RESET_MAILER_TEST_ENDPOINT`.
//! Without that variable these tests are skipped, or fail when `CI` is set.

#[path = "common/emulator.rs"]
mod emulator;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use emulator::{now, number, string, Item, Sandbox, SentMail};
use fault_proxy::{Attempts, Fault, FaultProxy, Operation, Rule};
use reset_mailer::aws::{app_with, ATTEMPT_TIMEOUT, SEND_TIMEOUT};
use reset_mailer::domain::token_digest;
use reset_mailer::error::reason;
use reset_mailer::reset::{App, DELIVERY_LOCK_SECONDS};
use reset_mailer::trigger::handle_event;

use Attempts::{Every, First};
use Fault::{DropAfterForward, DropBeforeForward, MessageRejected, ServerError, Slow, Throttle};
use Operation::{BatchGetItem, DeleteItem, GetItem, PutItem, SendEmail, TransactWriteItems};

/// A delay past the SDK's 2 s attempt time-out for DynamoDB. It also leaves the SDK's retry
/// (after a backoff of at most 1 s) time to finish before the delayed attempt reaches moto.
const SLOW_DYNAMODB: Duration = Duration::from_secs(ATTEMPT_TIMEOUT.as_secs() + 3);

/// A delay past the 5 s time-out of the SES client.
const SLOW_SES: Duration = Duration::from_secs(SEND_TIMEOUT.as_secs() + 1);

/// Reads of moto's state before a test gives up.
const MOTO_DATA_ATTEMPTS: usize = 5;

/// The trigger shape a case sends. Each shape carries the delivery key its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A direct invoke with `data.idempotencyKey`.
    Direct,
    /// An EventBridge event whose `id` is the key. A retryable failure is an invocation error.
    EventBridge,
    /// An HTTP API (payload 2.0) request with an `Idempotency-Key` header and a new
    /// `requestId` on every send, as API Gateway assigns.
    HttpV2,
}

/// The DynamoDB table a fault is limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    AnyTable,
    Profiles,
    Tokens,
    Requests,
}

/// One fault rule of a case.
#[derive(Debug, Clone, Copy)]
struct Inject {
    operation: Operation,
    on: On,
    attempts: Attempts,
    fault: Fault,
}

const fn inject(operation: Operation, attempts: Attempts, fault: Fault) -> Inject {
    Inject { operation, on: On::AnyTable, attempts, fault }
}

const fn inject_on(on: On, operation: Operation, attempts: Attempts, fault: Fault) -> Inject {
    Inject { operation, on, attempts, fault }
}

/// The servop status and reason code of a function result. An EventBridge invocation error
/// counts as status 503 with its reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reply {
    status: u64,
    reason_code: Option<u32>,
}

const OK: Reply = Reply { status: 200, reason_code: None };

const fn database_error(status: u64) -> Reply {
    Reply { status, reason_code: Some(reason::DATABASE_ERROR) }
}

const fn send_error(status: u64) -> Reply {
    Reply { status, reason_code: Some(reason::EMAIL_SEND_ERROR) }
}

/// The profile's token item, compared with the mail moto accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Absent,
    /// `tokenHash` is the SHA-256 of the token in the latest email, and `expiresAt` is in
    /// the future.
    Emailed,
    /// A token item that no email carries.
    Unsent,
    /// The latest email's token, but `expiresAt` has passed.
    Expired,
}

/// The delivery record (`delivery#<key>` in the requests table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Absent,
    Sending,
    Completed,
}

/// What a delivery left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    /// Emails moto accepted for the case's recipient.
    emails: usize,
    token: Token,
    delivery: Delivery,
    /// Entries in the profile's send history (`history#<profileId>`).
    sends: usize,
}

impl State {
    /// Returns whether one email carries the stored token, or no email and no token exist.
    fn keeps_guarantee(&self) -> bool {
        matches!((self.emails, self.token), (1, Token::Emailed) | (0, Token::Absent))
    }
}

const NOTHING: State = State { emails: 0, token: Token::Absent, delivery: Delivery::Absent, sends: 0 };
const SENT: State = State { emails: 1, token: Token::Emailed, delivery: Delivery::Completed, sends: 1 };

struct Case {
    name: &'static str,
    shape: Shape,
    faults: &'static [Inject],
    reply: Reply,
    /// The end state after the faulted delivery and after every delayed request arrived.
    after: State,
    /// The end state after the retry of the same delivery, which must get a 200.
    after_retry: State,
    /// Why the case may break the guarantee, or `None` for cases that must keep it.
    exception: Option<&'static str>,
}

const SEND_OUTCOME_UNKNOWN: &str = "(a) the SDK cannot tell whether SES received the request, so the \
                                    delivery counts as sent and keeps its token although moto has no email";
const UNDO_FAILED: &str = "(b) the send failed and undoing the token write failed too, so the unsent token \
                           stays until it expires; when the delivery record stays as well, a retry counts the \
                           delivery as sent";
const MOTO_IGNORES_CLIENT_TOKEN: &str = "(c) moto 5.2 ignores the ClientRequestToken that the SDK sets on \
    TransactWriteItems, so the SDK's retry of a transaction that took effect fails its conditions. DynamoDB \
    documents identical calls with one token as having the effect of one call, so there the retry succeeds";

const READ_CASES: &[Case] = &[
    Case {
        name: "profile read throttled",
        shape: Shape::Direct,
        faults: &[inject_on(On::Profiles, GetItem, Every, Throttle)],
        reply: database_error(503),
        after: NOTHING,
        after_retry: SENT,
        exception: None,
    },
    Case {
        name: "ledger read throttled",
        shape: Shape::EventBridge,
        faults: &[inject_on(On::Requests, BatchGetItem, Every, Throttle)],
        reply: database_error(503),
        after: NOTHING,
        after_retry: SENT,
        exception: None,
    },
    Case {
        name: "reads fail once",
        shape: Shape::HttpV2,
        faults: &[inject(GetItem, First, ServerError), inject(BatchGetItem, First, ServerError)],
        reply: OK,
        after: SENT,
        after_retry: SENT,
        exception: None,
    },
    Case {
        name: "read responses lost once",
        shape: Shape::Direct,
        faults: &[inject(GetItem, First, DropAfterForward), inject(BatchGetItem, First, DropAfterForward)],
        reply: OK,
        after: SENT,
        after_retry: SENT,
        exception: None,
    },
];

const TRANSACTION_CASES: &[Case] = &[
    Case {
        name: "transaction throttled",
        shape: Shape::Direct,
        faults: &[inject(TransactWriteItems, Every, Throttle)],
        reply: database_error(503),
        after: NOTHING,
        after_retry: SENT,
        exception: None,
    },
    Case {
        name: "transaction fails once",
        shape: Shape::EventBridge,
        faults: &[inject(TransactWriteItems, First, ServerError)],
        reply: OK,
        after: SENT,
        after_retry: SENT,
        exception: None,
    },
    Case {
        name: "transaction fails",
        shape: Shape::HttpV2,
        faults: &[inject(TransactWriteItems, Every, ServerError)],
        reply: database_error(503),
        after: NOTHING,
        after_retry: SENT,
        exception: None,
    },
    Case {
        name: "transaction dropped once",
        shape: Shape::Direct,
        faults: &[inject(TransactWriteItems, First, DropBeforeForward)],
        reply: OK,
        after: SENT,
        after_retry: SENT,
        exception: None,
    },
    Case {
        name: "transaction dropped",
        shape: Shape::EventBridge,
        faults: &[inject(TransactWriteItems, Every, DropBeforeForward)],
        reply: database_error(503),
        after: NOTHING,
        after_retry: SENT,
        exception: None,
    },
    Case {
        name: "transaction slow once",
        shape: Shape::HttpV2,
        faults: &[inject(TransactWriteItems, First, Slow(SLOW_DYNAMODB))],
        reply: OK,
        after: SENT,
        after_retry: SENT,
        exception: None,
    },
    Case {
        name: "transaction response lost once",
        shape: Shape::Direct,
        faults: &[inject(TransactWriteItems, First, DropAfterForward)],
        reply: Reply { status: 409, reason_code: Some(reason::USER_RATE_LIMIT_EXCEEDED) },
        after: State { emails: 0, token: Token::Unsent, delivery: Delivery::Sending, sends: 1 },
        after_retry: State { emails: 0, token: Token::Unsent, delivery: Delivery::Completed, sends: 1 },
        exception: Some(MOTO_IGNORES_CLIENT_TOKEN),
    },
    Case {
        name: "transaction responses lost",
        shape: Shape::EventBridge,
        faults: &[inject(TransactWriteItems, Every, DropAfterForward)],
        reply: database_error(503),
        // The handler undoes a transaction whose outcome it does not know, so nothing stays.
        after: NOTHING,
        after_retry: SENT,
        exception: None,
    },
];

const SEND_CASES: &[Case] = &[
    Case {
        name: "send throttled",
        shape: Shape::Direct,
        faults: &[inject(SendEmail, Every, Throttle)],
        reply: send_error(503),
        after: NOTHING,
        after_retry: SENT,
        exception: None,
    },
    Case {
        name: "send fails",
        shape: Shape::EventBridge,
        faults: &[inject(SendEmail, Every, ServerError)],
        reply: send_error(503),
        after: NOTHING,
        after_retry: SENT,
        exception: None,
    },
    Case {
        name: "send rejected",
        shape: Shape::HttpV2,
        faults: &[inject(SendEmail, Every, MessageRejected)],
        reply: send_error(500),
        after: NOTHING,
        after_retry: SENT,
        exception: None,
    },
    Case {
        // The delayed request reaches moto after the time-out, so the email goes out late.
        name: "send slow",
        shape: Shape::Direct,
        faults: &[inject(SendEmail, Every, Slow(SLOW_SES))],
        reply: OK,
        after: SENT,
        after_retry: SENT,
        exception: None,
    },
    Case {
        name: "send dropped",
        shape: Shape::EventBridge,
        faults: &[inject(SendEmail, Every, DropBeforeForward)],
        reply: OK,
        after: State { emails: 0, token: Token::Unsent, delivery: Delivery::Completed, sends: 1 },
        after_retry: State { emails: 0, token: Token::Unsent, delivery: Delivery::Completed, sends: 1 },
        exception: Some(SEND_OUTCOME_UNKNOWN),
    },
    Case {
        name: "send response lost",
        shape: Shape::HttpV2,
        faults: &[inject(SendEmail, Every, DropAfterForward)],
        reply: OK,
        after: SENT,
        after_retry: SENT,
        exception: None,
    },
];

/// The completion write is the `PutItem` after a successful send, and the only `PutItem` on
/// that path.
const COMPLETION_CASES: &[Case] = &[
    Case {
        name: "completion fails",
        shape: Shape::Direct,
        faults: &[inject(PutItem, Every, ServerError)],
        reply: OK,
        after: State { emails: 1, token: Token::Emailed, delivery: Delivery::Sending, sends: 1 },
        after_retry: SENT,
        exception: None,
    },
    Case {
        name: "completion dropped",
        shape: Shape::EventBridge,
        faults: &[inject(PutItem, Every, DropBeforeForward)],
        reply: OK,
        after: State { emails: 1, token: Token::Emailed, delivery: Delivery::Sending, sends: 1 },
        after_retry: SENT,
        exception: None,
    },
    Case {
        name: "completion response lost once",
        shape: Shape::HttpV2,
        faults: &[inject(PutItem, First, DropAfterForward)],
        reply: OK,
        after: SENT,
        after_retry: SENT,
        exception: None,
    },
];

/// The undo after a failed send: `DeleteItem` of the token (tokens table) and of the
/// delivery record (requests table), and `PutItem` of the restored history (requests table).
const UNDO_CASES: &[Case] = &[
    Case {
        name: "undo deletes fail",
        shape: Shape::Direct,
        faults: &[inject(SendEmail, Every, MessageRejected), inject(DeleteItem, Every, ServerError)],
        reply: send_error(500),
        after: State { emails: 0, token: Token::Unsent, delivery: Delivery::Sending, sends: 0 },
        // With both the token and the "sending" record left, the retry cannot tell this from
        // an invocation that stopped after sending, so it counts the delivery as sent.
        after_retry: State { emails: 0, token: Token::Unsent, delivery: Delivery::Completed, sends: 0 },
        exception: Some(UNDO_FAILED),
    },
    Case {
        name: "token delete fails",
        shape: Shape::EventBridge,
        faults: &[inject(SendEmail, Every, MessageRejected), inject_on(On::Tokens, DeleteItem, Every, ServerError)],
        reply: send_error(500),
        after: State { emails: 0, token: Token::Unsent, delivery: Delivery::Absent, sends: 0 },
        after_retry: SENT,
        exception: Some(UNDO_FAILED),
    },
    Case {
        name: "delivery delete fails",
        shape: Shape::HttpV2,
        faults: &[inject(SendEmail, Every, Throttle), inject_on(On::Requests, DeleteItem, Every, ServerError)],
        reply: send_error(503),
        after: State { emails: 0, token: Token::Absent, delivery: Delivery::Sending, sends: 0 },
        // NOTE: the handler fails this retry: it completes a SENDING record past its lock as
        // sent, so the retry gets 200 and no email goes out.
        after_retry: SENT,
        exception: None,
    },
    Case {
        name: "history restore fails",
        shape: Shape::Direct,
        faults: &[inject(SendEmail, Every, ServerError), inject_on(On::Requests, PutItem, Every, ServerError)],
        reply: send_error(503),
        after: State { emails: 0, token: Token::Absent, delivery: Delivery::Absent, sends: 1 },
        // The failed send stays in the history, so the retry's email is the second entry.
        after_retry: State { emails: 1, token: Token::Emailed, delivery: Delivery::Completed, sends: 2 },
        exception: None,
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_faults() {
    run_table(READ_CASES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_faults() {
    run_table(TRANSACTION_CASES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_faults() {
    run_table(SEND_CASES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_faults() {
    run_table(COMPLETION_CASES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_faults() {
    run_table(UNDO_CASES).await;
}

/// Runs every case of the table concurrently, each in its own sandbox, and fails with the
/// names of the cases that failed. Each failure's own message names its case too.
async fn run_table(cases: &'static [Case]) {
    if emulator::endpoint().is_none() {
        return;
    }
    let tasks: Vec<_> = cases.iter().map(|case| (case.name, tokio::spawn(run_case(case)))).collect();

    let mut failed = Vec::new();
    for (name, task) in tasks {
        if task.await.is_err() {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "failed cases (see their messages above): {failed:?}");
}

/// The Lambda's app with its AWS clients pointed at a fault proxy in front of moto.
struct Setup {
    sandbox: Sandbox,
    proxy: FaultProxy,
    app: App,
    /// Seconds added to the app's clock.
    clock_offset: Arc<AtomicU64>,
    profile_id: String,
}

impl Setup {
    async fn start() -> Self {
        let sandbox = Sandbox::start().await.expect("run_table checked the emulator endpoint");
        let proxy = FaultProxy::start(&sandbox.endpoint).await;
        let sdk_config = emulator::sdk_config(&proxy.url()).await;
        let mut app = app_with(sandbox.settings(&sandbox.sender), sandbox.tables.clone(), &sdk_config);

        let clock_offset = Arc::new(AtomicU64::new(0));
        let offset = clock_offset.clone();
        app.clock = Arc::new(move || SystemTime::now() + Duration::from_secs(offset.load(Ordering::SeqCst)));

        let profile_id = format!("profile-{}", uuid::Uuid::new_v4());
        sandbox.put_profile_with_email(&profile_id).await;
        Self { sandbox, proxy, app, clock_offset, profile_id }
    }

    fn table(&self, on: On) -> Option<&str> {
        match on {
            On::AnyTable => None,
            On::Profiles => Some(&self.sandbox.tables.profiles),
            On::Tokens => Some(&self.sandbox.tables.tokens),
            On::Requests => Some(&self.sandbox.tables.requests),
        }
    }

    fn inject(&self, faults: &[Inject]) {
        for fault in faults {
            let rule = Rule::new(fault.operation, fault.attempts, fault.fault);
            let rule = match self.table(fault.on) {
                Some(table) => rule.on_table(table),
                None => rule,
            };
            self.proxy.inject(rule);
        }
    }

    /// Sends the delivery `key` in `shape` and waits until every delayed request reached moto.
    async fn deliver(&self, shape: Shape, key: &str) -> Reply {
        let result = handle_event(&self.app, event(shape, &self.profile_id, key)).await;
        self.proxy.settle().await;

        let (status, body) = match (shape, result) {
            (Shape::EventBridge, Err(failure)) => return Reply { status: 503, reason_code: Some(failure.reason_code) },
            (_, Err(failure)) => panic!("only EventBridge turns failures into invocation errors, got {failure}"),
            (Shape::HttpV2, Ok(response)) => {
                let body: Value = serde_json::from_str(response["body"].as_str().expect("string body")).expect("JSON");
                (response["statusCode"].as_u64().expect("statusCode"), body)
            }
            (_, Ok(body)) => (body["status"].as_u64().expect("status"), body),
        };
        assert_eq!(body["status"], status, "the HTTP status must mirror the servop status: {body}");
        if shape == Shape::EventBridge {
            assert_ne!(status, 503, "EventBridge must turn a retryable failure into an invocation error");
        }
        let reason_code = body["reason_code"].as_u64().map(|code| u32::try_from(code).expect("reason code"));
        Reply { status, reason_code }
    }

    /// Reads moto's sent mail, the tokens table and the requests table.
    async fn observe(&self) -> State {
        let mail = self.sent_mail().await;
        for email in &mail {
            assert_eq!(email.to, std::slice::from_ref(&self.sandbox.recipient), "email to another address");
        }

        let tokens = self.sandbox.token_items().await;
        assert!(tokens.len() <= 1, "more than one token item: {tokens:?}");
        let token = match (tokens.first(), mail.last()) {
            (None, _) => Token::Absent,
            (Some(item), Some(email)) if string(item, "tokenHash") == token_digest(&email.token()) => {
                if number(item, "expiresAt") > now() {
                    Token::Emailed
                } else {
                    Token::Expired
                }
            }
            (Some(_), _) => Token::Unsent,
        };

        let requests = self.requests_items().await;
        let deliveries: Vec<&Item> =
            requests.iter().filter(|item| string(item, "pk").starts_with("delivery#")).collect();
        assert!(deliveries.len() <= 1, "more than one delivery record: {deliveries:?}");
        let delivery = match deliveries.first() {
            None => Delivery::Absent,
            Some(item) => match string(item, "state") {
                "SENDING" => Delivery::Sending,
                "COMPLETED" => Delivery::Completed,
                other => panic!("unknown delivery state {other:?}"),
            },
        };
        let history_key = format!("history#{}", self.profile_id);
        let sends = match requests.iter().find(|item| string(item, "pk") == history_key).map(|item| item.get("sends")) {
            None => 0,
            Some(Some(AttributeValue::L(sends))) => sends.len(),
            Some(other) => panic!("the history's sends must be a list, got {other:?}"),
        };

        State { emails: mail.len(), token, delivery, sends }
    }

    /// Returns the mail that moto accepted from the sandbox's sender, oldest first.
    ///
    /// Like `Sandbox::sent_mail`, but it reads `/moto-api/data.json` again when moto returns
    /// HTTP 500. Moto 5.2 checks each attribute of its models before it serialises them all,
    /// so a table that gets its first item between the two steps makes the response fail.
    async fn sent_mail(&self) -> Vec<SentMail> {
        let mut failures = Vec::new();
        for _ in 0..MOTO_DATA_ATTEMPTS {
            match moto_data(&self.sandbox.endpoint).await {
                Ok(state) => {
                    let messages = state["ses"]["Message"].as_array().cloned().unwrap_or_default();
                    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
                    return messages
                        .iter()
                        .map(|message| SentMail {
                            source: text(&message["source"]),
                            to: message["destinations"]["ToAddresses"]
                                .as_array()
                                .map(|list| list.iter().map(text).collect())
                                .unwrap_or_default(),
                            subject: text(&message["subject"]),
                            body: text(&message["body"]),
                        })
                        .filter(|mail| mail.source == self.sandbox.sender)
                        .collect();
                }
                Err(failure) => failures.push(failure),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("reading moto's sent mail failed {MOTO_DATA_ATTEMPTS} times: {failures:?}");
    }

    async fn requests_items(&self) -> Vec<Item> {
        self.sandbox
            .dynamodb
            .scan()
            .table_name(&self.sandbox.tables.requests)
            .consistent_read(true)
            .send()
            .await
            .expect("Scan of the requests table")
            .items
            .unwrap_or_default()
    }
}

async fn run_case(case: &'static Case) {
    let name = case.name;
    let setup = Setup::start().await;
    setup.inject(case.faults);
    let key = format!("fault-{}", uuid::Uuid::new_v4());

    if let Some(exception) = case.exception {
        eprintln!("{name}: documented exception: {exception}");
    }
    let reply = setup.deliver(case.shape, &key).await;

    assert_eq!(reply, case.reply, "{name}: response");
    for (index, fault) in case.faults.iter().enumerate() {
        assert!(setup.proxy.hits(index) > 0, "{name}: the fault {fault:?} hit no request");
    }
    let after = setup.observe().await;
    assert_eq!(after, case.after, "{name}: end state after the faulted delivery");
    if case.exception.is_none() {
        assert!(after.keeps_guarantee(), "{name}: one email with its token, or neither: {after:?}");
    }

    setup.proxy.clear();
    setup.clock_offset.store(DELIVERY_LOCK_SECONDS + 1, Ordering::SeqCst);
    let retry = setup.deliver(case.shape, &key).await;

    assert_eq!(retry, OK, "{name}: response to the retry");
    let after_retry = setup.observe().await;
    if case.after_retry.emails == 1 {
        assert_eq!(after_retry.emails, 1, "{name}: the retry must end with exactly one email: {after_retry:?}");
    }
    assert_eq!(after_retry, case.after_retry, "{name}: end state after the retry");
    assert!(setup.proxy.errors().is_empty(), "{name}: the proxy failed: {:?}", setup.proxy.errors());
}

/// Reads moto's state from `GET /moto-api/data.json` at the loopback `endpoint`.
async fn moto_data(endpoint: &str) -> Result<Value, String> {
    let address = url::Url::parse(endpoint).expect("endpoint URL").socket_addrs(|| None).expect("endpoint address")[0];
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
    // With `Connection: close` moto's server (Werkzeug 3.1) sends a plain body, not a chunked one.
    assert!(!head.contains("transfer-encoding: chunked"), "moto returned a chunked body");
    serde_json::from_slice(&response[split + 4..]).map_err(|err| format!("the body is not JSON: {err}"))
}

/// Builds the event of delivery `key` for `profile_id` in `shape`.
fn event(shape: Shape, profile_id: &str, key: &str) -> Value {
    let data = json!({ "profileId": profile_id, "tokenTtlInMinutes": 60 });
    match shape {
        Shape::Direct => {
            let mut data = data;
            data["idempotencyKey"] = json!(key);
            servop(&data)
        }
        Shape::EventBridge => json!({
            "version": "0",
            "id": key,
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
            "headers": { "content-type": "application/json", "idempotency-key": key },
            "requestContext": {
                "http": { "method": "POST", "path": "/password-reset" },
                "requestId": format!("request-{}", uuid::Uuid::new_v4()),
            },
            "body": servop(&data).to_string(),
            "isBase64Encoded": false,
        }),
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
