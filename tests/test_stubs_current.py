"""The committed Python stubs match what protoc generates from protos/ now."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.harness import REPO


def test_generated_stubs_are_current(tmp_path):
    protos = sorted((REPO / "protos" / "mcp_router" / "v1").glob("*.proto"))
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{REPO / 'protos'}", f"--python_out={tmp_path}", f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}", *map(str, protos)],
        check=True,
    )

    generated = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*.py*"))
    assert generated, "protoc generated nothing"
    for relative in generated:
        committed = REPO / relative
        assert committed.exists(), f"{relative} is not committed; run make proto"
        assert committed.read_text() == (tmp_path / relative).read_text(), f"{relative} is stale; run make proto"
