"""The garbage collector of a long-lived process (API, worker), settled once the process has started.

Python's collector walks every container object it tracks: a full collection walks the whole heap. What a server
process builds at start (modules, the app, its routes and models, a worker's registrations) lives as long as the
process, so scanning it again and again finds nothing. Measured (docs/performance.md: "Cold cache", session 29;
"Lists" and "A tax season", session 30):

- the worker, whose heap is mostly cached workflows (180–390 KB each): with 1,400 cached a full collection took
  230–340 ms with the worker running nothing, once every 400 warm transitions and twice in 400 cold ones; settled,
  none in either phase, and the worker's CPU per transition fell by 1.5–2 ms warm and 4–7 ms cold in two of three
  interleaved pairs, the third within noise;
- the API, during the clients-list benchmark: 4 full collections (775 ms in all, the longest 204 ms, every request
  in flight waiting) and 928 young ones (500 ms); settled, 11 young ones (53 ms) and no full one. In five
  interleaved pairs the list's ratios to the bare endpoint went from 1.37–1.69× (p50) and 1.18–1.44× (throughput)
  to 1.34–1.63× and 1.17–1.30×, better in four pairs of five.

Full collections still come as the heap grows, rarer; a cycle of garbage waits a little longer to be freed. The
likely price, with a whole tax season cached: the worker's memory 8 % higher (197 KB a cached workflow against
181, in runs a few sessions apart).
"""

from __future__ import annotations

import gc

# Young-generation collections every 10,000 net allocations instead of Python's default 700.
YOUNG_THRESHOLD = 10_000


def settle_garbage_collector() -> None:
    """Call once everything is built: move what exists now out of the collector's sight (`gc.freeze`) and make
    young collections rarer."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
