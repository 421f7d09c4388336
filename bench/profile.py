"""Sample a running router with py-spy while the load generator sends echo calls."""

from __future__ import annotations

import asyncio
import collections
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from bench.services import Router, run_load

PROFILE_CONCURRENCY = 16
SAMPLES_PER_SECOND = 250
TOP_FRAMES = 25
_LINE_NUMBER = re.compile(r":\d+\)$")


def _py_spy() -> str | None:
    beside_python = Path(sys.executable).parent / "py-spy"
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


def summarize(raw_path: Path) -> dict[str, Any]:
    """Return the frames with the most samples on top of the stack (self) and anywhere in it (total)."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw_path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_LINE_NUMBER.sub(")", frame) for frame in stack.split(";")]
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    share = lambda counter: [(frame, round(100 * count / samples, 1)) for frame, count in counter.most_common(TOP_FRAMES)]  # noqa: E731
    return {"samples": samples, "self_percent": share(own), "total_percent": share(total)}


async def profile_router(router: Router, seconds: float, results: Path) -> dict[str, Any]:
    """Record the router's Python stacks for `seconds` under an echo load; return the summary."""
    py_spy = _py_spy()
    if py_spy is None:
        return {"skipped": "py-spy is not installed: pip install py-spy (the bench set-up installs it)"}
    results.mkdir(parents=True, exist_ok=True)
    raw_path = results / "router-profile.txt"
    recorder = await asyncio.create_subprocess_exec(
        py_spy, "record", "--pid", str(router.pid), "--duration", str(int(seconds)), "--rate", str(SAMPLES_PER_SECOND),
        "--format", "raw", "--output", str(raw_path), "--nonblocking",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    # Enough calls to outlast the recording; the load generator's own time cap ends it.
    load = await run_load({
        "client": "router", "target": router.target, "tool": "fixture__echo", "arguments": {"text": "hello"},
        "calls": 10**6, "warmup": 0, "concurrency": PROFILE_CONCURRENCY, "max_seconds": seconds + 1,
    })
    _, stderr = await recorder.communicate()
    if recorder.returncode != 0 or not raw_path.exists():
        return {"skipped": f"py-spy failed with exit code {recorder.returncode}: {stderr.decode(errors='replace')[-500:]}"}
    summary = summarize(raw_path)
    summary["raw_stacks"] = str(raw_path)
    summary["load"] = {key: load[key] for key in ("calls", "calls_per_s", "p50_ms")}
    return summary
