"""The composer's live counter (static/js/segments.js) counts like messaging/segments.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from messaging.segments import segments_count

SCRIPT = Path(__file__).resolve().parents[2] / "static" / "js" / "segments.js"
SAMPLES = [
    "",
    "Hello",
    "a" * 160,
    "a" * 161,
    "a" * 306,
    "a" * 307,
    "{" * 80,
    "a" * 152 + "€",
    "Café ñ à",
    "ü" * 200,
    "é" + "a" * 160,
    "Hi 😀",
    "😀" * 35,
    "😀" * 36,
    "x" * 66 + "😀" + "y" * 10,
    "Olá ção",
    "line\nbreak\r\n",
]


NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="needs node")
def test_js_counter_agrees_with_the_send_path() -> None:
    samples = json.dumps(SAMPLES)
    program = (
        "globalThis.window = globalThis;"
        + SCRIPT.read_text()
        + f";process.stdout.write(JSON.stringify({samples}.map(window.ArteraSegments.count)))"
    )
    out = subprocess.run([str(NODE), "-e", program], capture_output=True, text=True, check=True)
    js = json.loads(out.stdout)
    for text, counted in zip(SAMPLES, js, strict=True):
        py = segments_count(text)
        assert (counted["encoding"], counted["segments"], counted["units"]) == (
            py.encoding,
            py.segments,
            py.units,
        ), text
