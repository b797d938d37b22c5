"""Stand up the real stack, load it from another process, print a table and write a JSON file.

`bench/run` (which sets up the venv) calls `python -m bench.run`. What it does, in order:

1. A fresh PostgreSQL database (`artera_bench`) and Redis database (14), migrated, with the
   fixtures of `bench.fixtures`.
2. gunicorn serving `bench.settings` (the product's settings plus the bare baseline view): sync
   workers, 3 by default on 2 cores (the steadiest p99 for database-backed views here).
3. The scenarios, each a warm-up and then a measured run of wrk (2 threads, 32 connections)
   from a separate process on loopback:
   a. `baseline`        POST /bench/baseline/: parse JSON, insert one row
   b. `mapi_unverified` MAPI POST to a new number (the number's unverified channel)
   c. `mapi_verified`   MAPI POST for a verified patient named by MRN
   d. `mapi_idempotent` (b) with an Idempotency-Key
   h. `mapi_batch`      POST /api/v1/messages/batch with `--batch-size` new numbers per request:
                        requests/s, and messages/s accepted; CPU per message
   f. `call_to_text`    GET /webhook/call-to-text/<token>/?CALLER_ID_NUMBER=… (a new caller
                        each time)
   The Celery worker is not running during these: they measure what one web tier accepts (in a
   deployment the workers are other machines); the texts wait in the outbox and the queue.
   e. `end_to_end`      the queue emptied, a Celery worker started, then N MAPI POSTs; measured
                        from the first POST to the last message `delivered` on the simulator,
                        pacing off (the line's rate far above what the machine does).
   i. `end_to_end_batch` the same N messages posted in batches of `--batch-size`.
   j. `release`         `--release-messages` texts scheduled for one moment across
                        `--release-lines` unpaced lines, seeded by bulk SQL (`bench.release`);
                        a worker with its beat started, measured until every text is
                        `received` (the release) and until every one reached the carrier.
   g. `inbox`, `thread` 100k channels and 1M messages seeded by COPY (`bench.inbox`), then the
                        inbox and a busy thread page as a signed-in staff member, with the SQL
                        queries each page costs; with the live push on: uvicorn serves
                        `/ws/` next to gunicorn, 20 signed-in sockets listen (`bench.push`),
                        and each result says how many events reached them.
   j. `insights`        the same seed rolled up (`bench.insights`), then the Insights dashboard
                        (last 30 days) as the practice's manager, with its SQL query count.
4. With `--profile`, each MAPI scenario once more under py-spy (sampling every gunicorn worker),
   summarised as the functions that take the most time; the raw stacks are kept for flame graphs.

Nothing here is a test: the numbers are printed and saved, never compared with a threshold.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import psycopg
import redis

from . import profile as profiling
from . import push
from .loadgen import LoadResult, http_request, load_run

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "wrk" / "scenario.lua"
PYTHON = sys.executable
BIN = Path(PYTHON).parent

# Each scenario's phone numbers come from its own area code, so none reuses another's channels.
AREAS = {
    "baseline": 212,
    "mapi_unverified": 415,
    "mapi_idempotent": 646,
    "call_to_text": 818,
    "end_to_end": 312,
    "mapi_batch": 332,
    "end_to_end_batch": 313,
    "profile": 510,
}
# Compared with the baseline's requests/s (one request, one message).
# Signed-in sockets listening on the ASGI server during the inbox and thread scenarios.
PUSH_SOCKETS = 20
RATIO_SCENARIOS = (
    "mapi_unverified",
    "mapi_verified",
    "mapi_idempotent",
    "call_to_text",
    "end_to_end",
    "baseline",
)
WARMUP_OFFSET = 4_000_000  # a warm-up's numbers start here, the measured run's at 0


@dataclass
class Options:
    duration: int
    warmup: int
    connections: int
    batch_connections: int
    threads: int
    web_workers: int
    worker_concurrency: int
    e2e_messages: int
    batch_size: int
    release_messages: int
    release_lines: int
    inbox_channels: int
    inbox_messages: int
    patients: int
    only: set[str]
    profile: bool
    keep: bool
    port: int
    database: str
    postgres: str
    redis_url: str
    out: Path


@dataclass
class Result:
    name: str
    description: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    statuses: dict[str, int]
    extra: dict[str, Any] = field(default_factory=dict)
    ratio: float | None = None


# --- Processes -------------------------------------------------------------------------------


def _free_port(preferred: int) -> int:
    for port in range(preferred, preferred + 100):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise SystemExit(f"No free port in {preferred}-{preferred + 99}.")


def _django(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [PYTHON, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@contextlib.contextmanager
def _process(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait_http(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s.")


def _gunicorn(opts: Options) -> list[str]:
    return [
        str(BIN / "gunicorn"),
        "artera.wsgi:application",
        "--workers",
        str(opts.web_workers),
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{opts.port}",
        "--backlog",
        "2048",
        "--timeout",
        "60",
        "--log-level",
        "warning",
    ]


def _celery(opts: Options) -> list[str]:
    return [
        str(BIN / "celery"),
        "-A",
        "artera",
        "worker",
        "--queues",
        "artera-sms,artera-default,artera-webhooks",
        "--pool",
        "prefork",
        "--concurrency",
        str(opts.worker_concurrency),
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--hostname",
        "bench@%h",
        "--loglevel",
        "WARNING",
    ]


def _process_tree(root: int) -> list[int]:
    """`root` and every process under it (gunicorn's or Celery's workers)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def _postgres_pids() -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if stat.read_text().split(" (", 1)[1].startswith("postgres)"):
                pids.append(int(stat.parent.name))
    return pids


