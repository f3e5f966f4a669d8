"""The Python API: a trained crack model on numpy images, in a notebook or a script.

    import crackjax
    model = crackjax.load("unet_crack500")        # a shipped model, a training workdir or a model folder
    prob = model.predict(image)                    # [H, W, 3] uint8 -> [H, W] float32 crack probability
    mask = model.segment(image)                    # [H, W] bool: prob >= model.threshold
    cracks = crackjax.measure(mask, mm_per_pixel=0.5)   # length, width, segments, JTG severity

`predict` runs the same seam-free sliding window as `python -m crackjax.predict`
(crackjax/inference/sliding_window.py), compiled once per tile shape; `measure` is crackjax/measurement/.
"""

from __future__ import annotations

import numpy as np

from crackjax import errors
from crackjax import measurement
from crackjax import pretrained
from crackjax.inference import model_folder
from crackjax.inference import restored_run
from crackjax.inference import sliding_window


class Model:
  """A trained crack segmenter for RGB images of any size (made by `crackjax.load`).

  Attributes:
    name: what it was loaded from (a shipped model's name or a folder).
    config: the training run's resolved config (`ml_collections.ConfigDict`).
    threshold: the operating threshold of `segment` (the run's `config.eval.threshold`).
    checkpoint_step: the training step of the weights.
    card: the shipped model's card (data, metrics, licence terms); `{}` for a training workdir.
    settings: the sliding window (`sliding_window.TileSettings`: 512-px tiles, overlap 128, margin 32).
  """

  def __init__(self, name: str, restored: restored_run.Restored, card: dict,
               settings: sliding_window.TileSettings):
    self.name = name
    self._restored = restored
    self.config = restored.config
    self.threshold = float(restored.config.eval.threshold)
    self.checkpoint_step = restored.step
    self.card = card
    self.settings = settings

  def __repr__(self) -> str:
    m = self.config.model
    return (f"crackjax.Model({self.name!r}: {m.name}, step {self.checkpoint_step}, threshold "
            f"{self.threshold:g}, tiles {self.settings.tile_size} px)")

  def predict(self, image: np.ndarray) -> np.ndarray:
    """Crack probabilities of one image.

    Args:
      image: `[H, W, 3] uint8` RGB, any size (e.g. `np.asarray(PIL.Image.open(path).convert("RGB"))`).

    Returns:
      `[H, W] float32` crack probability per pixel, blended seam-free over overlapping tiles.
    """
    image = _check_image(image)
    r = self._restored
    return sliding_window.predict_probabilities(r.predict, r.state, r.batch_sharding, image,
                                                settings=self.settings,
                                                multiple=self.config.eval.pad_multiple)

  def segment(self, image: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """The crack mask of one image: `[H, W] bool`, `predict(image) >= threshold` (default `self.threshold`)."""
    t = self.threshold if threshold is None else float(threshold)
    if not 0.0 <= t <= 1.0:
      raise errors.UserError(f"threshold={t} must lie in [0, 1].")
    return self.predict(image) >= np.float64(t)   # compared in float64, as crackjax.predict does


def _check_image(image) -> np.ndarray:
  image = np.asarray(image)
  if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or min(image.shape[:2]) < 1:
    raise errors.UserError(
        f"the image must be a [H, W, 3] uint8 RGB array, got shape {image.shape} dtype {image.dtype}; "
        f"convert it first, e.g. np.asarray(PIL.Image.open(path).convert('RGB')).")
  return image


def load(name_or_workdir: str, *, checkpoint_step: int | None = None,
         settings: sliding_window.TileSettings | None = None) -> Model:
  """A trained model, ready to predict.

  Args:
    name_or_workdir: a shipped model's name (`crackjax.list_models()`), a training workdir
      (`python -m crackjax.main ... --workdir DIR`) or a model folder (crackjax/inference/model_folder.py).
    checkpoint_step: a training workdir's checkpoint (default: the best by val/f1).
    settings: the sliding window (default: what `python -m crackjax.predict` uses).
  """
  folder = pretrained.resolve(name_or_workdir)
  settings = settings or sliding_window.TileSettings()
  restored = restored_run.restore(folder, step=checkpoint_step)
  try:
    settings.check(restored.config.eval.pad_multiple)
  except ValueError as e:
    raise errors.UserError(f"settings: {e}") from e
  return Model(name_or_workdir, restored, model_folder.read_card(folder), settings)


def list_models() -> list[str]:
  """The names of the models shipped in the package (`crackjax.load(name)` loads one)."""
  return pretrained.names()


def measure(mask: np.ndarray, mm_per_pixel: float | None = None, **options) -> measurement.CrackQuantification:
  """Crack measurements of a mask (crackjax/measurement/: conventions in its docstrings).

  Args:
    mask: `[H, W]` bool (or {0, 1}), 1 = crack, e.g. `model.segment(image)`.
    mm_per_pixel: ground sampling distance; enables the mm / m^2 fields and the JTG 5210-2018 severity.
    **options: `measurement.quantify_cracks`'s keyword options (`min_segment_px`, `driving_direction`, ...).

  Returns:
    `measurement.CrackQuantification`: `length_px`, `mean_width_px`, `max_width_px`, `area_px`,
    `n_segments`, `orientation`, per-segment `segments`, the `*_mm` fields and `jtg` with mm_per_pixel;
    `.to_dict()` gives plain JSON-ready values.
  """
  return measurement.quantify_cracks(mask, mm_per_pixel, **options)
