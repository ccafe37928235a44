"""`make run`'s terminal shows request lines and warnings as they are logged; `make psql` opens psql on the
stack's database."""

from __future__ import annotations

import asyncio
import os
import sys

from devstack.log_echo import LogEcho
from tests.foundation.conftest import sql


def test_the_terminal_echoes_request_lines_and_warnings_of_this_run_only(tmp_path, capsys):
    api_log = tmp_path / "api.log"
    api_log.write_text("09:00:00.000 INFO  taxpractice.request  GET /v1/health 200 1.0ms  (an earlier run)\n")
    echo = LogEcho({"api": api_log, "worker": tmp_path / "worker.log"})
    with api_log.open("a") as log:
        log.write("09:00:01.000 INFO  taxpractice.request  GET /v1/returns 200 4.1ms  request_id=req-1\n"
                  "09:00:01.100 INFO  sqlalchemy  something quiet\n"
                  "09:00:01.200 WARNING observability.business_gauges  business gauge x not refreshed\n"
                  "09:00:01.300 INFO  taxpractice.request  GET /v1/clie")  # a line still being written
    echo.print_new()
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["api    09:00:01.000 INFO  taxpractice.request  GET /v1/returns 200 4.1ms  request_id=req-1",
                       "api    09:00:01.200 WARNING observability.business_gauges  business gauge x not refreshed"]
    with api_log.open("a") as log:
        log.write("nts 200 2.0ms\n")
    (tmp_path / "worker.log").write_text("09:00:02.000 ERROR activities  failed\n")
    echo.print_new()
    assert capsys.readouterr().out.splitlines() == [
        "api    09:00:01.300 INFO  taxpractice.request  GET /v1/clients 200 2.0ms",
        "worker 09:00:02.000 ERROR activities  failed"]


async def test_make_psql_opens_psql_on_the_stacks_database(tp):
    await sql(tp, "SELECT 1")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devstack", "psql", env={**os.environ, "DATABASE_URL": tp.settings.database_url},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(b"SELECT 6 * 7 AS answer;\n"), timeout=60)
    assert process.returncode == 0, err.decode()
    assert "42" in out.decode()
