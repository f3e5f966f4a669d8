"""tensorflow-datasets builders (array_record; no TensorFlow needed at any point).

Images and masks are stored PNG/JPEG-encoded in `tfds.features.Image` (masks single-channel {0, 1}),
which tfds decodes with PIL when TensorFlow is absent. Read them with `builder.as_data_source()`
(random access, what Grain wants).
"""

from __future__ import annotations

import io

import numpy as np
import PIL.Image
import tensorflow_datasets as tfds

from crackjax.data import synthetic

SPLITS = ("train", "val", "test")


def encode_png(array: np.ndarray) -> bytes:
  """`[H, W] or [H, W, 3] uint8` -> PNG bytes (a single-channel PNG for [H, W])."""
  buf = io.BytesIO()
  PIL.Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG", compress_level=1)
  return buf.getvalue()


def crack_features() -> tfds.features.FeaturesDict:
  """The one feature layout of every crackjax dataset."""
  return tfds.features.FeaturesDict({
      "image": tfds.features.Image(shape=(None, None, 3)),
      "mask": tfds.features.Image(shape=(None, None, 1), encoding_format="png"),
      "stem": tfds.features.Text(),
  })


class SyntheticCracksConfig(tfds.core.BuilderConfig):
  """One draw of the procedural generator: image size, split sizes and the data seed."""

  def __init__(self, *, height: int, width: int, num_train: int, num_val: int, num_test: int,
               seed: int, distractors: bool = True):
    name = (f"h{height}_w{width}_n{num_train}-{num_val}-{num_test}_seed{seed}"
            f"{'' if distractors else '_nodistractors'}")
    super().__init__(name=name, description="procedural road cracks (crackjax.data.synthetic)")
    self.spec = synthetic.SyntheticSpec(height=height, width=width, distractors=distractors)
    self.split_sizes = {"train": num_train, "val": num_val, "test": num_test}
    self.seed = seed


class SyntheticCracks(tfds.core.GeneratorBasedBuilder):
  """High-resolution asphalt images with thin branching cracks and distractors (the embedded default).

  Example i of split s is `synthetic.generate(seed, offset[s] + i)`: splits never share an image and
  the same config always yields the same bytes.
  """
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "First release."}
  BUILDER_CONFIGS = []  # configs are built from config.data.synthetic at run time

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(builder=self, features=crack_features(),
                                 description=self.__doc__, homepage="https://github.com/crackjax")

  def _split_generators(self, dl_manager):
    del dl_manager
    sizes = self.builder_config.split_sizes
    offsets = {"train": 0, "val": 1_000_000, "test": 2_000_000}
    return {s: self._generate_examples(offsets[s], sizes[s]) for s in SPLITS if sizes[s] > 0}

  def _generate_examples(self, offset: int, count: int):
    cfg = self.builder_config
    for i in range(count):
      image, mask = synthetic.generate(cfg.seed, offset + i, cfg.spec)
      stem = f"synthetic_{offset + i:07d}"
      yield stem, {"image": encode_png(image), "mask": encode_png(mask), "stem": stem}
