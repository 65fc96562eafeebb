//! API Gateway REST (v1) and HTTP API (v2) payloads, function URLs and ALB: the servop is
//! the request body and the HTTP status mirrors the servop status.
//!
//! Fields are read straight from the JSON so that the variants real tools send (a null
//! `headers`, no `Content-Type`, no `Host`, a base64 body) all work, and a malformed
//! event gets a 400 rather than a deserialisation failure.

use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde_json::{json, Map, Value};
use tracing::{info_span, Instrument};

use super::{response_for, run};
use crate::error::ResetError;
use crate::reset::App;
use crate::servop::{parse_body, MAX_BODY_BYTES};

/// Standard base64 that accepts bodies with or without `=` padding, as clients differ.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The HTTP payload format, which decides the response format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpFlavor {
    /// API Gateway REST API, payload format 1.0.
    RestV1,
    /// HTTP API payload format 2.0, also used by function URLs.
    V2,
    /// Application Load Balancer target group.
    Alb,
}

pub(super) async fn handle(app: &App, event: &Value, flavor: HttpFlavor) -> Value {
    // ALB events carry no request id; the Lambda request id in the outer span remains.
    let request_id = event["requestContext"]["requestId"].as_str().unwrap_or("none");
    let span = info_span!("http_request", ?flavor, request_id);

    let result = async {
        let body = read_body(event, flavor)?;
        run(app, parse_body(&body, app.settings.max_ttl_minutes)).await
    }
    .instrument(span)
    .await;

    let status = match &result {
        Ok(()) => 200,
        Err(error) => error.status(),
    };
    build_response(event, flavor, status, &response_for(&result))
}

fn method(event: &Value, flavor: HttpFlavor) -> Option<&str> {
    match flavor {
        HttpFlavor::V2 => event["requestContext"]["http"]["method"].as_str(),
        HttpFlavor::RestV1 | HttpFlavor::Alb => event["httpMethod"].as_str(),
    }
}

/// Checks the method and returns the decoded body bytes.
fn read_body(event: &Value, flavor: HttpFlavor) -> Result<Vec<u8>, ResetError> {
    match method(event, flavor) {
        Some(method) if method.eq_ignore_ascii_case("POST") => {}
        // HTTP API v2 events from some tools carry no method; the body still decides.
        None if flavor == HttpFlavor::V2 => {}
        _ => {
            return Err(ResetError::InvalidOperation(
                "Send the servop as the body of a POST request.".into(),
            ))
        }
    }

    let encoded = event["isBase64Encoded"].as_bool().unwrap_or(false);
    match event.get("body") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) if encoded => {
            // Base64 grows data by a third: reject oversized bodies before decoding them.
            if text.len() > MAX_BODY_BYTES / 3 * 4 + 4 {
                return Err(ResetError::JsonParsing(format!(
                    "The request body is larger than {MAX_BODY_BYTES} bytes."
                )));
            }
            BASE64.decode(text.trim()).map_err(|_| {
                ResetError::JsonParsing("The request body is marked base64-encoded but is not valid base64.".into())
            })
        }
        Some(Value::String(text)) => Ok(text.as_bytes().to_vec()),
        Some(_) => Err(ResetError::JsonParsing(
            "The HTTP event's body must be a string.".into(),
        )),
    }
}

fn build_response(request: &Value, flavor: HttpFlavor, status: u16, body: &Value) -> Value {
    let headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")];
    let single: Map<String, Value> = headers.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    let multi: Map<String, Value> = headers.iter().map(|(k, v)| (k.to_string(), json!([v]))).collect();

    let mut response = json!({
        "statusCode": status,
        "body": body.to_string(),
        "isBase64Encoded": false,
    });
    // An ALB with multi-value headers on sends `multiValueHeaders` and reads only that
    // field back; otherwise it reads `headers`.
    let multi_value_alb = flavor == HttpFlavor::Alb && request.get("multiValueHeaders").is_some_and(Value::is_object);
    if multi_value_alb {
        response["multiValueHeaders"] = Value::Object(multi);
    } else {
        response["headers"] = Value::Object(single);
    }
    if flavor == HttpFlavor::Alb {
        response["statusDescription"] = json!(status_description(status));
    }
    response
}

fn status_description(status: u16) -> String {
    let phrase = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    };
    format!("{status} {phrase}").trim_end().to_string()
}
