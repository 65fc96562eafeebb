#!/usr/bin/env bash
# Run the real Lambda binary under `cargo lambda watch`, against DynamoDB and SES v2
# emulated by moto, and invoke it once per event file with `cargo lambda invoke`.
#
# Usage: scripts/invoke-local.sh [EVENT_FILE...]   (default: every file in events/)
#
# Everything listens on 127.0.0.1 only: moto on MOTO_PORT (default 5055), the cargo-lambda
# emulator on LAMBDA_PORT (default 9055). Both are stopped when the script exits. After
# the invocations, the emails that moto received are printed.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

moto_port="${MOTO_PORT:-5055}"
lambda_port="${LAMBDA_PORT:-9055}"
endpoint="http://127.0.0.1:${moto_port}"
sender="no-reply@example.com"
logs="$(mktemp -d)"

bash scripts/setup-tools.sh moto cargo-lambda

# Loopback endpoints and dummy credentials only: nothing may reach AWS.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_SESV2
export AWS_ENDPOINT_URL="${endpoint}"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export PATH="${repo_root}/.tools/cargo-lambda/bin:${PATH}"

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "${pid}" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# Waits until something accepts TCP connections on 127.0.0.1:PORT. A plain connect, not an
# HTTP request: cargo lambda watch would start a function instance for any request.
wait_for() {
    local port="$1" name="$2"
    for _ in $(seq 1 600); do
        if (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then return 0; fi
        sleep 0.5
    done
    echo "invoke-local: ${name} did not start; its log is in ${logs}" >&2
    exit 1
}

.tools/moto/bin/moto_server -H 127.0.0.1 -p "${moto_port}" >"${logs}/moto.log" 2>&1 &
pids+=($!)
wait_for "${moto_port}" "moto"
.tools/moto/bin/python scripts/seed_emulator.py "${endpoint}" profiles reset-tokens reset-requests "${sender}"

# These settings reach the function through cargo-lambda's emulator.
export PROFILES_TABLE=profiles TOKENS_TABLE=reset-tokens REQUESTS_TABLE=reset-requests EMAIL_FROM="${sender}"
export RESET_URL_BASE="https://example.com/reset-password" APP_NAME="Example App"
# Every sample event resets the same profile: lift the resend limits so each one sends.
export RESEND_INTERVAL_SECONDS=0 MAX_RESETS_PER_HOUR=1000
cargo lambda watch -A 127.0.0.1 -P "${lambda_port}" --bin reset-mailer >"${logs}/watch.log" 2>&1 &
pids+=($!)
wait_for "${lambda_port}" "cargo lambda watch"

if [[ $# -eq 0 ]]; then set -- events/*.json; fi
for event in "$@"; do
    echo "== ${event}"
    cargo lambda invoke -A 127.0.0.1 -P "${lambda_port}" --data-file "${event}" reset-mailer || true
    echo
done

echo "== emails received by the SES emulator (moto keeps the HTML part)"
curl -s "${endpoint}/moto-api/data.json" | .tools/moto/bin/python -c '
import json, sys
messages = json.load(sys.stdin)["ses"]["Message"]
for message in messages:
    print("To:", ", ".join(message["destinations"]["ToAddresses"]), "| Subject:", message["subject"])
print(len(messages), "email(s) sent")
'
echo "Function logs: ${logs}/watch.log"
