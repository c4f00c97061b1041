"""The one orchestrator: read -> enhance -> write, for one photo or a whole folder.

The CLI builds an `EnhanceOptions` and a `WriteOptions`, and renders what this module yields; it
never touches pixels itself. Models are resolved once per `Pipeline`, not once per photo.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from llid_cli.classical import ClaheSettings, enhance_clahe
from llid_cli.core.errors import LlidError
from llid_cli.core.settings import setting
from llid_cli.engine.plan import GRAPHS_UP_TO_MEGAPIXELS
from llid_cli.engine.runner import EngineOptions
from llid_cli.io import (
    Image,
    WriteOptions,
    header_megapixels,
    is_readable_name,
    read_image,
    write_image,
)
from llid_cli.io.formats import FORMAT_EXTENSIONS, default_extension
from llid_cli.io.image import LUMA_WEIGHTS, from_float, to_float
from llid_cli.io.write import resolved, same_file
from llid_cli.models.controls import NAMES, REFUSAL, Controls
from llid_cli.rendering.colour import (
    apply_black_colour,
    apply_saturation,
    apply_white_balance,
    parse_white_balance,
)
from llid_cli.rendering.night import darker, night_look, sample
from llid_cli.rendering.tone import blend_pixels, exposure_of, shift_pixels
from llid_cli.rendering.whites import keep_whites

PixelFn = Callable[[np.ndarray], np.ndarray]  # HxWx3 in the photo's own dtype -> the same
# (pixels, EV shift of the automatic exposure) -> enhanced pixels in the same dtype
Enhancer = Callable[[np.ndarray, float], np.ndarray]

DEFAULT_MODEL = "lynx"  # the best on sice/val and held-out scenes, and among the fastest: docs/models.md


@dataclass(frozen=True)
class EnhanceOptions:
    """What a photo is rendered with: the model, the controls of every call (`Controls`: exposure,
    denoise, ...) and the steps around it. Each field is declared once (`llid_cli.core.settings`):
    the CLI's options and the batch record come from these declarations."""

    # None: the architecture named by --weights, else DEFAULT_MODEL.
    model: str | None = setting(None, short="-m", metavar="NAME", recorded=True, help=(
        "Zoo model (see `llid models list`) [default: the one --weights names, else the recommended model]."))
    weights: str | None = setting(None, kind="path", recorded=True, label="weights", help=(
        "A safetensors weights file to use instead of the model's shipped weights."))
    controls: Controls = setting(factory=Controls, kind="group", flat=True, recorded=True)
    # 0: the input unchanged, 1: the full enhancement, mixed in linear light.
    strength: float = setting(1.0, bounds=(0.0, 1.0), recorded=True, help=(
        "How much of the enhancement to apply, mixed in linear light (0: the input unchanged)."))
    # A photo of a dim scene is brightened less (llid_cli.rendering.night): auto, on or off.
    night_look: str = setting("auto", kind="night_look", flag="--night-look/--no-night-look", label="--night-look",
                              recorded=True, show_default=False, help=(
        "Brighten a photo of a dim scene up to 1.5 stops less, so that night still looks like night "
        "[default: judged from the exposure settings its camera recorded]; --night-look: also a photo "
        "without them (a PNG, an edited file, a frame), judged from the picture; --no-night-look: never."))
    # model, keep, auto or a colour temperature in kelvin (llid_cli.rendering.colour).
    white_balance: str = setting("model", kind="white_balance", recorded=True, metavar="MODE|KELVIN", help=(
        "White balance of the output: model (as the model renders it), keep (the input's own, as "
        "the camera recorded it), auto (grey world) or the scene light's colour temperature in "
        "kelvin (3200: tungsten), corrected to daylight."))
    # "clahe": the classical step before the model.
    pre: str | None = setting(None, kind="choice", choices=("none", "clahe"), typed="none", recorded=True,
                              help="Classical step applied before the model.")
    engine: EngineOptions = setting(factory=EngineOptions, kind="group")
    clahe: ClaheSettings = setting(factory=ClaheSettings, kind="group", recorded=True, label="CLAHE settings")


def _classical(settings: ClaheSettings) -> PixelFn:
    return lambda pixels: enhance_clahe(pixels, settings)


# The controls this layer renders after a model that cannot: an exposure shift, saturation and
# black colour, in linear light.
RENDERED_AFTER = frozenset({"exposure", "saturation", "black_colour"})

# One step of the rendering: (the photo's pixels, the rendering so far, this call's controls) -> the rendering.
Step = Callable[[np.ndarray, np.ndarray, Controls], np.ndarray]


