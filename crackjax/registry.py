"""Named registries: the models (`config.model.name`), datasets (`config.data.name`) and imbalance
methods (`config.balance.method`) are each one `Registry`, so adding one touches its own file.

    MODELS = Registry("config.model.name")

    @MODELS.register("unet")
    def _unet(model_config): ...

    MODELS.get("unet")   # the registered object; an unknown name fails listing the sorted choices

A name registered twice fails at import, naming both registrations.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from crackjax import errors


class Registry:
  """A name -> object map for one config key, with a duplicate check and errors that list the choices."""

  def __init__(self, config_key: str):
    self.config_key = config_key
    self._entries: dict[str, Any] = {}

  def register(self, name: str, value: Any = None) -> Callable[[Any], Any]:
    """`register(name)` as a decorator, or `register(name, value)` directly; returns the value."""
    def add(obj):
      if name in self._entries:
        raise ValueError(f"{self.config_key}: {name!r} is registered twice ({self._entries[name]!r} "
                         f"and {obj!r}).")
      self._entries[name] = obj
      return obj
    return add if value is None else add(value)

  def get(self, name: str) -> Any:
    """The object registered as `name`; an unknown name fails naming the key and the choices."""
    if name not in self._entries:
      raise errors.UserError(f"{self.config_key}={name!r} is unknown; choose one of {self.names()}.")
    return self._entries[name]

  def names(self) -> list[str]:
    """The registered names, sorted."""
    return sorted(self._entries)

  def __contains__(self, name: str) -> bool:
    return name in self._entries

  def __iter__(self) -> Iterator[str]:
    return iter(self.names())

  def items(self):
    return [(n, self._entries[n]) for n in self.names()]
