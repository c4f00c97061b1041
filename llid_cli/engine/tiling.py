"""Seam-free tiling.

Tiles overlap by at least `overlap` pixels and are spread evenly (no sliver at the border); their
origins are aligned to the network's input multiple, so every tile sees the same pooling grid as
the whole photo. Overlaps are blended with raised-cosine ramps that add up to exactly one, so an
identity network reproduces its input exactly.

The photo is processed in bands (one row of tiles at a time) and only a band-sized float buffer
is kept: peak host memory is the input, the output and one band, not float copies of the photo.
If the backend runs out of memory, the current band's partial results are thrown away, the tile
is halved and the rest of the photo is re-planned from that band on; finished rows stay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from llid_cli.core.errors import LlidError
from llid_cli.io.image import from_float, to_float

MIN_TILE = 64


class TileOutOfMemory(LlidError):
    """Raised by a backend when a batch of tiles does not fit; the tiler then halves the tile.

    An `LlidError`, so that one that escapes (a context pass that does not fit) is that photo's
    one-line failure, never a traceback that stops a batch."""

    def __init__(self, reason: str = "out of memory"):
        super().__init__(reason)


def positions(length: int, tile: int, overlap: int, multiple: int) -> list[tuple[int, int]]:
    """(start, end) of tiles covering [0, length): as few as tiles of at most `tile` allow, each no
    longer than that count needs, starts aligned to `multiple` and evenly spread.

    Tiles are shortened to share the length evenly: two full 1040-pixel rows over a 1080-pixel
    photo would cover it nearly twice (the run then takes twice the time); two 560-pixel rows
    cover it once plus the overlap.
    """
    if length <= tile:
        return [(0, length)]
    room = overlap + multiple - 1  # the overlap, plus what aligning a start may take from it
    count = 1 + math.ceil((length - tile) / max(tile - room, 1))
    # count * span >= length + (count - 1) * room: neighbours overlap by at least `overlap`.
    span = min(tile, math.ceil((length + (count - 1) * room) / count))
    # Every tile but the last a multiple long too: the network then pads none of them (a pad is a
    # copy of the tile, and it leaves the CPU's channels-last layout). To the nearer multiple, if
    # the overlaps allow shortening them; else to the next one up, within `tile`.
    down, up = span - span % multiple, min(tile - tile % multiple, span + (-span) % multiple)
    if down >= multiple and 2 * (span - down) < multiple:
        aligned = _spread(length, down, count, multiple)
        if all(s1 <= e0 - overlap for (_, e0), (s1, _) in zip(aligned, aligned[1:])):
            return aligned
    return _spread(length, up, count, multiple)


def _spread(length: int, span: int, count: int, multiple: int) -> list[tuple[int, int]]:
    """`count` tiles `span` long (the last one to the end), starts aligned and evenly spread."""
    starts = [int(i * (length - span) / (count - 1)) for i in range(count)]
    starts = [s - s % multiple for s in starts]
    return [(s, s + span) for s in starts[:-1]] + [(starts[-1], length)]


def ramp(length: int) -> np.ndarray:
    """Rising weights over an overlap of `length` pixels; 1 - ramp is the falling side."""
    t = (np.arange(length, dtype=np.float32) + 0.5) / length
    return 0.5 - 0.5 * np.cos(np.pi * t)


def ramps(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(start, length) of the blending ramp in each overlap between neighbouring tiles.

    A ramp sits in the middle of its overlap (away from the tiles' own borders) and is never
    longer than the spacing of the tiles, so a tile's rising and falling ramps never meet.
    """
    if len(spans) < 2:
        return []
    spacing = min(b[0] - a[0] for a, b in zip(spans, spans[1:]))
    out = []
    for (_, end), (start, _) in zip(spans, spans[1:]):
        overlap = end - start
        length = max(1, min(overlap, spacing))
        out.append((start + (overlap - length) // 2, length))
    return out


def weights_1d(spans: list[tuple[int, int]], index: int, lead_in: tuple[int, int] | None = None) -> np.ndarray:
    """One tile's blending weights along one axis.

    `lead_in` is the (absolute start, length) of a rising ramp inherited from an earlier plan.
    """
    start, end = spans[index]
    w = np.ones(end - start, np.float32)
    boundaries = ramps(spans)
    rise = boundaries[index - 1] if index > 0 else lead_in
    if rise is not None:
        offset, length = rise[0] - start, rise[1]
        w[:offset] = 0.0
        w[offset : offset + length] *= ramp(length)
    if index < len(boundaries):
        offset, length = boundaries[index][0] - start, boundaries[index][1]
        w[offset : offset + length] *= 1.0 - ramp(length)
        w[offset + length :] = 0.0
    return w


@dataclass
class TileStats:
    tiles: int = 0
    oom_retries: int = 0
    final_tile: int = 0


class Tiler:
    """Runs `run_batch` ((B, h, w, 3) float32 -> same) over a photo tile by tile."""

    def __init__(self, run_batch: Callable[[np.ndarray], np.ndarray], tile: int, overlap: int, multiple: int,
                 batch_size: int = 1):
        if tile < MIN_TILE:
            raise LlidError(f"tile size {tile} is below the minimum of {MIN_TILE}")
        self.run_batch = run_batch
        self.multiple = max(1, multiple)
        self.tile = _align(tile, self.multiple)
        self.overlap = overlap
        self.batch_size = max(1, batch_size)
        self.stats = TileStats()
        self._run = run_batch
        # Called as (tiles done, tiles planned) after each batch of tiles, for a progress display.
        self.on_progress: Callable[[int, int], None] | None = None

    def _overlap(self, tile: int) -> int:
        # At most a quarter of the tile, so only neighbouring tiles ever overlap.
        return max(0, min(self.overlap, tile // 4))

    def __call__(self, pixels: np.ndarray, run_batch: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        """`run_batch`: this photo's instead of the tiler's own (a runtime with this call's controls)."""
        self._run = run_batch or self.run_batch
        height, width = pixels.shape[:2]
        out = np.empty_like(pixels)
        tile = self.tile
        # Resume state: the top of the next band, the rising ramp it inherits from the band above
        # (absolute start, length), and that band's weighted contribution below `top`; rows
        # above `top` are final in `out`.
        top, lead_in, carry = 0, None, None
        self._done = 0
        buffer = None  # one band's floats, reused by every band: fresh pages cost a fault each
        while top < height:
            rows = [(a + top, b + top) for a, b in positions(height - top, tile, self._overlap(tile), self.multiple)]
            cols = positions(width, tile, self._overlap(tile), self.multiple)
            row_ramps = ramps(rows)
            self._planned = self._done + len(rows) * len(cols)  # re-planned after an out-of-memory
            try:
                for r, (band_top, band_bottom) in enumerate(rows):
                    wy = weights_1d(rows, r, lead_in if r == 0 else None)
                    if buffer is None or buffer.shape[0] < band_bottom - band_top:
                        buffer = np.empty((band_bottom - band_top, width, 3), np.float32)
                    band = buffer[: band_bottom - band_top]
                    band.fill(0.0)
                    if carry is not None:
                        band[: carry.shape[0]] += carry
                    self._fill_band(pixels, band, band_top, band_bottom, cols, wy)  # may raise TileOutOfMemory
                    next_top = rows[r + 1][0] if r + 1 < len(rows) else band_bottom
                    out[band_top:next_top] = from_float(band[: next_top - band_top], out.dtype)
                    carry = band[next_top - band_top :].copy() if next_top < band_bottom else None
                    lead_in = row_ramps[r] if r + 1 < len(rows) else None
                    top = next_top
            except TileOutOfMemory:
                tile, restart = self._smaller(tile, top, lead_in, carry)
                if restart:  # the inherited overlap does not fit a smaller tile: redo the photo
                    top, lead_in, carry = 0, None, None
        self.stats.final_tile = tile
        return out

    def _smaller(self, tile: int, top: int, lead_in, carry) -> tuple[int, bool]:
        """The halved tile after an out-of-memory error, and whether the photo must restart.

        Continuing from the current band needs a tile that covers the overlap inherited from the
        band above; when halving cannot keep that, the photo is redone from the top.
        """
        half = _align(tile // 2, self.multiple)
        if half < MIN_TILE or half >= tile:
            raise LlidError(f"out of memory even with {tile}-pixel tiles; try a smaller --tile or --device cpu")
        self.stats.oom_retries += 1
        inherited = 0 if carry is None else carry.shape[0]
        return half, inherited + self._overlap(half) + self.multiple > half // 2

    def _fill_band(self, pixels, band, top, bottom, cols, wy):
        pending: list[tuple[int, int, np.ndarray]] = []
        shape = None
        for c, (left, right) in enumerate(cols):
            tile_in = to_float(np.ascontiguousarray(pixels[top:bottom, left:right]))
            weight = (wy, weights_1d(cols, c))
            if shape is not None and (tile_in.shape != shape or len(pending) == self.batch_size):
                self._flush(band, pending)
                pending = []
            shape = tile_in.shape
            pending.append((left, right, tile_in, weight))
        self._flush(band, pending)

    def _flush(self, band, pending) -> None:
        if not pending:
            return
        batch = pending[0][2][None] if len(pending) == 1 else np.stack([p[2] for p in pending])
        result = self._run(batch)
        self.stats.tiles += len(pending)
        for (left, right, _, (wy, wx)), tile_out in zip(pending, result):
            _blend_into(band[:, left:right], tile_out, wy, wx)
        self._done += len(pending)
        if self.on_progress is not None:
            self.on_progress(self._done, self._planned)


def _blend_into(target: np.ndarray, tile: np.ndarray, wy: np.ndarray, wx: np.ndarray) -> None:
    """target += tile weighted by the outer product of wy (rows) and wx (columns).

    The weights are 1 inside a tile and ramp only across its overlaps, so only those border
    strips are multiplied (in place: `tile` is the backend's own output array), and rows and
    columns whose weight is 0 are not added at all: half the time of weighting every pixel
    (docs/lab/code-measurements.md).
    """
    rows, cols = _support(wy), _support(wx)
    tile, wy, wx = tile[rows, cols], wy[rows], wx[cols]
    for part in _ramps(wy):
        tile[part] *= wy[part, None, None]
    for part in _ramps(wx):
        tile[:, part] *= wx[None, part, None]
    target[rows, cols] += tile


def _ramps(w: np.ndarray) -> tuple[slice, slice]:
    """The parts of `w` before and after its run of ones (all of it if it has none)."""
    ones = np.flatnonzero(w == 1.0)
    lo, hi = (int(ones[0]), int(ones[-1]) + 1) if ones.size else (len(w), len(w))
    return slice(0, lo), slice(hi, len(w))


def _support(w: np.ndarray) -> slice:
    """The slice from the first to the last nonzero weight."""
    nonzero = np.flatnonzero(w)
    return slice(int(nonzero[0]), int(nonzero[-1]) + 1) if nonzero.size else slice(0, 0)


def _align(value: int, multiple: int) -> int:
    return max(multiple, value - value % multiple)
