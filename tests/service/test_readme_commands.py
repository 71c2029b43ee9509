"""The README's commands work when pasted: `dbp serve --demo` started the way `make run` starts it
(here on a free port, with a temporary data directory), then every ```sh block of the README in
order, in one bash session, as a newcomer pastes them.

Only the host and port are substituted (127.0.0.1:8000 -> the test's port), and every `curl` gets
`--fail-with-body` so that an HTTP error fails the command. Each command must exit 0. Left out,
and why: `make run` (this test is `make run`), `make test` (this suite), and the block that
builds and starts the production containers with Docker (tests/production runs those exact
commands and environments).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from server_testkit import REPO, free_port, wait_for_health

README = REPO / "README.md"
SKIPPED_LINE = re.compile(r"^\s*make (run|test)\b")
SKIPPED_BLOCK = "docker compose"
CURL = re.compile(r"(^|[\s|(])curl ")


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M)


def pasteable(block: str, port: int) -> str:
    lines = [line for line in block.splitlines() if not SKIPPED_LINE.match(line)]
    text = "\n".join(lines)
    text = text.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    text = text.replace("127.0.0.1%3A8000", f"127.0.0.1%3A{port}")
    return CURL.sub(r"\1curl --fail-with-body ", text)


def test_the_readme_lists_its_commands_in_sh_blocks():
    blocks = shell_blocks(README.read_text("utf-8"))
    assert len(blocks) >= 5
    assert sum(SKIPPED_BLOCK in b for b in blocks) == 1  # only the production shape is left out


@pytest.fixture
def demo(tmp_path):
    """`make run`: `dbp serve --demo` with DBP_PUBLIC_URL set, data in ./var of the directory
    the commands run in."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # The commands run where `make run` runs: a checkout (examples/, .venv/) with its ./var.
    work = tmp_path / "work"
    work.mkdir()
    (work / "examples").symlink_to(REPO / "examples")
    (work / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (tmp_path / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBP_")}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(tmp_path / "home"),
        # what `make run` exports, and what a shell without it means (the default public URL)
        DBP_PUBLIC_URL=url,
        DBP_LOG_FORMAT="text",
        COLUMNS="200",  # a wide terminal: the wallet's table rows stay on one line each
    )
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "dbp"), "serve", "--demo", "--host", "127.0.0.1",
         "--port", str(port)],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_health(url, process)
        yield {"port": port, "url": url, "work": work, "env": env, "log": tmp_path / "serve.log"}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
        log.close()


def test_the_readme_commands_work_when_pasted(demo, tmp_path):
    blocks = [b for b in shell_blocks(README.read_text("utf-8")) if SKIPPED_BLOCK not in b]
    script = [
        "set -eE",
        # name the command that failed, and where
        "trap 'echo \"README command failed with exit $?: $BASH_COMMAND\" >&2' ERR",
    ]
    for number, block in enumerate(blocks, 1):
        script += [pasteable(block, demo["port"]), f"echo '--- README block {number} done'"]
    path = tmp_path / "readme.sh"
    path.write_text("\n".join(script) + "\n")
    out_path, err_path = tmp_path / "readme.out", tmp_path / "readme.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        # its own process group: what the commands start in the background (the example's
        # supplier API) is stopped with it
        shell = subprocess.Popen(
            ["bash", str(path)], cwd=demo["work"], env=demo["env"], stdout=out, stderr=err,
            start_new_session=True,
        )  # fmt: skip
        try:
            returncode = shell.wait(timeout=1500)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(shell.pid, signal.SIGTERM)
    stdout = out_path.read_text()
    output = stdout + err_path.read_text()
    assert returncode == 0, output[-6000:] + "\n--- service log:\n" + demo["log"].read_text()
    for number in range(1, len(blocks) + 1):
        assert f"--- README block {number} done" in stdout
    # what the commands are there to show
    assert '"verified":true' in stdout.replace(" ", "")  # the tour's verify
    assert "HTTP/1.1 307" in stdout  # ?linkType=gs1:dpp
    assert "accepted " in output and '"batteryStatus":"repurposed"' in stdout.replace(" ", "")
    assert "latest dynamic data" in output  # the wallet's table of dynamic values
    row = next(line for line in output.splitlines() if "Remaining capacity" in line)
    assert "13.1" in row and "2027-03-01T09:00:00Z" in row  # the tour's condition update
    assert (demo["work"] / "battery.png").read_bytes().startswith(b"\x89PNG")
