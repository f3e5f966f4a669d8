"""Procedural synthetic road-crack images: the embedded default dataset of crackjax.

Every image is a pure function of `(seed, index, spec)`; nothing is downloaded and
no global random state is touched.  `generate` returns
`(image [H, W, 3] uint8, mask [H, W] uint8 in {0, 1})`; `generate_layers`
returns the same draw plus one boolean `[H, W]` mask per distractor kind.

Image model
-----------
The picture imitates a downward-looking, vehicle-mounted survey camera at roughly
1 mm per pixel: the road runs along the image *height* (`y`), so transverse
structures are roughly horizontal and longitudinal ones roughly vertical.  Pixel
values are built in linear grey levels and composed as ::

    rgb = (asphalt_detail * tint  (+ worn paint, alpha-blended))
          * low_frequency_field   (texture octaves x illumination x shadows)
          * local_factors         (cracks x oil stains x joints)
          + sensor noise,  then clipped and quantised to uint8.

* **Asphalt** -- a per-image base grey level times `detail`: fine grain
  (Gaussian-filtered white noise, sigma ~1 px), aggregate-sized blobs (sigma ~2 px)
  thresholded into bright stones, and rare, very dark pores (the "texture noise"
  that fools naive dark-pixel detectors).  Large-scale variation is three octaves of
  cubic B-spline noise (cells of 256, 64 and 16 px at 1024^2), applied
  multiplicatively together with a mild illumination gradient along the road and a
  vignetting fall-off across it.
* **Cracks** -- centre lines are random walks with a persistent heading: an AR(1)
  wander of the angle around a main direction plus per-step zig-zag jitter (cracks
  follow aggregate boundaries).  Kinds: transverse, longitudinal, random/diagonal
  (each with 0..3 thinner branches, sometimes sub-branches) and block/alligator
  networks (edges of a Voronoi tessellation drawn as jittered polylines, ordered
  from the patch centre outwards).  The width varies smoothly along each crack
  within `spec.crack_width` and tapers at the tips; it is rasterised by stamping
  digital disks of integer diameter `w` along a ~0.6 px-spaced centre line (even
  diameters are centred on a pixel corner).  The stamped pixels are *exactly* the
  mask.  In the image the crack darkens the surface multiplicatively with
  `0.55 * depth + 0.7 * gaussian(depth, 0.8 px)`, which gives a darker core on
  wide cracks and a soft fringe of ~1 px outside the mask.
* **Crack amount** -- a target share `U(crack_fraction)` of the pixels is drawn
  and cracks are added until it is met; a crack that would overshoot is first
  shortened (so it still tapers) and then cut exactly at a stamp boundary.  The
  final crack share is within ~8 % of the target and always inside
  `crack_fraction` (whenever that interval contains a whole number of pixels).
* **Distractors** (`spec.distractors`; none of them is in the mask), each kind
  present with probability ~0.4-0.45 per image:

  - `lane_marking`: bright white or yellow painted stripe, 100-160 px wide at
    1024^2 (longitudinal or transverse, sometimes a dash end), worn by
    thresholded noise so asphalt shows through;
  - `shadow`: cast shadow of a vehicle/building (large polygon) or a pole band,
    very soft edges, darkening by 35-60 %;
  - `oil_stain`: dark irregular blob(s) with noisy outline, a darker centre and
    satellite drips;
  - `joint`: a long, straight, thin dark line across the image -- either a saw
    cut (2-4 px) or a sealed joint (5-14 px), with a slightly ragged edge.

  Cracks never enter oil stains or joints (they stop at them, with a 2-3 px
  margin); they may run through shadows and paint, as on real roads.  Joints and
  stains are dropped if they would block more than 35 % of a (small) image.

Determinism: `np.random.SeedSequence([seed, index])` is split into independent
child streams for texture, cracks, distractors and sensor noise, so e.g.
`distractors=False` keeps the same texture, noise and crack stream (cracks can
only differ where a distractor would have stopped them).  Results are bit-exact for
a fixed platform and numpy/scipy version (no BLAS, no threads, no global state).

Speed: ~0.1-0.2 s per 1024x1024 image on one core; all per-pixel work is
vectorised numpy / scipy.ndimage, only crack centre lines use short Python loops.
"""

from crackjax.data.synthetic.render import distractors_present
from crackjax.data.synthetic.render import generate
from crackjax.data.synthetic.render import generate_layers
from crackjax.data.synthetic.spec import DISTRACTOR_KINDS
from crackjax.data.synthetic.spec import SyntheticSpec


__all__ = ["SyntheticSpec", "generate", "generate_layers", "distractors_present", "DISTRACTOR_KINDS"]
