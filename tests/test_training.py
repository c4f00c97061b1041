"""`llid train`: configs, data sources, the loop, exact resume, exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from conftest import learned_architectures

from llid_cli.cli import cli
from llid_cli.core.errors import ConfigError
from llid_cli.models.weights import load_model
from llid_cli.training.config import LossConfig, SourceConfig, load_config, parse_config
from llid_cli.training.loop import Trainer

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))


def shrink(config, data):
    """The committed config's model, losses, optimiser and schedule; tiny data, widths and steps."""
    config.model.preset, config.model.args, config.model.init = "tiny", {}, ""
    config.data.train = [SourceConfig("manifest", str(data["manifest"]), 1.0),
                         SourceConfig("synthetic", str(data["clean"]), 0.5)]
    config.data.val = SourceConfig("manifest", str(data["manifest"]))
    config.data.patch_size, config.data.batch_size, config.data.workers = 24, 2, 0
    config.train.steps, config.train.val_every, config.train.ckpt_every, config.train.log_every = 4, 2, 2, 1
    config.train.threads = 1
    for term in config.loss:
        if term.type == "adversarial":
            term.args = {"channels": 8, "layers": 2}
    return config


def test_every_zoo_model_has_a_committed_config():
    trained = {yaml.safe_load(p.read_text())["model"]["type"] for p in CONFIGS}
    assert trained == set(learned_architectures())


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_committed_config_trains_a_few_steps(tmp_path, tiny_datasets, path):
    config = shrink(load_config(path), tiny_datasets)
    trainer = Trainer(config, tmp_path / "run", device="cpu")
    best = trainer.fit()
    assert trainer.step == 4
    model, info = load_model(best)
    assert info.architecture == config.model.type
    assert info.metadata["validation"]["step"] in (2, 4)
    assert np.isfinite(info.metadata["validation"]["psnr"])
    assert info.metadata["training_config"]["model"]["type"] == config.model.type
    for name in ("config.yaml", "metrics.jsonl", "metrics.csv", "plot.png", "checkpoints/last.pt"):
        assert (tmp_path / "run" / name).is_file(), name
    # Every validation leaves its weights; best.safetensors is byte-for-byte the best by PSNR of them.
    snapshots = {int(p.stem.split("-")[1]): p for p in (tmp_path / "run" / "checkpoints").glob("val-*.safetensors")}
    assert sorted(snapshots) == [2, 4]
    scored = {step: load_model(p)[1].metadata["validation"] for step, p in snapshots.items()}
    assert all(scored[step]["step"] == step for step in scored)
    best_step = max(scored, key=lambda step: (scored[step]["psnr"], -step))  # a tie keeps the earlier
    assert snapshots[best_step].read_bytes() == best.read_bytes()


