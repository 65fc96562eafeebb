//! Hostile input: every case in `tests/data/hostile/*.jsonl` goes through `handle_event` and
//! must end in its expected 4xx error, with no panic, no token stored and no email sent.
//! `tests/data/hostile/README.md` describes the case format.

mod common;

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use url::Url;

use common::{http_event, load_json, repo_file, servop, test_app, HttpShape, TestApp, HTTP_SHAPES};
use reset_mailer::servop::MAX_BODY_BYTES;
use reset_mailer::trigger::RetryableFailure;

const CORPUS_DIR: &str = "tests/data/hostile";
const MIN_CASES: usize = 100;

/// Strings that hostile cases put into requests and that no response may repeat.
const HOSTILE_MARKERS: [&str; 2] = ["attacker@", "evil.example"];

/// Every shape name a case may use.
const SHAPES: [&str; 8] =
    ["http-v1", "http-v1-base64", "http-v2", "function-url", "alb", "eventbridge", "eventbridge-data", "direct"];

/// One corpus line: a named input and the error it must produce.
struct Case {
    /// `file:line` of the case, for failure messages.
    origin: String,
    name: String,
    category: String,
    shape: String,
    status: u64,
    reason_code: u64,
    fields: Map<String, Value>,
}

impl Case {
    fn label(&self) -> String {
        format!("{} [{}] ({})", self.name, self.shape, self.origin)
    }

    fn http_shape(&self) -> Option<HttpShape> {
        match self.shape.as_str() {
            "http-v1" => Some(HttpShape::RestV1),
            "http-v1-base64" => Some(HttpShape::RestV1Base64),
            "http-v2" => Some(HttpShape::HttpV2),
            "function-url" => Some(HttpShape::FunctionUrl),
            "alb" => Some(HttpShape::Alb),
            _ => None,
        }
    }
}

/// Reads every `*.jsonl` file of the corpus. A malformed line is a corpus error and panics
/// with its file and line, so a typo cannot silently drop or weaken a case.
fn load_corpus() -> Vec<Case> {
    let dir = repo_file(CORPUS_DIR);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.expect("corpus directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    files.sort();

    let mut cases = Vec::new();
    for path in files {
        let file_name = path.file_name().expect("file name").to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{file_name}: {err}"));
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let origin = format!("{file_name}:{}", index + 1);
            cases.push(parse_case(line, origin));
        }
    }
    cases
}

fn parse_case(line: &str, origin: String) -> Case {
    let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(line) else {
        panic!("{origin}: a case must be one JSON object per line");
    };
    let mut take_string = |key: &str| match fields.remove(key) {
        Some(Value::String(text)) => text,
        _ => panic!("{origin}: missing string field {key:?}"),
    };
    let (name, category, shape) = (take_string("name"), take_string("category"), take_string("shape"));
    let mut take_number = |key: &str| match fields.remove(key) {
        Some(value) if value.is_u64() => value.as_u64().expect("checked"),
        _ => panic!("{origin}: missing integer field {key:?}"),
    };
    let (status, reason_code) = (take_number("status"), take_number("reason_code"));
    fields.remove("note");

    let allowed: &[&str] = match shape.as_str() {
        "http-v1-base64" => &["body", "body_hex", "raw_body", "set", "remove"],
        "http-v1" | "http-v2" | "function-url" | "alb" => &["body", "set", "remove"],
        "eventbridge" | "eventbridge-data" => &["detail", "set", "remove"],
        "direct" => &["event"],
        other => panic!("{origin}: unknown shape {other:?}, expected one of {SHAPES:?}"),
    };
    if let Some(key) = fields.keys().find(|key| !allowed.contains(&key.as_str())) {
        panic!("{origin}: field {key:?} is not allowed for shape {shape:?}");
    }

    Case { origin, name, category, shape, status, reason_code, fields }
}

/// Builds a body from a string, or from a list of strings and `{"repeat": s, "times": n}`.
fn body_text(spec: &Value, origin: &str) -> String {
    match spec {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts.iter().map(|part| body_part(part, origin)).collect(),
        _ => panic!("{origin}: a body is a string or a list of parts"),
    }
}

fn body_part(part: &Value, origin: &str) -> String {
    if let Some(text) = part.as_str() {
        return text.to_owned();
    }
    match (part["repeat"].as_str(), part["times"].as_u64()) {
        (Some(unit), Some(times)) => unit.repeat(usize::try_from(times).expect("repeat count fits usize")),
        _ => panic!("{origin}: a body part is a string or {{\"repeat\": string, \"times\": integer}}"),
    }
}

fn decode_hex(hex: &str, origin: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "{origin}: body_hex has an odd number of digits");
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap_or_else(|_| panic!("{origin}: body_hex is not hex")))
        .collect()
}