def _cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time of each of these processes so far (/proc/<pid>/stat)."""
    seconds = {}
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


class CpuMeter:
    """CPU time the web tier, the worker and PostgreSQL spend during a stretch of load, so a
    scenario can be given in CPU milliseconds per request: the number to size machines by,
    and steadier than requests per second on a machine whose cores everything shares.

    Counted per process: what a process used since the start (all of it for one started
    meanwhile). A process that ended meanwhile (a database connection closed) takes its last
    stretch with it, so the figures are a slight underestimate, never a negative one."""

    def __init__(self, groups: dict[str, int | None]) -> None:
        self.groups = groups
        self.start: dict[str, dict[int, float]] = {}
        self.used: dict[str, float] = {}

    def _read(self) -> dict[str, dict[int, float]]:
        readings = {"postgres": _cpu_seconds(_postgres_pids())}
        for name, root in self.groups.items():
            if root is not None:
                readings[name] = _cpu_seconds(_process_tree(root))
        return readings

    def __enter__(self) -> CpuMeter:
        self.start = self._read()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._read()
        self.used = {
            name: sum(
                max(0.0, seconds - self.start.get(name, {}).get(pid, 0.0))
                for pid, seconds in processes.items()
            )
            for name, processes in end.items()
        }

    def per(self, count: int) -> dict[str, float]:
        if not count:
            return {}
        return {f"{name}_cpu_ms": round(1000 * used / count, 2) for name, used in self.used.items()}


# --- Load ------------------------------------------------------------------------------------


def _wrk(
    opts: Options,
    *,
    path: str,
    env: dict[str, str],
    duration: int,
    connections: int | None = None,
) -> dict[str, Any]:
    connections = connections or opts.connections
    cmd = [
        "wrk",
        "--threads",
        str(min(opts.threads, connections)),
        "--connections",
        str(connections),
        "--duration",
        f"{duration}s",
        "--timeout",
        "10s",
        "--latency",
        "--script",
        str(LUA),
        f"http://127.0.0.1:{opts.port}{path}",
    ]
    done = subprocess.run(
        cmd,
        env={**os.environ, **env, "BENCH_THREADS": str(opts.threads)},
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            parsed: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
            return parsed
    raise SystemExit(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")


def _from_wrk(name: str, description: str, raw: dict[str, Any]) -> Result:
    statuses = {str(k): int(v) for k, v in raw["statuses"].items()}
    ok = sum(count for status, count in statuses.items() if status.startswith("2"))
    socket_errors = sum(raw["errors"][k] for k in ("connect", "read", "write", "timeout"))
    seconds = raw["duration_us"] / 1e6
    return Result(
        name=name,
        description=description,
        rps=ok / seconds,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        requests=raw["requests"],
        errors=raw["requests"] - ok + socket_errors,
        statuses=statuses,
        extra={"max_ms": raw["max_us"] / 1000, "p90_ms": raw["p90_us"] / 1000},
    )


def _scenario(
    opts: Options,
    name: str,
    description: str,
    *,
    path: str,
    env: dict[str, str],
    web_pid: int | None = None,
    per_request: int = 1,
    connections: int | None = None,
) -> Result:
    """wrk against `path`; with `per_request` messages in each request (a batch), the CPU is
    given per message and the notes say how many messages a second were accepted."""
    area = {"BENCH_AREA": str(AREAS.get(name, 202))}
    _vacuum(opts)
    if opts.warmup:
        _wrk(
            opts,
            path=path,
            env={**env, **area, "BENCH_OFFSET": str(WARMUP_OFFSET)},
            duration=opts.warmup,
            connections=connections,
        )
    with CpuMeter({"web": web_pid}) as cpu:
        raw = _wrk(
            opts,
            path=path,
            env={**env, **area, "BENCH_OFFSET": "0"},
            duration=opts.duration,
            connections=connections,
        )
    result = _from_wrk(name, description, raw)
    result.extra.update(cpu.per(raw["requests"] * per_request))
    if per_request > 1:
        result.extra["messages_per_request"] = per_request
        result.extra["messages_per_s"] = round(result.rps * per_request, 1)
    print(f"  {_row(result)}", flush=True)
    return result


# --- The run ---------------------------------------------------------------------------------


def _token(base: str, client: dict[str, str]) -> str:
    data = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "scope": "messages:send messages:read",
        }
    ).encode()
    with urllib.request.urlopen(f"{base}/oauth/token/", data=data, timeout=10) as response:
        token: str = json.load(response)["access_token"]
    return token


def _login(base: str, username: str, password: str) -> str:
    """Sign in through the login form like a browser; returns the session cookie."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/accounts/login/", timeout=10) as page:
        html = page.read().decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    if match is None:
        raise SystemExit("The login page has no CSRF token.")
    form = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": match.group(1)}
    ).encode()
    request = urllib.request.Request(
        f"{base}/accounts/login/", data=form, headers={"Referer": f"{base}/accounts/login/"}
    )
    with opener.open(request, timeout=10):
        pass
    session = next((c.value for c in jar if c.name == "sessionid"), None)
    if session is None:
        raise SystemExit(f"Could not sign in as {username}.")
    return f"sessionid={session}"


