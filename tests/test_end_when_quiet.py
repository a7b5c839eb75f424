"""
The peer's end of data, held from a protocol that is not half-closeable
until a reactor turn goes by in which it neither wrote nor was held back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted_hvsock._end_when_quiet import EndWhenQuiet, ResumeWatch


class Turns:
    """
    Reactor turns, as ``callLater(0, ...)`` sees them: a call made during a
    turn runs on the next one (``task.Clock`` would run it at once).
    """

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def callLater(self, delay: float, f: Callable[[], None]) -> Call:
        call = Call(f)
        self.calls.append(call)
        return call

    def turn(self) -> None:
        calls, self.calls = self.calls, []
        for call in calls:
            if not call.cancelled:
                call.f()


class Call:
    def __init__(self, f: Callable[[], None]) -> None:
        self.f = f
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Ends:
    def __init__(self) -> None:
        self.held_back = False
        self.ended = 0


def end_when_quiet() -> tuple[Turns, Ends, EndWhenQuiet]:
    turns, ends = Turns(), Ends()

    def end() -> None:
        ends.ended += 1

    clock: Any = turns
    return turns, ends, EndWhenQuiet(clock, lambda: ends.held_back, end)


def test_an_idle_protocol_is_ended_on_the_next_turn() -> None:
    turns, ends, quiet = end_when_quiet()
    quiet.start()
    assert ends.ended == 0
    turns.turn()
    assert ends.ended == 1
    turns.turn()
    assert ends.ended == 1


def test_a_protocol_writing_each_turn_is_ended_after_its_first_quiet_turn() -> None:
    turns, ends, quiet = end_when_quiet()
    quiet.start()
    for _ in range(3):
        quiet.wrote()
        turns.turn()
        assert ends.ended == 0
    turns.turn()
    assert ends.ended == 1


def test_a_protocol_held_back_waits_until_told_to_look_again() -> None:
    turns, ends, quiet = end_when_quiet()
    ends.held_back = True
    quiet.start()
    turns.turn()
    turns.turn()
    assert ends.ended == 0 and not turns.calls
    ends.held_back = False
    quiet.look_again()
    turns.turn()
    assert ends.ended == 1


def test_nothing_is_ended_after_cancel_or_before_start() -> None:
    turns, ends, quiet = end_when_quiet()
    quiet.look_again()
    assert not turns.calls
    quiet.start()
    quiet.cancel()
    quiet.look_again()
    turns.turn()
    assert ends.ended == 0


def test_a_watched_producer_s_resumes_are_reported() -> None:
    calls: list[str] = []

    class Producer:
        def pauseProducing(self) -> None:
            calls.append("pause")

        def resumeProducing(self) -> None:
            calls.append("resume")

        def stopProducing(self) -> None:
            calls.append("stop")

    watch = ResumeWatch(Producer(), lambda: calls.append("resumed"))
    watch.pauseProducing()
    watch.resumeProducing()
    watch.stopProducing()
    assert calls == ["pause", "resume", "resumed", "stop"]
