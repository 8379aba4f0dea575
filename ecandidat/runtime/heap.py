"""The garbage collector of a long-running process: what was made at start-up is never garbage.

A process imports its code and builds its app (pydantic models, routes, templates…): some 60,000
objects that live as long as it does, and that every full collection of CPython's cyclic garbage
collector walks again, pausing the event loop 30–110 ms on a busy two-core machine
(`bench/web_pages.py`: the slowest twentieth of the pages were those caught by such a pause).
`freeze_startup_objects()`, called once the process is ready to serve, moves them out of the
collector's reach (`gc.freeze`), so a full collection walks only what was made since: a few ms.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    gc.collect()  # what start-up left as garbage is freed, not kept for ever
    gc.freeze()
