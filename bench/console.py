"""Issue 18: the web console and the command-line client.

- a cold visit of the 5M-row table's grid in headless Chromium (new context, no cache,
  signed in): time from navigation until the first screen of rows and the total are shown,
  against the same visit of a 100-row table, and the bytes the browser received for it;
- the console's compressed asset size (all of it, and what the first screen loads);
- `lakeward export --format parquet` against the REST export it uses, streamed to a file.
"""
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSOLE = ROOT / "console"


def first_screen(server, table: str, total_text: str) -> dict:
    token = server.http.headers["authorization"].removeprefix("Bearer ")
    out = subprocess.run(["node", "bench/first_screen.mjs", server.base, token, table, total_text],
                         cwd=CONSOLE, check=True, capture_output=True, text=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def console(server, report, work: Path, rows: int, repeat: int = 5):
    if not (CONSOLE / "node_modules" / "playwright-core").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=CONSOLE, check=True)
    small = server.create("small")
    server.http.post(small + "/rows", json=[{"id": i, "name": f"n{i}", "email": f"e{i}@x", "country": "DE", "city": "B",
                                             "age": 30, "balance": 1.5, "active": True, "joined": "2020-01-01",
                                             "segment": "a"} for i in range(1, 101)]).raise_for_status()
    first_screen(server, "bench.crm.customers", f"of {rows:,}")  # the server's caches warm, as for any visitor after the first
    big = [first_screen(server, "bench.crm.customers", f"of {rows:,}") for _ in range(repeat)]
    tiny = [first_screen(server, "bench.crm.small", "of 100") for _ in range(repeat)]
    big_ms = statistics.median(r["ms"] for r in big)
    report(f"console: {rows:,}-row grid, cold visit (ms)", big_ms, {"100-row table": statistics.median(r["ms"] for r in tiny)},
           "< 1000 ms, as fast as a small table")
    kb = statistics.median(r["bytes"] for r in big) / 1024
    report("console: bytes for the first screen (KB)", kb, {}, "< 100 KB", unit="KB",
           extra=f"| {len(big[0]['requests'])} requests: {', '.join(big[0]['requests'])}")

    assets = ROOT / "crates" / "server" / "assets" / "console"
    total = sum(f.stat().st_size for f in assets.rglob("*.gz"))
    first = sum((assets / r.lstrip("/")).with_name(Path(r).name + ".gz").stat().st_size for r in big[0]["requests"]
                if r.startswith("/assets/"))
    report("console: compressed assets, all (KB)", total / 1024, {}, "< 1024 KB (report)", unit="KB",
           extra=f"| of which the first screen loads {first / 1024:.0f} KB; the SQL editor's chunk loads on its page")

    # The CLI's export against the REST export it uses, both written to a file.
    env = {**os.environ, "LAKEWARD_SERVER": server.base,
           "LAKEWARD_TOKEN": server.http.headers["authorization"].removeprefix("Bearer "),
           "LAKEWARD_CONFIG_DIR": str(work / "cli-config")}
    cli_out, rest_out = work / "cli-export.parquet", work / "rest-export.parquet"

    def cli():
        subprocess.run([os.environ["LAKEWARD_BIN"], "export", "bench.crm.customers", "--format", "parquet", "-o", str(cli_out)],
                       env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def rest():
        with server.http.get(f"{server.base}/v1/tables/bench/crm/customers/export?format=parquet", stream=True) as res:
            res.raise_for_status()
            with open(rest_out, "wb") as f:
                for chunk in res.iter_content(1 << 20):
                    f.write(chunk)

    times = {"cli": [], "rest": []}
    for _ in range(3):
        for name, fn in (("cli", cli), ("rest", rest)):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    report("CLI export, parquet (s)", statistics.median(times["cli"]), {"REST export (python requests)": statistics.median(times["rest"])},
           "<= 1.0x of the REST export", unit="s", extra=f"| {cli_out.stat().st_size / 2**20:.0f} MiB")
