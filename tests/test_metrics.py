import jax.numpy as jnp
import numpy as np
import pytest

from crackjax.evaluation import confusion


def test_in_graph_counts_match_numpy():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(3, 16, 16, 1)).astype(np.float32)
  labels = (rng.random((3, 16, 16, 1)) < 0.1).astype(np.float32)
  got = confusion.confusion_counts(jnp.asarray(logits), jnp.asarray(labels))
  probs = 1 / (1 + np.exp(-logits))
  want = confusion.confusion_counts_np(probs, labels)
  pred, truth = probs >= 0.5, labels > 0
  assert want == {"tp": np.sum(pred & truth), "fp": np.sum(pred & ~truth), "fn": np.sum(~pred & truth)}
  for k in want:
    assert float(got[k]) == want[k]


def test_scores_and_conventions():
  s = confusion.scores({"tp": 6, "fp": 2, "fn": 4})
  assert s["precision"] == pytest.approx(0.75)
  assert s["recall"] == pytest.approx(0.6)
  assert s["f1"] == pytest.approx(2 * 0.75 * 0.6 / 1.35)
  assert s["iou"] == pytest.approx(6 / 12)
  assert confusion.scores({"tp": 0, "fp": 0, "fn": 0}) == {"precision": 1.0, "recall": 1.0, "f1": 1.0,
                                                         "iou": 1.0}
  assert confusion.scores({"tp": 0, "fp": 0, "fn": 5})["precision"] == 1.0
  assert confusion.scores({"tp": 0, "fp": 0, "fn": 5})["f1"] == 0.0