def _e2e(
    opts: Options,
    env: dict[str, str],
    token: str,
    practice_id: str,
    logs: Path,
    web_pid: int,
    profile: dict[str, Any] | None = None,
    batch: int = 0,
) -> Result:
    """N MAPI POSTs with a worker running (with `batch`, N messages in batches of that many);
    from the first POST to the last `delivered`. With `profile`, the worker is sampled by
    py-spy meanwhile (its summary is added there)."""
    redis.Redis.from_url(opts.redis_url).flushdb()  # the ingest scenarios' backlog
    _vacuum(opts)
    name = "end_to_end_batch" if batch else "end_to_end"
    area = AREAS[name]
    host = f"127.0.0.1:{opts.port}"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def item(index: int) -> dict[str, Any]:
        return {
            "to": f"+1{area}{2000000 + index:07d}",
            "body": "Your appointment is tomorrow at 9:00. Reply C to confirm.",
            "practice_id": practice_id,
            "metadata": {"bench": name},
        }

    def make(index: int) -> bytes:
        if batch:
            items = [item(index * batch + k) for k in range(batch)]
            body = json.dumps({"messages": items}).encode()
            path = "/api/v1/messages/batch"
        else:
            body, path = json.dumps(item(index)).encode(), "/api/v1/messages"
        return http_request("POST", path, host=host, headers=headers, body=body)

    with _process(_celery(opts), env, logs / "celery.log") as worker:
        time.sleep(3)  # the worker's processes start and connect
        started = datetime.datetime.now(datetime.UTC)
        cpu = CpuMeter({"web": web_pid, "worker": worker.pid}).__enter__()

        def post_all() -> LoadResult:
            return load_run(
                host="127.0.0.1",
                port=opts.port,
                total=opts.e2e_messages // batch if batch else opts.e2e_messages,
                connections=opts.batch_connections if batch else opts.connections,
                make_request=make,
            )

        if profile is None:
            load = post_all()
        else:  # sample the worker's processes while the messages go through
            loads: list[LoadResult] = []
            profile["end_to_end_worker"] = profiling.record(
                pid=worker.pid,
                seconds=opts.duration,
                output=opts.out.parent / "profile-end_to_end_worker.txt",
                load=lambda: loads.append(post_all()),
                root=profiling.TASK_FRAME,
            )
            load = loads[0]
        tag = json.dumps({"bench": name})
        with psycopg.connect(_dsn(opts.postgres, opts.database), autocommit=True) as conn:
            if batch:  # each 207 answer holds its own items' results: count what was stored
                stored = conn.execute(
                    "SELECT count(*) FROM messaging_message WHERE metadata @> %s::jsonb"
                    " AND created_at >= %s",
                    [tag, started],
                ).fetchone()
                accepted = stored[0] if stored else 0
            else:
                accepted = load.statuses.get(202, 0)
            deadline = time.monotonic() + max(120, opts.e2e_messages / 20)
            while True:
                row = conn.execute(
                    """
                    SELECT count(*) FILTER (WHERE status = 'delivered'),
                           count(*) FILTER (WHERE status IN ('failed', 'undelivered'))
                      FROM messaging_message
                     WHERE metadata @> %s::jsonb AND created_at >= %s
                    """,
                    [tag, started],
                ).fetchone()
                assert row is not None
                delivered, failed = row
                if delivered + failed >= accepted or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            cpu.__exit__()
            timing = conn.execute(
                """
                SELECT min(m.created_at), max(c.at),
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY c.at - m.created_at),
                       percentile_cont(0.99) WITHIN GROUP (ORDER BY c.at - m.created_at)
                  FROM messaging_message m
                  JOIN messaging_messagestatuschange c
                    ON c.message_id = m.id AND c.status = 'delivered'
                 WHERE m.metadata @> %s::jsonb AND m.created_at >= %s
                """,
                [tag, started],
            ).fetchone()
    assert timing is not None
    first, last, p50, p99 = timing
    seconds = (last - first).total_seconds() if first and last else float("nan")
    what = f"in batches of {batch}" if batch else "MAPI POSTs"
    result = Result(
        name=name,
        description=f"{opts.e2e_messages} messages ({what}) to delivered, worker running",
        rps=delivered / seconds if seconds else 0.0,
        p50_ms=p50.total_seconds() * 1000 if p50 else float("nan"),
        p99_ms=p99.total_seconds() * 1000 if p99 else float("nan"),
        requests=load.requests,
        errors=load.requests * max(batch, 1) - delivered,  # not accepted, or not delivered
        statuses={str(k): v for k, v in load.statuses.items()},
        extra={
            "delivered": delivered,
            "failed": failed,
            "seconds_first_post_to_last_delivered": round(seconds, 2),
            "post_rps": round(load.requests / load.seconds, 1),
            "accepted_per_s": round(accepted / load.seconds, 1),
            "post_p50_ms": round(load.percentile(50), 1),
            "post_p99_ms": round(load.percentile(99), 1),
            "latency": "p50/p99 are POST to delivered",
            **cpu.per(delivered),
        },
    )
    print(f"  {_row(result)}", flush=True)
    return result


