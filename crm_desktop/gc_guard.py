"""Python's garbage collector runs on whichever thread happens to allocate. If it frees a Qt object
on a worker thread (asyncio.to_thread, qasync's executor for DNS lookups, an in-process server
thread), Qt warns "Timers cannot be stopped from another thread" and may crash. So automatic
collection is turned off and this timer collects on the GUI thread instead, generation by
generation, when the counts say so (the known recipe for PyQt/PySide apps with threads).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class MainThreadGarbageCollector(QObject):
    def __init__(self, interval_ms: int = 1000, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)

    def check(self) -> None:
        counts = gc.get_count()
        if counts[0] > self.threshold[0]:
            generation = 0
            if counts[1] > self.threshold[1]:
                generation = 2 if counts[2] > self.threshold[2] else 1
            gc.collect(generation)

    def stop(self) -> None:
        self.timer.stop()
        gc.collect()
        gc.enable()
