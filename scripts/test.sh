#!/usr/bin/env bash
# Run every test of the crate: unit, integration and doc tests. The emulator tests
# (tests/emulator.rs) need a moto server, which this script installs into .tools/moto,
# starts on a free loopback port and stops on exit.
#
# Usage: bash scripts/test.sh [cargo test arguments...]
#   Arguments go to `cargo test --all-targets` and to `cargo test --doc`, for example a
#   test name filter or `-- --nocapture`. When they select targets themselves (`--test
#   emulator`, `--lib`, ...), a single `cargo test ARGS` runs instead, because cargo
#   rejects `--doc` together with other target selections.
#
# Nothing reaches AWS: profiles, role and container credential variables are unset, the
# config and credentials files are /dev/null, the credentials are dummies, the instance
# metadata service is disabled and AWS_ENDPOINT_URL names the local moto server. The
# moto log goes to target/moto-server.log.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

bash scripts/setup-tools.sh moto

unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN \
    AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_SESV2 AWS_ENDPOINT_URL_SES \
    AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
    AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_LAMBDA_FUNCTION_NAME
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
# Requests to the emulator must not go through a proxy.
export NO_PROXY=127.0.0.1,localhost,::1
export no_proxy="${NO_PROXY}"

python="${repo_root}/.tools/moto/bin/python"
moto_log="${repo_root}/target/moto-server.log"
mkdir -p "${repo_root}/target"
moto_pid=""

stop_moto() {
    if [[ -n "${moto_pid}" ]]; then
        kill "${moto_pid}" 2>/dev/null || true
        wait "${moto_pid}" 2>/dev/null || true
    fi
}
trap stop_moto EXIT

free_port() {
    "${python}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Polls the moto dashboard URL for up to 20 s, and fails early if the server exits.
wait_for_moto() {
    local url="$1"
    local deadline=$((SECONDS + 20))
    while ((SECONDS < deadline)); do
        if ! kill -0 "${moto_pid}" 2>/dev/null; then
            return 1
        fi
        if "${python}" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "${url}" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    echo "test.sh: moto did not respond at ${url} within 20 s" >&2
    return 1
}

# Another process can take the port between free_port and the server's bind, so try three ports.
endpoint=""
for _ in 1 2 3; do
    port="$(free_port)"
    "${repo_root}/.tools/moto/bin/moto_server" -H 127.0.0.1 -p "${port}" >"${moto_log}" 2>&1 &
    moto_pid=$!
    if wait_for_moto "http://127.0.0.1:${port}/moto-api/"; then
        endpoint="http://127.0.0.1:${port}"
        break
    fi
    stop_moto
    moto_pid=""
done
if [[ -z "${endpoint}" ]]; then
    echo "test.sh: moto_server failed to start on three ports. Its log, ${moto_log}:" >&2
    cat "${moto_log}" >&2
    exit 1
fi
echo "test.sh: moto is listening on ${endpoint} (pid ${moto_pid}, log ${moto_log})"

export RESET_MAILER_TEST_ENDPOINT="${endpoint}"
export AWS_ENDPOINT_URL="${endpoint}"

selects_targets=false
for arg in "$@"; do
    case "${arg}" in
        --) break ;;
        --lib | --bins | --bin | --bin=* | --tests | --test | --test=* | --examples | --example | --example=* | \
            --benches | --bench | --bench=* | --all-targets | --doc)
            selects_targets=true
            ;;
    esac
done

if [[ "${selects_targets}" == true ]]; then
    cargo test "$@"
else
    cargo test --all-targets "$@"
    cargo test --doc "$@"

    # A smoke run of the benchmark harness on the debug binary that the tests just built:
    # it checks that the harness and the Python peer run, and measures nothing that counts.
    echo "==> benchmark harness smoke run"
    bash bench/run.sh --quick --bin target/debug/reset-mailer --skip-moto
fi