def _release(opts: Options, env: dict[str, str], logs: Path) -> Result:
    """Texts scheduled for one moment (seeded by bulk SQL, `bench.release`), then a worker with
    its beat: from the worker's start until every text is `received` and until every one was
    handed to the carrier. The lines are unpaced: this is the platform's own rate."""
    redis.Redis.from_url(opts.redis_url).flushdb()
    seeded = json.loads(
        _django(
            env,
            "-m",
            "bench.release",
            "--messages",
            str(opts.release_messages),
            "--lines",
            str(opts.release_lines),
        )
    )
    _vacuum(opts)
    total = int(seeded["messages"])
    worker_env = {**env, "SMS_SCHEDULED_RELEASE_SECONDS": "1"}
    beat = [*_celery(opts), "--beat", "--schedule", str(logs / "release-beat-schedule")]
    released_s = handed_s = float("nan")
    samples: list[tuple[float, int, int]] = []
    with _process(beat, worker_env, logs / "celery-release.log") as worker:
        started = time.monotonic()
        cpu = CpuMeter({"worker": worker.pid}).__enter__()
        deadline = started + max(300, total / 50)
        with psycopg.connect(_dsn(opts.postgres, opts.database), autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute(
                    """
                    SELECT count(*) FILTER (WHERE status <> 'scheduled'),
                           count(*) FILTER (WHERE status IN ('sent', 'delivered',
                                                              'undelivered', 'failed'))
                      FROM messaging_message WHERE metadata @> '{"bench": "release"}'::jsonb
                    """
                ).fetchone()
                assert row is not None
                released, handed = row
                elapsed = time.monotonic() - started
                samples.append((round(elapsed, 2), released, handed))
                if released >= total and math.isnan(released_s):
                    released_s = elapsed
                if handed >= total:
                    handed_s = elapsed
                    break
                time.sleep(0.5)
        cpu.__exit__()
    result = Result(
        name="release",
        description=f"{total} scheduled texts over {opts.release_lines} lines, due at once",
        rps=total / handed_s if not math.isnan(handed_s) else 0.0,
        p50_ms=float("nan"),
        p99_ms=float("nan"),
        requests=total,
        errors=total - (samples[-1][2] if samples else 0),
        statuses={},
        extra={
            "seconds_to_all_received": round(released_s, 2),
            "seconds_to_all_handed_over": round(handed_s, 2),
            "released_per_s": round(total / released_s, 1) if not math.isnan(released_s) else 0,
            "handed_over_per_s": round(total / handed_s, 1) if not math.isnan(handed_s) else 0,
            "progress": samples[:: max(1, len(samples) // 20)],
            "note": "from the worker's start, which includes its boot (a few seconds)",
            **cpu.per(total),
        },
    )
    print(f"  {_row(result)}", flush=True)
    return result


def _inbox_seed(opts: Options, env: dict[str, str]) -> dict[str, Any]:
    seeded: dict[str, Any] = json.loads(
        _django(
            env,
            "-m",
            "bench.inbox",
            "--channels",
            str(opts.inbox_channels),
            "--messages",
            str(opts.inbox_messages),
        )
    )
    print(
        f"  seeded {seeded['channel_count']} channels, {seeded['message_count']} messages "
        f"in {seeded['seconds']:.0f} s",
        flush=True,
    )
    return seeded


def _inbox(
    opts: Options, env: dict[str, str], base: str, web_pid: int, seeded: dict[str, Any]
) -> list[Result]:
    cookie = _login(base, seeded["username"], seeded["password"])
    queries = seeded.get("query_counts", {})
    results = []
    # The live push is on: sockets of the same member listen on an ASGI server next to gunicorn
    # (as in production), and every thread view publishes its presence event through Redis.
    ws_port = opts.port + 1
    asgi = [str(BIN / "uvicorn"), "artera.asgi:application", "--host", "127.0.0.1"]
    asgi += ["--port", str(ws_port), "--no-access-log"]
    logs = opts.out.parent / "logs"
    with (
        _process(asgi, env, logs / "uvicorn.log"),
        contextlib.ExitStack() as stack,
    ):
        _wait_http(f"http://127.0.0.1:{ws_port}/accounts/login/")
        listeners = stack.enter_context(
            push.listening(
                ws_url=f"ws://127.0.0.1:{ws_port}/ws/inbox/",
                origin=base,
                cookie=cookie,
                sockets=PUSH_SOCKETS,
            )
        )
        for name, path, description in (
            ("inbox", seeded["inbox_path"], "GET /inbox/ (open channels, first page)"),
            ("thread", seeded["thread_path"], "GET a thread page (a busy channel)"),
        ):
            before = listeners.count()
            result = _scenario(
                opts,
                name,
                description,
                path=path,
                env={"BENCH_MODE": "get", "BENCH_COOKIE": cookie},
                web_pid=web_pid,
            )
            result.extra["push"] = {
                "sockets": listeners.connected,
                "events_received": listeners.count() - before,
            }
            _inbox_result(result, name, queries, seeded)
            results.append(result)
    return results


def _insights(
    opts: Options, env: dict[str, str], base: str, web_pid: int, seeded: dict[str, Any]
) -> Result:
    """The dashboard of the inbox seed's practice (1M messages), as its manager."""
    prepared = json.loads(
        _django(env, "-m", "bench.insights", "--practice", str(seeded["practice_id"]))
    )
    print(
        f"  rolled up {prepared['rollup_days']} days ({prepared['waits']} waits) in "
        f"{prepared['rebuild_seconds']:.0f} s; {prepared['queries']} queries per page",
        flush=True,
    )
    cookie = _login(base, prepared["username"], prepared["password"])
    result = _scenario(
        opts,
        "insights",
        "GET /insights/ (last 30 days, as the practice's manager)",
        path=prepared["path"],
        env={"BENCH_MODE": "get", "BENCH_COOKIE": cookie},
        web_pid=web_pid,
    )
    result.extra.update(
        {
            "messages": prepared["messages"],
            "sql_queries": prepared["queries"],
            "rebuild_seconds": prepared["rebuild_seconds"],
            "in_process_median_ms": prepared["in_process_median_ms"],
        }
    )
    return result


def _inbox_result(
    result: Result, name: str, queries: dict[str, Any], seeded: dict[str, Any]
) -> None:
    result.extra["queries"] = {k: v for k, v in queries.items() if _page_of(k) == name}
    result.extra["channels"] = seeded["channel_count"]
    result.extra["messages"] = seeded["message_count"]


def _page_of(query_name: str) -> str:
    return "thread" if "channels/" in query_name or "thread" in query_name else "inbox"


def run(opts: Options) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    logs = opts.out.parent / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    _database_recreate(opts)
    redis.Redis.from_url(opts.redis_url).flushdb()
    base = f"http://127.0.0.1:{opts.port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": _dsn(opts.postgres, opts.database),
        "REDIS_URL": opts.redis_url,
        "CELERY_BROKER_URL": opts.redis_url,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PUBLIC_BASE_URL": base,
        "SMS_BACKEND": "simulator",
        # Load from one address must not be refused: rate limits off, as an operator would
        # raise them for a known EMR.
        "API_RATE_LIMIT_PER_SECOND": "0",
        "CALL_TO_TEXT_RATE_PER_MINUTE": "100000000",
        "CALL_TO_TEXT_RATE_BURST": "100000000",
        "CALL_TO_TEXT_CALLER_RATE_PER_HOUR": "100000000",
        "CALL_TO_TEXT_CALLER_RATE_BURST": "100000000",
    }
    print(f"Database {opts.database}, Redis {opts.redis_url}, port {opts.port}", flush=True)
    _django(env, "manage.py", "migrate", "--noinput")
    _django(env, "manage.py", "collectstatic", "--noinput")
    fixtures = json.loads(_django(env, "-m", "bench.fixtures", "--patients", str(opts.patients)))
    bench = fixtures["bench"]
    results: list[Result] = []
    profiles: dict[str, Any] = {}

    with _process(_gunicorn(opts), env, logs / "gunicorn.log") as web:
        _wait_http(f"{base}/accounts/login/")
        token = _token(base, fixtures["api_client"])
        mapi = {"BENCH_TOKEN": token, "BENCH_PRACTICE": bench["practice_id"]}
        scenarios: list[tuple[str, str, str, dict[str, str]]] = [
            ("baseline", "bare Django view, one INSERT", "/", {"BENCH_MODE": "baseline"}),
            (
                "mapi_unverified",
                "MAPI POST, new number (unverified)",
                "/",
                {**mapi, "BENCH_MODE": "unverified"},
            ),
            (
                "mapi_verified",
                "MAPI POST, verified patient by MRN",
                "/",
                {
                    **mapi,
                    "BENCH_MODE": "verified",
                    "BENCH_PATIENTS": str(bench["patients"]),
                    "BENCH_PATIENT_AREA": str(bench["patient_area"]),
                },
            ),
            (
                "mapi_idempotent",
                "MAPI POST with an Idempotency-Key",
                "/",
                {**mapi, "BENCH_MODE": "idempotent"},
            ),
            (
                "call_to_text",
                "call-to-text webhook, new caller",
                urllib.parse.urlsplit(bench["call_to_text_url"]).path,
                {"BENCH_MODE": "call_to_text"},
            ),
        ]
        for name, description, path, scenario_env in scenarios:
            if _wanted(opts, name):
                print(f"{name}: {description}", flush=True)
                results.append(
                    _scenario(opts, name, description, path=path, env=scenario_env, web_pid=web.pid)
                )
        if _wanted(opts, "mapi_batch"):
            description = f"MAPI batch POST, {opts.batch_size} new numbers each"
            print(f"mapi_batch: {description}", flush=True)
            batch_env = {**mapi, "BENCH_MODE": "batch", "BENCH_BATCH": str(opts.batch_size)}
            results.append(
                _scenario(
                    opts,
                    "mapi_batch",
                    description,
                    path="/",
                    env=batch_env,
                    web_pid=web.pid,
                    per_request=opts.batch_size,
                    connections=opts.batch_connections,
                )
            )
        if _wanted(opts, "end_to_end"):
            print("end_to_end: MAPI POST to delivered", flush=True)
            results.append(
                _e2e(
                    opts,
                    env,
                    token,
                    bench["practice_id"],
                    logs,
                    web.pid,
                    profile=profiles if opts.profile else None,
                )
            )
        if _wanted(opts, "end_to_end_batch"):
            print("end_to_end_batch: MAPI batches to delivered", flush=True)
            results.append(
                _e2e(opts, env, token, bench["practice_id"], logs, web.pid, batch=opts.batch_size)
            )
        seeded: dict[str, Any] | None = None
        if _wanted(opts, "release"):
            print("release: scheduled texts due now, released by the beat", flush=True)
            results.append(_release(opts, env, logs))
        if _wanted(opts, "inbox"):
            print("inbox: seeding (COPY), then the inbox and a thread", flush=True)
            seeded = _inbox_seed(opts, env)
            results.extend(_inbox(opts, env, base, web.pid, seeded))
        if _wanted(opts, "insights"):
            print("insights: the dashboard over the inbox seed's 1M messages", flush=True)
            if seeded is None:
                seeded = _inbox_seed(opts, env)
            results.append(_insights(opts, env, base, web.pid, seeded))
        if opts.profile:
            for name, mode in (
                ("mapi_unverified", "unverified"),
                ("mapi_verified", "verified"),
                ("mapi_idempotent", "idempotent"),
            ):
                print(f"profiling {name}", flush=True)
                profiles[name] = profiling.record(
                    pid=web.pid,
                    seconds=opts.duration,
                    output=opts.out.parent / f"profile-{name}.txt",
                    load=lambda mode=mode: _wrk(  # type: ignore[misc]
                        opts,
                        path="/",
                        env={
                            **mapi,
                            "BENCH_MODE": mode,
                            "BENCH_AREA": str(AREAS["profile"]),
                            "BENCH_OFFSET": str(1_000_000 * len(profiles)),
                            "BENCH_PATIENTS": str(bench["patients"]),
                            "BENCH_PATIENT_AREA": str(bench["patient_area"]),
                        },
                        duration=opts.duration,
                    ),
                )

    baseline = next((r for r in results if r.name == "baseline"), None)
    for result in results:
        if baseline is not None and baseline.rps and result.name in RATIO_SCENARIOS:
            result.ratio = result.rps / baseline.rps
    if not opts.keep:
        _database_drop(opts)
    report = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "setup": {
            "gunicorn": f"{opts.web_workers} sync workers",
            "celery": f"prefork, concurrency {opts.worker_concurrency}",
            "load": f"wrk, {opts.threads} threads, {opts.connections} connections, "
            f"{opts.warmup} s warm-up + {opts.duration} s per scenario",
        },
        "results": [result.__dict__ for result in results],
        "profiles": profiles,
    }
    return report


def _wanted(opts: Options, name: str) -> bool:
    return not opts.only or name in opts.only


def _dsn(postgres: str, database: str) -> str:
    return f"{postgres.rstrip('/')}/{database}"


def _database_recreate(opts: Options) -> None:
    with psycopg.connect(_dsn(opts.postgres, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{opts.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{opts.database}"')


def _vacuum(opts: Options) -> None:
    """What autovacuum does in production, before each scenario: a machine may have it off
    (this one does), and then the rows an earlier scenario updated or deleted (sessions,
    read marks) slow the next one down."""
    with psycopg.connect(_dsn(opts.postgres, opts.database), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


def _database_drop(opts: Options) -> None:
    with psycopg.connect(_dsn(opts.postgres, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{opts.database}" WITH (FORCE)')


# --- Output ----------------------------------------------------------------------------------

HEADER = (
    f"{'scenario':<17} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'x base':>6}  notes"
)


def _row(result: Result) -> str:
    ratio = f"{result.ratio:.2f}" if result.ratio is not None else "-"
    notes = result.description
    if result.extra.get("queries"):
        counts = ", ".join(f"{k}: {v}" for k, v in result.extra["queries"].items())
        notes += f"; SQL queries {counts}"
    if "sql_queries" in result.extra:
        notes += (
            f"; {result.extra['sql_queries']} SQL queries, {result.extra['messages']} messages "
            f"(rolled up in {result.extra['rebuild_seconds']} s)"
        )
    if result.name.startswith("end_to_end"):
        notes += (
            f"; msg/s delivered; POSTs {result.extra['post_rps']}/s "
            f"p99 {result.extra['post_p99_ms']} ms"
        )
    if result.name == "release":
        notes += (
            f"; msg/s handed over; {result.extra['released_per_s']} msg/s released, all "
            f"received after {result.extra['seconds_to_all_received']} s"
        )
    if "messages_per_s" in result.extra:
        notes += f"; {result.extra['messages_per_s']} msg/s accepted"
    cpu = [
        f"{name.removesuffix('_cpu_ms')} {value}"
        for name, value in result.extra.items()
        if name.endswith("_cpu_ms")
    ]
    if cpu:
        notes += f"; CPU ms each: {', '.join(cpu)}"
    return (
        f"{result.name:<17} {result.rps:>9.1f} {result.p50_ms:>8.1f} {result.p99_ms:>8.1f} "
        f"{result.errors:>7} {ratio:>6}  {notes}"
    )


def print_report(report: dict[str, Any]) -> None:
    print()
    print(HEADER)
    for raw in report["results"]:
        print(_row(Result(**raw)))
    for name, summary in report["profiles"].items():
        print(f"\nProfile of {name} (share of the gunicorn workers' samples):")
        print(profiling.format_summary(summary))


def options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="bench/run", description="Benchmark the platform on this machine."
    )
    parser.add_argument("--duration", type=int, default=20, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per scenario")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--batch-connections",
        type=int,
        default=4,
        help="connections of the batch scenarios (each request carries --batch-size messages)",
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--worker-concurrency", type=int, default=4, help="Celery processes")
    parser.add_argument("--e2e-messages", type=int, default=5000)
    parser.add_argument(
        "--batch-size", type=int, default=100, help="messages per request in the batch scenarios"
    )
    parser.add_argument("--release-messages", type=int, default=100_000)
    parser.add_argument("--release-lines", type=int, default=50)
    parser.add_argument("--inbox-channels", type=int, default=100_000)
    parser.add_argument("--inbox-messages", type=int, default=1_000_000)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--only", default="", help="comma-separated scenario names (default: all)")
    parser.add_argument("--profile", action="store_true", help="profile the MAPI scenarios")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--port", type=int, default=8600)
    parser.add_argument("--database", default="artera_bench")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES", "postgres://postgres@localhost:5432"),
        help="PostgreSQL server URL, without a database name",
    )
    parser.add_argument(
        "--redis", default=os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args(argv)
    return Options(
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        batch_connections=args.batch_connections,
        threads=args.threads,
        web_workers=args.web_workers,
        worker_concurrency=args.worker_concurrency,
        e2e_messages=args.e2e_messages,
        batch_size=args.batch_size,
        release_messages=args.release_messages,
        release_lines=args.release_lines,
        inbox_channels=args.inbox_channels,
        inbox_messages=args.inbox_messages,
        patients=args.patients,
        only={name.strip() for name in args.only.split(",") if name.strip()},
        profile=args.profile,
        keep=args.keep,
        port=_free_port(args.port),
        database=args.database,
        postgres=args.postgres,
        redis_url=args.redis,
        out=args.out,
    )


def main(argv: list[str] | None = None) -> None:
    opts = options(argv)
    report = run(opts)
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(report, indent=2, default=str))
    print_report(report)
    print(f"\nWritten to {opts.out}")


if __name__ == "__main__":
    main()
