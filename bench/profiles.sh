#!/usr/bin/env bash
# Measure release-profile options without editing Cargo.toml: build the bootstrap with
# CARGO_PROFILE_RELEASE_* overrides, then run the size, cold and warm figures on every
# build in turns, so that changing load on the machine affects all variants alike.
#
# Usage: bash bench/profiles.sh [VARIANT...]
#   Variants (all of them when none is named), as overrides of Cargo.toml's [profile.release]:
#     default   no override
#     o3        opt-level = 3
#     oz        opt-level = "z"
#     no-lto    opt-level = 3, lto = false, codegen-units = 16, strip = false (cargo's defaults)
#   ROUNDS (default 3), COLD_RUNS (default 10) and WARM_CALLS (default 2000) set the
#   measurements per variant and round.
#   cargo-lambda 1.9 adds panic = "abort" and -C target-cpu=haswell to every release build.
#
# The default variant is the repository's release build in target/. The others build in
# target/bench-profiles, so that target/ keeps the default one. Each of those is a full
# release build, about 15 minutes on 2 cores, and later runs rebuild only the crate.
# Results: bench/out/profiles/VARIANT/round-N/results.md and bench/out/profiles/summary.md.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench_dir="${repo_root}/bench"
out_dir="${bench_dir}/out/profiles"
target_dir="${repo_root}/target/bench-profiles"
rounds="${ROUNDS:-3}"
cold_runs="${COLD_RUNS:-10}"
warm_calls="${WARM_CALLS:-2000}"

# Prints the profile overrides of a variant, one NAME=VALUE per line.
overrides_for() {
    case "$1" in
        default) ;;
        o3) printf '%s\n' CARGO_PROFILE_RELEASE_OPT_LEVEL=3 ;;
        oz) printf '%s\n' CARGO_PROFILE_RELEASE_OPT_LEVEL=z ;;
        no-lto)
            printf '%s\n' CARGO_PROFILE_RELEASE_OPT_LEVEL=3 CARGO_PROFILE_RELEASE_LTO=false \
                CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_STRIP=false
            ;;
        *)
            echo "profiles: invalid variant '$1'. Valid: default o3 oz no-lto" >&2
            exit 2
            ;;
    esac
}

variants=("$@")
if [[ ${#variants[@]} -eq 0 ]]; then
    variants=(default o3 oz no-lto)
fi
for variant in "${variants[@]}"; do
    overrides_for "${variant}" >/dev/null
done

bash "${repo_root}/scripts/setup-tools.sh" cargo-lambda
mkdir -p "${out_dir}"

for variant in "${variants[@]}"; do
    mapfile -t overrides < <(overrides_for "${variant}")
    variant_dir="${out_dir}/${variant}"
    rm -rf "${variant_dir}"
    mkdir -p "${variant_dir}"
    # The default profile reuses the repository's release build; the others get their own.
    variant_target="${target_dir}"
    if [[ "${variant}" == default ]]; then
        variant_target="${repo_root}/target"
    fi
    echo "profiles: building ${variant} (${overrides[*]:-no overrides})"
    started=${SECONDS}
    (
        cd "${repo_root}"
        env "${overrides[@]}" CARGO_TARGET_DIR="${variant_target}" \
            PATH="${repo_root}/.tools/cargo-lambda/bin:${PATH}" \
            cargo-lambda lambda build --release --bin reset-mailer
    ) >"${variant_dir}/build.log" 2>&1
    echo "profiles: ${variant} built in $((SECONDS - started)) s"
    cp "${variant_target}/lambda/reset-mailer/bootstrap" "${variant_dir}/bootstrap"
    printf '%s\n' "${overrides[@]}" >"${variant_dir}/overrides.txt"
done

for round in $(seq 1 "${rounds}"); do
    for variant in "${variants[@]}"; do
        echo "profiles: measuring ${variant}, round ${round} of ${rounds}"
        bash "${bench_dir}/run.sh" --bin "${out_dir}/${variant}/bootstrap" --label "${variant}" \
            --skip-peer --skip-moto --phases size,cold,warm --cold-runs "${cold_runs}" \
            --warm-calls "${warm_calls}" --out "${out_dir}/${variant}/round-${round}" \
            >"${out_dir}/${variant}/round-${round}.log"
    done
done

"${bench_dir}/.venv/bin/python" "${bench_dir}/profiles_summary.py" "${out_dir}" | tee "${out_dir}/summary.md"
