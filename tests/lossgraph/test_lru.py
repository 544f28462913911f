"""lossgraph.lru.LRU: the one cache class of transforms, Loss methods and compiled kernels."""
import threading

from lossgraph.lru import LRU


def test_cache_is_bounded_and_thread_safe():
    cache = LRU(maxsize=4)
    builds = []
    lock = threading.Lock()

    def build(key):
        with lock:
            builds.append(key)
        threading.Event().wait(0.01)      # a slow compile: others must wait, not rebuild
        return object()

    results = {}

    def worker(i):
        key = i % 3
        results.setdefault(key, set()).add(id(cache.get_or_build(key, lambda: build(key))))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(builds) == [0, 1, 2] and all(len(v) == 1 for v in results.values())
    for key in range(3, 9):
        cache.get_or_build(key, object)
    assert len(cache) == 4


def test_get_and_put_keep_the_first_value_and_forget_the_least_recent():
    cache = LRU(maxsize=2)
    assert cache.get("a") is None
    first = object()
    assert cache.put("a", first) is first and cache.put("a", object()) is first
    cache.put("b", 1)
    assert cache.get("a") is first      # "a" is now the most recent, so "b" goes first
    cache.put("c", 2)
    assert cache.get("b") is None and cache.get("a") is first and len(cache) == 2
    cache.clear()
    assert len(cache) == 0
