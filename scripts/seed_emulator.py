"""Create the reset-mailer tables in a local emulator and seed the demo profiles.

Usage: python seed_emulator.py ENDPOINT PROFILES_TABLE TOKENS_TABLE REQUESTS_TABLE SENDER [FIXTURE]

Creates the three tables (tokens and requests with TTL on `expiresAt`), verifies SENDER with SES v2
and writes every profile of FIXTURE (default: fixtures/profiles.json) as a DynamoDB item.
ENDPOINT must be a loopback URL: this script refuses anything else.
"""

import json
import pathlib
import sys
from urllib.parse import urlparse

import boto3

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def to_attribute(value):
    """Convert a fixture JSON value to a DynamoDB attribute value."""
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float)):
        return {"N": str(value)}
    if isinstance(value, list):
        return {"L": [to_attribute(item) for item in value]}
    if isinstance(value, dict):
        return {"M": {key: to_attribute(item) for key, item in value.items()}}
    return {"NULL": True}


def main():
    if len(sys.argv) not in (6, 7):
        sys.exit(__doc__)
    endpoint, profiles_table, tokens_table, requests_table, sender = sys.argv[1:6]
    if urlparse(endpoint).hostname not in LOOPBACK_HOSTS:
        sys.exit(f"seed_emulator: {endpoint} is not a loopback address")
    root = pathlib.Path(__file__).resolve().parent.parent
    fixture = pathlib.Path(sys.argv[6]) if len(sys.argv) == 7 else root / "fixtures" / "profiles.json"

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    sesv2 = session.client("sesv2", endpoint_url=endpoint)

    existing = dynamodb.list_tables()["TableNames"]
    tables = ((profiles_table, "profileId"), (tokens_table, "profileId"), (requests_table, "pk"))
    for table, key in tables:
        if table not in existing:
            dynamodb.create_table(
                TableName=table,
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
    for table in (tokens_table, requests_table):
        dynamodb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"},
        )
    sesv2.create_email_identity(EmailIdentity=sender)

    profiles = json.loads(fixture.read_text())["profiles"]
    for profile in profiles:
        item = {key: to_attribute(value) for key, value in profile.items()}
        dynamodb.put_item(TableName=profiles_table, Item=item)
    print(f"seed_emulator: {len(profiles)} profiles in {profiles_table}, sender {sender} verified")


if __name__ == "__main__":
    main()
