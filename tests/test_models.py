"""Every registered model, tested the same way (timm style): a new architecture is tested for free."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import gradient_rgb, learned_architectures, write_jpeg

from llid_cli.cli import cli
from llid_cli.core.errors import ModelError
from llid_cli.models import all_specs, get_spec
from llid_cli.models.weights import load_model, read_weights, save_weights

LEARNED = learned_architectures()


def tiny(name: str, seed: int = 0):
    torch.manual_seed(seed)
    spec = get_spec(name)
    return spec.build("tiny"), spec.presets["tiny"]


def test_zoo_has_the_five_seed_designs_lynx_and_the_classical_path():
    assert set(LEARNED) == {"two-stage", "mirnet", "resse", "unet", "clahe-cnn", "lynx"}
    assert not get_spec("clahe").learned


@pytest.mark.parametrize("name", LEARNED)
@pytest.mark.parametrize("shape", [(1, 3, 37, 53), (2, 3, 64, 96)])
def test_forward_keeps_shape_and_range(name, shape):
    model, _ = tiny(name)
    x = torch.rand(*shape) * 0.3  # dark input
    with torch.no_grad():
        y = model.eval()(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
    assert y.min() >= 0 and y.max() <= 1


@pytest.mark.parametrize("name", LEARNED)
def test_gradients_reach_every_parameter(name):
    model, _ = tiny(name)
    model.train()
    moved: set[str] = set()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    # A few different batches, each followed by a step: a PReLU slope, say, only gets a gradient once
    # it sees a negative input, and a residual branch whose last layer starts at zero (lynx's gated
    # blocks start as the identity) passes gradients inwards from the second step on.
    for step in range(3):
        optimizer.zero_grad()
        x = torch.rand(2, 3, 36, 44) * (0.2 + 0.3 * step)
        target = torch.rand(2, 3, 36, 44)
        (model(x) - target).abs().mean().backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
        assert not missing, f"no gradient for {missing}"
        moved |= {n for n, p in model.named_parameters() if p.grad.abs().sum() > 0}
        optimizer.step()
    # A PReLU slope's gradient is exactly zero while all its inputs are positive (a globally pooled
    # descriptor often is); every other parameter must get a non-zero gradient.
    prelu = {f"{m}.weight" for m, mod in model.named_modules() if isinstance(mod, torch.nn.PReLU)}
    zero = [n for n, _ in model.named_parameters() if n not in prelu and n not in moved]
    assert not zero, f"zero gradient for {zero}"


@pytest.mark.parametrize("name", LEARNED)
def test_eval_is_deterministic(name):
    model, _ = tiny(name)
    model.eval()
    x = torch.rand(1, 3, 40, 40)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("name", LEARNED)
def test_save_load_round_trip_is_exact(tmp_path, name):
    model, args = tiny(name, seed=1)
    model.eval()
    path = tmp_path / f"{name}.safetensors"
    info = save_weights(model, path, name, args, {"data": "unit test", "metrics": {"psnr": 1.0}})
    loaded, meta = load_model(path)
    assert meta.architecture == name and meta.metadata["data"] == "unit test"
    assert meta.file_sha256 == info.file_sha256
    for (k1, v1), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    x = torch.rand(1, 3, 29, 31)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


@pytest.mark.parametrize("name", LEARNED)
def test_network_pads_for_itself(name):
    spec = get_spec(name)
    model, _ = tiny(name)
    odd = spec.describe("tiny").input_multiple * 3 + 1
    with torch.no_grad():
        assert model.eval()(torch.rand(1, 3, odd, odd + 2)).shape[-2:] == (odd, odd + 2)


def test_each_architecture_file_registers_the_names_listed_for_it():
    """Resolving a name imports only its file: the table in llid_cli.models says which, and must
    say it right (a name missing from it could not be resolved)."""
    import importlib

    from llid_cli.models import ARCHITECTURES

    for module in set(ARCHITECTURES.values()):
        importlib.import_module(f"llid_cli.models.architectures.{module}")
    registered = {spec.name: spec.builder.__module__ if spec.builder else "llid_cli.models.architectures.classical"
                  for spec in all_specs()}
    assert registered == {name: f"llid_cli.models.architectures.{module}" for name, module in ARCHITECTURES.items()}


def test_resolving_one_name_imports_only_its_architecture():
    import subprocess
    import sys

    script = ("import sys\nfrom llid_cli.models import get_spec\nget_spec('resse')\n"
              "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('llid_cli.models.architectures.')))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['resse']"


@pytest.mark.parametrize("name", LEARNED)
def test_the_descriptor_is_read_off_the_network_built(name):
    """What the engine needs travels with the network: its own multiple, its global statistics,
    the controls it renders (a descriptor, not attributes read one by one)."""
    model, args = tiny(name)
    described = model.describe(get_spec(name))
    assert described.input_multiple == model.multiple >= 1
    assert described.global_stats == bool(get_spec(name).global_ops)
    assert described.controls == ({"exposure", "denoise"} if name == "lynx" else set())
    from llid_cli.models.descriptor import ModelDescriptor

    assert ModelDescriptor.from_json(json.loads(json.dumps(described.to_json()))) == described


def test_a_description_written_before_controls_were_one_list_still_reads():
    """Graphs pulled from a hub may carry the older description (`native_exposure`, `noise_filter`)."""
    from llid_cli.models.descriptor import ModelDescriptor

    old = {"name": "lynx", "architecture": "lynx", "input_multiple": 8, "global_stats": True,
           "native_exposure": True, "noise_filter": False, "bytes_per_pixel": 61.2, "pre": None,
           "noise_filter_arguments": {"denoise": [1.5, 0.3, 6.0]}}
    described = ModelDescriptor.from_json(old)
    assert described.controls == {"exposure"} and described.cpu_backend == "onnx"  # recorded before it existed
    with pytest.raises(ValueError, match="controls this llid does not know: tomorrow's-sky"):  # a newer llid's
        ModelDescriptor.from_json({**old, "controls": ["exposure", "tomorrow's-sky"]})


def test_registry_records_what_tiling_needs():
    for spec in all_specs():
        assert spec.description and spec.origin
        if spec.learned:
            assert spec.parameter_count() > 0 and spec.weights.endswith(".safetensors")
    assert all(get_spec(name).global_ops for name in ("mirnet", "resse", "two-stage", "unet", "clahe-cnn"))
    assert get_spec("mirnet").presets["paper"]["channels"] == 64
    assert get_spec("clahe-cnn").pre == "clahe"


def test_fp16_storage_is_half_the_size_and_close(tmp_path):
    model, args = tiny("resse")
    full = save_weights(model, tmp_path / "a.safetensors", "resse", args)
    half = save_weights(model, tmp_path / "b.safetensors", "resse", args, fp16=True)
    assert (tmp_path / "b.safetensors").stat().st_size < 0.6 * (tmp_path / "a.safetensors").stat().st_size
    state, _ = read_weights(half.path)
    assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())
    loaded, _ = load_model(full.path)
    assert loaded is not None


def test_denormals_are_flushed_on_save(tmp_path):
    model, args = tiny("clahe-cnn")
    with torch.no_grad():
        model.body[0].weight[0, 0, 0, 0] = 1e-40  # a denormal float32
    save_weights(model, tmp_path / "w.safetensors", "clahe-cnn", args)
    state, _ = read_weights(tmp_path / "w.safetensors")
    assert state["body.0.weight"][0, 0, 0, 0].item() == 0.0


def test_tampered_weights_are_refused(tmp_path):
    model, args = tiny("resse")
    path = tmp_path / "w.safetensors"
    save_weights(model, path, "resse", args)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF  # flip bits inside the last tensor
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum mismatch"):
        load_model(path)


def test_expected_file_hash_is_checked(tmp_path):
    model, args = tiny("resse")
    path = tmp_path / "w.safetensors"
    save_weights(model, path, "resse", args)
    with pytest.raises(ModelError, match="sha256 mismatch"):
        load_model(path, expected_sha256="0" * 64)


def test_pickle_checkpoints_are_never_loaded(tmp_path):
    model, _ = tiny("resse")
    path = tmp_path / "model.pth"
    torch.save(model.state_dict(), path)
    with pytest.raises(ModelError, match="not a safetensors"):
        load_model(path)


def test_wrong_architecture_is_refused(tmp_path):
    model, args = tiny("resse")
    save_weights(model, tmp_path / "w.safetensors", "resse", args)
    with pytest.raises(ModelError, match="'resse' weights, not 'unet'"):
        load_model(tmp_path / "w.safetensors", architecture="unet")


def test_spd_inverse_matches_torch():
    from llid_cli.models.architectures.two_stage import spd_inverse

    a = torch.randn(4, 6, 30, dtype=torch.float64)
    gram = a @ a.transpose(1, 2) + 1e-3 * torch.eye(6, dtype=torch.float64)
    torch.testing.assert_close(spd_inverse(gram), torch.linalg.inv(gram))


def test_two_stage_exposes_its_stages():
    model, _ = tiny("two-stage")
    with torch.no_grad():
        stages = model.eval().stages(torch.rand(1, 3, 21, 19) * 0.2)
    assert stages["gray"].shape == (1, 1, 21, 19)
    assert stages["transmission"].min() >= 0.05 - 1e-6
    assert stages["airlight"].shape == (1, 3, 1, 1)


def test_models_cli_list_and_info():
    runner = CliRunner()
    result = runner.invoke(cli, ["models", "list"], terminal_width=200)
    assert result.exit_code == 0
    for name in ("clahe", "two-stage", "mirnet", "resse", "unet", "clahe-cnn"):
        assert name in result.output
    result = runner.invoke(cli, ["models", "info", "mirnet"], terminal_width=200)
    assert result.exit_code == 0 and "Zamir" in result.output and "paper" in result.output
    result = runner.invoke(cli, ["models", "info", "nope"])
    assert result.exit_code == 1 and "unknown model 'nope'" in result.output


def test_enhance_with_weights_file_infers_the_model(tmp_path):
    model, args = tiny("clahe-cnn")
    weights = tmp_path / "w.safetensors"
    save_weights(model, weights, "clahe-cnn", args)
    photo = write_jpeg(tmp_path / "dark.jpg", gradient_rgb(30, 41, dark=0.2))
    result = CliRunner().invoke(cli, ["enhance", str(photo), "-o", str(tmp_path / "o.png"), "--weights", str(weights)])
    assert result.exit_code == 0, result.output
    from llid_cli.io import read_image

    out = read_image(tmp_path / "o.png")
    assert out.pixels.shape == (30, 41, 3) and out.pixels.mean() > read_image(photo).pixels.mean()


def test_model_without_weights_says_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setattr("llid_cli.models.locations.weights_dir", lambda: tmp_path)
    photo = write_jpeg(tmp_path / "dark.jpg", gradient_rgb(30, 41, dark=0.2))
    result = CliRunner().invoke(cli, ["enhance", str(photo), "-o", str(tmp_path / "o.png"), "--model", "unet"])
    assert result.exit_code == 1 and "no trained weights" in result.output and "llid train" in result.output
    assert not (tmp_path / "o.png").exists()


def test_shipped_files_are_found_from_a_checkout_or_a_wheel():
    import llid_cli
    from llid_cli.models.locations import example_photo, weights_dir

    assert weights_dir().is_dir()
    assert example_photo().is_file()
    installed = (Path(llid_cli.__file__).parent / "_weights").is_dir()
    assert weights_dir().name == ("_weights" if installed else "weights")


def test_unet_context_is_optional_and_global():
    from llid_cli.models.layers.context import has_global_stats

    spec = get_spec("unet")
    plain = spec.builder(base=4, depth=2)  # weights saved before `context` existed build this
    gated = spec.builder(base=4, depth=2, context=True)
    assert not has_global_stats(plain) and has_global_stats(gated)
    # Only the context gate sees the whole image: darkening the right half changes the left half's
    # output with it and not without it.
    torch.manual_seed(0)
    x = torch.rand(1, 3, 32, 128)
    y = x.clone()
    y[..., 64:] *= 0.2
    for model, changes in ((plain, False), (gated, True)):
        torch.manual_seed(1)
        for p in model.parameters():
            torch.nn.init.normal_(p, std=0.3)
        with torch.no_grad():
            left = [model.eval()(img)[..., :8] for img in (x, y)]
        assert (not torch.allclose(left[0], left[1], atol=1e-6)) == changes


@pytest.mark.parametrize("args,message", [
    ({"context": "maybe"}, "'unet' argument 'context' must be true or false, got 'maybe'"),
    ({"base": 4.5}, "'unet' argument 'base' must be an integer"),
    ({"colour": 1}, "'unet' has no architecture argument 'colour'"),
])
def test_architecture_arguments_are_checked_against_the_constructor(args, message):
    with pytest.raises(ModelError, match=message):
        get_spec("unet").build("tiny", **args)


@pytest.mark.parametrize("value,message", [
    ("maybe", "'lynx' argument 'keep_exposure' must be a list, got 'maybe'"),
    ([0.1], r"'lynx' argument 'keep_exposure' must be a list of 2 values, got \[0.1\]"),
    (["a", 0.3], r"'lynx' argument 'keep_exposure\[0\]' must be a number"),
])
def test_an_optional_argument_is_checked_like_its_type(value, message):
    """`tuple[float, float] | None`: None turns it off, a list is a tuple, anything else is refused."""
    with pytest.raises(ModelError, match=message):
        get_spec("lynx").build("tiny", keep_exposure=value)
    assert get_spec("lynx").build("tiny", keep_exposure=None).keep_exposure is None
    assert get_spec("lynx").build("tiny", keep_exposure=[0.2, 0.3]).keep_exposure == (0.2, 0.3)


def test_yaml_and_json_values_become_what_the_constructor_annotates(tmp_path):
    model = get_spec("clahe-cnn").build("tiny", widths=[4, 4, 8], pre_grid=[3, 2], pre_clip=3)
    assert model.pre_settings == {"tile_grid": (3, 2), "clip_limit": 3.0}
    assert model.body[0].out_channels == 4
    with pytest.raises(ModelError, match="'pre_grid' must be a list of 2 values"):
        get_spec("clahe-cnn").build("tiny", pre_grid=[2])
    # Metadata is checked on load too: a file that says `context: "yes"` is refused, not guessed at.
    bad, args = tiny("unet")
    save_weights(bad, tmp_path / "w.safetensors", "unet", {**args, "context": "yes"})
    with pytest.raises(ModelError, match="weights metadata: 'unet' argument 'context'") as info:
        load_model(tmp_path / "w.safetensors")
    assert "w.safetensors" in str(info.value)


def test_a_variant_is_its_architecture_with_other_weights(tmp_path):
    from llid_cli.engine.runner import build_model_runner

    night, resse = get_spec("resse-night"), get_spec("resse")
    assert night.variant_of == "resse" and night.architecture == "resse" and resse.architecture == "resse"
    assert night.builder is resse.builder and night.presets == resse.presets and night.global_ops == resse.global_ops
    assert night.weights == "resse-night.safetensors" != resse.weights
    torch.manual_seed(0)
    save_weights(resse.build("tiny"), tmp_path / "r.safetensors", "resse", resse.presets["tiny"])
    save_weights(get_spec("unet").build("tiny"), tmp_path / "u.safetensors", "unet", get_spec("unet").presets["tiny"])
    dark = gradient_rgb(24, 32, dark=0.2)
    assert build_model_runner("resse-night", str(tmp_path / "r.safetensors"))(dark).shape == dark.shape
    with pytest.raises(ModelError, match="these are 'unet' weights, not 'resse'"):
        build_model_runner("resse-night", str(tmp_path / "u.safetensors"))
    card = CliRunner().invoke(cli, ["models", "info", "resse-night"])
    assert card.exit_code == 0 and "variant of" in card.output and "resse (the same network" in card.output


def test_building_every_model_leaves_sympy_unimported():
    """The registry's size check builds each network on PyTorch's meta device, where arange,
    arithmetic and copies import sympy (1.5-2 s of every `llid enhance` with lynx or mirnet)."""
    import subprocess
    import sys

    code = ("import sys\nfrom llid_cli.models import all_specs\n"
            "for spec in all_specs():\n"
            "    if spec.learned: spec.build('default')\n"
            "print(sorted(m for m in ('sympy', 'torch._dynamo') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_a_model_card_says_what_the_loaded_model_needs_and_supports():
    """Read off the network loaded with its shipped weights, not the registry: lynx pads to 8
    (the registry's 16 is what its largest preset needs), lynx-fast has no noise filter unless asked."""
    def card(name):
        result = CliRunner().invoke(cli, ["models", "info", name, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    lynx, fast, resse = card("lynx"), card("lynx-fast"), card("resse")
    assert lynx["input multiple"].startswith("8 ") and fast["input multiple"].startswith("16 ")
    assert "--denoise: its filter" in lynx["controls"] and "--denoise X: adds lynx's filter" in fast["controls"]
    assert "--exposure: rendered by the network" in lynx["controls"]
    assert "--exposure: its output re-rendered" in resse["controls"] and "no noise filter" in resse["controls"]
    assert fast["renders with"]["denoise"] is None and lynx["renders with"]["denoise"] == [1.5, 0.3, 6.0]
    assert "renders with" not in resse and lynx["onnx graphs"].startswith("shipped")
    assert lynx["validation when trained"]["images"] == 59 and "validation" not in lynx
    from llid_cli.models.architectures.lynx import Lynx

    assert set(lynx["renders with"]) == Lynx.rendering_arguments  # what fine-tuning does not compare
