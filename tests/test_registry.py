"""The one registry type: duplicate names fail, unknown names list the sorted choices."""

import pytest

from crackjax import models
from crackjax import registry
from crackjax.balance import methods
from crackjax.data import sources


def test_register_get_and_sorted_names():
  r = registry.Registry("config.thing.name")
  r.register("zeta", 1)

  @r.register("alpha")
  def _alpha():
    return 2

  assert r.get("zeta") == 1 and r.get("alpha") is _alpha
  assert r.names() == ["alpha", "zeta"] and list(r) == ["alpha", "zeta"] and "alpha" in r


def test_a_name_registered_twice_fails():
  r = registry.Registry("config.thing.name")
  r.register("a", 1)
  with pytest.raises(ValueError, match="'a' is registered twice"):
    r.register("a", 2)


@pytest.mark.parametrize("reg, key", [(models.MODELS, "config.model.name"),
                                      (sources.DATASETS, "config.data.name"),
                                      (methods.METHODS, "config.balance.method")])
def test_unknown_names_fail_naming_the_key_and_every_choice(reg, key):
  with pytest.raises(ValueError) as e:
    reg.get("nope")
  assert f"{key}='nope' is unknown" in str(e.value) and str(reg.names()) in str(e.value)
  assert reg.names() == sorted(reg.names()) and len(reg.names()) >= 7
