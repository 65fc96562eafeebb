#!/usr/bin/env bash
# Build the cargo-fuzz target fuzz/fuzz_targets/event_parser.rs and run it for SECONDS
# (default 60) on the seed corpus, then print the execution count, the coverage and any
# crash. Exits non-zero when the build fails or the fuzzer finds a crash, a time-out or
# an out-of-memory input.
#
# Usage: bash scripts/fuzz.sh [SECONDS [LIBFUZZER_OPTION...]]
#   Extra options go to libFuzzer, for example -jobs=2 or -max_len=70000.
#
# cargo-fuzz passes nightly-only rustc flags (-Zsanitizer=address and others). The project
# builds with the stable toolchain, so this script sets RUSTC_BOOTSTRAP=1, which makes
# stable rustc accept them. Set FUZZ_SANITIZER=none to build without AddressSanitizer.
# The target builds the crate without its default "aws" feature, so no AWS SDK crate is
# compiled: a first build took 6 min 42 s on the project's 2-core machine (with other builds
# running), later ones about a minute.
#
# Files: the build goes to fuzz/target (or CARGO_TARGET_DIR), apart from the main target/.
# The seeds in fuzz/corpus/event_parser stay unchanged; inputs that libFuzzer adds go to
# fuzz/generated/event_parser and crash inputs to fuzz/artifacts/event_parser, both
# git-ignored. The full fuzzer log is event_parser.log in the target directory.
set -euo pipefail

CARGO_FUZZ_VERSION="0.13.2"
FUZZ_TARGET="event_parser"

seconds="${1:-60}"
shift $(($# > 0 ? 1 : 0))
if ! [[ "${seconds}" =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz.sh: SECONDS must be a positive whole number, got '${seconds}'" >&2
    exit 2
fi

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

if ! cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz ${CARGO_FUZZ_VERSION}"; then
    echo "fuzz.sh: installing cargo-fuzz ${CARGO_FUZZ_VERSION}"
    cargo install cargo-fuzz --version "${CARGO_FUZZ_VERSION}" --locked
fi

export RUSTC_BOOTSTRAP=1
target_dir="${CARGO_TARGET_DIR:-${repo_root}/fuzz/target}"
build_options=(--sanitizer "${FUZZ_SANITIZER:-address}" --target-dir "${target_dir}")
seeds="${repo_root}/fuzz/corpus/${FUZZ_TARGET}"
generated="${repo_root}/fuzz/generated/${FUZZ_TARGET}"
artifacts="${repo_root}/fuzz/artifacts/${FUZZ_TARGET}"
log="${target_dir}/${FUZZ_TARGET}.log"
mkdir -p "${generated}" "${artifacts}" "${target_dir}"

echo "fuzz.sh: building ${FUZZ_TARGET} (a first build takes several minutes on 2 cores)"
cargo fuzz build "${build_options[@]}" "${FUZZ_TARGET}"

echo "fuzz.sh: running ${FUZZ_TARGET} for ${seconds} s; full log in ${log}"
# The first corpus directory receives new inputs, so the seed directory comes second.
status=0
cargo fuzz run "${build_options[@]}" "${FUZZ_TARGET}" "${generated}" "${seeds}" -- \
    -max_total_time="${seconds}" -timeout=10 -print_final_stats=1 "$@" >"${log}" 2>&1 || status=$?

final_stat() {
    sed -n "s/^stat::$1: *//p" "${log}" | tail -n 1
}
coverage="$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*/[0-9a-zA-Z]*' "${log}" | tail -n 1 || true)"
echo "fuzz.sh: executions: $(final_stat number_of_executed_units)"
echo "fuzz.sh: executions per second: $(final_stat average_exec_per_sec)"
echo "fuzz.sh: coverage: ${coverage:-unknown}"
echo "fuzz.sh: new corpus inputs: $(final_stat new_units_added), peak RSS: $(final_stat peak_rss_mb) MB"

if [[ "${status}" -ne 0 ]]; then
    echo "fuzz.sh: the fuzzer failed with exit status ${status}. The end of its log:" >&2
    # Lines are cut because cargo-fuzz prints the failing input as one long byte list.
    tail -n 60 "${log}" | cut -c 1-300 >&2
    echo "fuzz.sh: failing inputs in ${artifacts}:" >&2
    ls -l "${artifacts}" >&2
    echo "fuzz.sh: reproduce one with RUSTC_BOOTSTRAP=1 and the 'cargo fuzz run' command above" >&2
    exit "${status}"
fi
echo "fuzz.sh: no crash in ${seconds} s"
