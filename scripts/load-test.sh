#!/usr/bin/env bash
# Load test of the Lambda's handler against moto on 127.0.0.1. Run by hand; it is not part
# of the test suite, and BENCHMARKS.md records its figures.
#
# Usage: bash scripts/load-test.sh [options for examples/load.rs...]
#   Builds `examples/load.rs` in release mode, starts moto on a free loopback port, and
#   runs the example twice. Each run gets new tables, PROFILES seeded profiles (default 200,
#   each with its own email address) and a new verified sender:
#     1. default rate limit (one email per profile per 60 s, 5 per hour);
#     2. RESEND_INTERVAL_SECONDS=0 MAX_RESETS_PER_HOUR=1000, so every delivery is accepted.
#   Extra arguments go to both runs, for example `--requests 2000 --concurrency 32`.
#   Reports go to stdout and to target/load-test/, and moto's log to target/load-test/moto.log.
#   Moto is stopped on exit. The exit status is 1 when a check of either run failed.
#
# Nothing reaches AWS: the example's clients get the moto URL as their endpoint, dummy
# credentials and no profile files, and the instance metadata service is disabled.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

profiles="${PROFILES:-200}"
out_dir="${repo_root}/target/load-test"
mkdir -p "${out_dir}"

bash scripts/setup-tools.sh moto

unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ENDPOINT_URL \
    AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_SESV2 AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE \
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_LAMBDA_FUNCTION_NAME
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export NO_PROXY=127.0.0.1,localhost,::1
export no_proxy="${NO_PROXY}"

# Build before moto starts: a release build takes minutes.
cargo build --release --example load
load_bin="${repo_root}/target/release/examples/load"

python="${repo_root}/.tools/moto/bin/python"
moto_pid=""
stop_moto() {
    if [[ -n "${moto_pid}" ]]; then
        kill "${moto_pid}" 2>/dev/null || true
        wait "${moto_pid}" 2>/dev/null || true
    fi
}
trap stop_moto EXIT

port="$("${python}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
endpoint="http://127.0.0.1:${port}"
"${repo_root}/.tools/moto/bin/moto_server" -H 127.0.0.1 -p "${port}" >"${out_dir}/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 1 100); do
    if "${python}" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
        "${endpoint}/moto-api/" 2>/dev/null; then
        break
    fi
    if ! kill -0 "${moto_pid}" 2>/dev/null; then
        echo "load-test: moto exited; its log is ${out_dir}/moto.log" >&2
        exit 1
    fi
    sleep 0.2
done
echo "load-test: moto is listening on ${endpoint} (pid ${moto_pid})"

# Profiles load-profile-0 ... with addresses load-user-0@example.com ...
fixture="${out_dir}/profiles.json"
"${python}" - "${profiles}" >"${fixture}" <<'PYTHON'
import json, sys
count = int(sys.argv[1])
profiles = [
    {"profileId": f"load-profile-{i}", "identities": {"Email": f"load-user-{i}@example.com"}, "userName": f"Load User {i}"}
    for i in range(count)
]
print(json.dumps({"profiles": profiles}))
PYTHON

echo "load-test: machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"

status=0
# Runs one variant on its own tables and sender. Arguments: NAME, then VARIABLE=value
# settings for the app.
run_variant() {
    local name="$1"
    shift
    local sender="load-${name}@example.com"
    "${python}" scripts/seed_emulator.py "${endpoint}" "load-${name}-profiles" "load-${name}-tokens" \
        "load-${name}-requests" "${sender}" "${fixture}"
    echo "load-test: run ${name}: $*"
    if env "$@" PROFILES_TABLE="load-${name}-profiles" TOKENS_TABLE="load-${name}-tokens" \
        REQUESTS_TABLE="load-${name}-requests" EMAIL_FROM="${sender}" \
        RESET_URL_BASE="https://example.com/reset-password" APP_NAME="Load Test" \
        "${load_bin}" --endpoint "${endpoint}" --profiles "${profiles}" "${extra_args[@]}" \
        | tee "${out_dir}/report-${name}.md"; then
        :
    else
        status=1
    fi
}

extra_args=("$@")
run_variant default-limits
run_variant no-limits RESEND_INTERVAL_SECONDS=0 MAX_RESETS_PER_HOUR=1000
exit "${status}"
