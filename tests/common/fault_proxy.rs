//! A fault-injecting HTTP/1.1 proxy between the AWS SDK and the moto server, for tests.
//!
//! The SDK client under test gets the proxy's URL as its endpoint. The proxy forwards every
//! request to moto and, for the requests that a [`Rule`] selects, returns an error response,
//! delays the request or closes the connection instead. Each connection carries one request:
//! the proxy sends `Connection: close` to moto and to the SDK, so the SDK opens a new
//! connection for its next request.
//!
//! Operations are recognised by `X-Amz-Target` for DynamoDB (JSON protocol) and by method
//! and path for SES v2 `SendEmail`. Attempts are numbered by the SDK's `amz-sdk-request:
//! attempt=N; max=M` header, so a rule can fail only the first attempt of each call.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};
use url::Url;

/// Maximum time the proxy waits to read a request from the SDK or a response from moto.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest request or response head accepted, in bytes.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Maximum time [`FaultProxy::settle`] waits for requests still in progress.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// An AWS operation that rules can select.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GetItem,
    BatchGetItem,
    PutItem,
    DeleteItem,
    TransactWriteItems,
    /// SES v2 `SendEmail`: `POST /v2/email/outbound-emails`.
    SendEmail,
}

impl Operation {
    fn is_dynamodb(self) -> bool {
        self != Self::SendEmail
    }

    fn of(request: &Request) -> Option<Self> {
        if let Some(target) = request.header("x-amz-target") {
            return match target.strip_prefix("DynamoDB_20120810.")? {
                "GetItem" => Some(Self::GetItem),
                "BatchGetItem" => Some(Self::BatchGetItem),
                "PutItem" => Some(Self::PutItem),
                "DeleteItem" => Some(Self::DeleteItem),
                "TransactWriteItems" => Some(Self::TransactWriteItems),
                _ => None,
            };
        }
        let (method, path) = request.method_and_path();
        let path = path.split('?').next().unwrap_or_default();
        (method == "POST" && path == "/v2/email/outbound-emails").then_some(Self::SendEmail)
    }
}

/// What the proxy does to a selected request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Returns the service's throttling error: DynamoDB `ThrottlingException` (HTTP 400),
    /// SES `TooManyRequestsException` (HTTP 429).
    Throttle,
    /// Returns HTTP 500 with the service's internal error.
    ServerError,
    /// Returns SES `MessageRejected` (HTTP 400). Only valid for [`Operation::SendEmail`].
    MessageRejected,
    /// Waits this long, then forwards the request to moto, so it takes effect late. The
    /// response goes back to the SDK only if the SDK still waits for it.
    Slow(Duration),
    /// Closes the connection without forwarding: the request never takes effect.
    DropBeforeForward,
    /// Forwards the request, so it takes effect, then closes the connection without
    /// returning moto's response: a lost response.
    DropAfterForward,
}

/// Which attempts of a call a rule selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempts {
    /// Only attempt 1, so the SDK's own retry gets through.
    First,
    /// Every attempt.
    Every,
}

/// Selects requests by operation, attempt and, for DynamoDB, table, and applies `fault` to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub operation: Operation,
    pub attempts: Attempts,
    pub fault: Fault,
    /// The DynamoDB `TableName` the request must name, or `None` for every table.
    pub table: Option<String>,
}

impl Rule {
    pub fn new(operation: Operation, attempts: Attempts, fault: Fault) -> Self {
        assert!(
            fault != Fault::MessageRejected || operation == Operation::SendEmail,
            "MessageRejected is an SES error; {operation:?} cannot return it"
        );
        Self { operation, attempts, fault, table: None }
    }

    /// Restricts the rule to requests for the DynamoDB table `table`.
    pub fn on_table(mut self, table: &str) -> Self {
        assert!(self.operation.is_dynamodb(), "only DynamoDB requests name a table");
        self.table = Some(table.to_owned());
        self
    }

    fn selects(&self, operation: Operation, table: Option<&str>, attempt: Option<u32>) -> bool {
        let attempt_selected = match self.attempts {
            Attempts::First => attempt == Some(1),
            Attempts::Every => true,
        };
        self.operation == operation && attempt_selected && (self.table.is_none() || self.table.as_deref() == table)
    }
}

