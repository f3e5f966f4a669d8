"""A tiled copy of a split's images and masks: random patches from large images without whole-image decodes.

Cropping a 512x512 patch from a 4096x4096 image stored as one JPEG/PNG means decoding the whole image
(0.2-2 s), and with hundreds of such images a per-worker cache of decoded images rarely hits. The tile
store decodes every image once, cuts it into T x T tiles (the last row/column smaller) and stores each
tile losslessly, so a crop assembled from tiles equals the same crop of the decoded full image, bit for
bit. A crop then reads only the tiles it covers (at most (ceil(S / T) + 1)^2), and tiles of the mask
without crack pixels are stored empty and cost nothing. Two codecs (`config.data.crop_tile_codec`):
"png" (PNG level 1: ~2.5x smaller than raw on asphalt texture, ~3 ms to decode a 256x256 tile) and
"raw" (uint8 pixels: ~0.2 ms to read a tile, 3 bytes per pixel on disk). The store is built once per
(split, T, codec), beside the prepared dataset like the patch index, one image in memory at a time:

    <data_dir>/tiles_<split>_t<T>_<codec>/tiles.array_record
        record offsets[i] + r * cols_i + c = tile (r, c) of image i: uint32 LE length of the image tile,
        the image tile ([h, w, 3] uint8), then the mask tile ([h, w] uint8 {0, 1}; empty: no crack)
    <data_dir>/tiles_<split>_t<T>_<codec>/index.npz
        offsets [N + 1] int64, shapes [N, 2] int32 (H, W), tile, codec

`TiledImages` reads it with a per-process LRU of decoded tiles bounded in megabytes (workers each hold
their own), so memory stays bounded however many images the split holds.
"""

from __future__ import annotations

import io
import os
import shutil
import struct

import numpy as np
import PIL.Image
from array_record.python import array_record_data_source
from array_record.python import array_record_module

from crackjax import errors
from crackjax.data import lru_cache

_RECORDS = "tiles.array_record"
_INDEX = "index.npz"
CODECS = ("png", "raw")


def _png(array: np.ndarray) -> bytes:
  buf = io.BytesIO()
  PIL.Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG", compress_level=1)
  return buf.getvalue()


def _grid(length: int, tile: int) -> int:
  return -(-length // tile)


def _encode(array: np.ndarray, codec: str) -> bytes:
  return _png(array) if codec == "png" else np.ascontiguousarray(array).tobytes()


def _decode(data: bytes, codec: str, shape: tuple[int, ...]) -> np.ndarray:
  if codec == "png":
    return np.asarray(PIL.Image.open(io.BytesIO(data)))
  return np.frombuffer(data, np.uint8).reshape(shape)


def encode_tiles(image: np.ndarray, mask: np.ndarray, tile: int, codec: str = "png"):
  """Yields the records of one image, row-major: `[H, W, 3] uint8` image, `[H, W(, 1)]` {0, 1} mask."""
  mask = mask[..., 0] if mask.ndim == 3 else mask
  h, w = mask.shape
  for r in range(_grid(h, tile)):
    for c in range(_grid(w, tile)):
      window = (slice(r * tile, (r + 1) * tile), slice(c * tile, (c + 1) * tile))
      image_bytes = _encode(image[window], codec)
      m = mask[window]
      mask_bytes = _encode(m.astype(np.uint8), codec) if m.any() else b""
      yield struct.pack("<I", len(image_bytes)) + image_bytes + mask_bytes


def build(source, path: str, tile: int, codec: str = "png") -> None:
  """Writes the tile store of `source` (a tfds data source with decoded 'image' and 'mask') to `path`."""
  tmp = f"{path}.tmp{os.getpid()}"
  shutil.rmtree(tmp, ignore_errors=True)
  try:
    with errors.writing(path):
      _write(source, tmp, tile, codec)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)   # a full disk leaves no half-written store behind
    raise
  try:
    os.rename(tmp, path)
  except OSError:                 # another process finished first: keep its store
    shutil.rmtree(tmp, ignore_errors=True)


