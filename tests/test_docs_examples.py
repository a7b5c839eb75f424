"""
The docs' runnable examples, run as written, so that they cannot rot.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .support.tls import write_self_signed
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


@pytest.mark.kernel
def test_the_http_page_s_https_example_fetches_from_twistd_web_over_tls(
    tmp_path: Path,
) -> None:
    identity, root = write_self_signed(tmp_path, "guest", "guest.example")
    (tmp_path / "index.html").write_text("<p>hello over TLS</p>")
    port = free_vsock_port()
    server = start_twistd_web(f"vsock:port={port}:privateKey={identity}", tmp_path)
    try:
        wait_until_serving_vsock(server, port)
        result = subprocess.run(
            [
                sys.executable,
                str(EXAMPLES / "fetch_over_https_vsock.py"),
                f"https+vsock://local:{port}/",
                "guest.example",
                root,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "200 <p>hello over TLS</p>\n"


@contextmanager
def echo_server(listen: str) -> Iterator[str]:
    """
    The quick start's echo_server.py listening on ``listen``; what it says
    it listens on, once it does. Stopped as Ctrl-C stops it.
    """
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "echo_server.py"), listen],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("listening on "), f"echo_server.py said {line!r}"
        yield line.removeprefix("listening on ").strip()
    finally:
        server.terminate()
        server.wait(timeout=600)


def echo_client(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "echo_client.py"), *arguments],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_quick_start_s_echo_pair_talks_over_a_unix_socket(tmp_path: Path) -> None:
    """The same programs, with other endpoint strings: the host tier's check."""
    path = tmp_path / "echo.sock"
    with echo_server(f"unix:{path}"):
        result = echo_client(f"unix:{path}", "over a unix socket")
    assert (result.returncode, result.stdout) == (0, "echoed: over a unix socket\n")


@pytest.mark.kernel
def test_the_quick_start_s_echo_pair_talks_over_vsock() -> None:
    with echo_server("vsock:port=0") as address:
        match = re.fullmatch(r"vsock://any:(\d+)", address)
        assert match, address
        result = echo_client(f"vsock:cid=local:port={match[1]}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "echoed: hello over vsock\n"


@pytest.mark.kernel
@pytest.mark.parametrize("io", ["reactor", "threads"])
def test_the_message_example_answers_each_request_in_one_message(io: str) -> None:
    server = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLES / "message_server.py"),
            f"vsock:port=0:type=seqpacket:io={io}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        match = re.fullmatch(r"listening on vsock://any:(\d+)\n", line)
        assert match, f"message_server.py said {line!r}"
        result = subprocess.run(
            [
                sys.executable,
                str(EXAMPLES / "message_client.py"),
                f"vsock:cid=local:port={match[1]}:type=seqpacket:io={io}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        server.terminate()
        server.wait(timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "request 0: sum 6\nrequest 1: sum 49995000\nrequest 2: sum 0\n"
    )
