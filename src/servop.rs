//! Parsing of the servop `{"service", "operation", "data"}` into a typed [`ResetRequest`].

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::domain::{ProfileId, TokenTtl};
use crate::error::ResetError;

pub const SERVICE: &str = "user";
pub const OPERATION: &str = "SYS_SEND_PASSWORD_RESET_EMAIL_WITH_EXPIRY";

/// Largest request body or servop accepted, in bytes. A valid servop is under 400 bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Maximum length of an idempotency key, in bytes.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 128;

/// The `data` fields this operation accepts. Any other field is rejected, so that a
/// caller's mistake (or an extra `to` address) never passes silently.
const DATA_FIELDS: [&str; 3] = ["profileId", "tokenTtlInMinutes", "idempotencyKey"];

/// A validated request to send one password reset email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetRequest {
    pub profile_id: ProfileId,
    pub ttl: TokenTtl,
    /// The caller's `idempotencyKey`, if it gave one.
    pub idempotency_key: Option<String>,
}

/// Parses raw bytes (an HTTP body) as a JSON servop.
pub fn parse_body(body: &[u8], max_ttl_minutes: u32) -> Result<ResetRequest, ResetError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ResetError::JsonParsing(format!("The request body is larger than {MAX_BODY_BYTES} bytes.")));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ResetError::JsonParsing("The request body is empty; expected a JSON servop.".into()));
    }
    let StrictJson(value) = serde_json::from_slice(body)
        .map_err(|err| ResetError::JsonParsing(format!("The request body is not valid JSON: {err}.")))?;
    parse_servop(&value, max_ttl_minutes)
}

/// Parses a servop that is already JSON: a direct-invoke event or an EventBridge `detail`.
pub fn parse_servop(value: &Value, max_ttl_minutes: u32) -> Result<ResetRequest, ResetError> {
    let Value::Object(servop) = value else {
        return Err(ResetError::JsonParsing(format!(
            "The request must be a JSON object with service, operation and data, not {}.",
            json_type_name(value)
        )));
    };

    check_name(servop, "service", SERVICE)?;
    check_name(servop, "operation", OPERATION)?;

    match servop.get("data") {
        None | Some(Value::Null) => Err(ResetError::MissingParameter("data")),
        Some(data) => parse_data(data, max_ttl_minutes),
    }
}

/// Parses the servop's `data` object on its own, as an EventBridge `detail` may carry it.
pub fn parse_data(data: &Value, max_ttl_minutes: u32) -> Result<ResetRequest, ResetError> {
    let Value::Object(data) = data else {
        return Err(ResetError::InvalidType { field: "data", expected: "a JSON object" });
    };
    if let Some(unknown) = data.keys().find(|key| !DATA_FIELDS.contains(&key.as_str())) {
        return Err(ResetError::InvalidValue { field: "data", problem: unknown_field_problem(unknown) });
    }

    let profile_id = match data.get("profileId") {
        None | Some(Value::Null) => return Err(ResetError::MissingParameter("profileId")),
        Some(Value::String(raw)) => {
            ProfileId::parse(raw).map_err(|problem| ResetError::InvalidValue { field: "profileId", problem })?
        }
        Some(_) => return Err(ResetError::InvalidType { field: "profileId", expected: "a string" }),
    };

    let minutes = match data.get("tokenTtlInMinutes") {
        None | Some(Value::Null) => return Err(ResetError::MissingParameter("tokenTtlInMinutes")),
        Some(Value::Number(number)) => whole_minutes(number)?,
        Some(_) => {
            return Err(ResetError::InvalidType {
                field: "tokenTtlInMinutes",
                expected: "an integer number of minutes",
            })
        }
    };
    let ttl = TokenTtl::new(minutes, max_ttl_minutes)
        .map_err(|problem| ResetError::InvalidValue { field: "tokenTtlInMinutes", problem })?;

    let idempotency_key = match data.get("idempotencyKey") {
        None | Some(Value::Null) => None,
        Some(Value::String(key)) => Some(parse_idempotency_key(key)?),
        Some(_) => return Err(ResetError::InvalidType { field: "idempotencyKey", expected: "a string" }),
    };

    Ok(ResetRequest { profile_id, ttl, idempotency_key })
}

