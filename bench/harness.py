"""Benchmark reset-mailer's Lambda binary against a Python 3.11 + boto3 peer.

Both run as Lambda runs them: as a child process that polls a local Runtime API. DynamoDB
and SES v2 are served on 127.0.0.1 by a canned-response stub for the CPU, memory and latency
figures, and by moto's server for an end-to-end check with real table semantics.
Run it through `bash bench/run.sh`, which installs what it needs; `--help` lists the options.
"""

import argparse
import asyncio
import datetime
import json
import os
import pathlib
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
import zipfile

from runtime import FunctionFailed, FunctionProcess
from stub import BackendStub, sequential_depth

BENCH_DIR = pathlib.Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
PEER_DIR = BENCH_DIR / "peer"
DEFAULT_BOOTSTRAP = REPO_ROOT / "target" / "lambda" / "reset-mailer" / "bootstrap"

PROFILES_TABLE = "bench-profiles"
TOKENS_TABLE = "bench-reset-tokens"
REQUESTS_TABLE = "bench-reset-requests"
SENDER = "no-reply@example.com"
SUCCESS = {"status": 200, "data": None}
TTL_MINUTES = 1440
# Packages the Lambda Python runtime provides; bundled only when the runtime's boto3 is not used.
LARGE_BINARY_BYTES = 64_000_000
FIXED_TRACE_ID = "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0"
BOTO3_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke mode: a few calls of each figure, well under a minute")
    parser.add_argument("--bin", type=pathlib.Path, default=DEFAULT_BOOTSTRAP,
                        help="Rust Lambda binary to run (default: the cargo-lambda release bootstrap)")
    parser.add_argument("--label", default="rust", help="name of the Rust binary in the report")
    parser.add_argument("--skip-peer", action="store_true", help="run the Rust binary only")
    parser.add_argument("--skip-moto", action="store_true", help="leave out the end-to-end run against moto")
    parser.add_argument("--phases", default="size,cold,warm,trips,moto",
                        help="comma-separated subset of size,cold,warm,trips,moto")
    parser.add_argument("--nice", type=int, default=-10,
                        help="niceness for the harness and the functions (default -10, which needs root), "
                             "so that other work on the machine disturbs the wall-clock figures less")
    parser.add_argument("--fixed-trace-id", action="store_true",
                        help="send one Lambda-Runtime-Trace-Id for every call instead of a new one per call as "
                             "Lambda does (an experiment: runtimes copy it into the _X_AMZN_TRACE_ID variable)")
    parser.add_argument("--rust-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment variable for the Rust function, for experiments (repeatable)")
    parser.add_argument("--cold-runs", type=int, help="cold starts per implementation (default 20, quick 3)")
    parser.add_argument("--warm-calls", type=int,
                        help="measured warm calls per implementation (default 10000, quick 60)")
    parser.add_argument("--out", type=pathlib.Path, default=BENCH_DIR / "out",
                        help="folder for results.json, results.md and the function logs")
    parser.add_argument("--moto", type=pathlib.Path, default=REPO_ROOT / ".tools" / "moto" / "bin",
                        help="folder with moto_server and the Python that runs scripts/seed_emulator.py")
    return parser.parse_args()


def plan(quick):
    """Return the number of runs and calls per figure."""
    if quick:
        return {"cold_runs": 3, "warm_up": 5, "warm_calls": 60, "sample_every": 20,
                "trip_calls": 3, "trip_delay_s": 0.02, "moto_cold_runs": 1, "moto_calls": 5}
    return {"cold_runs": 20, "warm_up": 200, "warm_calls": 10_000, "sample_every": 1_000,
            "trip_calls": 20, "trip_delay_s": 0.02, "moto_cold_runs": 3, "moto_calls": 300}


def summary(values):
    """Return the median, quartiles, min, max and (from 100 values on) p99 of a list of numbers."""
    values = sorted(values)
    result = {"n": len(values), "median": statistics.median(values), "min": values[0], "max": values[-1]}
    if len(values) >= 4:
        quartiles = statistics.quantiles(values, n=4, method="inclusive")
        result["p25"], result["p75"] = quartiles[0], quartiles[2]
    if len(values) >= 100:
        result["p99"] = statistics.quantiles(values, n=100, method="inclusive")[98]
    return result