def build_enhancer(options: EnhanceOptions, workload_megapixels: float | None = None,
                   progress: Callable[[int, int], None] | None = None) -> Enhancer:
    """(the photo's pixels (HxWx3, own dtype), EV) -> enhanced pixels, for the chosen model and
    pre-step; EV is the photo's shift of the automatic exposure (`options.controls.exposure`, plus the night
    look's where the pipeline applies it). The steps, in order: the model (after its pre-step),
    the exposure shift where the model cannot render it, white balance, saturation, black colour,
    whites, strength."""
    from llid_cli.engine.runner import build_model_runner

    model = resolve_model_name(options)
    if not 0.0 <= options.strength <= 1.0:
        raise LlidError(f"strength must be between 0 and 1, got {options.strength}")
    try:
        parse_white_balance(options.white_balance)
    except ValueError as exc:
        raise LlidError(f"--white-balance: {exc}") from None
    pre: PixelFn | None = None
    if options.pre == "clahe":
        pre = _classical(options.clahe)
    elif options.pre not in (None, "none"):
        raise LlidError(f"unknown pre-processing step '{options.pre}' (choose clahe or none)")
    controls = options.controls
    if model == "clahe":
        if options.weights:
            raise LlidError("the classical 'clahe' model takes no weights")
        for name in set(controls.needed()) - RENDERED_AFTER:
            raise LlidError(f"the classical 'clahe' path {REFUSAL[name]}")
        classical = _classical(options.clahe)
        renders: frozenset[str] = frozenset()

        def run_model(pixels: np.ndarray, _: Controls) -> np.ndarray:
            return classical(pixels)
    else:
        # Opened able to render what the job asks (less what this layer renders after it).
        asks = controls.only(set(NAMES) - RENDERED_AFTER)
        run_model = build_model_runner(model, options.weights, options.engine, asks, workload_megapixels, progress)
        renders = run_model.descriptor.controls

    def model_step(pixels: np.ndarray, _: np.ndarray, call: Controls) -> np.ndarray:
        own = call.only(renders | (set(NAMES) - RENDERED_AFTER))  # what it renders, or must refuse
        return run_model(pre(pixels) if pre is not None else pixels, own)

    def exposure_step(_: np.ndarray, out: np.ndarray, call: Controls) -> np.ndarray:
        return shift_pixels(out, call.exposure) if call.exposure else out

    def white_balance_step(pixels: np.ndarray, out: np.ndarray, _: Controls) -> np.ndarray:
        return apply_white_balance(pixels, out, options.white_balance)

    def saturation_step(_: np.ndarray, out: np.ndarray, call: Controls) -> np.ndarray:
        return apply_saturation(out, float(call.value("saturation")))

    def black_colour_step(pixels: np.ndarray, out: np.ndarray, call: Controls) -> np.ndarray:
        return apply_black_colour(pixels, out, float(call.value("black_colour")))

    def whites_step(pixels: np.ndarray, out: np.ndarray, _: Controls) -> np.ndarray:
        # Whites stay white, unless the user asked for a darker photo.
        return keep_whites(pixels, out, min(options.controls.exposure, 0.0))

    def strength_step(pixels: np.ndarray, out: np.ndarray, _: Controls) -> np.ndarray:
        return blend_pixels(pixels, out, options.strength)

    steps: list[Step] = [model_step]
    if "exposure" not in renders:  # the one place an exposure shift is rendered after a model
        steps.append(exposure_step)
    if options.white_balance != "model":
        steps.append(white_balance_step)
    steps.append(saturation_step)  # 1 (as rendered) costs nothing
    steps.append(black_colour_step)  # the same
    if model != "clahe":
        steps.append(whites_step)
    steps.append(strength_step)

    def enhance(pixels: np.ndarray, ev: float = options.controls.exposure) -> np.ndarray:
        if options.strength == 0:
            return pixels.copy()
        call, out = replace(controls, exposure=ev), pixels
        for step in steps:
            out = step(pixels, out, call)
        return out

    return enhance


def resolve_model_name(options: EnhanceOptions) -> str:
    if options.model:
        return options.model
    if options.weights:
        from llid_cli.models.weights import read_info

        return read_info(options.weights).architecture  # the header alone: the tensors are checked on loading
    return DEFAULT_MODEL