def _write(source, tmp: str, tile: int, codec: str) -> None:
  os.makedirs(tmp)
  offsets, shapes = [0], []
  writer = array_record_module.ArrayRecordWriter(os.path.join(tmp, _RECORDS), "group_size:1,uncompressed")
  try:
    for i in range(len(source)):
      example = source[i]
      image, mask = np.asarray(example["image"]), np.asarray(example["mask"])
      count = 0
      for record in encode_tiles(image, mask, tile, codec):
        writer.write(record)
        count += 1
      offsets.append(offsets[-1] + count)
      shapes.append(image.shape[:2])
  finally:
    writer.close()
  np.savez(os.path.join(tmp, _INDEX), offsets=np.asarray(offsets, np.int64),
           shapes=np.asarray(shapes, np.int32).reshape(-1, 2), tile=np.int64(tile), codec=codec)


def check_options(tile: int, codec: str) -> None:
  """`config.data.crop_tile_size` (> 0) and `crop_tile_codec`: a UserError naming a bad value."""
  if tile < 16:
    raise errors.UserError(f"config.data.crop_tile_size={tile}: use 0 (no tile store) or at least 16 px "
                           f"(256 is a good size for patches of 128-512 px).")
  if codec not in CODECS:
    raise errors.UserError(f"config.data.crop_tile_codec={codec!r}: choose one of {list(CODECS)}.")


def load_or_build(source, cache_dir: str, split: str, tile: int, codec: str = "png") -> str:
  """The folder of the tile store of `split` with tiles of `tile` px, built on first use."""
  check_options(tile, codec)
  path = os.path.join(cache_dir, f"tiles_{split}_t{tile}_{codec}")
  if not os.path.exists(os.path.join(path, _INDEX)):
    build(source, path, tile, codec)
  return path


def _tile_bytes(tile) -> int:
  """The cache cost of a decoded (image, mask or None) tile: its bytes."""
  image, mask = tile
  return image.nbytes + (mask.nbytes if mask is not None else 0)


class TiledImages:
  """Crops from a tile store. `crop(i, y, x, size)` -> image `[S, S, 3] uint8`, mask `[S, S, 1] uint8`
  ({0, 1}), zero-padded where the image is smaller, exactly like `pipeline.crop` of the full image.

  Picklable (for Grain workers): the reader and the tile cache are opened/started in each process.
  """

  def __init__(self, path: str, cache_mb: float = 256):
    self.path, self.cache_bytes = path, int(cache_mb * 2**20)
    with np.load(os.path.join(path, _INDEX)) as z:
      self.offsets, self.shapes, self.tile = z["offsets"], z["shapes"], int(z["tile"])
      self.codec = str(z["codec"])
    self._reader = None
    self._cache = lru_cache.LRUCache(self.cache_bytes, _tile_bytes)

  def __len__(self) -> int:
    return len(self.shapes)

  def __getstate__(self):
    state = dict(self.__dict__)
    state.update(_reader=None)   # opened again in each process; the cache pickles empty
    return state

  def _tile(self, i: int, r: int, c: int):
    return self._cache.get((i, r, c), lambda: self._read_tile(i, r, c))

  def _read_tile(self, i: int, r: int, c: int):
    if self._reader is None:
      self._reader = array_record_data_source.ArrayRecordDataSource(os.path.join(self.path, _RECORDS))
    h, w = (int(v) for v in self.shapes[i])
    t = self.tile
    record = self._reader[int(self.offsets[i]) + r * _grid(w, t) + c]
    n = struct.unpack("<I", record[:4])[0]
    shape = (min(t, h - r * t), min(t, w - c * t))
    image = _decode(record[4:4 + n], self.codec, shape + (3,))
    mask = _decode(record[4 + n:], self.codec, shape) if len(record) > 4 + n else None
    return image, mask

  def crop(self, i: int, y: int, x: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    h, w = (int(v) for v in self.shapes[i])
    t = self.tile
    image = np.zeros((size, size, 3), np.uint8)
    mask = np.zeros((size, size, 1), np.uint8)
    y1, x1 = min(y + size, h), min(x + size, w)
    for r in range(y // t, (y1 - 1) // t + 1):
      for c in range(x // t, (x1 - 1) // t + 1):
        tile_image, tile_mask = self._tile(i, r, c)
        a0, a1 = max(y, r * t), min(y1, r * t + tile_image.shape[0])
        b0, b1 = max(x, c * t), min(x1, c * t + tile_image.shape[1])
        src = (slice(a0 - r * t, a1 - r * t), slice(b0 - c * t, b1 - c * t))
        dst = (slice(a0 - y, a1 - y), slice(b0 - x, b1 - x))
        image[dst] = tile_image[src]
        if tile_mask is not None:
          mask[dst + (0,)] = tile_mask[src]
    return image, mask
