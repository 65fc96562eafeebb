"""A canned-response stand-in for DynamoDB and SES v2 on loopback.

DynamoDB JSON calls are identified by `X-Amz-Target`. SES v2 `SendEmail` is
`POST /v2/email/outbound-emails` and `GetEmailIdentity` is `GET /v2/email/identities/{name}`. Every call succeeds at once, or after `delay` seconds
when set, and is recorded with its arrival and reply times, so the benchmark can count
backend round trips per invocation and tell which of them ran one after another.
"""

import asyncio
import itertools
import json
import time
import zlib
from collections import Counter
from dataclasses import dataclass

from httpserver import HttpServer, Response

DYNAMODB_TARGET_PREFIX = "DynamoDB_20120810."
SES_SEND_PATH = "/v2/email/outbound-emails"
SES_IDENTITY_PATH = "/v2/email/identities/"
WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


@dataclass
class Call:
    operation: str
    table: str
    arrived: float
    replied: float
    tag: object  # the invocation the harness was running when the call arrived


class BackendStub:
    def __init__(self, profiles_table):
        self.profiles_table = profiles_table
        self.server = HttpServer(self._handle)
        self.delay = 0.0
        self.tag = None
        self.calls = []
        self.unknown = Counter()
        self._ids = itertools.count(1)

    async def start(self):
        return await self.server.start()

    def counts(self, tag=None):
        return Counter(call.operation for call in self.calls if tag is None or call.tag == tag)

    def _handle(self, request):
        arrived = request.arrived
        target = request.headers.get("x-amz-target", "")
        if target.startswith(DYNAMODB_TARGET_PREFIX):
            operation = target[len(DYNAMODB_TARGET_PREFIX):]
            payload = json.loads(request.body or b"{}")
            table = payload.get("TableName", "")
            answer = self._dynamodb_answer(operation, payload)
            response = self._dynamodb_response(answer)
        elif request.method == "GET" and request.path.startswith(SES_IDENTITY_PATH):
            operation, table = "GetEmailIdentity", ""
            body = json.dumps({"IdentityType": "DOMAIN", "VerifiedForSendingStatus": True,
                               "VerificationStatus": "SUCCESS"}).encode()
            response = Response(200, body, {"Content-Type": "application/json",
                                            "x-amzn-RequestId": self._request_id()})
        elif request.method == "POST" and request.path.split("?")[0] == SES_SEND_PATH:
            operation, table = "SendEmail", ""
            body = json.dumps({"MessageId": f"bench-{next(self._ids):010d}"}).encode()
            response = Response(200, body, {"Content-Type": "application/json",
                                            "x-amzn-RequestId": self._request_id()})
        else:
            operation, table = f"{request.method} {request.path}", ""
            self.unknown[operation] += 1
            body = json.dumps({"__type": "UnknownOperationException", "message": "not served by the stub"})
            response = Response(400, body.encode(), {"Content-Type": "application/x-amz-json-1.0"})

        if self.delay:
            return self._delayed(response, Call(operation, table, arrived, 0.0, self.tag))
        self.calls.append(Call(operation, table, arrived, time.perf_counter(), self.tag))
        return response

    async def _delayed(self, response, call):
        await asyncio.sleep(self.delay)
        call.replied = time.perf_counter()
        self.calls.append(call)
        return response

    def _request_id(self):
        return f"BENCH{next(self._ids):020d}"

    def _profile_item(self, key):
        profile_id = key.get("profileId", {}).get("S", "bench-profile")
        return {
            "profileId": {"S": profile_id},
            "identities": {"M": {"Email": {"S": "bench.user@example.com"}}},
            "userName": {"S": "Bench User"},
            "languageCode": {"S": "en"},
        }

    def _dynamodb_answer(self, operation, payload):
        table = payload.get("TableName", "")
        if operation == "GetItem":
            if table == self.profiles_table:
                return {"Item": self._profile_item(payload.get("Key", {}))}
            return {}
        if operation in WRITE_OPERATIONS:
            return {"UnprocessedItems": {}} if operation == "BatchWriteItem" else {}
        if operation == "BatchGetItem":
            responses = {}
            for name, request in payload.get("RequestItems", {}).items():
                keys = request.get("Keys", [])
                responses[name] = [self._profile_item(key) for key in keys] if name == self.profiles_table else []
            return {"Responses": responses, "UnprocessedKeys": {}}
        if operation == "TransactGetItems":
            items = []
            for entry in payload.get("TransactItems", []):
                get = entry.get("Get", {})
                found = get.get("TableName") == self.profiles_table
                items.append({"Item": self._profile_item(get.get("Key", {}))} if found else {})
            return {"Responses": items}
        if operation in ("Query", "Scan"):
            return {"Items": [], "Count": 0, "ScannedCount": 0}
        self.unknown[operation] += 1
        return {}

    def _dynamodb_response(self, answer):
        body = json.dumps(answer, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "x-amzn-RequestId": self._request_id(),
            "x-amz-crc32": str(zlib.crc32(body)),
        }
        return Response(200, body, headers)


def sequential_depth(calls):
    """Return the longest chain of calls in which each call arrived after the reply to the previous one.

    With a stub delay well above the function's own time per call, calls that a function
    runs concurrently overlap and count once, so the depth is the number of backend round
    trips on the critical path.
    """
    ordered = sorted(calls, key=lambda call: call.arrived)
    chain = []
    for index, call in enumerate(ordered):
        before = [chain[j] for j in range(index) if ordered[j].replied <= call.arrived]
        chain.append(1 + max(before, default=0))
    return max(chain, default=0)
