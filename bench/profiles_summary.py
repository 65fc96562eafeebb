"""Print one Markdown row per release-profile variant measured by bench/profiles.sh.

Usage: python profiles_summary.py OUT_DIR
OUT_DIR contains one folder per variant, each with round-N/results.json files. Every
value is the median over the rounds, with the lowest and highest round in brackets.
"""

import json
import pathlib
import statistics
import sys

MB = 1_000_000


def spread(values, digits):
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def main():
    out_dir = pathlib.Path(sys.argv[1])
    print("| variant | overrides | bootstrap (MB) | zip (MB) | cold init (ms) | init CPU (ms) "
          "| CPU per warm call (ms) | warm latency, median (ms) | VmHWM (MB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for variant_dir in sorted(path for path in out_dir.iterdir() if path.is_dir()):
        variant = variant_dir.name
        rounds = [json.loads(path.read_text()) for path in sorted(variant_dir.glob("round-*/results.json"))]
        if not rounds:
            continue
        figures = [result["figures"] for result in rounds]
        size = figures[0]["size"][variant]
        overrides = (variant_dir / "overrides.txt").read_text().split()
        names = ", ".join(item.removeprefix("CARGO_PROFILE_RELEASE_").lower() for item in overrides) or "none"
        init = [figure["cold"][variant]["init_ms"]["median"] for figure in figures]
        init_cpu = [figure["cold"][variant]["init_cpu_ms"]["median"] for figure in figures]
        cpu = [figure["warm"][variant]["cpu_ms_per_call"] for figure in figures]
        latency = [figure["warm"][variant]["latency_ms"]["median"] for figure in figures]
        peak = [figure["warm"][variant]["vm_hwm_kib"] * 1024 / MB for figure in figures]
        print(f"| {variant} | {names} | {size['binary_bytes'] / MB:.2f} | {size['zip_bytes'] / MB:.2f} "
              f"| {spread(init, 2)} | {spread(init_cpu, 2)} | {spread(cpu, 3)} | {spread(latency, 3)} "
              f"| {spread(peak, 1)} |")


if __name__ == "__main__":
    main()
