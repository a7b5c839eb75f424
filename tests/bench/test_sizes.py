"""The sizes each tier of the benchmark runs with."""

from __future__ import annotations

from .sizes import FULL, HOST, PRESETS, preset_for


def test_the_host_tier_runs_longer_workloads_unless_sizes_are_asked_for() -> None:
    assert PRESETS[preset_for("guest", None)] == FULL
    assert PRESETS[preset_for("host", None)] == HOST
    assert preset_for("host", "tiny") == "tiny"
    assert preset_for("guest", "host") == "host"


def test_host_sizes_scale_the_latency_bound_workloads_and_keep_the_rest() -> None:
    assert HOST.round_trips >= 10 * FULL.round_trips
    assert HOST.connections >= 10 * FULL.connections
    assert HOST.bulk_bytes >= 16 * FULL.bulk_bytes
    assert (HOST.message, HOST.bulk_write, HOST.echo_bytes) == (
        FULL.message,
        FULL.bulk_write,
        FULL.echo_bytes,
    )
