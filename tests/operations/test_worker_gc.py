"""The worker process's garbage collector, settled once everything is built (worker.settle_garbage_collector)."""

from __future__ import annotations

import gc
import weakref

import worker


class _Node:
    itself: "_Node"


def test_settled_collector_skips_start_up_objects_and_collects_young_ones_less_often():
    threshold = gc.get_threshold()
    try:
        worker.settle_garbage_collector()
        assert gc.get_freeze_count() > 100_000  # the imports and everything built at start, out of the scans
        assert gc.get_threshold() == (worker.GC_YOUNG_THRESHOLD, threshold[1], threshold[2])
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
