"""Document upload and download through the API (10 MB and 50 MB) against direct boto3 put/get of the same bytes.

Downloads both ways the API offers (docs/document.md, Downloads): streamed through the API (the default), and
`?redirect=true`, a 307 to a presigned URL of the store that the client follows (urllib3 follows it and drops
the Authorization header for the other host, as httpx and requests do)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import statistics
import time
from pathlib import Path
from typing import Iterable

import boto3
import urllib3
from botocore.config import Config

from bench.harness import BenchEnv, process_peak_rss_mb, process_rss_mb, sized

BENCH = "document"
SIZES_MB = (sized(10), sized(50))
REPEAT = sized(3)
DOWNLOAD_ROUNDS = sized(20, smallest=2)
# The parts of the stack a download goes through (the worker and Temporal, busy with the uploaded document's
# processing, are not among them). /proc counts CPU in 10 ms ticks.
DOWNLOAD_PARTS = ("API", "Postgres", "S3 store", "load generator")


def payload(size_mb: int) -> bytes:
    """A PDF-shaped file of the given size: header, incompressible body, %%EOF (what the sniffer checks)."""
    head, tail = b"%PDF-1.4\n%", b"\n%%EOF\n"
    return head + os.urandom(size_mb * 1024 * 1024 - len(head) - len(tail)) + tail


def reset_peak(pid: int) -> None:
    """Reset the process's peak RSS (VmHWM) so the next reading is the peak of one operation (Linux ≥ 4.0)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


READ_CHUNK = 1024 * 1024


def read_and_hash(chunks: Iterable[bytes]) -> tuple[int, str]:
    """What the reader does with a download's bytes, either way it is fetched: count them and hash them in 1 MiB
    reads. Both sides of the comparison pay it (until session 27 only the API's side hashed, inside its timing:
    about 50 ms of a 50 MB download's 180 ms, charged to the API)."""
    hasher, received = hashlib.sha256(), 0
    for chunk in chunks:
        hasher.update(chunk)
        received += len(chunk)
    return received, hasher.hexdigest()


def download_with_urllib3(pool: urllib3.PoolManager, url: str, headers: dict) -> tuple[int, str]:
    """The API download read with urllib3, the HTTP client boto3 itself uses, so both sides of the comparison
    pay the same client cost (httpx's async reader alone tops out near 40 MB/s here)."""
    response = pool.request("GET", url, headers=headers, preload_content=False)
    assert response.status == 200, response.status
    try:
        return read_and_hash(response.stream(READ_CHUNK))
    finally:
        response.release_conn()


def download_with_boto3(s3, bucket: str, key: str) -> tuple[int, str]:
    """The baseline: the same bytes straight from the store, read the same way."""
    return read_and_hash(s3.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(READ_CHUNK))


def charge(spent: dict[str, float], before: dict[str, float], after: dict[str, float]) -> None:
    """Add the CPU seconds each part of the stack used between two snapshots (BenchEnv.cpu_by_part)."""
    for part, seconds in after.items():
        spent[part] = spent.get(part, 0.0) + seconds - before.get(part, 0.0)


def s3_client(settings):
    return boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
                        aws_access_key_id=settings.aws_access_key_id,
                        aws_secret_access_key=settings.aws_secret_access_key,
                        config=Config(s3={"addressing_style": "path"}))


