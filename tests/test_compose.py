"""The docker-compose stack is valid, health-checked and published on loopback only."""

from __future__ import annotations

import shutil
import subprocess

from tests.harness import BIN, REPO


def compose_config(path) -> subprocess.CompletedProcess[str]:
    docker_compose = shutil.which("docker-compose")
    assert docker_compose, "docker-compose is missing: `make test` installs Debian's docker-compose package"
    return subprocess.run([docker_compose, "-f", str(path), "config"], capture_output=True, text=True, timeout=60, cwd=path.parent)


def test_compose_file_is_valid():
    result = compose_config(REPO / "docker-compose.yml")

    assert result.returncode == 0, result.stderr
    for service in ("ollama:", "enhancer:", "router:"):
        assert service in result.stdout
    assert result.stdout.count("healthcheck:") == 3
    assert result.stdout.count("condition: service_healthy") == 2
    published = sorted(line.strip() for line in result.stdout.splitlines() if line.strip().endswith("/tcp"))
    assert published == ["- 127.0.0.1:11434:11434/tcp", "- 127.0.0.1:50051:50051/tcp", "- 127.0.0.1:50052-50054:50052/tcp"]
    assert "config/rules.json:/etc/mcp-router/rules.json:ro" in result.stdout
    assert "config/router.json:/etc/mcp-router/router.json:ro" in result.stdout


def test_compose_rejects_a_broken_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text((REPO / "docker-compose.yml").read_text().replace("    healthcheck:", "    healthcheck: [", 1))

    result = compose_config(broken)

    assert result.returncode != 0


def test_health_probe_exits_by_status():
    down = subprocess.run([str(BIN / "mcp-router-health"), "--target", "127.0.0.1:1", "--timeout", "1"], capture_output=True, text=True, timeout=30)

    assert down.returncode == 1
    assert "UNAVAILABLE" in down.stderr or "DEADLINE_EXCEEDED" in down.stderr
