"""A bounded, thread-safe LRU of compiled kernels.

get_or_build(key, build) returns the cached value for key, or builds it once: threads asking
for a key that is being built wait for that build instead of compiling it again. Different
keys build concurrently (the lock is held only to look up and insert).
"""
from __future__ import annotations

import threading
from collections import OrderedDict


class KernelCache:
    def __init__(self, maxsize=128):
        self.maxsize = maxsize
        self._data = OrderedDict()
        self._building = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get_or_build(self, key, build):
        while True:
            with self._lock:
                if key in self._data:
                    self._data.move_to_end(key)
                    self.hits += 1
                    return self._data[key]
                pending = self._building.get(key)
                if pending is None:
                    pending = self._building[key] = threading.Event()
                    self.misses += 1
                    break
            pending.wait()       # another thread builds this key; then look again
        try:
            value = build()
            with self._lock:
                self._data[key] = value
                while len(self._data) > self.maxsize:
                    self._data.popitem(last=False)
            return value
        finally:
            with self._lock:
                del self._building[key]
            pending.set()

    def clear(self):
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def __len__(self):
        return len(self._data)
