"""Profile the web workers under load with py-spy, and summarise where the time goes.

py-spy samples every gunicorn worker (`--subprocesses`) from outside, without changing the code,
including time spent waiting for PostgreSQL or Redis (`--idle`). Only samples taken while a
request is being handled count (a stack that goes through Django's request handler); the
summary gives, per function, the share of those samples it was on the stack (inclusive) and at
the top of it (self). The raw stacks are written next to the results, in the collapsed format
flame-graph tools read.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REQUEST_FRAME = "BaseHandler.get_response (django/core/handlers/base.py)"
TASK_FRAME = "trace_task (celery/app/trace.py)"  # a Celery worker running a task
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*)\)$")


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if match is None:
        return frame
    path = match["file"]
    for marker in ("site-packages/", str(ROOT) + "/", "lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['func']} ({path})"


def summarise(raw: str, *, root: str = REQUEST_FRAME) -> dict[str, Any]:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [_short(f) for f in stack.split(";") if not f.startswith("process ")]
        if not any(frame.endswith(root) for frame in frames):
            continue
        count = int(count_text)
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    return {
        "samples": total,
        "inclusive": [(f, round(100 * n / total, 1)) for f, n in inclusive.most_common(40)]
        if total
        else [],
        "self": [(f, round(100 * n / total, 1)) for f, n in own.most_common(20)] if total else [],
    }


def record(
    *,
    pid: int,
    seconds: int,
    output: Path,
    load: Callable[[], Any],
    root: str = REQUEST_FRAME,
) -> dict[str, Any]:
    """Run `load()` while py-spy samples the process tree of `pid` for `seconds`; count only
    the samples under the frame `root` (a request, or with TASK_FRAME a Celery task)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    sampler = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--idle",
            "--nolineno",
            "--rate",
            "250",
            "--duration",
            str(seconds),
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    load()
    _, stderr = sampler.communicate(timeout=seconds + 60)
    if not output.exists():
        return {"error": f"py-spy wrote nothing: {stderr.strip()[-500:]}"}
    return summarise(output.read_text(), root=root)


def format_summary(summary: dict[str, Any]) -> str:
    if "error" in summary:
        return f"  {summary['error']}"
    project = (
        "artera/",
        "messaging/",
        "webhooks/",
        "channels_app/",
        "inbox/",
        "practices/",
        "bench/",
    )
    lines = [f"  {summary['samples']} samples while handling a request or running a task"]
    lines.append("  inclusive, the product's functions:")
    for frame, share in summary["inclusive"]:
        if any(f"({p}" in frame for p in project):
            lines.append(f"    {share:5.1f}%  {frame}")
    lines.append("  self (top of the stack):")
    for frame, share in summary["self"][:12]:
        lines.append(f"    {share:5.1f}%  {frame}")
    return "\n".join(lines)
