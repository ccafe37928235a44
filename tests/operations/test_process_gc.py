"""A server process's garbage collector, settled once everything is built (process_gc.settle_garbage_collector:
the worker calls it before it polls, the API in its lifespan's start)."""

from __future__ import annotations

import gc
import weakref

import process_gc


class _Node:
    itself: "_Node"


def test_settled_collector_skips_start_up_objects_and_collects_young_ones_less_often():
    threshold = gc.get_threshold()
    try:
        process_gc.settle_garbage_collector()
        assert gc.get_freeze_count() > 100_000  # the imports and everything built at start, out of the scans
        assert gc.get_threshold() == (process_gc.YOUNG_THRESHOLD, threshold[1], threshold[2])
        # What is allocated after start is still collected: a cycle made now is freed by the next full collection.
        node = _Node()
        node.itself = node
        still_there = weakref.ref(node)
        del node
        gc.collect()
        assert still_there() is None
    finally:  # the test process goes on with Python's defaults
        gc.unfreeze()
        gc.set_threshold(*threshold)