def servop_event(profile_id):
    return {"service": "user", "operation": "SYS_SEND_PASSWORD_RESET_EMAIL_WITH_EXPIRY",
            "data": {"profileId": profile_id, "tokenTtlInMinutes": TTL_MINUTES}}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Bench:
    def __init__(self, args):
        self.args = args
        self.plan = plan(args.quick)
        if args.cold_runs:
            self.plan["cold_runs"] = args.cold_runs
        if args.warm_calls:
            self.plan["warm_calls"] = args.warm_calls
            self.plan["sample_every"] = max(1, args.warm_calls // 10)
        self.out = args.out
        self.out.mkdir(parents=True, exist_ok=True)
        self.results = {"plan": self.plan, "quick": args.quick, "rust_env": args.rust_env,
                        "fixed_trace_id": args.fixed_trace_id, "figures": {}}
        self.implementations = [args.label] if args.skip_peer else [args.label, "python"]
        # Every function process of a run appends to its implementation's log.
        for name in self.implementations:
            (self.out / f"{name}.log").unlink(missing_ok=True)
        self.stub = None
        self.stub_port = None
        self.fixed_trace_id = FIXED_TRACE_ID if args.fixed_trace_id else None

    # Function processes

    def environment(self, endpoint):
        """Return Lambda's environment for a function that must reach nothing but `endpoint`."""
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "HOME": str(self.out),
            "AWS_LAMBDA_FUNCTION_NAME": "reset-mailer-bench",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench-dummy-key",
            "AWS_SECRET_ACCESS_KEY": "bench-dummy-secret",
            "AWS_EC2_METADATA_DISABLED": "true",
            # No shared config or credentials file may add a profile, a role or an endpoint.
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_ENDPOINT_URL": endpoint,
            "PROFILES_TABLE": PROFILES_TABLE,
            "TOKENS_TABLE": TOKENS_TABLE,
            "REQUESTS_TABLE": REQUESTS_TABLE,
            "EMAIL_FROM": SENDER,
            "RESET_URL_BASE": "https://example.com/reset",
            "APP_NAME": "Bench App",
            "RESEND_INTERVAL_SECONDS": "0",
            "MAX_RESETS_PER_HOUR": "1000",
        }

    def function(self, implementation, endpoint):
        env = self.environment(endpoint)
        log_path = self.out / f"{implementation}.log"
        if implementation == "python":
            env.update({
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
                "LAMBDA_TASK_ROOT": str(PEER_DIR),
                "_HANDLER": "handler.lambda_handler",
                "PYTHONDONTWRITEBYTECODE": "1",
            })
            argv = [sys.executable, "-m", "awslambdaric", "handler.lambda_handler"]
            return FunctionProcess(implementation, argv, env, PEER_DIR, log_path, self.fixed_trace_id)
        for setting in self.args.rust_env:
            name, _, value = setting.partition("=")
            env[name] = value
        return FunctionProcess(implementation, [str(self.args.bin.resolve())], env, self.out, log_path,
                               self.fixed_trace_id)

    @staticmethod
    def check(invocation, implementation):
        if invocation.kind != "response" or json.loads(invocation.body) != SUCCESS:
            raise FunctionFailed(f"{implementation}: expected {SUCCESS}, got {invocation.kind}: "
                                 f"{invocation.body[:300]!r}")

    async def start_stub(self):
        self.stub = BackendStub(PROFILES_TABLE)
        self.stub_port = await self.stub.start()

    @property
    def stub_endpoint(self):
        return f"http://127.0.0.1:{self.stub_port}"

    # Figure 5: deployment size

    def measure_sizes(self):
        sizes = {}
        binary = self.args.bin
        if self.args.quick and binary.stat().st_size > LARGE_BINARY_BYTES:
            # Zipping a debug build takes a minute and does not reflect the deployed size.
            print(f"bench: size skipped, {binary} is larger than {LARGE_BINARY_BYTES // 1_000_000} MB "
                  "(a debug build?)", flush=True)
            return
        bootstrap_zip = self.out / "bootstrap.zip"
        zip_file(bootstrap_zip, [(binary, "bootstrap")])
        sizes[self.args.label] = {"binary_bytes": binary.stat().st_size, "zip_bytes": bootstrap_zip.stat().st_size,
                                  "binary": str(binary)}
        strip = shutil.which("strip")
        if strip:
            stripped = self.out / "bootstrap.stripped"
            subprocess.run([strip, "-o", str(stripped), str(binary)], check=True)
            stripped_zip = self.out / "bootstrap-stripped.zip"
            zip_file(stripped_zip, [(stripped, "bootstrap")])
            sizes[self.args.label].update(stripped_bytes=stripped.stat().st_size,
                                          stripped_zip_bytes=stripped_zip.stat().st_size)

        if "python" in self.implementations:
            handler_zip = self.out / "python-handler.zip"
            zip_file(handler_zip, [(PEER_DIR / "handler.py", "handler.py")])
            bundle_files = boto3_files()
            bundle_zip = self.out / "python-with-boto3.zip"
            zip_file(bundle_zip, [(PEER_DIR / "handler.py", "handler.py")] + bundle_files)
            sizes["python"] = {
                "zip_bytes": handler_zip.stat().st_size,
                "bundled_zip_bytes": bundle_zip.stat().st_size,
                "bundled_unpacked_bytes": sum(path.stat().st_size for path, _ in bundle_files),
            }
        self.results["figures"]["size"] = sizes

    # Figures 1 and 2: cold init and the first call after it

    async def measure_cold(self):
        cold = {name: {"init_ms": [], "init_cpu_ms": [], "init_backend_calls": [], "first_call_ms": [],
                       "first_call_backend_calls": [], "vm_hwm_after_first_call_mb": []}
                for name in self.implementations}
        for run in range(self.plan["cold_runs"]):
            # Alternate the implementations, so that neither always runs on a quieter machine.
            for name in self.implementations:
                function = self.function(name, self.stub_endpoint)
                init_tag = ("init", name, run)
                self.stub.tag = init_tag
                await function.start()
                try:
                    init_ms = await function.wait_ready(timeout=30)
                    tag = ("cold", name, run)
                    self.stub.tag = tag
                    invocation = await function.invoke(servop_event(f"bench-cold-{name}-{run:04d}"))
                    self.check(invocation, name)
                    peak_kib = function.memory_kib()["VmHWM"]
                finally:
                    await function.stop()
                cold[name]["vm_hwm_after_first_call_mb"].append(peak_kib * 1024 / 1_000_000)
                cold[name]["init_ms"].append(init_ms)
                cold[name]["init_cpu_ms"].append(function.init_cpu_ms)
                cold[name]["init_backend_calls"].append(sum(self.stub.counts(init_tag).values()))
                cold[name]["first_call_ms"].append(invocation.latency_ms)
                cold[name]["first_call_backend_calls"].append(sum(self.stub.counts(tag).values()))
        self.results["figures"]["cold"] = {
            name: {key: summary(values) for key, values in figures.items()} for name, figures in cold.items()}

    # Figures 2, 3 and 4: warm latency, CPU per warm call, memory over many calls

    async def measure_warm(self):
        warm = {}
        for name in self.implementations:
            function = self.function(name, self.stub_endpoint)
            await function.start()
            try:
                await function.wait_ready(timeout=30)
                warm[name] = await self._warm_run(function, name)
            finally:
                await function.stop()
        self.results["figures"]["warm"] = warm

    async def _warm_run(self, function, name):
        plan = self.plan
        self.stub.tag = ("warm-up", name)
        for call in range(plan["warm_up"]):
            self.check(await function.invoke(servop_event(f"bench-warmup-{name}-{call:06d}")), name)

        tag = ("warm", name)
        self.stub.tag = tag
        connections_before = self.stub.server.connections
        latencies, cpu_per_call, harness_cpu_per_call, rss_samples = [], [], [], []
        user_start, system_start = function.cpu_split_ms()
        cpu_start, harness_start = user_start + system_start, time.process_time()
        block_cpu, block_harness = cpu_start, harness_start
        for call in range(plan["warm_calls"]):
            invocation = await function.invoke(servop_event(f"bench-warm-{name}-{call:06d}"))
            self.check(invocation, name)
            latencies.append(invocation.latency_ms)
            if (call + 1) % plan["sample_every"] == 0:
                cpu_now, harness_now = function.cpu_ms(), time.process_time()
                cpu_per_call.append((cpu_now - block_cpu) / plan["sample_every"])
                harness_cpu_per_call.append((harness_now - block_harness) * 1000.0 / plan["sample_every"])
                block_cpu, block_harness = cpu_now, harness_now
                rss_samples.append({"calls": call + 1, "rss_kib": function.memory_kib()["VmRSS"]})

        user_end, system_end = function.cpu_split_ms()
        total_cpu_ms = user_end + system_end - cpu_start
        memory = function.memory_kib()
        counts = self.stub.counts(tag)
        rss = [sample["rss_kib"] for sample in rss_samples]
        return {
            "calls": plan["warm_calls"],
            "latency_ms": summary(latencies),
            "cpu_ms_per_call": total_cpu_ms / plan["warm_calls"],
            "cpu_ms_per_call_blocks": summary(cpu_per_call),
            "user_ms_per_call": (user_end - user_start) / plan["warm_calls"],
            "system_ms_per_call": (system_end - system_start) / plan["warm_calls"],
            "harness_cpu_ms_per_call": summary(harness_cpu_per_call),
            "init_cpu_ms": function.init_cpu_ms,
            "vm_hwm_kib": memory["VmHWM"],
            "rss_samples": rss_samples,
            # Growth after the first sample, so that lazy set-up in the first calls does not count.
            "rss_growth_kib": rss[-1] - rss[0] if rss else 0,
            "backend_calls_per_call": {op: count / plan["warm_calls"] for op, count in sorted(counts.items())},
            "new_backend_connections": self.stub.server.connections - connections_before,
            "runtime_api_connections": function.runtime.server.connections,
        }

    # Figure 6: backend round trips per call, and how many are sequential

    async def measure_trips(self):
        trips = {}
        for name in self.implementations:
            function = self.function(name, self.stub_endpoint)
            await function.start()
            try:
                await function.wait_ready(timeout=30)
                self.stub.tag = ("trips-warm-up", name)
                for call in range(3):
                    self.check(await function.invoke(servop_event(f"bench-trips-warmup-{name}-{call}")), name)
                self.stub.delay = self.plan["trip_delay_s"]
                depths, totals, latencies, operations = [], [], [], None
                for call in range(self.plan["trip_calls"]):
                    tag = ("trips", name, call)
                    self.stub.tag = tag
                    invocation = await function.invoke(servop_event(f"bench-trips-{name}-{call:04d}"))
                    self.check(invocation, name)
                    calls = [c for c in self.stub.calls if c.tag == tag]
                    depths.append(sequential_depth(calls))
                    totals.append(len(calls))
                    latencies.append(invocation.latency_ms)
                    operations = [f"{c.operation}({c.table})" if c.table else c.operation
                                  for c in sorted(calls, key=lambda c: c.arrived)]
            finally:
                self.stub.delay = 0.0
                await function.stop()
            trips[name] = {"backend_calls": summary(totals), "sequential_calls": summary(depths),
                           "latency_ms_with_delay": summary(latencies), "order": operations,
                           "delay_ms": self.plan["trip_delay_s"] * 1000}
        self.results["figures"]["trips"] = trips

    # End-to-end run against moto's server

    async def measure_moto(self):
        moto_bin = self.args.moto
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        log = open(self.out / "moto.log", "wb")
        server = subprocess.Popen([str(moto_bin / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                  stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        try:
            await wait_for_port(port, timeout=30)
            calls_per_name = self.plan["moto_cold_runs"] + self.plan["moto_calls"]
            fixture = self.out / "moto-profiles.json"
            profiles = [{"profileId": f"bench-moto-{name}-{i:05d}",
                         "identities": {"Email": f"user{i}@example.com"}, "userName": "Bench User"}
                        for name in self.implementations for i in range(calls_per_name)]
            fixture.write_text(json.dumps({"profiles": profiles}))
            seed = [str(moto_bin / "python"), str(REPO_ROOT / "scripts" / "seed_emulator.py"), endpoint,
                    PROFILES_TABLE, TOKENS_TABLE, REQUESTS_TABLE, SENDER, str(fixture)]
            subprocess.run(seed, check=True, stdout=subprocess.DEVNULL)

            moto = {}
            for name in self.implementations:
                moto[name] = await self._moto_runs(name, endpoint)
            moto_state = read_moto_state(endpoint)
            for name in self.implementations:
                moto[name]["token_items"] = moto_state["tokens"].get(name, 0)
            moto["emails_sent"] = moto_state["emails_sent"]
            moto["calls_made"] = calls_per_name * len(self.implementations)
            self.results["figures"]["moto"] = moto
        finally:
            server.terminate()
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                # moto's server can stay busy after SIGTERM while it serves open connections.
                server.kill()
                server.wait()

    async def _moto_runs(self, name, endpoint):
        init_ms, first_ms, warm_ms = [], [], []
        serial = 0
        for run in range(self.plan["moto_cold_runs"]):
            function = self.function(name, endpoint)
            await function.start()
            try:
                init_ms.append(await function.wait_ready(timeout=30))
                invocation = await function.invoke(servop_event(f"bench-moto-{name}-{serial:05d}"))
                serial += 1
                self.check(invocation, name)
                first_ms.append(invocation.latency_ms)
                if run == self.plan["moto_cold_runs"] - 1:
                    for _ in range(self.plan["moto_calls"]):
                        invocation = await function.invoke(servop_event(f"bench-moto-{name}-{serial:05d}"))
                        serial += 1
                        self.check(invocation, name)
                        warm_ms.append(invocation.latency_ms)
            finally:
                await function.stop()
        return {"init_ms": summary(init_ms), "first_call_ms": summary(first_ms), "warm_ms": summary(warm_ms)}

    async def run(self):
        started = time.perf_counter()
        self.results["niceness"] = set_niceness(self.args.nice)
        self.results["machine"] = machine_info(self.args.bin)
        phases = set(self.args.phases.split(","))
        if self.args.skip_moto:
            phases.discard("moto")
        if "size" in phases:
            self.measure_sizes()
        await self.start_stub()
        try:
            for phase, measure in (("cold", self.measure_cold), ("warm", self.measure_warm),
                                   ("trips", self.measure_trips), ("moto", self.measure_moto)):
                if phase in phases:
                    print(f"bench: measuring {phase} ...", flush=True)
                    phase_started = time.perf_counter()
                    await measure()
                    seconds = round(time.perf_counter() - phase_started, 1)
                    self.results.setdefault("phase_seconds", {})[phase] = seconds
                    print(f"bench: {phase} took {seconds} s", flush=True)
        finally:
            await self.stub.server.close()
        self.results["unknown_backend_calls"] = dict(self.stub.unknown)
        self.results["load_average_after"] = os.getloadavg()
        self.results["run_seconds"] = round(time.perf_counter() - started, 1)

        (self.out / "results.json").write_text(json.dumps(self.results, indent=2, default=str))
        from report import render_report
        report = render_report(self.results, self.args.label, self.implementations)
        (self.out / "results.md").write_text(report)
        print(report)


async def wait_for_port(port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise FunctionFailed(f"moto_server did not listen on 127.0.0.1:{port} within {timeout} s")


def read_moto_state(endpoint):
    """Read from moto the token items per implementation and the number of emails SES accepted."""
    import boto3

    session = boto3.session.Session(aws_access_key_id="bench-dummy-key", aws_secret_access_key="bench-dummy-secret",
                                    region_name="us-east-1")
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    tokens = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=TOKENS_TABLE):
        for item in page["Items"]:
            name = item["profileId"]["S"].removeprefix("bench-moto-").rsplit("-", 1)[0]
            tokens[name] = tokens.get(name, 0) + 1
    quota = session.client("ses", endpoint_url=endpoint).get_send_quota()
    return {"tokens": tokens, "emails_sent": int(quota["SentLast24Hours"])}


def zip_file(target, members):
    """Write a deflate-compressed zip (level 9) that keeps executable bits, as Lambda needs."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for source, name in members:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (source.stat().st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(source, "rb") as data:
                archive.writestr(info, data.read(), compresslevel=9)


def boto3_files():
    """List (path, name in zip) for every file of boto3 and its dependencies, without bytecode."""
    from importlib import metadata

    files = []
    for distribution_name in BOTO3_DISTRIBUTIONS:
        distribution = metadata.distribution(distribution_name)
        for entry in distribution.files or []:
            if "__pycache__" in entry.parts or entry.suffix == ".pyc" or entry.parts[0] == "..":
                continue
            path = pathlib.Path(distribution.locate_file(entry))
            if path.is_file():
                files.append((path, str(entry)))
    return files


def set_niceness(niceness):
    """Set this process's niceness, which the functions and moto inherit, and return the one in force."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
    except PermissionError:
        print(f"bench: could not set niceness {niceness} (needs root); measuring at "
              f"{os.getpriority(os.PRIO_PROCESS, 0)}", flush=True)
    return os.getpriority(os.PRIO_PROCESS, 0)


def machine_info(binary):
    def run(*argv, cwd=None):
        try:
            return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    cpu_model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        mem_total_kib = int(meminfo.readline().split()[1])
    from importlib import metadata
    status = run("git", "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock", cwd=REPO_ROOT)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_total_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "rustc": run("rustc", "--version"),
        "python": platform.python_version(),
        "boto3": metadata.version("boto3"),
        "awslambdaric": metadata.version("awslambdaric"),
        "commit": run("git", "log", "-1", "--format=%h", cwd=REPO_ROOT),
        "rust_sources_uncommitted": status not in ("", "unknown"),
        "binary_modified": datetime.datetime.fromtimestamp(binary.stat().st_mtime, datetime.timezone.utc)
        .strftime("%Y-%m-%d %H:%M UTC") if binary.exists() else "missing",
        "load_average_before": os.getloadavg(),
    }


def main():
    args = parse_args()
    if not args.bin.exists():
        sys.exit(f"bench: the Rust binary {args.bin} does not exist; build it or pass --bin")
    try:
        import uvloop
    except ImportError:
        uvloop = None
    try:
        if uvloop is not None:
            uvloop.run(Bench(args).run())
        else:
            asyncio.run(Bench(args).run())
    except FunctionFailed as failure:
        sys.exit(f"bench: {failure}")


if __name__ == "__main__":
    main()
