"""Python peer of reset-mailer for the benchmark: the same direct-invoke servop in boto3.

It is written the way a Python developer would write this Lambda: configuration is
checked and the boto3 clients are built at import, so the cold start pays for them once.
It accepts only the direct-invoke shape, where the event is the servop, and validates it
with the error table of the project's README. Then it reads the profile with a consistent
GetItem, stores the SHA-256 of a fresh token with PutItem and sends a text + HTML email
with SES v2. It has no idempotency or rate limit.
"""

import base64
import hashlib
import html
import logging
import os
import re
import secrets
import time
from email.utils import formatdate
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

logger = logging.getLogger()
logger.setLevel(logging.INFO)

SERVICE = "user"
OPERATION = "SYS_SEND_PASSWORD_RESET_EMAIL_WITH_EXPIRY"
MAX_PROFILE_ID_CHARS = 128
RETRYABLE_CODES = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "TransactionConflictException",
}
EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class ConfigurationError(Exception):
    """A missing or invalid environment variable, raised at import."""


def required_env(name):
    value = os.environ.get(name, "")
    if not value.strip():
        raise ConfigurationError(f"invalid configuration: {name} is not set")
    return value


def load_settings():
    settings = {name: required_env(name) for name in (
        "PROFILES_TABLE", "TOKENS_TABLE", "REQUESTS_TABLE", "EMAIL_FROM", "RESET_URL_BASE", "APP_NAME")}

    base = urlsplit(settings["RESET_URL_BASE"])
    loopback = base.hostname in ("localhost", "127.0.0.1", "::1")
    if base.scheme != "https" and not (base.scheme == "http" and loopback):
        raise ConfigurationError("invalid configuration: RESET_URL_BASE must use https (http only for localhost)")
    if not base.hostname or base.fragment or base.username:
        raise ConfigurationError("invalid configuration: RESET_URL_BASE must name a host, without fragment or credentials")
    if len(settings["APP_NAME"]) > 64:
        raise ConfigurationError("invalid configuration: APP_NAME must be at most 64 characters")

    raw_max_ttl = os.environ.get("MAX_TTL_MINUTES", "10080")
    if not raw_max_ttl.strip().isdigit() or not 1 <= int(raw_max_ttl) <= 525_600:
        raise ConfigurationError(f"invalid configuration: MAX_TTL_MINUTES must be 1 to 525600, got {raw_max_ttl!r}")
    settings["MAX_TTL_MINUTES"] = int(raw_max_ttl)
    return settings


SETTINGS = load_settings()

# Same limits as the Rust function: 1 s connect, 2 s per attempt, 3 attempts in standard mode.
_client_config = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 3})
dynamodb = boto3.client("dynamodb", config=_client_config)
sesv2 = boto3.client("sesv2", config=_client_config)


class ServopError(Exception):
    def __init__(self, status, reason_code, message):
        super().__init__(message)
        self.status = status
        self.reason_code = reason_code
        self.message = message

    def response(self):
        return {"status": self.status, "reason_code": self.reason_code,
                "status_message": self.message, "severity": "ERROR"}


