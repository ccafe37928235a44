"""The README's walkthrough, run as a newcomer runs it: its shell blocks, in order, with bash, against the app
served over real HTTP (in place of `make run`'s), after `taxpractice demo seed`. Every variable must be set before
it is used (`set -u`) and every call must succeed (`curl --fail-with-body` via a wrapper)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from cli.demo_seed import DemoSeeder
from tests.operations.demo_providers import demo_providers

ROOT = Path(__file__).resolve().parents[2]


def walkthrough_blocks() -> list[str]:
    """The blocks a newcomer runs after `make run` and `demo seed`: those that talk to $API, without a '…' to fill
    and without the mail capture (on its fixed port under `make run` only; the mailed pages have their own tests)."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    return [b for b in blocks if ("$API" in b or "API=" in b) and "…" not in b and ":8026" not in b]


async def test_the_readme_walkthrough_runs_from_the_demo(tp, api_url, tmp_path):
    async with demo_providers(tp):
        await DemoSeeder(tp.http, tp.state.sessionmaker, tp.state.authenticator, tp.state.cipher, tp.temporal,
                         tp.settings).seed()
        blocks = walkthrough_blocks()
        assert len(blocks) >= 4, blocks
        script = "\n".join(blocks).replace("API=http://127.0.0.1:8000", f"API={api_url}") \
                                  .replace(".venv/bin/", f"{Path(sys.executable).parent}/")
        # curl fails loudly on an error status, so a refused call stops the walk with its problem+json.
        prelude = "set -euo pipefail\ncurl() { command curl --fail-with-body \"$@\"; }\n"
        (tmp_path / "walk.sh").write_text(prelude + script + "\necho WALKED $RETURN $INVOICE $DOCUMENT\n")
        env = {**os.environ, "DATABASE_URL": tp.settings.database_url,
               "SSN_ENCRYPTION_KEY": tp.settings.ssn_encryption_key, "API_BASE_URL": api_url}
        process = await asyncio.create_subprocess_exec("bash", str(tmp_path / "walk.sh"), cwd=tmp_path, env=env,
                                                       stdout=asyncio.subprocess.PIPE,
                                                       stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), timeout=300)
        assert process.returncode == 0, f"{out.decode()[-3000:]}\n{err.decode()[-3000:]}"
        assert "WALKED" in out.decode()
        assert '"to_status":"complete"' in out.decode().replace(" ", "")  # the walked return's state, at its end