/// Splits a JSON pointer into its parent object and last key (`~1` is `/`, `~0` is `~`).
fn parent_object<'a>(event: &'a mut Value, pointer: &str, origin: &str) -> (&'a mut Map<String, Value>, String) {
    let (parent, key) =
        pointer.rsplit_once('/').unwrap_or_else(|| panic!("{origin}: invalid JSON pointer {pointer:?}"));
    let key = key.replace("~1", "/").replace("~0", "~");
    match event.pointer_mut(parent) {
        Some(Value::Object(object)) => (object, key),
        _ => panic!("{origin}: {parent:?} is not an object in the event"),
    }
}

/// Applies the case's `set` and `remove` edits to a built event.
fn apply_edits(case: &Case, event: &mut Value) {
    if let Some(edits) = case.fields.get("set") {
        let edits = edits.as_object().unwrap_or_else(|| panic!("{}: set must be an object", case.origin));
        for (pointer, value) in edits {
            let (object, key) = parent_object(event, pointer, &case.origin);
            object.insert(key, value.clone());
        }
    }
    if let Some(pointers) = case.fields.get("remove") {
        let pointers = pointers.as_array().unwrap_or_else(|| panic!("{}: remove must be a list", case.origin));
        for pointer in pointers {
            let pointer = pointer.as_str().unwrap_or_else(|| panic!("{}: remove lists JSON pointers", case.origin));
            let (object, key) = parent_object(event, pointer, &case.origin);
            assert!(object.remove(&key).is_some(), "{}: nothing to remove at {pointer:?}", case.origin);
        }
    }
}

fn build_http_event(case: &Case, shape: HttpShape) -> Value {
    let origin = &case.origin;
    let mut event = http_event(shape, "");
    let sets_body = case.fields.get("set").is_some_and(|edits| edits.get("/body").is_some());
    let removes_body =
        case.fields.get("remove").and_then(Value::as_array).is_some_and(|pointers| pointers.contains(&json!("/body")));

    event["body"] = match (case.fields.get("body"), case.fields.get("body_hex"), case.fields.get("raw_body")) {
        (Some(spec), None, None) if shape == HttpShape::RestV1Base64 => {
            json!(STANDARD.encode(body_text(spec, origin)))
        }
        (Some(spec), None, None) => json!(body_text(spec, origin)),
        (None, Some(Value::String(hex)), None) => json!(STANDARD.encode(decode_hex(hex, origin))),
        (None, None, Some(spec)) => json!(body_text(spec, origin)),
        (None, None, None) if sets_body || removes_body => json!(""),
        _ => panic!("{origin}: give exactly one of body, body_hex or raw_body"),
    };
    apply_edits(case, &mut event);
    event
}

fn build_event(case: &Case) -> Value {
    if let Some(shape) = case.http_shape() {
        return build_http_event(case, shape);
    }
    match case.shape.as_str() {
        "eventbridge" | "eventbridge-data" => {
            let sample =
                if case.shape == "eventbridge" { "events/eventbridge.json" } else { "events/eventbridge-data.json" };
            let mut event = load_json(sample);
            if let Some(detail) = case.fields.get("detail") {
                event["detail"] = detail.clone();
            }
            apply_edits(case, &mut event);
            event
        }
        _ => case
            .fields
            .get("event")
            .cloned()
            .unwrap_or_else(|| panic!("{}: a direct case needs an event field", case.origin)),
    }
}

/// Checks one result against the case and returns a message for every check that failed.
fn check_result(case: &Case, result: Result<Value, RetryableFailure>, app: &TestApp) -> Vec<String> {
    let mut failures = Vec::new();
    let mut fail = |message: String| failures.push(format!("{}: {message}", case.label()));

    if !app.untouched() {
        fail("left a token or an email behind".into());
    }
    let response = match result {
        Ok(response) => response,
        Err(failure) => {
            fail(format!("became an invocation error: {failure}"));
            return failures;
        }
    };
    let response_text = response.to_string();
    for marker in HOSTILE_MARKERS {
        if response_text.contains(marker) {
            fail(format!("the response repeats {marker:?}: {response_text}"));
        }
    }

    let servop_response = if case.http_shape().is_some() {
        let status_code = response["statusCode"].as_u64();
        if status_code != Some(case.status) {
            fail(format!("HTTP status {status_code:?}, expected {}", case.status));
        }
        let parsed = response["body"].as_str().map(serde_json::from_str::<Value>);
        let Some(Ok(body)) = parsed else {
            fail(format!("the HTTP body is not a JSON string: {response_text}"));
            return failures;
        };
        if body["status"].as_u64() != status_code {
            fail(format!("body status {} differs from HTTP status {status_code:?}", body["status"]));
        }
        body
    } else {
        response
    };

    if servop_response["status"] != case.status {
        fail(format!("status {}, expected {}: {servop_response}", servop_response["status"], case.status));
    }
    if servop_response["reason_code"] != case.reason_code {
        fail(format!(
            "reason_code {}, expected {}: {servop_response}",
            servop_response["reason_code"], case.reason_code
        ));
    }
    if servop_response["status_message"].as_str().is_none_or(|message| message.trim().is_empty()) {
        fail(format!("no status_message: {servop_response}"));
    }
    if servop_response["severity"] != "ERROR" {
        fail(format!("severity {}, expected \"ERROR\"", servop_response["severity"]));
    }
    failures
}