def _final_weights(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["model"]


@pytest.mark.parametrize("name", ["unet", "two-stage"])
def test_stop_and_resume_equals_an_uninterrupted_run(tmp_path, tiny_datasets, name):
    config = shrink(load_config(Path(__file__).parents[1] / "configs" / f"{name}.yaml"), tiny_datasets)
    config.train.steps, config.train.ckpt_every, config.train.val_every = 6, 100, 3

    Trainer(config, tmp_path / "whole", device="cpu").fit()

    def stop_at_4(event):
        if event.kind == "train" and event.step == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Trainer(config, tmp_path / "split", device="cpu", on_event=stop_at_4).fit()
    resumed = Trainer.resume(tmp_path / "split", device="cpu")
    assert resumed.step == 4
    resumed.fit()

    whole, split = _final_weights(tmp_path / "whole"), _final_weights(tmp_path / "split")
    for key in whole:
        assert torch.equal(whole[key], split[key]), key
    steps = [r["step"] for r in resumed.log.records() if r["kind"] == "train"]
    assert steps == sorted(set(steps)) and steps[-1] == 6


def test_folder_pairs_source_trains(tmp_path, tiny_datasets):
    config = shrink(load_config(CONFIGS[0]), tiny_datasets)
    config.data.train = [SourceConfig("folder", str(tiny_datasets["folder"]))]
    config.data.val = SourceConfig("folder", str(tiny_datasets["folder"]))
    config.train.steps = 2
    assert Trainer(config, tmp_path / "run", device="cpu").fit().is_file()


def test_samples_are_a_function_of_seed_and_index(tiny_datasets):
    from llid_cli.training.data import ImageStore, TrainPairs

    sources = [SourceConfig("manifest", str(tiny_datasets["manifest"])), SourceConfig("synthetic", str(tiny_datasets["clean"]))]
    a = TrainPairs(sources, 24, seed=3, store=ImageStore(True))
    b = TrainPairs(sources, 24, seed=3, store=ImageStore(False))
    for index in (0, 7, 123):
        assert all(torch.equal(x, y) for x, y in zip(a[index], b[index]))
    low, ref = a[5]
    assert low.shape == ref.shape == (3, 24, 24)
    assert not torch.equal(a[1][0], a[2][0])


def test_rescaled_patches_can_show_the_whole_scene(tmp_path):
    import cv2

    from llid_cli.io import Image, write_image
    from llid_cli.training.data import ImageStore, TrainPairs

    rng = np.random.default_rng(1)
    ref = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    low = (ref // 4).astype(np.uint8)
    (tmp_path / "s").mkdir()
    write_image(Image(pixels=ref), tmp_path / "s" / "ref.png")
    write_image(Image(pixels=low), tmp_path / "s" / "low.png")
    (tmp_path / "manifest.json").write_text('[{"scene": "s", "ref": "ref.png", "low": [{"file": "low.png"}]}]')
    sources = [SourceConfig("manifest", str(tmp_path))]

    # The smallest allowed scale shrinks the short side to the patch: the patch spans the full height.
    whole = TrainPairs(sources, 32, seed=0, store=ImageStore(True), scale=(0.01, 0.01))
    small_ref = cv2.resize(ref.astype(np.float32) / 255, (48, 32), interpolation=cv2.INTER_AREA)

    def is_window_of(patch, image):
        views = [np.rot90(image, k) for k in range(4)]
        for view in views + [v[:, ::-1] for v in views]:
            for y in range(view.shape[0] - 31):
                for x in range(view.shape[1] - 31):
                    if np.abs(view[y : y + 32, x : x + 32] - patch).max() < 1e-6:
                        return True
        return False

    for index in range(6):
        patch = whole[index][1].numpy().transpose(1, 2, 0)
        assert is_window_of(patch, small_ref)
    # Scales are drawn per sample, deterministically; without `scale` the native pixels are cropped.
    mixed = TrainPairs(sources, 32, seed=0, store=ImageStore(False), scale=(0.25, 1.0))
    assert all(torch.equal(x, y) for x, y in zip(mixed[3], TrainPairs(sources, 32, 0, ImageStore(True), scale=(0.25, 1.0))[3]))
    native = TrainPairs(sources, 32, seed=0, store=ImageStore(True))[0][1].numpy()
    assert set(np.unique(np.rint(native * 255))) <= set(np.unique(ref))


@pytest.mark.parametrize("name,other", [("unet", {"base": 6}), ("clahe-cnn", {"widths": [4, 4, 8]})])
def test_fine_tuning_starts_from_the_given_weights(tmp_path, tiny_datasets, name, other):
    # clahe-cnn's preset has tuples, which its weights file holds as JSON lists: still the same arguments.
    config = shrink(load_config(CONFIGS[0]), tiny_datasets)
    config.model.type = name
    config.train.steps = 2
    first = Trainer(config, tmp_path / "first", device="cpu").fit()
    start, _ = load_model(first)

    config.model.init = str(first)
    tuned = Trainer(config, tmp_path / "tuned", device="cpu")
    for key, value in start.state_dict().items():
        assert torch.equal(tuned.model.state_dict()[key], value), key

    config.model.args = other
    with pytest.raises(ConfigError, match=f"model.init: these are '{name}' weights"):
        Trainer(config, tmp_path / "other", device="cpu")
    config.model.init = str(tmp_path / "missing.safetensors")
    with pytest.raises(ConfigError, match="weights file not found"):
        Trainer(config, tmp_path / "missing", device="cpu")


@pytest.mark.parametrize("raw,message", [
    ({"modle": {}}, "unknown key 'modle'"),
    ({"model": {"type": "unet", "presett": "x"}}, "unknown key 'model.presett'"),
    ({"model": {"type": "nope"}}, "unknown model 'nope'"),
    ({"model": {"type": "clahe"}}, "nothing to train"),
    ({"model": {"type": "resse-night"}}, "a set of 'resse' weights: train model.type: resse"),
    ({"train": {"steps": "many"}}, "'train.steps' must be an integer"),
    ({"loss": [{"type": "l3"}]}, "loss type 'l3'"),
    ({"data": {"train": []}}, "needs at least one source"),
    ({"data": {"train": [{"type": "ftp", "root": "x"}]}}, "'ftp' is not one of"),
    ({"data": {"scale": [0.5, 2.0]}}, r"'data\.scale\[1\]' must be less than or equal to 1, got 2\.0"),
    ({"data": {"scale": [0.9, 0.5]}}, "data.scale must be"),
    ({"data": {"scale": [0.5]}}, r"'data\.scale' must be a list of 2 values"),
    ({"train": {"steps": "12"}}, r"'train\.steps' must be an integer, got '12'"),  # strict: no quietly parsed strings
    ({"train": {"amp": 1}}, r"'train\.amp' must be true or false, got 1"),
    ({"data": {"patch_size": 10**9}}, r"'data\.patch_size' must be less than or equal to 4096"),
    ({"train": {"ema": 1.0}}, r"'train\.ema' must be less than 1"),
    ({"optim": {"type": "sgd"}}, r"'optim\.type': 'sgd' is not one of 'adam' or 'adamw'"),
    ({"data": {"train": [{"type": "manifest", "root": "x", "wieght": 2}]}}, r"unknown key 'data\.train\[0\]\.wieght'.*allowed: .*weight"),
])
def test_bad_configs_name_the_problem(raw, message):
    raw.setdefault("data", {}).setdefault("train", [{"type": "manifest", "root": "somewhere"}])
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_set_overrides_and_yaml_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: {type: unet}\ndata:\n  train: [{type: manifest, root: x}]\n")
    config = load_config(path, ["train.steps=12", "optim.lr=1e-3", "data.train.0.weight=2", "model.args.base=4"])
    assert config.train.steps == 12 and config.optim.lr == 1e-3 and config.data.train[0].weight == 2.0
    assert config.model.args == {"base": 4}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(path, ["train.steps"])
    path.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_missing_dataset_is_a_clear_error(tmp_path, tiny_datasets):
    config = shrink(load_config(CONFIGS[0]), tiny_datasets)
    config.data.train = [SourceConfig("manifest", str(tmp_path / "nowhere"))]
    with pytest.raises(ConfigError, match="no manifest.json"):
        Trainer(config, tmp_path / "run", device="cpu").fit()


def test_perceptual_loss_without_local_backbone_says_how(monkeypatch):
    from llid_cli.training.losses import CompositeLoss

    monkeypatch.delenv("LLID_VGG16_WEIGHTS", raising=False)
    with pytest.raises(ConfigError, match="VGG16 weights on this machine"):
        CompositeLoss([LossConfig("perceptual")])


@pytest.mark.parametrize("terms, message", [
    ([LossConfig("shadow_cast", args={"floor": "x"})], "bad arguments for loss 'shadow_cast': could not convert"),
    ([LossConfig("chroma_blotches", args={"sigma": "wide"})], "bad arguments for loss 'chroma_blotches'"),
    ([LossConfig("chroma_blotches", args={"floor": 3})], "unexpected keyword argument 'floor'"),
])
def test_bad_loss_arguments_are_config_errors(terms, message):
    from llid_cli.training.losses import CompositeLoss

    with pytest.raises(ConfigError, match=message):
        CompositeLoss(terms)


@pytest.mark.parametrize("degradation, message", [
    ({"chroma_noise": [0.5]}, r"chroma_noise needs two values \[low, high\], got \(0\.5,\)"),
    ({"exposure": [0.1, 0.2, 0.3]}, "exposure needs two values"),
    ({"row_noise": 0.001}, "row_noise needs two values"),
    ({"chroma_noise_scale": [0.5, 2]}, "chroma_noise_scale must satisfy 1 <= low <= high"),
])
def test_bad_degradation_ranges_are_config_errors(tmp_path, tiny_datasets, degradation, message):
    """A synthetic source's ranges are (low, high): one number, or three, is refused by name."""
    config = shrink(load_config(CONFIGS[0]), tiny_datasets)
    config.data.train = [SourceConfig("synthetic", str(tiny_datasets["clean"]), degradation=degradation)]
    with pytest.raises(ConfigError, match=message):
        Trainer(config, tmp_path / "run", device="cpu").fit()


def test_losses_are_zero_for_identical_images_and_positive_otherwise():
    from llid_cli.training.losses import LOSSES

    x = torch.rand(2, 3, 32, 32)
    y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    for name in ("l1", "charbonnier", "mse", "ssim"):
        loss = LOSSES[name]()
        assert float(loss(x, x)) <= 1.01e-3, name  # Charbonnier of equal images is its eps
        assert float(loss(x, y)) > float(loss(x, x)), name


def test_shadow_cast_scores_a_painted_shadow_not_a_gain():
    """`shadow_cast`: 0 for a gain in linear light, whatever it brightens; the a*b* distance at
    L* 50 between the shadows' mean colours for an output that tints them (checked against the
    same measure in numpy), with a gradient towards the input's balance."""
    from llid_cli.rendering.tone import LINEAR_LUMA, linear_to_srgb, srgb_to_linear
    from llid_cli.training.losses import LOSSES

    rng = np.random.default_rng(3)
    dark = (rng.random((40, 48, 3)) ** 2 * 0.3).astype(np.float32)  # sRGB in [0, 0.3]
    linear = srgb_to_linear(dark)
    gain = linear_to_srgb(np.clip(linear * 6.0, 0, 1))
    tinted = linear * 6.0 + np.where((linear @ LINEAR_LUMA)[..., None] < np.quantile(linear @ LINEAR_LUMA, 0.3),
                                     np.float32([0.004, 0.004, 0.0]), 0)  # olive in the shadows
    tinted = linear_to_srgb(np.clip(tinted, 0, 1))
    as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None].float()
    loss = LOSSES["shadow_cast"]()
    assert float(loss(as_tensor(gain), None, as_tensor(dark))) < 0.05

    def ab(rgb):  # CIELAB a*b* (D65) at L* 50, numpy
        rgb = rgb * 0.18419 / float(rgb @ LINEAR_LUMA)
        xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ rgb
        f = np.cbrt(xyz / np.array([0.95047, 1.0, 1.08883]))
        return np.array([500 * (f[0] - f[1]), 200 * (f[1] - f[2])])

    luminance = (linear @ LINEAR_LUMA).ravel()
    made = srgb_to_linear(tinted).reshape(-1, 3)
    expected = np.mean([np.linalg.norm(ab(linear.reshape(-1, 3)[m].mean(0)) - ab(made[m].mean(0)))
                        for m in (luminance <= np.quantile(luminance, q) for q in (0.1, 0.25))])
    output = as_tensor(tinted).requires_grad_()
    value = loss(output, None, as_tensor(dark))
    assert expected > 5 and float(value) == pytest.approx(expected, rel=1e-3)
    value.backward()
    darkest = torch.from_numpy(luminance.reshape(40, 48) <= np.quantile(luminance, 0.25))
    assert float(output.grad[0, 2][darkest].mean()) < 0  # less olive: the loss falls as the shadows' blue rises
    assert float(output.grad[0][:, ~darkest].abs().sum()) == 0  # only the shadows are held


def test_synthetic_degradation_darkens_and_adds_noise():
    from llid_cli.training.synthetic import LowLightSettings, degrade

    clean = np.full((64, 64, 3), 0.6, np.float32)
    dark = degrade(clean, np.random.default_rng(0), LowLightSettings(jpeg_probability=0.0))
    assert dark.shape == clean.shape and dark.dtype == np.float32
    assert dark.mean() < 0.4 and dark.std() > 0.003


def test_shadow_cast_with_a_floor_counts_only_pixels_that_hold_a_colour():
    """With `floor: 3`, input pixels under 3 levels in any channel (black, (1, 1, 0): rounding,
    not a hue) do not count: greying them costs nothing, while a tint painted on the dim pixels
    that hold a colour still scores; without the floor the black pixels dominate."""
    from llid_cli.rendering.tone import linear_to_srgb, srgb_to_linear
    from llid_cli.training.losses import LOSSES

    rng = np.random.default_rng(5)
    low = np.zeros((32, 40, 3), np.float32)
    low[:, :20] = np.float32([1, 1, 0]) / 255  # black, rounded to "yellow"
    low[:, 20:] = (np.float32([6, 9, 14]) + rng.integers(0, 3, (32, 20, 3))) / 255  # a dim blue wall
    linear = srgb_to_linear(low) * 8.0
    grey_black = linear.copy()
    grey_black[:, :20] = 0.01  # black brightened to grey
    tinted_wall = grey_black.copy()
    tinted_wall[:, 20:] *= np.float32([1.3, 1.0, 0.7])  # the wall turned olive
    as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(linear_to_srgb(np.clip(a, 0, 1)).transpose(2, 0, 1)))[None]
    measurable = LOSSES["shadow_cast"](floor=3)
    everything = LOSSES["shadow_cast"]()
    given = torch.from_numpy(np.ascontiguousarray(low.transpose(2, 0, 1)))[None]
    assert float(measurable(as_tensor(grey_black), None, given)) < 0.5
    assert float(measurable(as_tensor(tinted_wall), None, given)) > 5
    assert float(everything(as_tensor(grey_black), None, given)) > 20  # the black's "yellow" lost


