"""Parameters of the synthetic road-crack generator (`SyntheticSpec`) and the distractor kinds.
"""

from __future__ import annotations

import dataclasses

from crackjax import errors


#: Keys of the distractor layers returned by `render.generate_layers`.
DISTRACTOR_KINDS: tuple[str, ...] = ("lane_marking", "shadow", "oil_stain", "joint")


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
    """Parameters of the synthetic generator.

    Attributes:
      height, width: image size in pixels (>= 16 each; non-square is fine).
      crack_fraction: `(lo, hi)`; the share of crack pixels of each image is a
        target drawn uniformly in `[lo, hi]` and the result always lies in it.
      crack_width: `(lo, hi)` integer crack width in pixels (disk diameter), varying
        along each crack inside this range.
      distractors: draw lane markings / shadows / oil stains / joints.
    """

    height: int = 1024
    width: int = 1024
    crack_fraction: tuple[float, float] = (0.001, 0.005)
    crack_width: tuple[int, int] = (1, 5)
    distractors: bool = True

    def __post_init__(self):
        object.__setattr__(self, "crack_fraction", tuple(float(v) for v in self.crack_fraction))
        object.__setattr__(self, "crack_width", tuple(int(v) for v in self.crack_width))
        if int(self.height) < 16 or int(self.width) < 16:
            raise errors.UserError(f"synthetic images must be at least 16x16 (config.data.synthetic.height, "
                                   f"width), got {self.height}x{self.width}")
        lo, hi = self.crack_fraction
        if len(self.crack_fraction) != 2 or not 0.0 <= lo <= hi <= 0.5:
            raise errors.UserError(
                f"crack_fraction (config.data.synthetic.crack_fraction) must be (lo, hi) with 0 <= lo <= hi "
                f"<= 0.5, got {self.crack_fraction}")
        wlo, whi = self.crack_width
        if len(self.crack_width) != 2 or not 1 <= wlo <= whi <= 31:
            raise errors.UserError(
                f"crack_width must be (lo, hi) with 1 <= lo <= hi <= 31, got {self.crack_width}")
