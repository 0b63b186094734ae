"""Starts and stops keyward: one server on an empty data directory (`KeywardServer`), or several
nodes sharing a fresh PostgreSQL database (`KeywardCluster`).

`keyward serve -E http.port=0 -E path.data=<dir>` prints exactly one line on stdout once it is
bound — `keyward listening on http://127.0.0.1:<port>` (`https://` with TLS on) — and logs to stderr, which goes to a file
kept next to the data directory so a failing test can show it.
"""

from __future__ import annotations

import os
import re
import secrets
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

_READY = re.compile(r"^keyward listening on (https?://\S+)\s*$")

DEFAULT_PASSWORD = "keyward-conformance-pw"


class ServerError(Exception):
    pass


class KeywardServer:
    """One server process; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        binary: Path,
        *,
        password: str = DEFAULT_PASSWORD,
        settings: dict[str, str] | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.binary = Path(binary)
        self.user = "elastic"
        self.password = password
        self.settings = dict(settings or {})
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.url = ""
        self.startup_seconds = 0.0
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._log_path: Path | None = None

    @property
    def urls(self) -> list[str]:
        """Every node's URL: this one."""
        return [self.url]

    def __enter__(self) -> "KeywardServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def data_dir(self) -> Path:
        assert self._workdir is not None
        return self._workdir / "data"

    def start(self) -> None:
        if not self.binary.is_file():
            raise ServerError(
                f"keyward binary not found at {self.binary} (build it with "
                "`cargo build --release -p keyward` or set KEYWARD_BIN)"
            )
        self._workdir = Path(tempfile.mkdtemp(prefix="keyward-conformance-"))
        self.data_dir.mkdir()
        self._log_path = self._workdir / "keyward.stderr.log"
        args = [str(self.binary), "serve", "-E", "http.port=0", "-E", f"path.data={self.data_dir}"]
        for name, value in self.settings.items():
            args += ["-E", f"{name}={value}"]
        env = dict(os.environ)
        env["ELASTIC_PASSWORD"] = self.password
        started = time.monotonic()
        with open(self._log_path, "wb") as log:
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
            )
        try:
            self.url = self._read_ready_line(started + self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started

    def _read_ready_line(self, deadline: float) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        out = self._proc.stdout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(out, selectors.EVENT_READ)
            while b"\n" not in buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ServerError(
                        f"keyward printed no ready line within {self.startup_timeout}s; "
                        f"stdout so far {buf!r}; stderr: {self.log_tail()}"
                    )
                if not sel.select(timeout=remaining):
                    continue
                chunk = os.read(out.fileno(), 4096)
                if not chunk:
                    code = self._proc.wait(timeout=5)
                    raise ServerError(
                        f"keyward exited with status {code} before it was ready; stdout "
                        f"{buf!r}; stderr: {self.log_tail()}"
                    )
                buf += chunk
        line = buf.split(b"\n", 1)[0].decode("utf-8", errors="replace")
        m = _READY.match(line)
        if not m:
            raise ServerError(f"unexpected first stdout line from keyward: {line!r}")
        return m.group(1).rstrip("/")

    def log_tail(self, max_chars: int = 4000) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        text = self._log_path.read_text(encoding="utf-8", errors="replace")
        return text[-max_chars:]

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/test"


class KeywardCluster:
    """`nodes` keyward servers on one fresh PostgreSQL database (created on start, dropped on stop),
    each with a data directory of its own; `urls` lists them for clients that spread requests."""

    def __init__(
        self,
        binary: Path,
        nodes: int,
        *,
        pg_url: str = DEFAULT_PG_URL,
        password: str = DEFAULT_PASSWORD,
    ) -> None:
        self.pg_url = pg_url
        self.database = f"keyward_conformance_{secrets.token_hex(6)}"
        base = pg_url.rsplit("/", 1)[0]
        settings = {
            "keyward.store.type": "postgresql",
            "keyward.store.postgresql.url": f"{base}/{self.database}",
            "keyward.store.postgresql.pool_size": "4",
        }
        self.nodes = [
            KeywardServer(binary, password=password, settings=settings) for _ in range(nodes)
        ]
        self.user = "elastic"
        self.password = password
        self.startup_seconds = 0.0

    @property
    def url(self) -> str:
        return self.nodes[0].url

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def start(self) -> None:
        started = time.monotonic()
        _psql(self.pg_url, f"CREATE DATABASE {self.database}")
        try:
            # The first node creates the schema and the elastic user; the others then start
            # together (their migrations are no-ops, taken under the same advisory lock).
            self.nodes[0].start()
            with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
                for future in [pool.submit(node.start) for node in self.nodes[1:]]:
                    future.result()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started

    def log_tail(self, max_chars: int = 4000) -> str:
        per_node = max(max_chars // max(len(self.nodes), 1), 200)
        return "\n".join(
            f"--- node {i} ({node.url}) ---\n{node.log_tail(per_node)}"
            for i, node in enumerate(self.nodes)
        )

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        _psql(self.pg_url, f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)", check=False)


def _psql(url: str, statement: str, *, check: bool = True) -> None:
    """Runs one statement with `psql` (PostgreSQL's own client, installed with the server)."""
    done = subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", statement],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check and done.returncode != 0:
        raise ServerError(f"psql {statement!r} failed: {done.stderr.strip()}")
