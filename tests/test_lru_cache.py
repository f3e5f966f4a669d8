"""The croppers' LRU cache: bounded by cost, least recently used out first, empty after pickling."""

import pickle

from crackjax.data import lru_cache


def _loader(calls, value):
  def load():
    calls.append(value)
    return value
  return load


def test_keeps_the_most_recently_used_within_the_capacity():
  cache, calls = lru_cache.LRUCache(2), []
  for key in ("a", "b", "a", "c", "a", "b"):
    assert cache.get(key, _loader(calls, key.upper())) == key.upper()
  # a, b loaded; a hit; c evicts b (a was used more recently); a hit; b evicts c.
  assert calls == ["A", "B", "C", "B"] and len(cache) == 2 and cache.total == 2


def test_cost_bounds_the_total_and_oversized_values_are_not_kept():
  cache, calls = lru_cache.LRUCache(10, cost=len), []
  cache.get(1, _loader(calls, "xxxx"))
  cache.get(2, _loader(calls, "yyyyyy"))
  assert cache.total == 10
  cache.get(3, _loader(calls, "zz"))                 # evicts key 1 (4): 6 + 2
  assert cache.total == 8 and len(cache) == 2
  cache.get(4, _loader(calls, "w" * 11))             # larger than the capacity: returned, not kept
  assert cache.total == 8 and len(cache) == 2
  assert lru_cache.LRUCache(0).get(1, lambda: "v") == "v" and len(lru_cache.LRUCache(0)) == 0


def test_pickles_empty():
  cache = lru_cache.LRUCache(3)
  cache.get(1, lambda: "one")
  clone = pickle.loads(pickle.dumps(cache))
  assert len(clone) == 0 and clone.total == 0 and clone.capacity == 3
