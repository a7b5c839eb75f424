"""
Build the Go peer (``tests/peers/vsockpeer``) on the host, before the guest
boots; the guest runs the binary from the shared checkout.

The build is offline: GOPATH mode on Debian's ``golang-go`` with the library
from ``golang-github-mdlayher-vsock-dev`` under ``/usr/share/gocode``, and
``CGO_ENABLED=0`` so that the binary is static.

Usage: ``python tests/peers/build.py`` prints the binary's path, or why it
cannot be built (exit status 1).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().with_name("vsockpeer") / "main.go"
BUILD_DIR = SOURCE.parents[3] / "build" / "peers"
BINARY = BUILD_DIR / "vsockpeer"
GOPATH = Path("/usr/share/gocode")
LIBRARY = GOPATH / "src" / "github.com" / "mdlayher" / "vsock"
PACKAGES = "golang-go golang-github-mdlayher-vsock-dev"


class BuildError(Exception):
    """The Go peer cannot be built here; the message says why."""


def build_go_peer() -> Path:
    """
    Build the Go peer into ``build/peers/vsockpeer`` and return its path
    (Go's build cache, kept next to it, makes a rebuild cheap).

    :raises BuildError: if Go or the library is missing, or the build fails.
    """
    go = shutil.which("go")
    if go is None or not LIBRARY.is_dir():
        raise BuildError(f"Go or github.com/mdlayher/vsock missing: install {PACKAGES}")
    environment = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": str(GOPATH),
        "GOCACHE": str(BUILD_DIR / "gocache"),
        "GOFLAGS": "",
        "CGO_ENABLED": "0",
    }
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [go, "build", "-o", str(BINARY), str(SOURCE)],
        env=environment,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BuildError(f"go build failed: {result.stderr.strip()}")
    return BINARY


def main() -> int:
    try:
        print(build_go_peer())
    except BuildError as error:
        print(f"cannot build the Go vsock peer: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