/// Runs one case on its own runtime and turns a panic into a failure message.
fn run_case(case: &Case) -> Vec<String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let event = build_event(case);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let app = test_app();
            let result = app.invoke(event).await;
            check_result(case, result, &app)
        })
    }));
    outcome.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("non-text panic payload");
        vec![format!("{}: panicked: {message}", case.label())]
    })
}

#[test]
fn corpus_size_and_shapes() {
    let cases = load_corpus();

    assert!(cases.len() >= MIN_CASES, "the corpus has {} cases, fewer than {MIN_CASES}", cases.len());
    let mut names = BTreeSet::new();
    for case in &cases {
        let unique = names.insert((case.shape.as_str(), case.name.as_str()));
        assert!(unique, "{}: another case of this shape has the same name", case.label());
        assert!((400..500).contains(&case.status), "{}: expected status is not 4xx", case.label());
        assert!(!case.category.is_empty(), "{}: empty category", case.label());
    }
    let shapes: BTreeSet<&str> = cases.iter().map(|case| case.shape.as_str()).collect();
    for shape in SHAPES {
        assert!(shapes.contains(shape), "no case uses shape {shape}");
    }
}

#[test]
fn hostile_corpus() {
    let cases = load_corpus();

    let mut failed_cases = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let case_failures = run_case(case);
        if !case_failures.is_empty() {
            failed_cases += 1;
            failures.extend(case_failures);
        }
    }

    assert!(failures.is_empty(), "{failed_cases} of {} hostile cases failed:\n{}", cases.len(), failures.join("\n"));
}

/// Extracts every `http` or `https` URL from `text`, without trailing punctuation.
fn urls_in(text: &str) -> Vec<Url> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
        .filter(|word| word.starts_with("http://") || word.starts_with("https://"))
        .map(|word| word.trim_end_matches(['.', ',', ')']).replace("&amp;", "&"))
        .map(|word| Url::parse(&word).unwrap_or_else(|err| panic!("{word}: {err}")))
        .collect()
}

#[tokio::test]
async fn host_headers_ignored() {
    let hostile = "evil.example";
    for shape in HTTP_SHAPES {
        let app = test_app();
        let mut event = http_event(shape, &servop("demo-profile-1", 60));
        let headers = event["headers"].as_object_mut().expect("sample events have headers");
        headers.retain(|name, _| !name.eq_ignore_ascii_case("host"));
        headers.insert("Host".into(), json!(hostile));
        headers.insert("X-Forwarded-Host".into(), json!(hostile));
        headers.insert("Forwarded".into(), json!(format!("host={hostile};proto=http")));
        headers.insert("X-Forwarded-Proto".into(), json!("http"));
        if let Some(multi) = event["multiValueHeaders"].as_object_mut() {
            multi.insert("Host".into(), json!([hostile]));
            multi.insert("X-Forwarded-Host".into(), json!([hostile]));
        }
        event["requestContext"]["domainName"] = json!(hostile);

        let result = app.invoke(event).await.expect("HTTP results are never invocation errors");

        assert_eq!(result["statusCode"], 200, "{shape:?}: {result}");
        let [email] = app.outbox.sent().try_into().expect("one email");
        for (part, text) in [("subject", &email.subject), ("text", &email.text), ("html", &email.html)] {
            assert!(!text.contains(hostile), "{shape:?}: the {part} names the Host header's host");
        }
        let text_links = urls_in(&email.text);
        let html_links = urls_in(&email.html);
        assert!(!text_links.is_empty(), "{shape:?}: no link in the text part");
        assert!(!html_links.is_empty(), "{shape:?}: no link in the HTML part");
        for link in text_links.iter().chain(&html_links) {
            assert_eq!(link.scheme(), "https", "{shape:?}: {link}");
            assert_eq!(link.host_str(), Some("example.com"), "{shape:?}: {link}");
            assert_eq!(link.path(), "/reset-password", "{shape:?}: {link}");
        }
    }
}

/// A body of exactly `MAX_BODY_BYTES` is accepted. The corpus checks one byte more.
#[tokio::test]
async fn body_at_size_limit() {
    let text = servop("demo-profile-1", 60);
    let padded = format!("{text}{}", " ".repeat(MAX_BODY_BYTES - text.len()));
    assert_eq!(padded.len(), MAX_BODY_BYTES);

    for shape in [HttpShape::HttpV2, HttpShape::RestV1Base64] {
        let app = test_app();

        let result = app.invoke(http_event(shape, &padded)).await.expect("response");

        assert_eq!(result["statusCode"], 200, "{shape:?}: {result}");
        assert_eq!(app.outbox.sent().len(), 1, "{shape:?}");
    }
}
