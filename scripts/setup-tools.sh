#!/usr/bin/env bash
# Install the Python-based tools this repository uses into venvs under .tools/.
#
# Usage: scripts/setup-tools.sh [moto] [cargo-lambda] [sam]
#   With no arguments (and TOOLS unset) all three are installed. The TOOLS
#   environment variable accepts the same names, separated by spaces or commas.
#   PYTHON selects the interpreter that creates the venvs (default: python3).
#
# Each venv records the requirement it was built from in .tools/<name>/.installed,
# so a second run with unchanged pins only compares that file and exits.
# No system-wide Python package is used: every tool runs from its own venv.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${repo_root}/.tools"
python="${PYTHON:-python3}"

# Pinned versions (checked with `pip index versions` in December 2026).
MOTO_VERSION="5.2.6"
CARGO_LAMBDA_VERSION="1.9.2"
# cargo-lambda links through Zig and accepts any ziglang >= 0.10, so pin the linker too.
ZIGLANG_VERSION="0.17.1"
SAM_CLI_VERSION="1.170.0"
CFN_LINT_VERSION="1.58.0"

requirements_for() {
    case "$1" in
        moto) echo "moto[server]==${MOTO_VERSION}" ;;
        cargo-lambda) echo "cargo-lambda==${CARGO_LAMBDA_VERSION} ziglang==${ZIGLANG_VERSION}" ;;
        sam) echo "aws-sam-cli==${SAM_CLI_VERSION} cfn-lint==${CFN_LINT_VERSION}" ;;
        *)
            echo "setup-tools: invalid tool name '$1'. Valid names: moto, cargo-lambda, sam." >&2
            exit 2
            ;;
    esac
}

install_venv() {
    local name="$1"
    local venv="${tools_dir}/${name}"
    local stamp="${venv}/.installed"
    local requirements
    requirements="$(requirements_for "${name}")"

    if [[ -f "${stamp}" && "$(cat "${stamp}")" == "${requirements}" && -x "${venv}/bin/python" ]]; then
        echo "setup-tools: ${name} is up to date (${requirements})"
        return 0
    fi

    echo "setup-tools: installing ${requirements} into ${venv}"
    rm -rf "${venv}"
    "${python}" -m venv "${venv}"
    # shellcheck disable=SC2086 # the requirement list is split on purpose
    "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check ${requirements}
    printf '%s' "${requirements}" > "${stamp}"
}

selection="${*:-${TOOLS:-moto cargo-lambda sam}}"
selection="${selection//,/ }"

mkdir -p "${tools_dir}"
for name in ${selection}; do
    install_venv "${name}"
done