async def run(env: BenchEnv) -> None:
    firm = await env.tp.new_firm("Benchmark firm (documents)")
    admin = await env.tp.new_user(firm, "admin")
    headers = await env.tp.headers_for(admin)
    client = await env.tp.new_client(headers)
    api_pid = next(p for p in env.processes if p.name == "api").proc.pid
    s3 = s3_client(env.settings)
    bucket = env.settings.s3_bucket
    env.report(BENCH, "API process RSS at start", process_rss_mb(api_pid), "MB")
    pool = urllib3.PoolManager()

    for size_mb in SIZES_MB:
        data = payload(size_mb)
        digest = hashlib.sha256(data).hexdigest()
        timings: dict[str, list[float]] = {"api_up": [], "api_down": [], "api_redirect": [], "s3_put": [],
                                           "s3_get": []}
        peaks: dict[str, list[float]] = {"api_up": [], "api_down": []}
        # CPU seconds by part of the stack (the API, the store, this process reading), summed over the repeats:
        # what contention on the shared machine does not distort, unlike the wall times.
        cpu_spent: dict[str, dict[str, float]] = {"s3_get": {}, "api_down": {}, "api_redirect": {}}
        for i in range(REPEAT):
            key = f"bench/direct-{size_mb}-{i}"
            began = time.perf_counter()
            await asyncio.to_thread(s3.upload_fileobj, io.BytesIO(data), bucket, key,
                                    ExtraArgs={"ContentType": "application/pdf", "ServerSideEncryption": "AES256"})
            timings["s3_put"].append(time.perf_counter() - began)

            reset_peak(api_pid)
            before = process_rss_mb(api_pid)
            began = time.perf_counter()
            response = await env.http.post(
                "/v1/documents", headers=headers, data={"client_id": client["id"], "tax_year": "2024"},
                files={"file": (f"statement-{size_mb}mb.pdf", data, "application/pdf")}, timeout=300)
            timings["api_up"].append(time.perf_counter() - began)
            peaks["api_up"].append(process_peak_rss_mb(api_pid) - before)
            response.raise_for_status()
            document = response.json()["data"]
            assert document["sha256"] == digest
        await env.settle()  # the documents' processing (worker, Temporal) done before the downloads are timed

        # The three ways down in turn, round after round, over the last upload: what the machine's speed does
        # meanwhile, each way meets alike (the store's own speed moved by a fifth between runs of five).
        download_url = f"{env.api_url}/v1/documents/{document['id']}/download"
        ways = {"s3_get": lambda: download_with_boto3(s3, bucket, key),
                "api_down": lambda: download_with_urllib3(pool, download_url, headers),
                "api_redirect": lambda: download_with_urllib3(pool, f"{download_url}?redirect=true", headers)}
        for _ in range(DOWNLOAD_ROUNDS):
            for name, download in ways.items():
                if name == "api_down":
                    reset_peak(api_pid)
                    before = process_rss_mb(api_pid)
                began, cpu = time.perf_counter(), env.cpu_by_part()
                received, got_digest = await asyncio.to_thread(download)
                timings[name].append(time.perf_counter() - began)
                charge(cpu_spent[name], cpu, env.cpu_by_part())
                if name == "api_down":
                    peaks["api_down"].append(process_peak_rss_mb(api_pid) - before)
                assert received == len(data) and got_digest == digest

        label = f"{size_mb} MB"
        for name, title in (("s3_put", "direct boto3 put"), ("api_up", "API upload"),
                            ("s3_get", "direct boto3 get"), ("api_down", "API download"),
                            ("api_redirect", "API download, 307 to presigned URL")):
            seconds = statistics.median(timings[name])
            env.report(BENCH, f"{label} {title} median", round(seconds * 1000, 1), "ms")
            env.report(BENCH, f"{label} {title} throughput", round(size_mb / seconds, 1), "MB/s")
        env.report(BENCH, f"{label} API upload peak RSS growth (max of {REPEAT})", round(max(peaks["api_up"]), 1), "MB")
        env.report(BENCH, f"{label} API download peak RSS growth (max of {DOWNLOAD_ROUNDS})",
                   round(max(peaks["api_down"]), 1), "MB")
        env.report(BENCH, f"{label} ratio upload API/boto3",
                   round(statistics.median(timings["api_up"]) / statistics.median(timings["s3_put"]), 2), "x")
        env.report(BENCH, f"{label} ratio download API/boto3",
                   round(statistics.median(timings["api_down"]) / statistics.median(timings["s3_get"]), 2), "x")
        env.report(BENCH, f"{label} ratio download 307 to presigned URL/boto3",
                   round(statistics.median(timings["api_redirect"]) / statistics.median(timings["s3_get"]), 2), "x")
        for name, title in (("s3_get", "direct boto3 get"), ("api_down", "API download"),
                            ("api_redirect", "API download, 307")):
            for part in DOWNLOAD_PARTS:
                env.report(BENCH, f"{label} {title} CPU/op: {part}",
                           round(cpu_spent[name].get(part, 0.0) * 1000 / DOWNLOAD_ROUNDS, 1), "ms")
            env.report(BENCH, f"{label} {title} CPU/op: total of these", round(
                sum(cpu_spent[name].get(part, 0.0) for part in DOWNLOAD_PARTS) * 1000 / DOWNLOAD_ROUNDS, 1), "ms")
