#!/usr/bin/env bash
# Benchmark the reset-mailer Lambda binary against a Python 3.11 + boto3 peer.
#
# Usage: bash bench/run.sh [--quick] [--bin PATH] [other options of bench/harness.py]
#   --quick      a few calls of each figure; finishes well under a minute once installed
#   --bin PATH   run this binary (for example target/debug/reset-mailer) instead of
#                building the release bootstrap with cargo-lambda
#   --skip-moto  leave out the end-to-end run against moto's server
# Run `bench/.venv/bin/python bench/harness.py --help` for the rest.
#
# Installs the harness venv (bench/.venv, from bench/requirements.txt), moto and
# cargo-lambda (through scripts/setup-tools.sh), builds the release bootstrap as
# `cargo lambda build --release` does, then runs bench/harness.py. Every server it starts
# binds 127.0.0.1, and the functions get a loopback AWS_ENDPOINT_URL and dummy credentials.
# Results: bench/out/results.md and bench/out/results.json.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench_dir="${repo_root}/bench"
venv="${bench_dir}/.venv"
requirements="${bench_dir}/requirements.txt"
python="${PYTHON:-python3.11}"

use_own_binary=false
skip_moto=false
for argument in "$@"; do
    case "${argument}" in
        --bin | --bin=*) use_own_binary=true ;;
        --skip-moto) skip_moto=true ;;
    esac
done

if [[ ! -x "${venv}/bin/python" ]] || ! cmp -s "${requirements}" "${venv}/.installed"; then
    echo "bench: installing the harness venv into ${venv}"
    rm -rf "${venv}"
    "${python}" -m venv "${venv}"
    "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check -r "${requirements}"
    cp "${requirements}" "${venv}/.installed"
fi

if [[ "${skip_moto}" == false ]]; then
    bash "${repo_root}/scripts/setup-tools.sh" moto
fi

if [[ "${use_own_binary}" == false ]]; then
    bash "${repo_root}/scripts/setup-tools.sh" cargo-lambda
    echo "bench: building the release bootstrap (a first build takes several minutes)"
    (
        cd "${repo_root}"
        PATH="${repo_root}/.tools/cargo-lambda/bin:${PATH}" \
            cargo-lambda lambda build --release --bin reset-mailer
    )
fi

exec "${venv}/bin/python" "${bench_dir}/harness.py" "$@"