def test_chroma_blotches_sees_wide_colour_errors_not_grain():
    """`chroma_blotches`: a colour blotch 16 pixels wide scores several times what the same
    per-pixel amount of grain does (grain averages out under the Gaussian), a grey brightened
    stays grey and scores nothing, and the gradient points back to the reference's colour."""
    from llid_cli.training.losses import LOSSES

    loss = LOSSES["chroma_blotches"](sigma=4.0)
    torch.manual_seed(0)
    target = torch.rand(1, 3, 64, 64) * 0.5 + 0.2
    blotch = torch.zeros(1, 3, 64, 64)
    blotch[:, 0, 16:48, 16:48] = 0.05  # a red patch, 32 pixels wide
    grain = torch.randn(1, 3, 64, 64) * float(blotch.square().mean().sqrt())  # the same energy, per pixel
    grey = torch.linspace(0.1, 0.6, 64)[None, None, None].expand(1, 3, 64, 64)
    assert float(loss(grey * 1.3, grey)) < 2e-3
    assert float(loss(target + blotch, target)) > 3 * float(loss(target + grain, target))
    output = (target + blotch).requires_grad_()
    loss(output, target).backward()
    assert float(output.grad[0, 0, 28:36, 28:36].mean()) > 0  # less red inside the blotch
    assert float(output.grad[0, 1, 28:36, 28:36].mean()) < 0


