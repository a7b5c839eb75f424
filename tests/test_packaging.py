"""
What a built wheel carries: the licence, the one version, and metadata that
says where the package runs.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import twisted_hvsock

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_carries_the_licence_version_and_platforms(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path, ROOT],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("twisted_hvsock-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
        [licence] = [n for n in names if n.endswith("/LICENSE")]
        assert b"MIT License" in archive.read(licence)
    assert metadata["Version"] == twisted_hvsock.__version__
    classifiers = metadata.get_all("Classifier")
    for system in ("MacOS", "Microsoft :: Windows", "POSIX :: Linux"):
        assert f"Operating System :: {system}" in classifiers
    assert "http" in metadata.get_all("Provides-Extra")
