"""A real `lakeward serve` on a temporary data directory, for third-party clients."""

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

PASSWORD = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lakeward:
    def __init__(self, base: str, data_dir: Path, pid: int, flight: str):
        self.base = base
        # Flight SQL's gRPC address, as ADBC takes it.
        self.flight = flight
        self.data_dir = data_dir
        self.pid = pid
        self.http = requests.Session()

    def call(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["authorization"] = f"Bearer {token}"
        return self.http.request(method, self.base + path, headers=headers, timeout=60, **kwargs)

    def onboard(self, org: str, email: str) -> dict:
        res = self.call("POST", "/v1/auth/onboard", json={"email": email, "password": PASSWORD, "organisation_name": org})
        assert res.status_code == 201, res.text
        return res.json()

    def table_path(self, org_id: str, catalog: str, schema: str, table: str) -> Path:
        return self.data_dir / "warehouse" / org_id / catalog / schema / table


def start(
    data_dir: Path, log_name: str = "lakeward.log", extra_args: list[str] | None = None, env: dict | None = None
) -> tuple[subprocess.Popen, Lakeward]:
    """`lakeward serve` on `data_dir` (several processes may share one), once it answers."""
    binary = os.environ.get("LAKEWARD_BIN")
    assert binary and Path(binary).exists(), "set LAKEWARD_BIN to the built lakeward binary"
    port, flight_port = _free_port(), _free_port()
    log = open(data_dir.parent / log_name, "w")
    proc = subprocess.Popen(
        [
            binary, "serve", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}",
            "--flight-listen", f"127.0.0.1:{flight_port}", "--allow-signup", "true", "--rate-limit-per-minute", "100000", "--auth-rate-limit-per-minute", "10000",
            *(extra_args or []),
        ],
        stdout=log,
        stderr=log,
        env={**os.environ, **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            if requests.get(base + "/v1/health", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert proc.poll() is None, f"lakeward exited; see {log_name}"
        assert time.time() < deadline, "lakeward did not start"
        time.sleep(0.1)
    return proc, Lakeward(base, data_dir, proc.pid, f"grpc://127.0.0.1:{flight_port}")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory (`VmRSS`) or its peak since the last reset (`VmHWM`)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for {pid}")


def reset_peak_rss(pid: int) -> None:
    """Makes `VmHWM` the current RSS, so that the next peak is that of what follows."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    assert proc.wait(timeout=30) == 0, "lakeward did not stop cleanly on SIGTERM"


@pytest.fixture(scope="session")
def lakeward(tmp_path_factory) -> Lakeward:
    proc, server = start(tmp_path_factory.mktemp("lakeward-data"))
    yield server
    stop(proc)
