"""Render the benchmark results as a Markdown table with the project's targets."""

MB = 1_000_000


def spread(figure, scale=1.0, digits=2, p99=False):
    """Format a summary from harness.summary as `median (min–max, IQR p25–p75; n)`."""
    def fmt(value):
        return f"{value * scale:.{digits}f}"

    text = fmt(figure["median"])
    if p99 and "p99" in figure:
        text += f", p99 {fmt(figure['p99'])}"
    text += f" ({fmt(figure['min'])}–{fmt(figure['max'])}"
    if "p25" in figure:
        text += f", IQR {fmt(figure['p25'])}–{fmt(figure['p75'])}"
    return text + f"; n={figure['n']})"


def ratio(peer, rust):
    return f"{peer / rust:.1f}×" if rust else "–"


def verdict(ok):
    return "met" if ok else "**missed**"


def render_report(results, label, implementations):
    figures = results["figures"]
    machine = results["machine"]
    has_peer = "python" in implementations
    rows = []

    def row(name, rust_text, peer_text="–", ratio_text="–", target="", met=""):
        rows.append(f"| {name} | {rust_text} | {peer_text if has_peer else '–'} | "
                    f"{ratio_text if has_peer else '–'} | {target} | {met} |")

    cold = figures.get("cold")
    warm = figures.get("warm")
    if cold:
        rust_init = cold[label]["init_ms"]["median"]
        peer_init = cold["python"]["init_ms"]["median"] if has_peer else None
        met = rust_init < 15 and (not has_peer or peer_init / rust_init >= 20)
        row("1. cold init, spawn to first poll (ms)", spread(cold[label]["init_ms"]),
            spread(cold["python"]["init_ms"]) if has_peer else "–",
            ratio(peer_init, rust_init) if has_peer else "–", "< 15 ms and ≥ 20× faster", verdict(met))
        row("1b. CPU used by cold init (ms, schedstat)", spread(cold[label]["init_cpu_ms"], digits=1),
            spread(cold["python"]["init_cpu_ms"], digits=1) if has_peer else "–",
            ratio(cold["python"]["init_cpu_ms"]["median"], cold[label]["init_cpu_ms"]["median"]) if has_peer else "–")
        row("1c. backend calls during init", spread(cold[label]["init_backend_calls"], digits=0),
            spread(cold["python"]["init_backend_calls"], digits=0) if has_peer else "–")
        first = cold[label]["first_call_ms"]["median"]
        first_target, first_met = "", ""
        if warm:
            limit = 1.5 * warm[label]["latency_ms"]["median"]
            first_target, first_met = f"≤ 1.5 × warm median (≤ {limit:.2f} ms)", verdict(first <= limit)
        row("2a. first call after cold start (ms)", spread(cold[label]["first_call_ms"]),
            spread(cold["python"]["first_call_ms"]) if has_peer else "–",
            ratio(cold["python"]["first_call_ms"]["median"], first) if has_peer else "–", first_target, first_met)

    if warm:
        rust_warm = warm[label]
        peer_warm = warm.get("python")
        row(f"2b. warm call latency (ms, {rust_warm['calls']} calls)", spread(rust_warm["latency_ms"], digits=3, p99=True),
            spread(peer_warm["latency_ms"], digits=3, p99=True) if peer_warm else "–",
            ratio(peer_warm["latency_ms"]["median"], rust_warm["latency_ms"]["median"]) if peer_warm else "–")
        rust_cpu = rust_warm["cpu_ms_per_call"]
        peer_cpu = peer_warm["cpu_ms_per_call"] if peer_warm else None
        met = rust_cpu < 0.5 and (peer_cpu is None or peer_cpu / rust_cpu >= 10)
        row("3. CPU per warm call (ms): total / calls (user + system); per-block spread",
            cpu_text(rust_warm), cpu_text(peer_warm) if peer_warm else "–",
            ratio(peer_cpu, rust_cpu) if peer_warm else "–", "< 0.5 ms and ≥ 10× lower", verdict(met))
        rust_peak = rust_warm["vm_hwm_kib"] * 1024
        growth = rust_warm["rss_growth_kib"]
        flat = growth <= max(256, rust_warm["vm_hwm_kib"] // 100)
        row(f"4. peak RSS, VmHWM after {rust_warm['calls']} warm calls (MB)", f"{rust_peak / MB:.1f}",
            f"{peer_warm['vm_hwm_kib'] * 1024 / MB:.1f}" if peer_warm else "–",
            ratio(peer_warm["vm_hwm_kib"], rust_warm["vm_hwm_kib"]) if peer_warm else "–",
            "< 25 MB", verdict(rust_peak < 25 * MB))
        if cold:
            row("4b. peak RSS after the first call, per cold start (MB)",
                spread(cold[label]["vm_hwm_after_first_call_mb"], digits=1),
                spread(cold["python"]["vm_hwm_after_first_call_mb"], digits=1) if has_peer else "–",
                ratio(cold["python"]["vm_hwm_after_first_call_mb"]["median"],
                      cold[label]["vm_hwm_after_first_call_mb"]["median"]) if has_peer else "–")
        row("4c. VmRSS growth, first to last sample (KiB)", f"{growth:+d}",
            f"{peer_warm['rss_growth_kib']:+d}" if peer_warm else "–", "",
            "flat (≤ 256 KiB or 1 % of peak)", verdict(flat))
        row("harness CPU per call (ms, not the function's)", spread(rust_warm["harness_cpu_ms_per_call"], digits=3),
            spread(peer_warm["harness_cpu_ms_per_call"], digits=3) if peer_warm else "–")

    size = figures.get("size")
    if size:
        rust_size = size[label]
        peer_size = size.get("python")
        row("5. deployment zip (MB)", f"{rust_size['zip_bytes'] / MB:.2f} (bootstrap {rust_size['binary_bytes'] / MB:.2f})",
            (f"{peer_size['zip_bytes'] / 1000:.1f} kB handler only (boto3 from the runtime); "
             f"{peer_size['bundled_zip_bytes'] / MB:.2f} MB with boto3 bundled "
             f"({peer_size['bundled_unpacked_bytes'] / MB:.1f} MB unpacked)") if peer_size else "–",
            ratio(peer_size["bundled_zip_bytes"], rust_size["zip_bytes"]) + " (bundled)" if peer_size else "–",
            "zip < 5 MB", verdict(rust_size["zip_bytes"] < 5 * MB))
        if "stripped_bytes" in rust_size:
            row("5b. same bootstrap after `strip` (MB)",
                f"{rust_size['stripped_zip_bytes'] / MB:.2f} zipped (bootstrap {rust_size['stripped_bytes'] / MB:.2f})")

    trips = figures.get("trips")
    if trips:
        rust_trips = trips[label]
        peer_trips = trips.get("python")
        depth = rust_trips["sequential_calls"]["max"]
        row("6. backend calls per call", f"{rust_trips['backend_calls']['median']:g}: {', '.join(rust_trips['order'])}",
            f"{peer_trips['backend_calls']['median']:g}: {', '.join(peer_trips['order'])}" if peer_trips else "–")
        row(f"6b. sequential backend calls (stub delay {rust_trips['delay_ms']:g} ms)",
            f"{depth}; call {spread(rust_trips['latency_ms_with_delay'], digits=1)} ms",
            f"{peer_trips['sequential_calls']['max']}; call {spread(peer_trips['latency_ms_with_delay'], digits=1)} ms"
            if peer_trips else "–", "", "≤ 3", verdict(depth <= 3))

    moto = figures.get("moto")
    if moto:
        for name_key, title in (("init_ms", "moto: cold init (ms)"), ("first_call_ms", "moto: first call (ms)"),
                                ("warm_ms", "moto: warm call (ms)")):
            row(title, spread(moto[label][name_key]),
                spread(moto["python"][name_key]) if has_peer else "–",
                ratio(moto["python"][name_key]["median"], moto[label][name_key]["median"]) if has_peer else "–")
        tokens = " / ".join(f"{name} {moto[name]['token_items']}" for name in implementations)
        row("moto: token items stored, emails sent", f"{tokens}; emails {moto['emails_sent']} of {moto['calls_made']}")

    header = [
        f"Results of `bench/harness.py` ({'quick' if results['quick'] else 'full'} run, {results['run_seconds']} s), "
        f"{machine['date']}.",
        "",
        f"Machine: {machine['nproc']} cores, {machine['cpu_model']}, {machine['memory_gib']} GiB, "
        f"Linux {machine['kernel']}, {machine['rustc']}, Python {machine['python']} "
        f"(boto3 {machine['boto3']}, awslambdaric {machine['awslambdaric']}). "
        f"Load average before/after: {fmt_load(machine['load_average_before'])} / "
        f"{fmt_load(results['load_average_after'])}; harness and functions ran at niceness {results['niceness']}.",
        f"Rust binary: `{size[label]['binary'] if size else label}` built {machine['binary_modified']}, "
        f"commit {machine['commit']}"
        f"{' with uncommitted changes in src/ or Cargo files' if machine['rust_sources_uncommitted'] else ''}.",
        "",
        "Values: median (min–max, IQR; n = runs or calls). Ratio: Python peer ÷ Rust.",
        "",
        f"| figure | Rust ({label}) | Python peer | ratio | target | verdict |",
        "|---|---|---|---|---|---|",
    ]
    unknown = results.get("unknown_backend_calls")
    footer = [f"", f"Calls the stub does not serve: {unknown}"] if unknown else []
    return "\n".join(header + rows + footer) + "\n"


def cpu_text(warm):
    return (f"{warm['cpu_ms_per_call']:.3f} ({warm['user_ms_per_call']:.3f} + {warm['system_ms_per_call']:.3f}); "
            f"blocks {spread(warm['cpu_ms_per_call_blocks'], digits=3)}")


def fmt_load(load):
    return ", ".join(f"{value:.2f}" for value in load)
