"""A local Lambda Runtime API and a function process that polls it, as Lambda runs one.

The Runtime API serves the endpoints that runtime clients call (lambda_runtime for Rust,
awslambdaric for Python):

- `GET /2018-06-01/runtime/invocation/next` waits for the next event and returns it with
  the `Lambda-Runtime-*` headers,
- `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error`,
- `POST /2018-06-01/runtime/init/error`.

Each function process gets its own Runtime API on its own port, so a long poll left open
by a killed process can never take an event meant for the next one.
"""

import asyncio
import itertools
import json
import os
import re
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field

from httpserver import HttpServer, Response

API_PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:reset-mailer-bench"
DEADLINE_MS = 30_000
RESULT_PATH = re.compile(rf"^{API_PREFIX}/invocation/([^/]+)/(response|error)$")
CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
_trace_serial = itertools.count(1)


class FunctionFailed(Exception):
    """The function process exited, reported an init error or missed a time limit."""


@dataclass
class Invocation:
    request_id: str
    event: bytes
    handed_out: float = 0.0  # perf_counter when the event was written to the function
    finished: float = 0.0  # perf_counter when its response or error arrived
    kind: str = ""  # "response" or "error"
    body: bytes = b""
    done: asyncio.Future = field(default=None)

    @property
    def latency_ms(self):
        return (self.finished - self.handed_out) * 1000.0


class RuntimeApi:
    def __init__(self, fixed_trace_id=None):
        self.fixed_trace_id = fixed_trace_id
        self.server = HttpServer(self._handle)
        self.pending = asyncio.Queue()
        self.in_flight = {}
        loop = asyncio.get_running_loop()
        self.first_poll = loop.create_future()  # perf_counter of the first GET .../next
        self.init_error = loop.create_future()
        self.polls = 0

    async def start(self):
        return await self.server.start()

    def _handle(self, request):
        if request.method == "GET" and request.path == f"{API_PREFIX}/invocation/next":
            return self._next(request)

        match = RESULT_PATH.match(request.path)
        if request.method == "POST" and match:
            invocation = self.in_flight.pop(match.group(1), None)
            if invocation is None:
                return Response(400, b'{"errorMessage":"unknown request id"}')
            invocation.finished = request.arrived
            invocation.kind = match.group(2)
            invocation.body = request.body
            invocation.done.set_result(invocation)
            return Response(202, b'{"status":"OK"}', {"Content-Type": "application/json"})

        if request.method == "POST" and request.path == f"{API_PREFIX}/init/error":
            if not self.init_error.done():
                self.init_error.set_result(request.body)
            return Response(202, b'{"status":"OK"}', {"Content-Type": "application/json"})

        return Response(404, b'{"errorMessage":"not found"}', {"Content-Type": "application/json"})

    async def _next(self, request):
        self.polls += 1
        if not self.first_poll.done():
            self.first_poll.set_result(request.arrived)
        invocation = await self.pending.get()
        self.in_flight[invocation.request_id] = invocation
        deadline = int(time.time() * 1000) + DEADLINE_MS
        trace = self.fixed_trace_id or (
            f"Root=1-{int(time.time()):08x}-{next(_trace_serial):024x};Parent={uuid.uuid4().hex[:16]};Sampled=0")
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline),
            "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
            "Lambda-Runtime-Trace-Id": trace,
        }
        invocation.handed_out = time.perf_counter()
        return Response(200, invocation.event, headers)


class FunctionProcess:
    """One execution environment: a child process polling its own Runtime API."""

    def __init__(self, name, argv, env, cwd, log_path, fixed_trace_id=None):
        self.name = name
        self.fixed_trace_id = fixed_trace_id
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.log_path = log_path
        self.runtime = None
        self.process = None
        self.spawned = 0.0
        self.init_cpu_ms = 0.0

    async def start(self):
        self.runtime = RuntimeApi(self.fixed_trace_id)
        port = await self.runtime.start()
        env = dict(self.env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{port}")
        log = open(self.log_path, "ab")
        self.spawned = time.perf_counter()
        self.process = subprocess.Popen(
            self.argv, env=env, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
        log.close()

    async def wait_ready(self, timeout):
        """Wait for the first poll and return the cold init time in ms (spawn to first poll)."""
        waiters = {self.runtime.first_poll, self.runtime.init_error, asyncio.ensure_future(self._exited())}
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            if waiter is not self.runtime.first_poll and waiter is not self.runtime.init_error:
                waiter.cancel()
        if self.runtime.first_poll in done:
            self.init_cpu_ms = self.thread_cpu_ms()
            return (self.runtime.first_poll.result() - self.spawned) * 1000.0
        if self.runtime.init_error in done:
            raise FunctionFailed(f"{self.name}: init error: {self.runtime.init_error.result()[:500]!r}")
        raise FunctionFailed(f"{self.name}: no poll within {timeout} s or the process exited; see {self.log_path}")

    async def _exited(self):
        while self.process.poll() is None:
            await asyncio.sleep(0.005)

    async def invoke(self, event, timeout=15.0):
        loop = asyncio.get_running_loop()
        invocation = Invocation(str(uuid.uuid4()), json.dumps(event).encode(), done=loop.create_future())
        self.runtime.pending.put_nowait(invocation)
        try:
            await asyncio.wait_for(asyncio.shield(invocation.done), timeout)
        except asyncio.TimeoutError:
            raise FunctionFailed(f"{self.name}: no result within {timeout} s; see {self.log_path}") from None
        return invocation

    def cpu_ms(self):
        """Return the user + system CPU time of the process (all its threads) from /proc/PID/stat, in ms."""
        user, system = self.cpu_split_ms()
        return user + system

    def cpu_split_ms(self):
        """Return the user and system CPU time of the process (utime and stime of /proc/PID/stat), in ms."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            # The command name in field 2 may contain spaces; the fields after it are fixed.
            fields = stat.read().rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])
        return utime * 1000.0 / CLOCK_TICKS_PER_SECOND, stime * 1000.0 / CLOCK_TICKS_PER_SECOND

    def thread_cpu_ms(self):
        """Return the on-CPU time of the process's live threads from /proc/PID/task/*/schedstat, in ms.

        Finer than the 10 ms clock ticks of /proc/PID/stat, so it suits the short cold
        init, but it misses threads that have already exited.
        """
        total_ns = 0
        for task in os.listdir(f"/proc/{self.process.pid}/task"):
            try:
                with open(f"/proc/{self.process.pid}/task/{task}/schedstat") as schedstat:
                    total_ns += int(schedstat.read().split()[0])
            except FileNotFoundError:
                pass
        return total_ns / 1e6

    def memory_kib(self):
        """Return VmRSS and VmHWM of the process, in KiB."""
        values = {}
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                name, _, rest = line.partition(":")
                if name in ("VmRSS", "VmHWM"):
                    values[name] = int(rest.split()[0])
        return values

    async def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._exited(), 2.0)
            except asyncio.TimeoutError:
                self.process.kill()
                self.process.wait()
        if self.runtime is not None:
            await self.runtime.server.close()
