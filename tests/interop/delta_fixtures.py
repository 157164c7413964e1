"""Delta tables, written by Python `deltalake`, under one root of any store delta-rs reaches
(a local folder, `s3://bucket/prefix` on moto, `az://container/prefix` on Azurite): what
table discovery is tested against.

    write_fixtures(uri_root, storage_options) -> {relative path: description}

lays out, under `uri_root`:

    sales/orders     partitioned by `region` (300 rows, 4 partitions)
    sales/events     12 appends (versions 0..11) and a checkpoint at version 11
    crm/customers    schema evolved: a second append with schema_mode="merge" adds `email`
    crm/accounts     CHECK constraint `positive_balance` (balance >= 0)
    _staging/x       a Delta table in a hidden folder (`_` prefix): discovery must skip it
    .tmp/y           a Delta table in a hidden folder (`.` prefix): discovery must skip it
    raw/files/       two CSV objects, no `_delta_log`: not a table
    ice/t            a minimal Iceberg layout (metadata/v1.metadata.json, no snapshot);
                     Python deltalake cannot write Iceberg, so it is written by hand

Standalone, for a quick manual check (prints the descriptions and every key under the root;
the bucket and the container are the ones scripts/emulators.sh creates, and its exports
carry the endpoints and moto's key):

    eval "$(scripts/emulators.sh)"
    python tests/interop/delta_fixtures.py s3://lakeward/fixtures
    python tests/interop/delta_fixtures.py az://lakeward/fixtures
    python tests/interop/delta_fixtures.py /tmp/fixtures
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import urllib.parse
import uuid

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from deltalake._internal import DeltaFileSystemHandler

# The well-known Azurite / Azure Storage Emulator account (public, in Microsoft's docs).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

REGIONS = ["amer", "apac", "emea", "latam"]


def storage_options_from_env(uri: str) -> dict[str, str]:
    """Storage options for the emulators that scripts/emulators.sh starts, from its variables.

    S3 (moto): `LAKEWARD_TEST_S3_ENDPOINT`, e.g. http://127.0.0.1:5055. Commits are
    conditional puts (`If-None-Match: *`), deltalake's default on S3.
    Azure (Azurite): `LAKEWARD_TEST_AZURITE_ENDPOINT`, the account URL with the account as its
    first path segment, e.g. http://127.0.0.1:10055/devstoreaccount1 (no trailing slash).
    """
    scheme = urllib.parse.urlparse(uri).scheme
    if scheme in ("s3", "s3a"):
        endpoint = os.environ.get("LAKEWARD_TEST_S3_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL")
        if not endpoint:
            raise SystemExit("set LAKEWARD_TEST_S3_ENDPOINT (scripts/emulators.sh prints it)")
        return {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": os.environ.get("LAKEWARD_TEST_S3_ACCESS_KEY_ID", "test"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("LAKEWARD_TEST_S3_SECRET_ACCESS_KEY", "test"),
            "AWS_REGION": os.environ.get("LAKEWARD_TEST_S3_REGION", "us-east-1"),
            "aws_conditional_put": "etag",
        }
    if scheme in ("az", "abfs", "abfss", "azure"):
        endpoint = os.environ.get("LAKEWARD_TEST_AZURITE_ENDPOINT")
        if not endpoint:
            raise SystemExit("set LAKEWARD_TEST_AZURITE_ENDPOINT (scripts/emulators.sh prints it)")
        return {
            "azure_storage_account_name": AZURITE_ACCOUNT,
            "azure_storage_account_key": AZURITE_KEY,
            "azure_storage_endpoint": endpoint.rstrip("/"),
            "azure_allow_http": "true",
        }
    return {}


def _join(root: str, rel: str) -> str:
    return root.rstrip("/") + "/" + rel


def _is_local(uri: str) -> bool:
    return urllib.parse.urlparse(uri).scheme in ("", "file")


def _local_path(uri: str) -> str:
    parsed = urllib.parse.urlparse(uri)
    return urllib.parse.unquote(parsed.path) if parsed.scheme == "file" else uri


def _put_object(root: str, storage_options: dict, rel: str, data: bytes) -> None:
    """One plain object (no Delta log) through the same object_store configuration."""
    if _is_local(root):
        path = os.path.join(_local_path(root), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return
    handler = DeltaFileSystemHandler(root, dict(storage_options))
    out = handler.open_output_stream(rel)
    out.write(data)
    out.close()


def list_keys(uri_root: str, storage_options: dict) -> list[tuple[str, int]]:
    """Every object under the root, relative to it, with its size."""
    if _is_local(uri_root):
        base = _local_path(uri_root)
        found = []
        for folder, _, files in os.walk(base):
            for name in files:
                path = os.path.join(folder, name)
                found.append((os.path.relpath(path, base), os.path.getsize(path)))
        return sorted(found)
    handler = DeltaFileSystemHandler(uri_root, dict(storage_options))
    infos = handler.get_file_info_selector("", False, True)
    return sorted((i.path, i.size) for i in infos if i.size is not None)


def _describe(uri: str, storage_options: dict, rel: str, **extra) -> dict:
    table = DeltaTable(uri, storage_options=storage_options)
    metadata = table.metadata()
    description = {
        "path": uri,
        "format": "delta",
        "discoverable": not any(part.startswith(("_", ".")) for part in rel.split("/")),
        "version": table.version(),
        "rows": table.to_pyarrow_table().num_rows,
        "columns": [field.name for field in table.schema().fields],
        "partition_columns": list(metadata.partition_columns),
    }
    description.update(extra)
    return description


def _orders(n: int = 300) -> pa.Table:
    start = dt.date(2026, 1, 1)
    return pa.table(
        {
            "order_id": pa.array(range(1, n + 1), pa.int64()),
            "region": pa.array([REGIONS[i % len(REGIONS)] for i in range(n)], pa.string()),
            "amount": pa.array([round(10 + (i * 37 % 1000) / 10, 2) for i in range(n)], pa.float64()),
            "order_date": pa.array([start + dt.timedelta(days=i % 90) for i in range(n)], pa.date32()),
        }
    )


def _events(batch: int, rows: int = 10) -> pa.Table:
    base = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    ids = range(batch * rows, (batch + 1) * rows)
    return pa.table(
        {
            "event_id": pa.array(ids, pa.int64()),
            "kind": pa.array([("view", "click", "buy")[i % 3] for i in ids], pa.string()),
            "ts": pa.array([base + dt.timedelta(minutes=i) for i in ids], pa.timestamp("us", tz="UTC")),
        }
    )


def iceberg_metadata(location: str) -> dict:
    """A valid Iceberg table metadata document (format version 2) with a 2-field schema,
    an unpartitioned spec, no sort order and no snapshot yet."""
    now_ms = 1767225600000  # 2026-01-01T00:00:00Z, fixed so that the document is stable
    return {
        "format-version": 2,
        "table-uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, location)),
        "location": location,
        "last-sequence-number": 0,
        "last-updated-ms": now_ms,
        "last-column-id": 2,
        "current-schema-id": 0,
        "schemas": [
            {
                "type": "struct",
                "schema-id": 0,
                "identifier-field-ids": [1],
                "fields": [
                    {"id": 1, "name": "id", "required": True, "type": "long"},
                    {"id": 2, "name": "name", "required": False, "type": "string"},
                ],
            }
        ],
        "default-spec-id": 0,
        "partition-specs": [{"spec-id": 0, "fields": []}],
        "last-partition-id": 999,
        "default-sort-order-id": 0,
        "sort-orders": [{"order-id": 0, "fields": []}],
        "properties": {"write.format.default": "parquet"},
        "current-snapshot-id": -1,
        "refs": {},
        "snapshots": [],
        "statistics": [],
        "snapshot-log": [],
        "metadata-log": [],
    }


def write_fake_iceberg(uri_root: str, storage_options: dict, rel: str = "ice/t") -> dict:
    """`<rel>/metadata/v1.metadata.json` (and the Hadoop-catalog `version-hint.text`): what
    an Iceberg table looks like to a crawler, without data files."""
    location = _join(uri_root, rel)
    document = iceberg_metadata(location)
    _put_object(uri_root, storage_options, f"{rel}/metadata/v1.metadata.json", json.dumps(document, indent=2).encode())
    _put_object(uri_root, storage_options, f"{rel}/metadata/version-hint.text", b"1")
    return {
        "path": location,
        "format": "iceberg",
        "discoverable": True,
        "rows": 0,
        "columns": [f["name"] for f in document["schemas"][0]["fields"]],
        "partition_columns": [],
    }


def write_fixtures(uri_root: str, storage_options: dict | None = None, include_iceberg: bool = True) -> dict[str, dict]:
    """Write every fixture under `uri_root` (which must be empty); describe each by its path
    relative to the root. The bucket or container must exist."""
    so = dict(storage_options or {})
    if _is_local(uri_root):
        os.makedirs(_local_path(uri_root), exist_ok=True)
    out: dict[str, dict] = {}

    rel = "sales/orders"
    uri = _join(uri_root, rel)
    write_deltalake(uri, _orders(), partition_by=["region"], storage_options=so)
    out[rel] = _describe(uri, so, rel, partitions=sorted(REGIONS))

    rel = "sales/events"
    uri = _join(uri_root, rel)
    for batch in range(12):
        write_deltalake(uri, _events(batch), mode="error" if batch == 0 else "append", storage_options=so)
    DeltaTable(uri, storage_options=so).create_checkpoint()
    out[rel] = _describe(uri, so, rel, checkpoint_version=11)

    rel = "crm/customers"
    uri = _join(uri_root, rel)
    ids = range(1, 51)
    write_deltalake(
        uri,
        pa.table({"customer_id": pa.array(ids, pa.int64()), "name": [f"customer {i}" for i in ids]}),
        storage_options=so,
    )
    ids = range(51, 101)
    write_deltalake(
        uri,
        pa.table(
            {
                "customer_id": pa.array(ids, pa.int64()),
                "name": [f"customer {i}" for i in ids],
                "email": [f"c{i}@example.com" for i in ids],
            }
        ),
        mode="append",
        schema_mode="merge",
        storage_options=so,
    )
    out[rel] = _describe(uri, so, rel, added_columns=["email"])

    rel = "crm/accounts"
    uri = _join(uri_root, rel)
    ids = range(1, 41)
    write_deltalake(
        uri,
        pa.table(
            {
                "account_id": pa.array(ids, pa.int64()),
                "customer_id": pa.array([1 + i % 50 for i in ids], pa.int64()),
                "balance": pa.array([float(i * 125 % 10000) / 4 for i in ids], pa.float64()),
            }
        ),
        storage_options=so,
    )
    DeltaTable(uri, storage_options=so).alter.add_constraint({"positive_balance": "balance >= 0"})
    out[rel] = _describe(uri, so, rel, constraints={"positive_balance": "balance >= 0"})

    for rel in ("_staging/x", ".tmp/y"):
        uri = _join(uri_root, rel)
        write_deltalake(uri, pa.table({"id": pa.array([1, 2, 3], pa.int64())}), storage_options=so)
        out[rel] = _describe(uri, so, rel)

    _put_object(uri_root, so, "raw/files/a.csv", b"id,name\n1,alpha\n2,beta\n")
    _put_object(uri_root, so, "raw/files/b.csv", b"id,name\n3,gamma\n")
    out["raw/files"] = {
        "path": _join(uri_root, "raw/files"),
        "format": "csv",
        "discoverable": False,
        "rows": 3,
        "columns": ["id", "name"],
        "partition_columns": [],
    }

    if include_iceberg:
        out["ice/t"] = write_fake_iceberg(uri_root, so)
    return out


def write_feature_fixtures(uri_root: str, storage_options: dict) -> dict[str, str | None]:
    """Tables under `lake/` that use Delta table features, two rows each (ids 1 and 2):
    deletion vectors enabled and column mapping by name (which delta-rs writes), and identity
    columns (a writer feature delta-rs lacks). Python deltalake cannot create the last, so
    its protocol is raised to it by a hand-written commit, as Spark or Databricks would
    leave it. The table name, and the feature writes must be refused for (None: writable)."""
    rows = pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["a", "b"]})
    tables = {
        "deletion_vectors": ({"delta.enableDeletionVectors": "true"}, None),
        "column_mapping": ({"delta.columnMapping.mode": "name"}, None),
        "identity_columns": ({}, "identityColumns"),
    }
    for name, (configuration, _) in tables.items():
        write_deltalake(_join(uri_root, f"lake/{name}"), rows, configuration=configuration,
                        storage_options=storage_options)
    protocol = {"protocol": {"minReaderVersion": 1, "minWriterVersion": 7,
                             "writerFeatures": ["appendOnly", "invariants", "identityColumns"]}}
    info = {"commitInfo": {"timestamp": 1767225600000, "operation": "UPGRADE PROTOCOL"}}
    _put_object(uri_root, storage_options, "lake/identity_columns/_delta_log/00000000000000000001.json",
                (json.dumps(info) + "\n" + json.dumps(protocol) + "\n").encode())
    return {name: feature for name, (_, feature) in tables.items()}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    root = argv[1]
    so = storage_options_from_env(root)
    tables = write_fixtures(root, so)
    print(json.dumps(tables, indent=2))
    print("objects:")
    for key, size in list_keys(root, so):
        print(f"  {size:>8}  {key}")
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # deltalake's runtime threads can abort the interpreter at shutdown ("terminate called
    # without an active exception", delta-io/delta-rs#2184); leave without running it.
    os._exit(code)