@dataclass
class FileResult:
    source: Path
    target: Path | None
    status: str  # "done", "skipped" or "failed"
    error: str | None = None
    megapixels: float = 0.0
    seconds: float = 0.0
    night_ev: float = 0.0  # the night look's shift of the automatic exposure (0: not applied)
    # The exposure (log2 of the mean linear luminance, llid_cli.rendering.tone) of the input and of the
    # output: what the model chose for this photo, as `--exposure` shifts it. None: not enhanced.
    exposure: tuple[float, float] | None = None

    def as_dict(self) -> dict:
        return {
            "input": str(self.source), "output": None if self.target is None else str(self.target),
            "status": self.status, "error": self.error,
            "megapixels": round(self.megapixels, 3), "seconds": round(self.seconds, 3),
            "night_look_ev": round(self.night_ev, 2),
            "exposure_ev": None if self.exposure is None else {"input": round(self.exposure[0], 2),
                                                               "output": round(self.exposure[1], 2)},
        }


def workload_megapixels(options: EnhanceOptions, sources: Iterable[str | Path]) -> float | None:
    """How many megapixels `sources` hold (from their headers), so that `--backend auto` can skip
    PyTorch's start-up for a small job (`GRAPHS_UP_TO_MEGAPIXELS`); None where it does not matter.
    Callers size a job once, before making its pipelines: Ray's workers then choose the runtime
    the local batch would, and write the same bytes.
    Headers are read only for `auto`, and only until the sum passes that bound; a file whose
    header says nothing (a RAW, a bad file) counts as 0."""
    if options.engine.backend != "auto":
        return None
    total = 0.0
    for source in sources:
        total += header_megapixels(source) or 0.0
        if total > GRAPHS_UP_TO_MEGAPIXELS:
            break
    return total


class Pipeline:
    def __init__(self, options: EnhanceOptions = EnhanceOptions(), write: WriteOptions = WriteOptions(),
                 max_pixels: int | None = None, workload_megapixels: float | None = None,
                 progress: Callable[[int, int], None] | None = None):
        """`workload_megapixels`: what this job will enhance, where known (`workload_megapixels`);
        `progress`: called as (tiles done, tiles planned) while a tiled photo is enhanced."""
        self.options = options
        self.write = write
        self.max_pixels = max_pixels
        self.model_name = resolve_model_name(options)
        # Resolved once: with only --weights, naming the model means reading the file.
        self._enhance = build_enhancer(replace(options, model=self.model_name), workload_megapixels, progress)

    def enhance_pixels(self, pixels: np.ndarray, ev: float | None = None) -> np.ndarray:
        """A frame's pixels (HxWx3, own dtype) rendered at `ev`, its shift of the automatic
        exposure (default: `--exposure`'s); no night look (a video decides exposure over time)."""
        return self._enhance(pixels, self.options.controls.exposure if ev is None else ev)

    def enhance_image(self, image: Image) -> Image:
        return self._enhanced(image)[0]

    def _enhanced(self, image: Image) -> tuple[Image, float]:
        """The enhanced photo, and the EV by which the night look lowered its exposure (0: none)."""
        pixels = image.pixels
        if image.is_gray:
            pixels = np.repeat(pixels[:, :, None], 3, axis=2)
        night = night_look(image, self.options.night_look) if self.options.strength else 0.0
        out = self._enhance(pixels, self.options.controls.exposure + night)
        if night and darker(out, pixels):
            # The night look only holds back brightening: an output it took below the input's
            # own light is made again without it (the model brightened this photo too little).
            out, night = self._enhance(pixels, self.options.controls.exposure), 0.0
        if image.is_gray:
            out = from_float(to_float(out) @ LUMA_WEIGHTS, image.pixels.dtype)
        return replace(image, pixels=out), night

    def enhance_file(self, source: str | Path, target: str | Path) -> FileResult:
        """Enhance one file; raises `LlidError` on failure."""
        start = time.perf_counter()
        image = read_image(source, self.max_pixels)
        enhanced, night = self._enhanced(image)
        out = write_image(enhanced, target, self.write)
        exposure = (exposure_of(sample(image.pixels)), exposure_of(sample(enhanced.pixels)))
        return FileResult(Path(source), out, "done", megapixels=image.megapixels,
                          seconds=time.perf_counter() - start, night_ev=night, exposure=exposure)

    def run_one(self, source: Path, target: Path, skip_existing: bool) -> FileResult:
        """One (source, target) of a batch: never raises for the file's own problems, which come
        back as a failed result (a bug met on one file is that file's failure, never the batch's:
        a resume would stop at the same file every time)."""
        if skip_existing and target.exists():
            return FileResult(source, target, "skipped")
        try:
            # Libraries' warnings about a file (Pillow's "Corrupt EXIF data") would interleave with
            # the progress bar; the file is enhanced, or its failure says why in its own line.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return self.enhance_file(source, target)
        except LlidError as exc:
            # The reason alone when it is about the input; with its path when about another file.
            same = exc.path is None or Path(exc.path) == Path(source)
            return FileResult(source, None, "failed", error=exc.reason if same else str(exc))
        except MemoryError:
            return FileResult(source, None, "failed", error="out of memory")
        except Exception as exc:  # noqa: BLE001 - see the docstring
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return FileResult(source, None, "failed", error=f"unexpected {type(exc).__name__}: {first}".rstrip(": "))

    def run_many(self, jobs: Iterable[tuple[Path, Path]], skip_existing: bool) -> Iterator[FileResult]:
        """Enhance each (source, target) in this process; a failure is reported and the next file goes on."""
        for source, target in jobs:
            yield self.run_one(source, target, skip_existing)