/// One request that passed the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// `None` for operations that rules cannot select (`CreateTable`, `Scan`, ...).
    pub operation: Option<Operation>,
    pub table: Option<String>,
    /// The SDK's attempt number, when the request carries `amz-sdk-request`.
    pub attempt: Option<u32>,
    /// Index of the rule applied, in the order of [`FaultProxy::inject`] calls.
    pub rule: Option<usize>,
    pub fault: Option<Fault>,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    exchanges: Vec<Exchange>,
    /// Failures of the proxy itself (moto unreachable, malformed messages).
    errors: Vec<String>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Requests read from the SDK whose handling has not finished.
    in_progress: AtomicUsize,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("fault proxy state lock")
    }

    fn record_error(&self, error: String) {
        self.state().errors.push(error);
    }

    /// Logs the request and returns the fault of the first rule that selects it.
    fn choose_fault(&self, operation: Option<Operation>, table: Option<String>, attempt: Option<u32>) -> Option<Fault> {
        let mut state = self.state();
        let rule = operation.and_then(|operation| {
            state.rules.iter().position(|rule| rule.selects(operation, table.as_deref(), attempt))
        });
        let fault = rule.map(|index| state.rules[index].fault);
        state.exchanges.push(Exchange { operation, table, attempt, rule, fault });
        fault
    }
}

/// Decrements the in-progress count when a request's handling ends, however it ends.
struct InProgress(Arc<Shared>);