def test_phone_noise_is_colour_blotches_and_row_bands():
    """The degradation's phone noise: colour-only noise correlated over several pixels (a
    blotch has neighbours of its colour), per-row offsets, and neither drawn unless configured
    (a config without them keeps its exact samples)."""
    from llid_cli.training.synthetic import LowLightSettings, degrade

    clean = np.full((96, 96, 3), 0.6, np.float32)
    plain = LowLightSettings(exposure=(0.2, 0.2), read_noise=(0.0, 0.0), jpeg_probability=0.0,
                             photons_at_white=(1e7, 1e7))
    blotchy = LowLightSettings(exposure=(0.2, 0.2), read_noise=(0.0, 0.0), jpeg_probability=0.0,
                               photons_at_white=(300.0, 300.0), chroma_noise=(3.0, 3.0), chroma_noise_scale=(8.0, 8.0))
    banded = LowLightSettings(exposure=(0.2, 0.2), read_noise=(0.0, 0.0), jpeg_probability=0.0,
                              photons_at_white=(1e7, 1e7), row_noise=(0.01, 0.01))
    assert np.array_equal(degrade(clean, np.random.default_rng(4), plain),
                          degrade(clean, np.random.default_rng(4), LowLightSettings(**{**plain.__dict__, "chroma_noise": (0.0, 0.0)})))
    red_green = degrade(clean, np.random.default_rng(4), blotchy) @ np.float32([1, -1, 0])
    red_green -= red_green.mean()
    neighbour = np.corrcoef(red_green[:, :-4].ravel(), red_green[:, 4:].ravel())[0, 1]
    assert neighbour > 0.5  # 4 pixels apart, still the same blotch
    bands = degrade(clean, np.random.default_rng(4), banded).mean(axis=2)
    assert bands.std(axis=0).mean() > 5 * bands.std(axis=1).mean()  # rows differ, a row is even
    with pytest.raises(ValueError):
        LowLightSettings(chroma_noise_scale=(0.5, 2.0))