def output_name(source: Path, suffix: str, fmt: str | None) -> str:
    extension = FORMAT_EXTENSIONS[fmt] if fmt else default_extension(source)
    return f"{source.stem}{suffix}{extension}"


def discover(folder: Path, recursive: bool, skip: Path | None = None) -> list[Path]:
    """Files under `folder` with an image extension, sorted; hidden ones (and llid's temp files) left out.

    Entries with an image name that are not regular files (a broken link, a folder named x.jpg, a
    pipe) are listed too, so that reading them reports why rather than skipping them silently.
    `skip`: a folder inside `folder` to leave out (the batch's own output folder).
    """
    pattern = folder.rglob("*") if recursive else folder.glob("*")
    skip = skip.resolve() if skip is not None else None
    found = []
    for p in pattern:
        relative = p.relative_to(folder)
        if not is_readable_name(p) or any(part.startswith(".") for part in relative.parts):
            continue
        if skip is not None and _inside(p, skip):
            continue
        found.append(p)
    return sorted(found)


def _inside(path: Path, folder: Path) -> bool:
    """Whether `path` resolves to `folder` or into it; an entry that cannot be resolved (a link
    that points at itself) is not, and is listed so that reading it reports why."""
    target = resolved(path)
    return target is not None and (target == folder or folder in target.parents)


def plan_batch(folder: Path, out_dir: Path, recursive: bool, suffix: str, fmt: str | None,
               allow_inplace: bool = False, include: tuple[str, ...] = (),
               exclude: tuple[str, ...] = ()) -> list[tuple[Path, Path]]:
    """(source, target) pairs keeping the relative layout; a target equal to its source only if
    allowed. `include`/`exclude`: glob patterns matched against each file's path relative to
    `folder` (and its name): only files matching some `include` (all without), none matching an
    `exclude`. Files that are outputs of other files of this plan are left out."""
    jobs = []
    inside = out_dir.resolve() != folder.resolve()  # an output folder within the input is not input
    for source in discover(folder, recursive, skip=out_dir if inside else None):
        relative = source.relative_to(folder)
        if not _chosen(relative, include, exclude):
            continue
        target = out_dir / relative.parent / output_name(source, suffix, fmt)
        if not allow_inplace and same_file(source, target):
            raise LlidError(
                f"output {target} would overwrite its input: choose another output folder, a --suffix, or --overwrite"
            )
        jobs.append((source, target))
    return refuse_collisions(without_own_outputs(jobs))


def _chosen(relative: Path, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    from fnmatch import fnmatchcase

    def matches(pattern: str) -> bool:
        return fnmatchcase(relative.as_posix(), pattern) or fnmatchcase(relative.name, pattern)

    return (not include or any(map(matches, include))) and not any(map(matches, exclude))


def without_own_outputs(jobs: list[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
    """`jobs` less those whose source is the target of another job under a name the naming
    added to (a suffix): an output written beside its input by an earlier run (`a_e.jpg` of
    `a.jpg`, with `--suffix _e`) is not a photo to enhance again into `a_e_e.jpg`. Without a
    suffix nothing tells an output from a photo (`a.png` beside `a.jpg` with `--format png`):
    such a pair stays, and `refuse_collisions` refuses it."""
    targets = {_key(target) for source, target in jobs if source.stem != target.stem}
    return [(source, target) for source, target in jobs if _key(source) not in targets]


def _key(path: Path) -> Path:
    return Path(os.path.normcase(os.path.abspath(path)))


def refuse_collisions(jobs: list[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
    """Refuse, before any work, two inputs that would be written to one output (x.jpg and x.png
    with --format png, or p/x.jpg and q/x.jpg into one folder): the second would replace the first."""
    seen: dict[Path, Path] = {}
    for source, target in jobs:
        key = _key(target)
        if key in seen:
            raise LlidError(f"{seen[key]} and {source} would both be written to {target}; "
                            "use --suffix, another output folder, or enhance them separately")
        seen[key] = source
    return jobs