impl InProgress {
    fn start(shared: &Arc<Shared>) -> Self {
        shared.in_progress.fetch_add(1, Ordering::SeqCst);
        Self(shared.clone())
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.in_progress.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running proxy on an ephemeral port of 127.0.0.1. Dropping it stops accepting
/// connections; requests already read finish in the background.
pub struct FaultProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    accept_task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream`, the moto URL, which must be a loopback address.
    pub async fn start(upstream: &str) -> Self {
        let upstream = loopback_address(upstream);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding the fault proxy to 127.0.0.1");
        let address = listener.local_addr().expect("fault proxy address");
        let shared = Arc::new(Shared::default());

        let accept_shared = shared.clone();
        let accept_task = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((client, _)) => {
                        tokio::spawn(handle_connection(accept_shared.clone(), upstream, client));
                    }
                    Err(error) => {
                        accept_shared.record_error(format!("accepting a connection failed: {error}"));
                        sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        });
        Self { address, shared, accept_task }
    }

    /// Returns the proxy's URL, to use as the SDK's endpoint.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Adds a rule. When several rules select a request, the first one added applies.
    pub fn inject(&self, rule: Rule) {
        self.shared.state().rules.push(rule);
    }

    /// Removes every rule, so later requests are forwarded unchanged.
    pub fn clear(&self) {
        self.shared.state().rules.clear();
    }

    /// Returns every request that reached the proxy so far, oldest first.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared.state().exchanges.clone()
    }

    /// Counts the requests that rule number `index` (in the order of [`FaultProxy::inject`]) hit.
    pub fn hits(&self, index: usize) -> usize {
        self.shared.state().exchanges.iter().filter(|exchange| exchange.rule == Some(index)).count()
    }

    /// Returns the proxy's own failures. A test that gets any cannot trust its end state.
    pub fn errors(&self) -> Vec<String> {
        self.shared.state().errors.clone()
    }

    /// Waits until no request is in progress, so that delayed requests have reached moto.
    ///
    /// # Panics
    ///
    /// When requests are still in progress after 30 s.
    pub async fn settle(&self) {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        while self.shared.in_progress.load(Ordering::SeqCst) > 0 {
            assert!(Instant::now() < deadline, "the fault proxy still handles requests after {SETTLE_TIMEOUT:?}");
            sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

fn loopback_address(upstream: &str) -> SocketAddr {
    let url = Url::parse(upstream).unwrap_or_else(|err| panic!("upstream {upstream:?} is not a URL: {err}"));
    let address = url
        .socket_addrs(|| Some(80))
        .ok()
        .and_then(|addresses| addresses.into_iter().next())
        .unwrap_or_else(|| panic!("upstream {upstream:?} has no address"));
    assert!(address.ip().is_loopback(), "the fault proxy forwards only to loopback addresses, not to {upstream:?}");
    address
}

/// An HTTP/1.1 message: the start line and headers without the final blank line, then the body.
struct Request {
    head: String,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.head, name)
    }

    fn method_and_path(&self) -> (&str, &str) {
        let mut parts = self.head.lines().next().unwrap_or_default().split(' ');
        (parts.next().unwrap_or_default(), parts.next().unwrap_or_default())
    }

    /// Returns the attempt number from the SDK's `amz-sdk-request: attempt=N; max=M` header.
    fn attempt(&self) -> Option<u32> {
        let value = self.header("amz-sdk-request")?;
        value.split(';').find_map(|part| part.trim().strip_prefix("attempt=")?.parse().ok())
    }

    /// Returns the DynamoDB `TableName` of a single-item request body, or the first table
    /// of a `BatchGetItem`'s `RequestItems`.
    fn table(&self) -> Option<String> {
        let body: Value = serde_json::from_slice(&self.body).ok()?;
        match body.get("TableName") {
            Some(name) => name.as_str().map(str::to_owned),
            None => body.get("RequestItems")?.as_object()?.keys().next().cloned(),
        }
    }
}

fn header_value<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Replaces any `Connection` and `Keep-Alive` header with `Connection: close` and appends
/// the blank line that ends the head.
fn closing_head(head: &str) -> String {
    let mut lines: Vec<&str> = head
        .lines()
        .filter(|line| {
            let name = line.split(':').next().unwrap_or_default().trim();
            !name.eq_ignore_ascii_case("connection") && !name.eq_ignore_ascii_case("keep-alive")
        })
        .collect();
    lines.push("Connection: close");
    format!("{}\r\n\r\n", lines.join("\r\n"))
}

async fn handle_connection(shared: Arc<Shared>, upstream: SocketAddr, mut client: TcpStream) {
    let request = match timeout(IO_TIMEOUT, read_request(&mut client)).await {
        Ok(Ok(Some(request))) => request,
        // The SDK closed the connection without sending a request.
        Ok(Ok(None)) => return,
        Ok(Err(error)) => return shared.record_error(format!("reading a request failed: {error}")),
        Err(_) => return shared.record_error(format!("no whole request arrived within {IO_TIMEOUT:?}")),
    };
    let _in_progress = InProgress::start(&shared);

    let operation = Operation::of(&request);
    let table = operation.filter(|operation| operation.is_dynamodb()).and_then(|_| request.table());
    let fault = shared.choose_fault(operation, table, request.attempt());

    match fault {
        None => relay(&shared, upstream, &request, &mut client).await,
        Some(Fault::Slow(delay)) => {
            sleep(delay).await;
            relay(&shared, upstream, &request, &mut client).await;
        }
        Some(Fault::DropBeforeForward) => drop(client),
        Some(Fault::DropAfterForward) => {
            if let Err(error) = forward(upstream, &request).await {
                shared.record_error(format!("forwarding to moto failed: {error}"));
            }
            drop(client);
        }
        Some(error) => {
            let operation = operation.expect("a rule selected the request, so its operation is known");
            // The SDK may have given up on the connection: a failed write changes nothing.
            let _ = client.write_all(&error_response(operation, error)).await;
            let _ = client.shutdown().await;
        }
    }
}

/// Forwards the request to moto and copies the response back to the SDK.
async fn relay(shared: &Shared, upstream: SocketAddr, request: &Request, client: &mut TcpStream) {
    match forward(upstream, request).await {
        Ok(response) => {
            // After a `Slow` fault the SDK may have closed the connection already.
            let _ = client.write_all(&response).await;
            let _ = client.shutdown().await;
        }
        Err(error) => shared.record_error(format!("forwarding to moto failed: {error}")),
    }
}

/// Sends the request to moto on a new connection and returns its whole response, with
/// `Connection: close` in the head.
async fn forward(upstream: SocketAddr, request: &Request) -> std::io::Result<Vec<u8>> {
    let exchange = async {
        let mut server = TcpStream::connect(upstream).await?;
        let mut message = closing_head(&request.head).into_bytes();
        message.extend_from_slice(&request.body);
        server.write_all(&message).await?;
        read_response(&mut server).await
    };
    timeout(IO_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::other(format!("moto sent no response within {IO_TIMEOUT:?}"))))
}

/// Reads one request. The SDK sends `Content-Length` with every body; a chunked request is
/// an error. Returns `None` when the connection closes before the first byte.
async fn read_request(stream: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Option<Request>> {
    let Some((head, mut body)) = read_head(stream).await? else { return Ok(None) };
    if header_value(&head, "transfer-encoding").is_some() {
        return Err(std::io::Error::other("chunked request bodies are not supported"));
    }
    let length = content_length(&head)?.unwrap_or(0);
    read_exactly(stream, &mut body, length).await?;
    Ok(Some(Request { head, body }))
}

/// Reads one response and returns it with `Connection: close` in the head. The body ends
/// at `Content-Length` or, without that header, when moto closes the connection.
async fn read_response(stream: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Vec<u8>> {
    let Some((head, mut body)) = read_head(stream).await? else {
        return Err(std::io::Error::other("moto closed the connection without a response"));
    };
    match content_length(&head)? {
        Some(length) => read_exactly(stream, &mut body, length).await?,
        None => {
            stream.read_to_end(&mut body).await?;
        }
    }
    let mut response = closing_head(&head).into_bytes();
    response.extend_from_slice(&body);
    Ok(response)
}

/// Reads up to the blank line after the headers. Returns the head without that blank line
/// and the bytes read past it, or `None` if the stream ends before any byte arrives.
async fn read_head(stream: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8(buffer[..end].to_vec())
                .map_err(|_| std::io::Error::other("the message head is not UTF-8"))?;
            return Ok(Some((head, buffer[end + 4..].to_vec())));
        }
        if buffer.len() > MAX_HEAD_BYTES {
            return Err(std::io::Error::other(format!("the message head is longer than {MAX_HEAD_BYTES} bytes")));
        }
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            if buffer.is_empty() {
                return Ok(None);
            }
            return Err(std::io::Error::other("the connection closed inside the message head"));
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

fn content_length(head: &str) -> std::io::Result<Option<usize>> {
    header_value(head, "content-length")
        .map(|value| value.parse().map_err(|_| std::io::Error::other(format!("invalid Content-Length {value:?}"))))
        .transpose()
}

/// Reads until `body` contains `length` bytes.
async fn read_exactly(stream: &mut (impl AsyncRead + Unpin), body: &mut Vec<u8>, length: usize) -> std::io::Result<()> {
    if body.len() > length {
        return Err(std::io::Error::other("more bytes arrived than Content-Length announced"));
    }
    let start = body.len();
    body.resize(length, 0);
    stream.read_exact(&mut body[start..]).await?;
    Ok(())
}

/// Builds the error response of `operation`'s service for `fault`, in that service's protocol:
/// DynamoDB names the error in the JSON `__type`, SES v2 in the `x-amzn-ErrorType` header.
fn error_response(operation: Operation, fault: Fault) -> Vec<u8> {
    let (status, reason, error_type, message) = match (operation.is_dynamodb(), fault) {
        (true, Fault::Throttle) => (400, "Bad Request", "ThrottlingException", "Rate exceeded"),
        (true, Fault::ServerError) => (500, "Internal Server Error", "InternalServerError", "Internal server error"),
        (false, Fault::Throttle) => {
            (429, "Too Many Requests", "TooManyRequestsException", "Maximum sending rate exceeded.")
        }
        (false, Fault::ServerError) => (500, "Internal Server Error", "InternalFailure", "Internal failure"),
        (false, Fault::MessageRejected) => (400, "Bad Request", "MessageRejected", "The message was rejected."),
        (_, other) => panic!("{other:?} on {operation:?} is not an error response"),
    };

    let (content_type, type_header, body) = if operation.is_dynamodb() {
        let body = serde_json::json!({
            "__type": format!("com.amazonaws.dynamodb.v20120810#{error_type}"),
            "message": message,
        });
        ("application/x-amz-json-1.0", String::new(), body.to_string())
    } else {
        let body = serde_json::json!({ "message": message });
        ("application/json", format!("x-amzn-ErrorType: {error_type}\r\n"), body.to_string())
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n{type_header}\
         x-amzn-RequestId: fault-proxy\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}
