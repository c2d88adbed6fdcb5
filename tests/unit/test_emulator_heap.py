"""The stand-in's heap freezer, on this process's own garbage collector."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from shared.emulator_heap import HeapFreezer

pytestmark = pytest.mark.unit


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.collect()


def a_cycle() -> tuple[Node, weakref.ref[Node]]:
    first, second = Node(), Node()
    first.other, second.other = second, first
    return first, weakref.ref(first)


def test_a_tick_takes_what_is_alive_out_of_the_collectors_sight() -> None:
    HeapFreezer(clock=Clock()).tick()
    assert gc.get_freeze_count() > 0


def test_a_cycle_frozen_alive_is_freed_by_the_next_whole_collection() -> None:
    clock = Clock()
    freezer = HeapFreezer(collect_seconds=300, clock=clock)
    node, alive = a_cycle()
    freezer.tick()
    del node  # garbage now, but frozen: a collection does not look at it
    gc.collect()
    assert alive() is not None
    clock.now = 299
    freezer.tick()
    assert alive() is not None
    assert freezer.full_collections == 0
    clock.now = 300
    freezer.tick()
    assert alive() is None
    assert freezer.full_collections == 1
    assert gc.get_freeze_count() > 0  # frozen again after the collection


def test_garbage_made_after_a_freeze_is_collected_as_usual() -> None:
    HeapFreezer(clock=Clock()).tick()
    node, alive = a_cycle()
    del node
    gc.collect()
    assert alive() is None
