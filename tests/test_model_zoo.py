"""The model zoo (crackjax/models/, docs/models.md): output shapes and dtypes, parameter counts against
the reference implementations, deep supervision, backbone-weight conversion, and every family trained
a few steps in the data-parallel step on 2 fake devices.

Kept within the suite's budget on 2 CPU cores: shapes, dtypes and parameter counts are traced only
(`jax.eval_shape` / `jax.make_jaxpr`: nothing is initialised or compiled, full-size networks
included); the compiled tests use 32x32 patches and, where the family allows, a smaller member of the
same architecture (ResNet-18 trunks, HRNetV2-W18-Small-v2 at W=8, narrow UNet++/DeepCrack, FCN with
narrow fc6/fc7); conv kernels are drawn on the host (XLA:CPU compiles each random initializer
separately, ~0.2 s per tensor) while every other leaf comes from the models' own initializers.
The full-size networks are compiled and timed by benchmarks/model_step_time.py.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from jax.sharding import Mesh

from benchmarks import host_init
from crackjax import config_base
from crackjax import models
from crackjax.balance import methods
from crackjax.models import convert_weights
from crackjax.models import hrnet
from crackjax.models import layers
from crackjax.training import parallel
from crackjax.training import state as state_lib
from crackjax.training import step as step_lib
from tests import torchvision_reference
from tests.test_step import _batch


# Small members of each family for the compiled tests (same code paths as the full networks).
SMALL = {
    "unet": dict(base_channels=4, depth=2),
    "fcn": dict(width=64),
    "unetpp": dict(width=8),
    "pspnet": dict(backbone="resnet18"),
    "fpn": dict(backbone="resnet18"),
    "deeplabv3plus": dict(backbone="resnet18"),
    "hrnet": dict(backbone="hrnetv2_small_v2", width=8),
    "deepcrack": dict(width=8),
}
DEEPLY_SUPERVISED = {"unetpp": 3, "deepcrack": 5, "pspnet": 1}
# Families whose step costs little at 32x32 compile with XLA's backend optimisation off: half the compile
# time (HRNet: 40 s -> 22 s at load ~6), a few ms more per step. The others run slower steps that way.
QUICK_COMPILE = {"unetpp", "deepcrack", "hrnet"}

# (model.name, overrides) -> (reference count, where it comes from). One output class throughout.
REFERENCE_PARAMS = {
    ("fcn", ()): (134_265_699, "voc-fcn8s on torchvision vgg16, 1 class, counted in PyTorch; "
                               "Long et al. Table 1: 134M"),
    ("unetpp", ()): (9_041_601, "MrGiovanni/UNetPlusPlus Nest_Net docstring"),
    ("pspnet", ()): (49_066_178, "hszhao/semseg PSPNet-50 with aux head, counted in PyTorch"),
    ("fpn", ()): (28_476_353, "detectron2 FPN + SemSegFPNHead on ResNet-50, counted in PyTorch"),
    ("deeplabv3plus", ()): (26_677_585, "segmentation_models_pytorch 0.6.0 DeepLabV3Plus resnet50"),
    ("deeplabv3plus", (("backbone", "xception65"),)): (
        41_036_865, "segmentation_models_pytorch 0.6.0 DeepLabV3Plus tu-xception65"),
    ("hrnet", ()): (9_636_241, "timm hrnet_w18 trunk + HRNetV2 seg head, counted in PyTorch"),
    ("hrnet", (("width", 48),)): (65_900_000, "HRNet-Semantic-Segmentation README: HRNetV2-W48 65.9M"),
    ("deepcrack", ()): (14_720_389, "yhlleo/DeepSegmentor DeepCrackNet(ngf=64), counted in PyTorch"),
    ("unet", (("base_channels", 64),)): (31_037_633, "U-Net, 64 base channels, BN, 4 levels"),
}


def _model_cfg(name, **overrides) -> ml_collections.ConfigDict:
  c = config_base.base().model
  c.name = name
  for k, v in overrides.items():
    setattr(c, k, v)
  return c


def _n_params(tree) -> int:
  return sum(x.size for x in jax.tree.leaves(tree))


def _shapes(model, size=32):
  return jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, size, size, 3)),
                                           train=False))


# ---------------------------------------------------------------- shapes, dtypes, parameter counts


@pytest.mark.parametrize("name", sorted(SMALL))
def test_logits_at_input_resolution_for_sizes_that_are_multiples_of_32(name):
  model = models.get_model(_model_cfg(name, **SMALL[name]))
  variables = _shapes(model)
  for shape in [(1, 32, 32, 3), (2, 64, 96, 3), (1, 160, 64, 3)]:
    x = jax.ShapeDtypeStruct(shape, jnp.float32)
    out = jax.eval_shape(lambda v, x: model.apply(v, x, train=False), variables, x)
    assert out.shape == shape[:3] + (1,) and out.dtype == jnp.float32, (shape, out)
  out, _ = jax.eval_shape(lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats"]),
                          variables, jax.ShapeDtypeStruct((2, 64, 96, 3), jnp.float32))
  if name in DEEPLY_SUPERVISED:
    assert out["logits"].shape == (2, 64, 96, 1)
    assert [s.shape for s in out["side_logits"]] == [(2, 64, 96, 1)] * DEEPLY_SUPERVISED[name]
    assert len(out["side_weights"]) == DEEPLY_SUPERVISED[name]
  else:
    assert out.shape == (2, 64, 96, 1)


@pytest.mark.parametrize("name", sorted(set(SMALL) - {"unet"}))
def test_bfloat16_compute_with_float32_parameters_and_logits(name):
  model = models.get_model(_model_cfg(name, dtype="bfloat16", **SMALL[name]))
  variables = _shapes(model)
  assert {x.dtype for x in jax.tree.leaves(variables["params"])} == {jnp.dtype(jnp.float32)}
  x = jnp.zeros((2, 64, 64, 3), jnp.float32)
  jaxpr = jax.make_jaxpr(lambda v, x: model.apply(v, x, train=False))(variables, x)

  def convs(jpr):                      # every convolution, nested jaxprs (custom_jvp, pjit) included
    for e in jpr.eqns:
      if e.primitive.name == "conv_general_dilated":
        yield e
      for p in e.params.values():
        for sub in (p if isinstance(p, (list, tuple)) else [p]):
          sub = getattr(sub, "jaxpr", sub)
          if hasattr(sub, "eqns"):
            yield from convs(sub)

  found = list(convs(jaxpr.jaxpr))
  assert found and all(v.aval.dtype == jnp.bfloat16 for e in found for v in e.invars), name
  assert jaxpr.out_avals[0].dtype == jnp.float32


@pytest.mark.parametrize("key", sorted(REFERENCE_PARAMS, key=str), ids=lambda k: f"{k[0]}{dict(k[1])}")
def test_parameter_count_within_5_percent_of_the_reference(key):
  name, overrides = key
  reference, source = REFERENCE_PARAMS[key]
  n = _n_params(_shapes(models.get_model(_model_cfg(name, **dict(overrides))))["params"])
  assert abs(n - reference) <= 0.05 * reference, (n, reference, source)


@pytest.mark.parametrize("backbone,trunk", [("resnet18", 11_176_512), ("resnet50", 23_508_032),
                                            ("resnet101", 42_500_160), ("xception65", 37_867_312)])
def test_backbone_trunks_match_torchvision_and_timm_exactly(backbone, trunk):
  """torchvision resnet18/50/101 and timm xception65 minus their 1000-class classifiers."""
  model = models.get_model(_model_cfg("deeplabv3plus", backbone=backbone))
  assert _n_params(_shapes(model)["params"]["backbone"]) == trunk


def test_im2col_convolution_equals_the_convolution():
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 6, 5, 8))
  variables = layers.Im2ColConv(16, 7).init(jax.random.PRNGKey(1), x)
  variables["params"]["bias"] = jax.random.normal(jax.random.PRNGKey(2), (16,))
  want = nn.Conv(16, (7, 7), padding=[(3, 3), (3, 3)]).apply(variables, x)
  np.testing.assert_allclose(layers.Im2ColConv(16, 7).apply(variables, x), want, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- configuration errors


def test_configuration_errors_name_the_key():
  with pytest.raises(ValueError, match=r"config.model.backbone='resnet50' is not available.*fcn"):
    models.get_model(_model_cfg("fcn", backbone="resnet50"))
  with pytest.raises(ValueError, match=r"config.model.width=8 is not used by model.name='pspnet'"):
    models.get_model(_model_cfg("pspnet", width=8))
  with pytest.raises(ValueError, match=r"deep_supervision_weights=\(1.0, 1.0\) has 2 entries.*3 side"):
    models.get_model(_model_cfg("unetpp", deep_supervision_weights=(1.0, 1.0)))
  with pytest.raises(ValueError, match=r"deep_supervision_weights.*has no side outputs"):
    models.get_model(_model_cfg("fpn", deep_supervision_weights=(1.0,)))
  with pytest.raises(ValueError, match="divisible by 32"):
    model = models.get_model(_model_cfg("fpn", backbone="resnet18"))
    jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, 48, 64, 3)), train=False))


# ---------------------------------------------------------------- deep supervision in the loss


@pytest.mark.parametrize("method", sorted(methods.METHODS))
def test_deeply_supervised_loss_is_the_weighted_mean_under_every_method(method):
  cfg = config_base.base().balance
  cfg.method = method
  bal = methods.initial_balance(cfg, 0.3, 0.05)
  k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
  labels = (jax.random.uniform(k1, (2, 16, 16, 1)) < 0.1).astype(jnp.float32)
  fused = jax.random.normal(k2, (2, 16, 16, 1))
  sides = tuple(jax.random.normal(k, (2, 16, 16, 1)) for k in jax.random.split(k3, 3))
  weights = (0.5, 1.0, 2.0)
  loss_of = lambda lg: methods.get_method(method).loss(lg, labels, bal, cfg)
  got = step_lib.deeply_supervised_loss(
      loss_of, {"logits": fused, "side_logits": sides, "side_weights": weights})
  want = (loss_of(fused) + sum(w * loss_of(s) for w, s in zip(weights, sides))) / (1 + sum(weights))
  np.testing.assert_allclose(got, want, rtol=1e-6)
  np.testing.assert_allclose(step_lib.deeply_supervised_loss(loss_of, fused), loss_of(fused))
  assert float(want) != pytest.approx(float(loss_of(fused)))


# ---------------------------------------------------------------- the data-parallel train step


@pytest.mark.parametrize("name", sorted(set(SMALL) - {"unet"}))   # unet: tests/test_step.py
def test_trains_in_the_data_parallel_step_on_2_devices(name, smoke_config, monkeypatch):
  config = smoke_config.copy_and_resolve_references()
  config.model = _model_cfg(name, **SMALL[name])
  if name == "hrnet":   # one module per stage, one block per branch: same code, 1/6 of the compile
    monkeypatch.setitem(hrnet.VARIANTS, "hrnetv2_small_v2", (1, (1, 1, 1), 1))
  config.balance.method = "bce"
  # Small steps: Adam's first updates move every weight by ~lr, which at 1e-3 throws fresh ResNets'
  # loss up before it comes down; FCN has no BatchNorm and needs smaller ones still.
  config.optimizer.update(learning_rate=1e-4 if name == "fcn" else 3e-4, warmup_steps=0,
                          final_lr_fraction=1.0, weight_decay=0.0)
  config.total_steps = 4
  mesh = Mesh(np.array(jax.devices()[:2]), (parallel.DATA_AXIS,))
  repl, data = parallel.replicated(mesh), parallel.batch_sharding(mesh)
  model = models.get_model(config.model)
  variables = host_init.host_variables(model, 32)
  tx = state_lib.make_optimizer(config.optimizer, config.total_steps)
  state = jax.device_put(state_lib.TrainState.create(
      apply_fn=model.apply, params=variables["params"], batch_stats=variables.get("batch_stats", {}),
      tx=tx, rng=jax.random.PRNGKey(0),
      # Positive rate 1: every step takes the same 4 crack patches, so the losses are comparable.
      balance=methods.initial_balance(config.balance, 1.0, 0.05)), repl)
  batch = jax.tree.map(lambda x: jax.device_put(x, data), _batch(b=4))
  options = {"xla_backend_optimization_level": 0} if name in QUICK_COMPILE else None
  # Compiled once: a step whose output state differed in structure, dtype or sharding from its input
  # could not be called again.
  train_step = step_lib.make_train_step(config, repl, data).lower(state, batch).compile(options)

  before = jax.tree_util.tree_leaves_with_path(jax.device_get(state.params))
  losses_ = []
  for step in range(config.total_steps):
    state, m = train_step(state, batch)
    losses_.append(float(m["loss"]))
    if step == 0:      # the logit bias starts at logit(output_prior): few pixels called crack
      assert float(m["tp"] + m["fp"]) < 0.1 * 4 * 32 * 32, "the untrained model predicts cracks"
    if step == 1:
      # No weight decay, so a parameter moves iff some gradient of it was non-zero (AdamW's first
      # moment). Two steps: FCN's zero-initialised score layers pass no gradient in the first.
      after = jax.tree.leaves(jax.device_get(state.params))
      frozen = [jax.tree_util.keystr(p) for (p, a), b in zip(before, after) if np.array_equal(a, b)]
      assert not frozen, f"no gradient reached {frozen}"
  assert np.all(np.isfinite(losses_)) and losses_[-1] < losses_[0], losses_
  probs = jax.eval_shape(step_lib.predict_probs, state, batch["pos_image"])
  assert probs.shape == (4, 32, 32) and probs.dtype == jnp.float32   # inference: the fused output


# ---------------------------------------------------------------- backbone weights


def test_torchvision_state_dict_converts_into_the_backbone_and_loads_into_the_state(tmp_path):
  sd = torchvision_reference.state_dict()
  raw = tmp_path / "resnet18_torchvision.npz"
  np.savez(raw, **sd)
  converted = tmp_path / "resnet18_crackjax.npz"
  convert_weights.main(["--model", "pspnet", "--backbone", "resnet18", "--input", str(raw),
                        "--output", str(converted)])

  cfg = _model_cfg("pspnet", backbone="resnet18")
  model = models.get_model(cfg)
  variables = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), _shapes(model))   # a stand-in state
  state = state_lib.TrainState.create(apply_fn=model.apply, params=variables["params"],
                                      batch_stats=variables["batch_stats"],
                                      tx=state_lib.make_optimizer(config_base.base().optimizer, 10),
                                      rng=jax.random.PRNGKey(0),
                                      balance=methods.initial_balance(config_base.base().balance, .5, .05))
  repl = parallel.replicated(Mesh(np.array(jax.devices()[:2]), (parallel.DATA_AXIS,)))
  for path in (converted, raw):                    # the converted file, and the raw state dict
    cfg.pretrained_path = str(path)
    loaded = convert_weights.load_pretrained(state, cfg, repl)
    bb, stats = loaded.params["backbone"], loaded.batch_stats["backbone"]
    np.testing.assert_array_equal(bb["layer3_0"]["downsample_0"]["kernel"],
                                  sd["layer3.0.downsample.0.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(bb["conv1"]["kernel"][2, 5, 1, 17], sd["conv1.weight"][17, 1, 2, 5])
    np.testing.assert_array_equal(bb["layer4_1"]["bn2"]["scale"], sd["layer4.1.bn2.weight"])
    np.testing.assert_array_equal(stats["layer2_0"]["downsample_1"]["var"],
                                  sd["layer2.0.downsample.1.running_var"])
    assert _n_params(bb) == 11_176_512
    np.testing.assert_array_equal(loaded.params["cls_0"]["conv"]["kernel"], 0.0)   # heads untouched
    assert loaded.params["backbone"]["conv1"]["kernel"].sharding == repl


def test_mismatched_weights_are_refused_with_the_keys_named(tmp_path):
  sd = torchvision_reference.state_dict()
  shapes = _shapes(models.get_model(_model_cfg("fpn", backbone="resnet34")))
  # resnet34 has 3 blocks in layer1, resnet18 two:
  with pytest.raises(ValueError, match=r"missing layer1\.2\.conv1\.\* \(Flax kernel \(3, 3, 64, 64\)\)"):
    convert_weights.convert(sd, shapes["params"]["backbone"], shapes["batch_stats"]["backbone"])
  sd["layer1.0.extra.weight"] = np.zeros((4, 4, 1, 1), np.float32)
  shapes18 = _shapes(models.get_model(_model_cfg("fpn", backbone="resnet18")))
  with pytest.raises(ValueError, match=r"match nothing.*layer1\.0\.extra\.weight"):
    convert_weights.convert(sd, shapes18["params"]["backbone"], shapes18["batch_stats"]["backbone"])
  with pytest.raises(ValueError, match="has no pretrainable backbone"):
    cfg = _model_cfg("unetpp", pretrained_path=str(tmp_path / "x.npz"))
    convert_weights.load_pretrained(state_lib.TrainState.create(
        apply_fn=None, params={"x": jnp.zeros(1)}, batch_stats={}, tx=state_lib.make_optimizer(
            config_base.base().optimizer, 10), rng=jax.random.PRNGKey(0),
        balance=methods.initial_balance(config_base.base().balance, .5, .05)), cfg, None)


def test_vgg_classifier_becomes_fc6_and_fc7_convolutions():
  fc = 64                   # fc6/fc7 channels (4096 in VGG-16; the layout is what matters here)
  shapes = _shapes(models.get_model(_model_cfg("fcn", width=fc)))["params"]["backbone"]
  rng = np.random.default_rng(0)
  sd, index, cin = {}, 0, 3          # torchvision vgg16: features.<i> counts convs, ReLUs and pools
  for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
    if v == "M":
      index += 1
      continue
    sd[f"features.{index}.weight"] = rng.standard_normal((v, cin, 3, 3)).astype(np.float32)
    sd[f"features.{index}.bias"] = rng.standard_normal(v).astype(np.float32)
    index, cin = index + 2, v
  sd["classifier.0.weight"] = rng.standard_normal((fc, 512 * 7 * 7)).astype(np.float32)
  sd["classifier.0.bias"] = rng.standard_normal(fc).astype(np.float32)
  sd["classifier.3.weight"] = rng.standard_normal((fc, fc)).astype(np.float32)
  sd["classifier.3.bias"] = rng.standard_normal(fc).astype(np.float32)
  sd["classifier.6.weight"] = rng.standard_normal((1000, fc)).astype(np.float32)   # fc8: unused
  params, _ = convert_weights.convert(sd, shapes, {})
  # torch flattens pool5 as (C, H, W): Linear input index c * 49 + h * 7 + w.
  np.testing.assert_array_equal(params["fc6"]["kernel"][2, 5, 300, 11],
                                sd["classifier.0.weight"][11, 300 * 49 + 2 * 7 + 5])
  np.testing.assert_array_equal(params["fc7"]["kernel"][0, 0], sd["classifier.3.weight"].T)
  np.testing.assert_array_equal(params["features_28"]["bias"], sd["features.28.bias"])


def test_converted_resnet_computes_what_torchvision_computes():
  """The converter on torchvision resnet18 weights reproduces torchvision's own layer4 output, recorded
  with torch 2.13 (tests/torchvision_reference.py: seeded numpy weights and input, torch's output)."""
  from crackjax.models.backbones import resnet  # noqa: PLC0415
  want = np.load(torchvision_reference.PATH)["layer4_nhwc"]
  x = jnp.asarray(torchvision_reference.inputs().transpose(0, 2, 3, 1))
  module = resnet.ResNet("resnet18")
  shapes = jax.eval_shape(lambda: module.init(jax.random.PRNGKey(0), jnp.zeros((1, 64, 64, 3)), train=False))
  params, stats = convert_weights.convert(torchvision_reference.state_dict(), shapes["params"],
                                          shapes["batch_stats"])
  got = module.apply({"params": params, "batch_stats": stats}, x, train=False)["c5"]
  assert got.shape == want.shape == (2, 2, 2, 512)
  scale = float(np.abs(want).max())
  np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5 * scale)
