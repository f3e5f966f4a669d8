r"""HRRC: RAN balanced learning on high-resolution road survey images (4000x3000 and larger, ~0.14% crack).

Your copy (train/ val/ test/ each with images/ + masks/, or images/ + masks/ + splits.csv):

    python -m crackjax.main --config configs/hrrc.py --workdir /tmp/crackjax_hrrc \
        --config.data.manual_dir=/path/to/hrrc

Any dataset in the flat layout switches builder under the same settings, e.g.

    python -m crackjax.main --config configs/hrrc.py --workdir /tmp/crackjax_hrrc \
        --config.data.manual_dir=/path/to/survey_folder --config.data.name=crack_folder

Patches: 256x256 windows every 256 px (a 4000x3000 image holds 16x12 of them), cropped from a tiled copy
(256 px raw tiles, built once beside the prepared data: crackjax/data/tile_store.py), so a patch reads a
few tiles instead of decoding a whole image; each Grain worker keeps 256 MB of decoded tiles. Raw tiles
take 3 bytes per pixel on disk (~36 MB per 4000x3000 image); --config.data.crop_tile_codec=png takes
~2.5x less and reads ~1.6x slower (docs/data.md). Evaluation runs on the full images (padded to
multiples of 32), one image per batch.

Result: not yet measured (no HRRC imagery on the development machine; docs/data.md has the pipeline's
memory and speed on synthetic 4096x4096 images).
"""

from crackjax import config_base


def get_config():
  c = config_base.real_data("hrrc", patch_size=256, patch_stride=256, total_steps=10000,
                            eval_every=1000, warmup_steps=200, eval_batch_size=1)
  c.data.crop_tile_size = 256
  c.data.crop_tile_codec = "raw"
  c.data.crop_tile_cache_mb = 256
  return c
