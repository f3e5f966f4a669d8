"""Self-contained HTML reports: `DIR/report.html` at the end of training, `OUT/report.html` after
`python -m crackjax.predict` (host side; plain HTML and CSS, no script, no network).

Training report: the config as a diff from `config_base.base()`, the final metrics, the training and
validation curves, the PRF trajectory, the test PR curve and a few test images with their errors
(true positives green, false positives red, missed cracks blue). Every figure is embedded (base64), so
the file can be mailed alone.

Prediction report: one table row per image (thumbnail, size, crack pixels, segments, length, widths,
orientation, and with `--mm_per_pixel` the mm values and our JTG 5210-2018 damage ratio, PCI and
severities), linking to the full-size overlay, probability and mask PNGs and the JSON beside it; the
thumbnails are the downscaled JPEG overlays written beside the report (`<stem>_overlay_small.jpg`).
"""

from __future__ import annotations

import base64
import collections
import datetime
import html
import io
import os
import tempfile

import numpy as np
import PIL.Image

from crackjax import config_base
from crackjax import errors
from crackjax.report import plots

REPORT = "report.html"

_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 24px;
       color: #222; max-width: 1200px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img.fig { max-width: 100%; border: 1px solid #eee; }
img.thumb { max-width: 240px; max-height: 180px; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; }
.grid figure { margin: 0; } .grid img { width: 400px; } figcaption { font-size: 12px; color: #555; }
.muted { color: #777; font-size: 12px; }
.key { font-family: monospace; }
"""

# Error overlay colours (RGB) of the training report's test images.
TP_COLOR, FP_COLOR, FN_COLOR = (0, 200, 0), (255, 0, 0), (0, 90, 255)


def _page(title: str, body: list[str]) -> str:
  stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
  return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>\n"
          f"<h1>{html.escape(title)}</h1>\n<p class=\"muted\">written by crackjax, {stamp}</p>\n"
          + "\n".join(body) + "\n</body></html>\n")


def _write(path: str, text: str) -> None:
  tmp = path + ".tmp"
  with errors.writing(path):
    with open(tmp, "w", encoding="utf-8") as f:
      f.write(text)
    os.replace(tmp, path)


def data_uri(data: bytes, mime: str) -> str:
  return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _jpeg_uri(image: np.ndarray, max_side: int = 640) -> str:
  im = PIL.Image.fromarray(image)
  im.thumbnail((max_side, max_side), PIL.Image.Resampling.BOX)
  buf = io.BytesIO()
  im.save(buf, format="JPEG", quality=88)
  return data_uri(buf.getvalue(), "image/jpeg")


def _figure_uri(draw, *args, **kwargs) -> str:
  """A matplotlib figure function of crackjax/report/plots.py (which writes to a path) as a data URI."""
  with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "figure.png")
    draw(*args, path, **kwargs)
    with open(path, "rb") as f:
      return data_uri(f.read(), "image/png")


def _fmt(value, digits: int = 4) -> str:
  if value is None or value == "":
    return "&ndash;"
  if isinstance(value, float):
    return f"{value:.{digits}f}" if abs(value) < 1e4 else f"{value:.4g}"
  return html.escape(str(value))


def _table(header: list[str], rows: list[list[str]]) -> str:
  """Cells are HTML already (escaped by the caller); numbers get `class=num` via a leading `#`."""
  out = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>"]
  for row in rows:
    cells = "".join(f'<td class="num">{c[1:]}</td>' if c.startswith("#") else f"<td>{c}</td>" for c in row)
    out.append(f"<tr>{cells}</tr>")
  return "\n".join(out) + "</table>"


def config_section(config) -> str:
  diff = config_base.diff_from_base(config)
  rows = [[f'<span class="key">{html.escape(k)}</span>', html.escape(repr(a)), html.escape(repr(b))]
          for k, a, b in diff]
  return ("<h2>Config</h2><p>The keys this run changed from <span class=\"key\">config_base.base()</span> "
          "(the full config is in config.json):</p>" + _table(["key", "default", "this run"], rows))


def error_overlay(image: np.ndarray, truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
  """`[H, W, 3] uint8`: the image with true positives green, false positives red, missed cracks blue."""
  out = image.copy()
  for where, color in ((truth & pred, TP_COLOR), (~truth & pred, FP_COLOR), (truth & ~pred, FN_COLOR)):
    px = out[where].astype(np.float32)
    out[where] = np.rint(0.35 * px + 0.65 * np.asarray(color, np.float32)).astype(np.uint8)
  return out


def training_report_html(config, events: list[dict], final: dict, *, prf_png: bytes | None,
                         examples: list[dict], title: str) -> str:
  """The training report's HTML (pure: no file access).

  Args:
    config: the run's config.
    events: its metrics.jsonl events.
    final: eval/final.json's content, with `pr_curve` (the accumulator's) where available.
    prf_png: the PRF trajectory figure (prf_trajectory.png's bytes), if any.
    examples: test images: dicts with `stem`, `image` `[H, W, 3] uint8`, `truth` and `pred` `[H, W] bool`,
      `f1` (of that image at the threshold).
  """
  body = []
  split = final.get("split", "test")
  keys = [("precision", "precision"), ("recall", "recall"), ("f1", "F1"), ("iou", "IoU")]
  extra = [(k, k) for k in ("ods_f1_pooled_grid100", "ois_f1_mean_per_image_grid100",
                            "ap_pooled_stepwise_grid100", "relaxed_f1_r2px_pooled", "cldice_pooled")
           if k in final]
  rows = [[html.escape(label), f"#{_fmt(final.get(k))}"] for k, label in keys + extra]
  body.append(f"<h2>Final metrics ({html.escape(split)} split)</h2>"
              f"<p>Checkpoint {final.get('checkpoint_step')} of {final.get('total_steps')} steps, chosen by "
              f"{html.escape(str(final.get('selected_by')))}; threshold {_fmt(final.get('threshold'), 2)}; "
              f"pixels pooled over {final.get('images', '?')} full images.</p>"
              + _table(["metric", "value"], rows))
  val = [e for e in events if "val/f1" in e]
  if val:
    rows = [[f"#{e['step']}"] + [f"#{_fmt(e.get(f'val/{k}'))}" for k, _ in keys] for e in val]
    body.append("<h2>Validation</h2>" + _table(["step"] + [label for _, label in keys], rows))
  body.append("<h2>Curves</h2>" + f'<img class="fig" alt="training curves" src="'
              f'{_figure_uri(plots.training_curves, events, title=title)}">')
  if prf_png:
    body.append("<h2>PRF trajectory</h2><p>Precision and recall of the training batches per balance "
                "interval, the loss weights and the positive-patch rate the balance method moved.</p>"
                f'<img class="fig" alt="PRF trajectory" src="{data_uri(prf_png, "image/png")}">')
  if final.get("pr_curve"):
    rep = {**final, "split": split}
    body.append(f"<h2>Precision-recall curve ({html.escape(split)} split)</h2>"
                f'<img class="fig" alt="PR curve" src="'
                f'{_figure_uri(plots.pr_curves, [rep], grid_steps=len(final["pr_curve"]["threshold"]) - 1)}">')
  if examples:
    figs = [f'<figure><img alt="{html.escape(e["stem"])}" src="{_jpeg_uri(error_overlay(e["image"], e["truth"], e["pred"]))}">'
            f'<figcaption>{html.escape(e["stem"])}: F1 {_fmt(e["f1"], 3)}</figcaption></figure>'
            for e in examples]
    body.append(f"<h2>{html.escape(split.capitalize())} images</h2><p>Green: crack found; red: false "
                "alarm; blue: crack missed (threshold "
                f"{_fmt(final.get('threshold'), 2)}).</p><div class=\"grid\">" + "".join(figs) + "</div>")
  body.append(config_section(config))
  return _page(title, body)


def write_training_report(workdir: str, config, final: dict, events: list[dict], *,
                          pr_curve: dict | None, examples: list[dict]) -> str:
  """Writes `workdir/report.html` (see `training_report_html`; `pr_curve`: the final evaluation's
  `CrackMetricAccumulator.pr_curve()`); returns its path."""
  final = {**final, "pr_curve": pr_curve} if pr_curve else final
  prf_path = os.path.join(workdir, "prf_trajectory.png")
  prf_png = open(prf_path, "rb").read() if os.path.exists(prf_path) else None
  title = f"crackjax run: {config.model.name} on {config.data.name}, {config.balance.method}"
  path = os.path.join(workdir, REPORT)
  _write(path, training_report_html(config, events, final, prf_png=prf_png, examples=examples, title=title))
  return path


def _severity_summary(quantification: dict) -> str:
  """Segments per JTG type and severity, e.g. `transverse light x2`."""
  if not quantification.get("jtg"):
    return "&ndash;"
  counts = collections.Counter(f"{s.get('jtg_type')} {s.get('jtg_severity')}"
                               for s in quantification.get("segments", []) if s.get("jtg_type"))
  parts = [f"{html.escape(k)} &times;{n}" for k, n in sorted(counts.items())]
  return "<br>".join(parts) or "none counted"


def predict_report_html(reports: list[dict]) -> str:
  """The prediction report's HTML for `predict_folder`'s per-image reports (links relative to it)."""
  rows = []
  for r in reports:
    q = r.get("quantification") or {}
    jtg = q.get("jtg")
    out = r["outputs"]
    link = lambda key, text: f'<a href="{html.escape(out[key])}">{text}</a>' if key in out else ""
    name = html.escape(os.path.basename(r["input"]))
    thumb = (f'<a href="{html.escape(out["overlay"])}"><img class="thumb" alt="{name}" '
             f'src="{html.escape(out["overlay_small"])}"></a>' if "overlay_small" in out else "")
    mm = r.get("mm_per_pixel")
    rows.append([
        thumb,
        f"{name}<br>{r['width']}&times;{r['height']}<br>" + " ".join(
            link(k, t) for k, t in (("overlay", "overlay"), ("probability", "probability"), ("mask", "mask")))
        + f' <a href="{html.escape(os.path.splitext(out["mask"])[0][:-len("_mask")] + ".json")}">json</a>',
        f"#{100 * r['crack_fraction']:.2f}",
        f"#{_fmt(q.get('n_segments'))}",
        f"#{_fmt(q.get('length_px'), 0)}" + (f"<br>{_fmt(q.get('length_mm'), 0)} mm" if mm else ""),
        f"#{_fmt(q.get('mean_width_px'), 1)} / {_fmt(q.get('max_width_px'), 1)}"
        + (f"<br>{_fmt(q.get('mean_width_mm'), 1)} / {_fmt(q.get('max_width_mm'), 1)} mm" if mm else ""),
        html.escape(str(q.get("orientation", "–"))),
        f"#{_fmt(mm, 3)}",
        f"#{_fmt(jtg.get('dr_percent'), 2) if jtg else '&ndash;'}",
        f"#{_fmt(jtg.get('pci'), 1) if jtg else '&ndash;'}",
        _severity_summary(q),
    ])
  header = ["overlay", "image", "crack %", "segments", "length px", "width px mean / max", "orientation",
            "mm / px", "JTG DR %", "PCI", "severity (segments)"]
  threshold = reports[0]["threshold"] if reports else None
  body = [f"<p>{len(reports)} image(s); crack where the probability &ge; {_fmt(threshold, 2)} (checkpoint "
          f"{reports[0].get('checkpoint_step') if reports else '?'}). Lengths and widths are measured on "
          "the mask (crackjax/measurement/); severity, damage ratio and PCI are our reading of JTG "
          "5210-2018 and need <span class=\"key\">--mm_per_pixel</span>. Click a thumbnail for the full "
          "overlay; summary.csv holds the same rows.</p>", _table(header, rows)]
  return _page("crackjax predictions", body)


def write_predict_report(output_dir: str, reports: list[dict]) -> str:
  """Writes `output_dir/report.html` (see `predict_report_html`); returns its path."""
  path = os.path.join(output_dir, REPORT)
  _write(path, predict_report_html(reports))
  return path


def test_examples(predict_fn, state, sharding, source, config, *, n: int = 4) -> list[dict]:
  """The first `n` images of `source` predicted with the sliding window at `config.eval.threshold`:
  the training report's examples (see `training_report_html`)."""
  from crackjax.evaluation import confusion  # noqa: PLC0415
  from crackjax.inference import sliding_window  # noqa: PLC0415
  threshold, multiple = config.eval.threshold, config.eval.pad_multiple
  settings = sliding_window.TileSettings()
  out = []
  for i in range(min(n, len(source))):
    record = source[i]
    image = np.asarray(record["image"])
    truth = np.asarray(record["mask"])[..., 0] > 0
    prob = sliding_window.predict_probabilities(predict_fn, state, sharding, image, settings=settings,
                                                multiple=multiple)
    pred = prob >= threshold
    counts = {"tp": float(np.sum(truth & pred)), "fp": float(np.sum(~truth & pred)),
              "fn": float(np.sum(truth & ~pred))}
    stem = record["stem"]
    out.append({"stem": stem.decode() if isinstance(stem, bytes) else str(stem), "image": image,
                "truth": truth, "pred": pred, "f1": confusion.scores(counts)["f1"]})
  return out
