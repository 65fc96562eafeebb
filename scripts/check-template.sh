#!/usr/bin/env bash
# Validate and lint template.yaml with the AWS SAM CLI, then build the function with
# `sam build` (rust-cargolambda build method) and print the size of the built bootstrap.
#
# Environment:
#   SKIP_SAM_BUILD=1   validate and lint only (no Rust build, no cargo-lambda install).
#   SAM_BUILD_DIR      build output folder (default: .aws-sam/build in the repository).
#   CARGO_TARGET_DIR   cargo's target folder for `sam build`. Unset, SAM uses the repository's
#                      target/, so a CI job that already compiled the crate reuses that work.
#                      Set it to another folder to build while another cargo process holds
#                      the lock on target/.
#
# SAM runs offline here: telemetry and the version check are off, the instance metadata
# service is never queried, and the credentials are dummies. `sam validate` and `sam build`
# need no AWS access. `cargo lambda build` may still download crates from crates.io.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

if [[ "${SKIP_SAM_BUILD:-0}" == "1" ]]; then
    scripts/setup-tools.sh sam
else
    scripts/setup-tools.sh sam cargo-lambda
fi

sam_app_dir="$(mktemp -d)"
trap 'rm -rf "${sam_app_dir}"' EXIT
# A recent lastVersionCheck stops SAM from asking PyPI for a newer release.
printf '{"telemetryEnabled": false, "lastVersionCheck": %s}\n' "$(date +%s)" > "${sam_app_dir}/metadata.json"

export __SAM_CLI_APP_DIR="${sam_app_dir}"
export SAM_CLI_TELEMETRY=0
export AWS_EC2_METADATA_DISABLED=true
export AWS_ACCESS_KEY_ID=dummy-access-key-id
export AWS_SECRET_ACCESS_KEY=dummy-secret-access-key
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN

sam="${repo_root}/.tools/sam/bin/sam"

echo "==> sam validate"
"${sam}" validate --region us-east-1 -t template.yaml

echo "==> sam validate --lint"
"${sam}" validate --lint -t template.yaml

if [[ "${SKIP_SAM_BUILD:-0}" == "1" ]]; then
    echo "==> sam build skipped (SKIP_SAM_BUILD=1)"
    exit 0
fi

build_dir="${SAM_BUILD_DIR:-${repo_root}/.aws-sam/build}"
echo "==> sam build (x86_64) into ${build_dir}, cargo target dir: ${CARGO_TARGET_DIR:-${repo_root}/target}"
start_seconds="$(date +%s)"
PATH="${repo_root}/.tools/cargo-lambda/bin:${PATH}" \
    "${sam}" build \
    --template-file template.yaml \
    --parameter-overrides Architecture=x86_64 \
    --build-dir "${build_dir}"
end_seconds="$(date +%s)"

bootstrap="${build_dir}/ResetMailerFunction/bootstrap"
if [[ ! -f "${bootstrap}" ]]; then
    echo "check-template: sam build succeeded but ${bootstrap} is missing." \
        "Check Metadata.BuildProperties.Binary of ResetMailerFunction in template.yaml." >&2
    exit 1
fi
size_bytes="$(stat -c %s "${bootstrap}")"
echo "==> sam build took $((end_seconds - start_seconds)) s"
echo "==> bootstrap: ${bootstrap}: ${size_bytes} bytes ($(numfmt --to=iec-i --suffix=B "${size_bytes}"))"
