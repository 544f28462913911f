"""A bounded, thread-safe least-recently-used cache: traced transforms, Loss methods and
compiled kernels each keep one.

get(key) / put(key, value) suit values that are cheap enough to make twice (two threads tracing
the same signature both trace, and the first stored wins); get_or_build(key, build) builds once:
threads asking for a key that is being built wait for that build. Different keys build
concurrently (the lock is held only to look up and insert).
"""
from __future__ import annotations

import threading
from collections import OrderedDict


class LRU:
    def __init__(self, maxsize=64):
        self.maxsize = maxsize
        self._data = OrderedDict()
        self._building = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        """The value stored for key (now the most recently used), or None."""
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key, value):
        """Store value unless another thread stored one first; return the stored one."""
        with self._lock:
            value = self._data.setdefault(key, value)
            self._data.move_to_end(key)
            self._evict()
            return value

    def get_or_build(self, key, build):
        """The value for key, made by build() once however many threads ask at a time."""
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
                self._evict()
            return value
        finally:
            with self._lock:
                del self._building[key]
            pending.set()

    def _evict(self):
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def clear(self):
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def __len__(self):
        return len(self._data)
