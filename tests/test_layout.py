"""
The tests mirror the package: each module of ``twisted_hvsock`` has a test
file named for it (``_engines/threads/port.py`` -> ``tests/engines/threads/
test_port.py``; a leading underscore is dropped), or is listed below with the
test files that cover it under another name, or has no behaviour of its own.
A new module fails this test until one of the three holds.
"""

from __future__ import annotations

from pathlib import Path

import twisted_hvsock

PACKAGE = Path(twisted_hvsock.__file__).parent
TESTS = Path(__file__).parent

#: Modules that declare or re-export and do nothing themselves.
NO_BEHAVIOUR = {
    "__main__",  # runs cli.main
    "endpoints",  # a face re-exporting vsock (28.removal)
    "hyperv_endpoints",  # a face re-exporting hyperv (28.removal)
    "interfaces",  # IMessageTransport, an interface
    "_transport",  # a type alias
}

#: Modules whose behaviour is tested where it is seen together with its
#: neighbours': the thread engine's parts (one connection's writer,
#: delivery and threads) and the reactor engine's message transport in the
#: engines' suites over real sockets, and the commands that list and remove
#: Hyper-V services in the register command's round trip.
COVERED_BY = {
    "_engines/reactor_seqpacket": [
        "engines/test_seqpacket.py",
        "engines/test_seqpacket_reads.py",
    ],
    "_engines/threads/connection_threads": ["engines/test_streams.py"],
    "_engines/threads/delivery": [
        "engines/test_answer_after_half_close.py",
        "engines/test_streams.py",
    ],
    "_engines/threads/families": [
        "engines/test_streams.py",
        "engines/test_conformance.py",
    ],
    "_engines/threads/port": [
        "engines/test_streams.py",
        "engines/test_thread_logging.py",
    ],
    "_engines/threads/tls": ["engines/test_streams.py", "test_tls.py"],
    "_engines/threads/transport": [
        "engines/test_streams.py",
        "engines/test_thread_logging.py",
    ],
    "_engines/threads/writer": ["engines/test_streams.py", "engines/test_seqpacket.py"],
    "cli/services": ["cli/test_register.py"],
    "cli/unregister": ["cli/test_register.py"],
}


def _modules() -> set[str]:
    names = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).with_suffix("")
        if relative.name != "__init__":
            names.add(relative.as_posix())
    return names


def _test_file(module: str) -> Path:
    *folders, name = module.split("/")
    mirrored = [folder.lstrip("_") for folder in folders]
    return TESTS.joinpath(*mirrored, f"test_{name.lstrip('_')}.py")


def test_every_module_has_its_tests_where_a_reader_looks() -> None:
    unplaced = {
        module
        for module in _modules() - NO_BEHAVIOUR - COVERED_BY.keys()
        if not _test_file(module).exists()
    }
    assert not unplaced, (
        f"no test file named for {sorted(unplaced)}: add one, or list the "
        "module in COVERED_BY with the tests that cover it"
    )


def test_the_tables_name_real_modules_and_real_test_files() -> None:
    modules = _modules()
    assert modules >= NO_BEHAVIOUR
    assert COVERED_BY.keys() <= modules
    missing = [
        test
        for tests in COVERED_BY.values()
        for test in tests
        if not (TESTS / test).exists()
    ]
    assert not missing


def test_no_module_is_listed_once_it_has_a_test_file_of_its_own() -> None:
    stale = [module for module in COVERED_BY if _test_file(module).exists()]
    assert not stale, f"{stale} now have test files named for them: drop the entries"