def backend_failure(reason_code, operation, error):
    """Map a boto3 error to 503 when a later retry can succeed and to 500 otherwise."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "UnknownError")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        retryable = status >= 500 or code in RETRYABLE_CODES
        logger.error("%s failed: %s (HTTP %s)", operation, code, status)
    else:
        retryable = isinstance(error, (ConnectTimeoutError, ReadTimeoutError, BotoCoreError))
        logger.error("%s failed: %s", operation, type(error).__name__)
    text = "Failed to send the email." if reason_code == 40361 else "Database error."
    return ServopError(503 if retryable else 500, reason_code, text)


def parse_request(event):
    if not isinstance(event, dict) or not event:
        raise ServopError(400, 40408, "The request is not a JSON object.")
    if event.get("service") != SERVICE or event.get("operation") != OPERATION:
        raise ServopError(400, 40333, "Invalid operation.")

    data = event.get("data")
    if data is None:
        raise ServopError(400, 40358, "Missing required parameter 'data'.")
    if not isinstance(data, dict):
        raise ServopError(400, 40359, "Parameter 'data' must be an object.")

    profile_id = data.get("profileId")
    ttl = data.get("tokenTtlInMinutes")
    if profile_id is None:
        raise ServopError(400, 40358, "Missing required parameter 'profileId'.")
    if ttl is None:
        raise ServopError(400, 40358, "Missing required parameter 'tokenTtlInMinutes'.")
    if not isinstance(profile_id, str):
        raise ServopError(400, 40359, "Parameter 'profileId' must be a string.")
    if isinstance(ttl, bool) or not (isinstance(ttl, int) or (isinstance(ttl, float) and ttl.is_integer())):
        raise ServopError(400, 40359, "Parameter 'tokenTtlInMinutes' must be a whole number.")

    bad_id = (not profile_id or len(profile_id) > MAX_PROFILE_ID_CHARS or profile_id != profile_id.strip()
              or any(ord(c) < 32 or ord(c) == 127 for c in profile_id))
    if bad_id:
        raise ServopError(400, 40660, "Invalid value for parameter 'profileId'.")
    if not 1 <= int(ttl) <= SETTINGS["MAX_TTL_MINUTES"]:
        raise ServopError(400, 40660, "Invalid value for parameter 'tokenTtlInMinutes'.")
    return profile_id, int(ttl)


def reset_link(token):
    base = urlsplit(SETTINGS["RESET_URL_BASE"])
    query = parse_qsl(base.query, keep_blank_values=True) + [("token", token)]
    return urlunsplit((base.scheme, base.netloc, base.path, urlencode(query), ""))


def compose_email(recipient, user_name, language, link, ttl_minutes, expires_at):
    app = SETTINGS["APP_NAME"]
    expiry = formatdate(expires_at, usegmt=True)
    greeting = f"Hello {user_name}," if user_name else "Hello,"
    text = (f"{greeting}\n\nWe received a request to reset the password of your {app} account. "
            f"To choose a new password, open this link:\n\n{link}\n\n"
            f"The link expires in {ttl_minutes} minutes (at {expiry}).\n\n"
            "If you did not request a password reset, you can ignore this email: your password stays the same.\n")
    link_html = html.escape(link)
    html_body = (f'<!DOCTYPE html>\n<html lang="{html.escape(language)}">\n<head><meta charset="utf-8">'
                 f"<title>Reset your {html.escape(app)} password</title></head>\n<body>\n"
                 f"<p>{html.escape(greeting)}</p>\n"
                 f"<p>We received a request to reset the password of your {html.escape(app)} account. "
                 "To choose a new password, open this link:</p>\n"
                 f'<p><a href="{link_html}">Reset my password</a></p>\n'
                 f"<p>If the button does not work, copy this address into your browser:<br>{link_html}</p>\n"
                 f"<p>The link expires in {ttl_minutes} minutes (at {expiry}).</p>\n"
                 "</body>\n</html>\n")
    return {
        "Subject": {"Data": f"Reset your {app} password", "Charset": "UTF-8"},
        "Body": {"Text": {"Data": text, "Charset": "UTF-8"}, "Html": {"Data": html_body, "Charset": "UTF-8"}},
    }


def send_password_reset(profile_id, ttl_minutes):
    try:
        found = dynamodb.get_item(
            TableName=SETTINGS["PROFILES_TABLE"],
            Key={"profileId": {"S": profile_id}},
            ConsistentRead=True,
            ProjectionExpression="#id, #identities.#email, #userName, #languageCode",
            ExpressionAttributeNames={"#id": "profileId", "#identities": "identities", "#email": "Email",
                                      "#userName": "userName", "#languageCode": "languageCode"},
        )
    except (ClientError, BotoCoreError) as error:
        raise backend_failure(40215, "GetItem", error) from error

    item = found.get("Item")
    if item is None:
        raise ServopError(404, 40446, "Profile not found.")
    email_attribute = item.get("identities", {}).get("M", {}).get("Email")
    if not email_attribute or email_attribute.get("S") == "" or "NULL" in email_attribute:
        raise ServopError(400, 40206, "The profile has no email identity.")
    recipient = email_attribute.get("S")
    if recipient is None or not EMAIL_PATTERN.match(recipient):
        raise ServopError(400, 40221, "The email identity is not a valid address.")

    prefix = base64.urlsafe_b64encode(profile_id.encode()).rstrip(b"=").decode()
    token = f"{prefix}.{secrets.token_urlsafe(32)}"
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    created_at = int(time.time())
    expires_at = created_at + ttl_minutes * 60
    try:
        dynamodb.put_item(
            TableName=SETTINGS["TOKENS_TABLE"],
            Item={"profileId": {"S": profile_id}, "tokenHash": {"S": token_hash},
                  "createdAt": {"N": str(created_at)}, "expiresAt": {"N": str(expires_at)}},
        )
    except (ClientError, BotoCoreError) as error:
        raise backend_failure(40215, "PutItem", error) from error

    user_name = item.get("userName", {}).get("S")
    language = item.get("languageCode", {}).get("S", "en")
    content = compose_email(recipient, user_name, language, reset_link(token), ttl_minutes, expires_at)
    try:
        sesv2.send_email(
            FromEmailAddress=SETTINGS["EMAIL_FROM"],
            Destination={"ToAddresses": [recipient]},
            Content={"Simple": content},
        )
    except (ClientError, BotoCoreError) as error:
        # Revoke the stored token, so that a failed request leaves no usable token.
        try:
            dynamodb.delete_item(
                TableName=SETTINGS["TOKENS_TABLE"],
                Key={"profileId": {"S": profile_id}},
                ConditionExpression="tokenHash = :hash",
                ExpressionAttributeValues={":hash": {"S": token_hash}},
            )
        except (ClientError, BotoCoreError):
            logger.exception("revoking the unsent token failed")
        raise backend_failure(40361, "SendEmail", error) from error

    logger.info("password reset email sent: profile_id=%s expires_at=%d", profile_id, expires_at)


def lambda_handler(event, context):
    try:
        profile_id, ttl_minutes = parse_request(event)
        send_password_reset(profile_id, ttl_minutes)
    except ServopError as error:
        return error.response()
    return {"status": 200, "data": None}
