"""Peers as every workload opens them."""

from pathlib import Path

import duckdb
import duckdb_extension_delta


def delta_extension() -> Path:
    """DuckDB's Delta extension as the `duckdb-extension-delta` wheel ships it (nothing is
    downloaded)."""
    return Path(duckdb_extension_delta.__file__).parent / "extensions" / f"v{duckdb.__version__}" / "delta.duckdb_extension"


def duckdb_with_delta(ext: Path) -> "duckdb.DuckDBPyConnection":
    """A DuckDB connection that reads Delta tables (`delta_scan`) and never fetches an extension."""
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    con.execute(f"LOAD '{ext}'")
    return con