/// Checks a caller-chosen idempotency key: 1 to 128 printable ASCII characters.
pub fn parse_idempotency_key(key: &str) -> Result<String, ResetError> {
    let printable = key.bytes().all(|byte| byte.is_ascii_graphic());
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_BYTES || !printable {
        return Err(ResetError::InvalidValue {
            field: "idempotencyKey",
            problem: format!("must be 1 to {MAX_IDEMPOTENCY_KEY_BYTES} printable ASCII characters without spaces"),
        });
    }
    Ok(key.to_owned())
}

/// Names an unknown field in the error only when that is safe to echo: short and plain.
fn unknown_field_problem(field: &str) -> String {
    let allowed = DATA_FIELDS.join(", ");
    if field.len() <= 64 && field.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_') {
        format!("unknown parameter '{field}'; allowed parameters are {allowed}")
    } else {
        format!("unknown parameter; allowed parameters are {allowed}")
    }
}

/// A JSON value parsed with one rule more than `serde_json::Value`: an object with the same
/// key twice is an error rather than silently keeping the last value.
struct StrictJson(Value);

impl<'de> Deserialize<'de> for StrictJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictJson)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictJson(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom("duplicate object key"));
            }
            let StrictJson(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Reads a JSON number as whole minutes. Integral floats such as `1440.0` count as whole;
/// negative numbers and values past `u64` are out of range rather than of the wrong type.
fn whole_minutes(number: &serde_json::Number) -> Result<u64, ResetError> {
    let out_of_range = || ResetError::InvalidValue {
        field: "tokenTtlInMinutes",
        problem: "must be a positive number of minutes".into(),
    };
    if let Some(minutes) = number.as_u64() {
        return Ok(minutes);
    }
    if number.as_i64().is_some() {
        return Err(out_of_range());
    }
    match number.as_f64() {
        Some(float) if float.fract() != 0.0 => {
            Err(ResetError::InvalidType { field: "tokenTtlInMinutes", expected: "an integer number of minutes" })
        }
        // Whole and in u64 range, so the cast is exact.
        Some(float) if (1.0..=f64::from(u32::MAX)).contains(&float) => Ok(float as u64),
        // Whole but negative, zero or huge: outside every allowed range.
        _ => Err(out_of_range()),
    }
}

fn check_name(servop: &Map<String, Value>, key: &'static str, expected: &str) -> Result<(), ResetError> {
    match servop.get(key) {
        Some(Value::String(name)) if name == expected => Ok(()),
        Some(Value::String(_)) => Err(ResetError::InvalidOperation(format!(
            "Unknown {key}; this function handles only service '{SERVICE}', operation '{OPERATION}'."
        ))),
        None | Some(Value::Null) => Err(ResetError::InvalidOperation(format!(
            "Missing '{key}'; expected service '{SERVICE}', operation '{OPERATION}'."
        ))),
        Some(_) => Err(ResetError::InvalidOperation(format!("The '{key}' field must be a string."))),
    }
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::reason;

    const MAX: u32 = 10080;

    fn servop_with(data: &str) -> String {
        format!(r#"{{"service":"user","operation":"{OPERATION}","data":{data}}}"#)
    }

    #[test]
    fn valid_servop() {
        let request = parse_body(servop_with(r#"{"profileId":"p-1","tokenTtlInMinutes":1440}"#).as_bytes(), MAX)
            .expect("valid servop");

        assert_eq!(request.profile_id.as_str(), "p-1");
        assert_eq!(request.ttl.minutes(), 1440);
    }

    #[test]
    fn integral_float_ttl_is_accepted() {
        let request = parse_body(servop_with(r#"{"profileId":"p-1","tokenTtlInMinutes":60.0}"#).as_bytes(), MAX);

        assert_eq!(request.map(|r| r.ttl.minutes()).ok(), Some(60));
    }

    #[test]
    fn data_fields_table() {
        let cases: &[(&str, u32, &str)] = &[
            (r#"{"tokenTtlInMinutes":60}"#, reason::MISSING_REQUIRED_PARAMETER, "profileId"),
            (r#"{"profileId":null,"tokenTtlInMinutes":60}"#, reason::MISSING_REQUIRED_PARAMETER, "profileId"),
            (r#"{"profileId":"p"}"#, reason::MISSING_REQUIRED_PARAMETER, "tokenTtlInMinutes"),
            (r#"{"profileId":"p","tokenTtlInMinutes":null}"#, reason::MISSING_REQUIRED_PARAMETER, "tokenTtlInMinutes"),
            (r#"{"profileId":42,"tokenTtlInMinutes":60}"#, reason::INVALID_PARAMETER_TYPE, "profileId"),
            (r#"{"profileId":["p"],"tokenTtlInMinutes":60}"#, reason::INVALID_PARAMETER_TYPE, "profileId"),
            (r#"{"profileId":{"id":"p"},"tokenTtlInMinutes":60}"#, reason::INVALID_PARAMETER_TYPE, "profileId"),
            (r#"{"profileId":true,"tokenTtlInMinutes":60}"#, reason::INVALID_PARAMETER_TYPE, "profileId"),
            (r#"{"profileId":"p","tokenTtlInMinutes":"60"}"#, reason::INVALID_PARAMETER_TYPE, "tokenTtlInMinutes"),
            (r#"{"profileId":"p","tokenTtlInMinutes":1.5}"#, reason::INVALID_PARAMETER_TYPE, "tokenTtlInMinutes"),
            (r#"{"profileId":"p","tokenTtlInMinutes":[60]}"#, reason::INVALID_PARAMETER_TYPE, "tokenTtlInMinutes"),
            (r#"{"profileId":"p","tokenTtlInMinutes":false}"#, reason::INVALID_PARAMETER_TYPE, "tokenTtlInMinutes"),
            (r#"{"profileId":"p","tokenTtlInMinutes":0}"#, reason::INVALID_PARAMETER_VALUE, "tokenTtlInMinutes"),
            (r#"{"profileId":"p","tokenTtlInMinutes":-5}"#, reason::INVALID_PARAMETER_VALUE, "tokenTtlInMinutes"),
            (r#"{"profileId":"p","tokenTtlInMinutes":10081}"#, reason::INVALID_PARAMETER_VALUE, "tokenTtlInMinutes"),
            (r#"{"profileId":"p","tokenTtlInMinutes":1e30}"#, reason::INVALID_PARAMETER_VALUE, "tokenTtlInMinutes"),
            (
                r#"{"profileId":"p","tokenTtlInMinutes":18446744073709551616}"#,
                reason::INVALID_PARAMETER_VALUE,
                "tokenTtlInMinutes",
            ),
            (r#"{"profileId":"","tokenTtlInMinutes":60}"#, reason::INVALID_PARAMETER_VALUE, "profileId"),
            (r#"{"profileId":"a\u0000b","tokenTtlInMinutes":60}"#, reason::INVALID_PARAMETER_VALUE, "profileId"),
            (r#"{"profileId":"a\nb","tokenTtlInMinutes":60}"#, reason::INVALID_PARAMETER_VALUE, "profileId"),
        ];
        for (data, code, field) in cases {
            let error = parse_body(servop_with(data).as_bytes(), MAX).expect_err(data);
            assert_eq!(error.reason_code(), *code, "{data}");
            assert!(error.to_string().contains(field), "{data}: message {error} names no {field}");
        }

        let long_id = format!(r#"{{"profileId":"{}","tokenTtlInMinutes":60}}"#, "x".repeat(129));
        let error = parse_body(servop_with(&long_id).as_bytes(), MAX).expect_err("long id");
        assert_eq!(error.reason_code(), reason::INVALID_PARAMETER_VALUE);
    }

    #[test]
    fn envelope_table() {
        let data = r#"{"profileId":"p","tokenTtlInMinutes":60}"#;
        let cases: Vec<(String, u32)> = vec![
            ("".into(), reason::JSON_PARSING_ERROR),
            ("   ".into(), reason::JSON_PARSING_ERROR),
            ("{".into(), reason::JSON_PARSING_ERROR),
            ("{\"service\":\"user\",}".into(), reason::JSON_PARSING_ERROR),
            ("nul".into(), reason::JSON_PARSING_ERROR),
            ("[]".into(), reason::JSON_PARSING_ERROR),
            ("\"text\"".into(), reason::JSON_PARSING_ERROR),
            ("42".into(), reason::JSON_PARSING_ERROR),
            ("null".into(), reason::JSON_PARSING_ERROR),
            (format!("{}1{}", "[".repeat(200), "]".repeat(200)), reason::JSON_PARSING_ERROR),
            (format!(r#"{{"operation":"{OPERATION}","data":{data}}}"#), reason::INVALID_OPERATION),
            (format!(r#"{{"service":"users","operation":"{OPERATION}","data":{data}}}"#), reason::INVALID_OPERATION),
            (format!(r#"{{"service":"user","operation":"RESET","data":{data}}}"#), reason::INVALID_OPERATION),
            (format!(r#"{{"service":"user","data":{data}}}"#), reason::INVALID_OPERATION),
            (format!(r#"{{"service":1,"operation":"{OPERATION}","data":{data}}}"#), reason::INVALID_OPERATION),
            (format!(r#"{{"service":"user","operation":"{OPERATION}"}}"#), reason::MISSING_REQUIRED_PARAMETER),
            (
                format!(r#"{{"service":"user","operation":"{OPERATION}","data":null}}"#),
                reason::MISSING_REQUIRED_PARAMETER,
            ),
            (format!(r#"{{"service":"user","operation":"{OPERATION}","data":"p"}}"#), reason::INVALID_PARAMETER_TYPE),
            (
                format!(r#"{{"service":"user","operation":"{OPERATION}","data":[{data}]}}"#),
                reason::INVALID_PARAMETER_TYPE,
            ),
        ];
        for (body, code) in cases {
            let error = parse_body(body.as_bytes(), MAX).expect_err(&body);
            assert_eq!(error.reason_code(), code, "{body}");
            assert_eq!(error.status(), 400, "{body}");
        }
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let bodies = [
            servop_with(r#"{"profileId":"a","profileId":"b","tokenTtlInMinutes":60}"#),
            format!(r#"{{"service":"user","service":"user","operation":"{OPERATION}","data":{{}}}}"#),
            servop_with(r#"{"profileId":"a","tokenTtlInMinutes":60,"x":{"k":1,"k":2}}"#),
        ];
        for body in bodies {
            let error = parse_body(body.as_bytes(), MAX).expect_err(&body);
            assert_eq!(error.reason_code(), reason::JSON_PARSING_ERROR, "{body}");
            assert!(error.to_string().contains("duplicate object key"), "{error}");
        }
    }

    #[test]
    fn unknown_data_fields_are_rejected() {
        let cases = [
            (r#"{"profileId":"p","tokenTtlInMinutes":60,"to":["x@example.com"]}"#, Some("'to'")),
            (r#"{"profileId":"p","tokenTtlInMinutes":60,"bcc":"x@example.com"}"#, Some("'bcc'")),
            (r#"{"profileId":"p","tokenTtlInMinutes":60,"e mail\\n":"x"}"#, None),
        ];
        for (data, named) in cases {
            let error = parse_body(servop_with(data).as_bytes(), MAX).expect_err(data);
            assert_eq!(error.reason_code(), reason::INVALID_PARAMETER_VALUE, "{data}");
            if let Some(name) = named {
                assert!(error.to_string().contains(name), "{error}");
            }
            assert!(!error.to_string().contains('\n'), "{error}");
        }
    }

    #[test]
    fn idempotency_key_field() {
        let valid = servop_with(r#"{"profileId":"p","tokenTtlInMinutes":60,"idempotencyKey":"order-17"}"#);
        let spaced = servop_with(r#"{"profileId":"p","tokenTtlInMinutes":60,"idempotencyKey":"a b"}"#);
        let numeric = servop_with(r#"{"profileId":"p","tokenTtlInMinutes":60,"idempotencyKey":17}"#);

        let request = parse_body(valid.as_bytes(), MAX).expect("valid");

        assert_eq!(request.idempotency_key.as_deref(), Some("order-17"));
        assert_eq!(
            parse_body(spaced.as_bytes(), MAX).map_err(|e| e.reason_code()),
            Err(reason::INVALID_PARAMETER_VALUE)
        );
        assert_eq!(
            parse_body(numeric.as_bytes(), MAX).map_err(|e| e.reason_code()),
            Err(reason::INVALID_PARAMETER_TYPE)
        );
    }

    #[test]
    fn oversized_body_is_rejected() {
        let padding = " ".repeat(MAX_BODY_BYTES);
        let body = servop_with(&format!(r#"{{"profileId":"p","tokenTtlInMinutes":60}}{padding}"#));

        let error = parse_body(body.as_bytes(), MAX).expect_err("too large");

        assert_eq!(error.reason_code(), reason::JSON_PARSING_ERROR);
    }

    #[test]
    fn invalid_utf8_is_a_parse_error() {
        let error = parse_body(b"{\"service\":\"\xff\"}", MAX).expect_err("invalid UTF-8");

        assert_eq!(error.reason_code(), reason::JSON_PARSING_ERROR);
    }
}