def test_train_cli_end_to_end_then_enhance_with_its_weights(tmp_path, tiny_datasets):
    raw = yaml.safe_load(CONFIGS[-1].read_text())
    config_path = tmp_path / "c.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    runner = CliRunner()
    result = runner.invoke(cli, [
        "train", "--config", str(config_path), "--run-dir", str(tmp_path / "run"), "--quiet",
        "--set", "model.preset=tiny", "--set", "model.args={}",
        "--set", f"data.train=[{{type: manifest, root: {tiny_datasets['manifest']}}}]",
        "--set", f"data.val={{type: manifest, root: {tiny_datasets['manifest']}}}",
        "--set", "data.patch_size=24", "--set", "data.batch_size=2", "--set", "data.workers=0",
        "--set", "train.steps=3", "--set", "train.val_every=3",
    ])
    assert result.exit_code == 0, result.output
    assert "best validation" in result.output
    weights = tmp_path / "run" / "best.safetensors"
    photo = tiny_datasets["manifest"] / "scene0" / "low_0.png"
    result = runner.invoke(cli, ["enhance", str(photo), "-o", str(tmp_path / "out.png"), "--weights", str(weights)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["train", "--config", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 1 and "config file not found" in result.output


def test_ema_warms_up_so_early_weights_fade():
    from llid_cli.training.ema import EMA

    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.zero_()
    ema = EMA(model, 0.999)
    with torch.no_grad():
        model.weight.fill_(1.0)
    for _ in range(300):
        ema.update(model)
    # A fixed 0.999 would still be at 1 - 0.999**300 = 0.26 of the way; the warm-up is nearly there.
    assert float(ema.model.weight.mean()) > 0.95
    assert ema.current_decay() < 0.999


def test_killed_data_workers_stop_the_run_with_a_checkpoint(tmp_path, tiny_datasets, monkeypatch):
    """`kill` of the process group ends the workers first; the run must still checkpoint."""
    config = shrink(load_config(CONFIGS[0]), tiny_datasets)
    config.train.steps, config.train.ckpt_every = 6, 100
    trainer = Trainer(config, tmp_path / "run", device="cpu")
    real_step = trainer._train_step

    def step(low, ref):
        if trainer.step == 3:
            raise RuntimeError("DataLoader worker (pid 1234) is killed by signal: Terminated.")
        return real_step(low, ref)

    monkeypatch.setattr(trainer, "_train_step", step)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    assert Trainer.resume(tmp_path / "run", device="cpu").step == 3


def test_bad_model_args_name_the_config_and_leave_nothing(tmp_path):
    config_path = tmp_path / "c.yaml"
    config_path.write_text("model: {type: unet, preset: tiny}\ndata:\n  train: [{type: manifest, root: x}]\n")
    before = config_path.read_bytes()
    result = CliRunner().invoke(cli, ["train", "--config", str(config_path), "--run-dir", str(tmp_path / "run"),
                                      "--set", "model.args.context=maybe"])
    assert result.exit_code == 1
    assert f"{config_path}: model.args: 'unet' argument 'context' must be true or false, got 'maybe'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists() and config_path.read_bytes() == before


def test_lynx_fast_configs_train_and_validate_as_the_shipped_variant_runs(tmp_path, tiny_datasets):
    """lynx-fast ships without the noise filter: its configs say so, so validations score what users
    get. A fine-tune may start from weights saved with other rendering choices (the shipped
    lynx-fast weights record none), but not from weights of another shape."""
    shipped = Path(__file__).parents[1] / "weights" / "lynx-fast.safetensors"
    for name in ("lynx-fast", "lynx-fast-exposure"):
        assert load_config(CONFIGS[0].with_name(f"{name}.yaml")).model.args == {"denoise": None}
    config = shrink(load_config(CONFIGS[0].with_name("lynx-fast-exposure.yaml")), tiny_datasets)
    config.model.preset, config.model.args, config.model.init = "fast", {"denoise": None}, str(shipped)
    tuned = Trainer(config, tmp_path / "tuned", device="cpu")
    assert tuned.model.denoise is None
    start, _ = load_model(shipped)
    for key, value in start.state_dict().items():
        assert torch.equal(tuned.model.state_dict()[key], value), key
    config.model.args = {"denoise": None, "highlights": None, "width": 8}
    with pytest.raises(ConfigError, match="model.init: these are 'lynx' weights"):
        Trainer(config, tmp_path / "other", device="cpu")
