"""
The docs' runnable examples, run as written, so that they cannot rot.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .support.twistd import start_twistd_web, wait_until_serving_vsock
from .support.vsock import free_vsock_port

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


@pytest.mark.kernel
def test_the_http_page_s_example_fetches_from_twistd_web(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>hello from the host</p>")
    port = free_vsock_port()
    server = start_twistd_web(f"vsock:port={port}", tmp_path)
    try:
        wait_until_serving_vsock(server, port)
        result = subprocess.run(
            [
                sys.executable,
                str(EXAMPLES / "fetch_over_vsock.py"),
                f"http+vsock://local:{port}/",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert result.returncode == 0, result.stderr
    status, page, head = result.stdout.strip().split("\n")
    assert status == "200 ['text/html']"
    assert page == "<p>hello from the host</p>"
    assert head == "HEAD 200"
