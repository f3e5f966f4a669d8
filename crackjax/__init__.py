"""crackjax: road crack segmentation in JAX/Flax with balanced learning (RAN).

The Python API (crackjax/api.py), imported on first use so that `import crackjax` stays light:

    model = crackjax.load("unet_crack500")   # crackjax.list_models() names the shipped ones
    prob = model.predict(image)               # [H, W, 3] uint8 -> [H, W] float32
    cracks = crackjax.measure(model.segment(image), mm_per_pixel=0.5)
"""

_API = ("load", "measure", "list_models", "Model")

__all__ = list(_API)


def __getattr__(name):
  if name in _API:
    from crackjax import api  # noqa: PLC0415  (JAX and the models load here, not at `import crackjax`)
    return getattr(api, name)
  raise AttributeError(f"module 'crackjax' has no attribute {name!r}")


def __dir__():
  return sorted(list(globals()) + list(_API))
