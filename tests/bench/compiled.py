"""
The contenders written in C: the project's own compiled peer
(``tests/bench/peer.c``, both ends of every workload, built with the
machine's C compiler into ``build/bench/``, which git ignores), and socat at
both ends for bulk transfer.
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
from pathlib import Path

from .exchange import concurrent_count
from .places import Place
from .processes import PeerFailed
from .raw_peers import Ready, Report
from .sizes import Sizes

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "peer.c"
BUILT = HERE.parents[1] / "build" / "bench" / "peer"


def build_peer() -> tuple[Path | None, str]:
    """
    Compile the peer unless it is up to date.

    :return: the program, or ``None`` and why it could not be built.
    """
    if BUILT.exists() and BUILT.stat().st_mtime >= SOURCE.stat().st_mtime:
        return BUILT, "up to date"
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not compiler or not shutil.which(compiler):
        return None, "no C compiler (cc or gcc, or $CC) on this machine"
    BUILT.parent.mkdir(parents=True, exist_ok=True)
    building = BUILT.with_suffix(f".{os.getpid()}")
    command = [compiler, "-O2", "-Wall", "-o", str(building), str(SOURCE)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        return None, f"{compiler} failed: {result.stderr.strip()[-500:]}"
    building.replace(BUILT)
    return BUILT, f"built with {compiler}"


def size_arguments(contender: str, sizes: Sizes) -> list[str]:
    """The compiled peer's size arguments."""
    values = {
        "bulk_bytes": sizes.bulk_bytes,
        "bulk_write": sizes.bulk_write,
        "message": sizes.message,
        "round_trips": sizes.round_trips,
        "connections": sizes.connections,
        "concurrent": concurrent_count(contender, sizes),
        "echo_bytes": sizes.echo_bytes,
    }
    return [f"{name}={value}" for name, value in values.items()]


def peer_server_command(
    program: Path, workload: str, place: Place, sizes: Sizes
) -> list[str]:
    return [
        str(program),
        "server",
        workload,
        place.name,
        *place.peer_arguments(),
        *size_arguments("c", sizes),
    ]


def peer_client_command(
    program: Path, workload: str, place: Place, address: str, sizes: Sizes
) -> list[str]:
    return [
        str(program),
        "client",
        workload,
        place.name,
        address,
        *size_arguments("c", sizes),
    ]


# socat, bulk only. Its receiver hands what it reads to ``wc -c`` through a
# pipe, whose count is its acknowledgement (in decimal), and tees the count
# to a file for the server's report; its sender's own log times the transfer.

SOCAT_TIMEOUT = "-t600"  # how long either end waits for the other direction


def socat_serve_bulk(
    place: Place, sizes: Sizes, directory: str, ready: Ready
) -> Report:
    """Run socat's receiving end; once it listens, say where (``ready``)."""
    listen, connect = place.socat_addresses(directory)
    count_file = os.path.join(directory, "count")
    command = ["socat", "-d", "-d", f"-b{sizes.bulk_write}", SOCAT_TIMEOUT, listen]
    command.append(f"SYSTEM:wc -c | tee {count_file}")
    receiver = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert receiver.stderr is not None
    log = []
    for line in receiver.stderr:
        log.append(line)
        if "listening on" in line:
            ready(connect)
            break
    log += receiver.stderr.readlines()
    if receiver.wait() != 0:
        raise PeerFailed(f"socat exited {receiver.returncode}: {''.join(log)[-500:]}")
    with open(count_file) as counted:
        return {"connections": 1, "bytes": int(counted.read())}


def socat_bulk(place: Place, connect: str, sizes: Sizes, directory: str) -> Report:
    """Run socat's sending end; the time its log shows from the first byte."""
    source = os.path.join(directory, "source")
    with open(source, "wb") as out:
        chunk = b"x" * sizes.bulk_write
        for _ in range(sizes.bulk_bytes // sizes.bulk_write):
            out.write(chunk)
    command = ["socat", "-d", "-d", "-lu", f"-b{sizes.bulk_write}", SOCAT_TIMEOUT]
    command += [f"OPEN:{source},rdonly!!STDOUT", connect]
    sender = subprocess.run(command, capture_output=True, text=True)
    if sender.returncode != 0:
        raise PeerFailed(f"socat exited {sender.returncode}: {sender.stderr[-500:]}")
    return {
        "seconds": _logged_seconds(sender.stderr),
        "acknowledged": int(sender.stdout),
    }


def _logged_seconds(log: str) -> float:
    """From socat's "starting data transfer loop" to its "exiting" line."""
    start = end = None
    for line in log.splitlines():
        stamp = " ".join(line.split()[:2])
        if "starting data transfer loop" in line:
            start = _when(stamp)
        elif "exiting with status" in line:
            end = _when(stamp)
    if start is None or end is None:
        raise PeerFailed(f"socat's log has no transfer times: {log[-500:]}")
    return (end - start).total_seconds()


def _when(stamp: str) -> datetime.datetime:
    return datetime.datetime.strptime(stamp, "%Y/%m/%d %H:%M:%S.%f")
