"""Starting and stopping the server process, with stand-in binaries (no keyward needed)."""

from __future__ import annotations

import stat
import textwrap
from pathlib import Path

import pytest

from yamlrunner.server import KeywardServer, ServerError


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "fake-keyward"
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_reads_the_url_and_cleans_up(tmp_path):
    binary = script(
        tmp_path,
        """\
        echo "args: $*" >&2
        echo "password: $ELASTIC_PASSWORD" >&2
        echo "keyward listening on http://127.0.0.1:4321"
        exec sleep 30
        """,
    )
    server = KeywardServer(binary, password="pw1")
    server.start()
    try:
        assert server.url == "http://127.0.0.1:4321"
        data_dir = server.data_dir
        assert data_dir.is_dir() and not any(data_dir.iterdir())
        log = server.log_tail()
        assert f"serve -E http.port=0 -E path.data={data_dir}" in log
        assert "password: pw1" in log
    finally:
        server.stop()
    assert not data_dir.exists()


def test_exit_before_ready_reports_stderr(tmp_path):
    binary = script(tmp_path, 'echo "boom: bad setting" >&2\nexit 3\n')
    with pytest.raises(ServerError, match="status 3.*boom: bad setting"):
        KeywardServer(binary).start()


def test_unexpected_first_line(tmp_path):
    binary = script(tmp_path, 'echo "hello"\nexec sleep 30\n')
    with pytest.raises(ServerError, match="unexpected first stdout line"):
        KeywardServer(binary).start()


def test_no_line_within_the_deadline(tmp_path):
    binary = script(tmp_path, "exec sleep 30\n")
    with pytest.raises(ServerError, match="no ready line"):
        KeywardServer(binary, startup_timeout=0.5).start()


def test_ignores_sigterm_then_killed(tmp_path):
    binary = script(
        tmp_path,
        """\
        trap '' TERM
        echo "keyward listening on http://127.0.0.1:1"
        while true; do sleep 0.1; done
        """,
    )
    server = KeywardServer(binary, stop_timeout=0.3)
    server.start()
    proc = server._proc
    server.stop()
    assert proc is not None and proc.poll() is not None


def test_missing_binary(tmp_path):
    with pytest.raises(ServerError, match="not found"):
        KeywardServer(tmp_path / "nope").start()
