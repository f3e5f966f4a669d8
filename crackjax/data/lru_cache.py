"""A least-recently-used cache bounded by the summed cost of its values, for the patch croppers
(decoded full images in crackjax/data/input_pipeline.py, decoded tiles in crackjax/data/tile_store.py).

Pickles empty, so each Grain worker starts with its own cache.
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Hashable


def one(value: Any) -> int:
  """The default cost: every value counts 1 (the capacity is then a number of values)."""
  del value
  return 1


class LRUCache:
  """`get(key, load)` returns the cached value or `load()`, kept while the summed `cost` of the kept
  values stays within `capacity` (the least recently used go first; a value costing more than
  `capacity` is returned but never kept, so `capacity=0` caches nothing). `cost` must pickle (a
  module-level function), since the croppers travel to Grain's worker processes."""

  def __init__(self, capacity: float, cost: Callable[[Any], float] = one):
    self.capacity, self.cost = capacity, cost
    self._entries: collections.OrderedDict = collections.OrderedDict()
    self._total = 0

  def __getstate__(self):
    state = dict(self.__dict__)
    state.update(_entries=collections.OrderedDict(), _total=0)
    return state

  def __len__(self) -> int:
    return len(self._entries)

  @property
  def total(self) -> float:
    """The summed cost of the kept values (<= capacity)."""
    return self._total

  def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
    if key in self._entries:
      self._entries.move_to_end(key)
      return self._entries[key][0]
    value = load()
    cost = self.cost(value)
    if cost <= self.capacity:
      self._entries[key] = (value, cost)
      self._total += cost
      while self._total > self.capacity:
        _, (_, old_cost) = self._entries.popitem(last=False)
        self._total -= old_cost
    return value
