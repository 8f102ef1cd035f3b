"""Tiny NumPy rasteriser (no window, no pygame): the privileged views' rectangles, discs and lines, and the small
agent views of ``obs_type="pixels"``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

Color = tuple[int, int, int]

WHITE: Color = (255, 255, 255)
BLACK: Color = (0, 0, 0)
GREY: Color = (90, 90, 90)
DARK: Color = (30, 30, 40)
BLUE: Color = (60, 110, 230)
GREEN: Color = (50, 190, 80)
RED: Color = (220, 60, 50)
YELLOW: Color = (240, 200, 40)
ORANGE: Color = (240, 140, 30)


def blank(height: int, width: int, color: Color = DARK) -> np.ndarray:
    """A new (height, width, 3) uint8 canvas filled with ``color``."""
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[...] = color
    return canvas


def fill_rect(canvas: np.ndarray, top: float, left: float, height: float, width: float, color: Color) -> None:
    """Fill the axis-aligned rectangle whose top-left pixel is (top, left), clipped to the canvas."""
    h, w = canvas.shape[:2]
    r0, c0 = max(round(top), 0), max(round(left), 0)
    r1, c1 = min(round(top + height), h), min(round(left + width), w)
    if r1 > r0 and c1 > c0:
        canvas[r0:r1, c0:c1] = color


def fill_disc(canvas: np.ndarray, row: float, col: float, radius: float, color: Color) -> None:
    """Fill a disc centred at pixel (row, col)."""
    h, w = canvas.shape[:2]
    r0, r1 = max(int(row - radius), 0), min(int(row + radius) + 2, h)
    c0, c1 = max(int(col - radius), 0), min(int(col + radius) + 2, w)
    if r1 <= r0 or c1 <= c0:
        return
    rr, cc = np.ogrid[r0:r1, c0:c1]
    mask = (rr - row) ** 2 + (cc - col) ** 2 <= radius**2
    canvas[r0:r1, c0:c1][mask] = color


def draw_line(
    canvas: np.ndarray, start: tuple[float, float], end: tuple[float, float], color: Color, width: int = 1
) -> None:
    """Draw a line between two (row, col) pixel points by dense sampling (the views are small)."""
    (r0, c0), (r1, c1) = start, end
    n = int(max(abs(r1 - r0), abs(c1 - c0))) + 2
    rows = np.linspace(r0, r1, n)
    cols = np.linspace(c0, c1, n)
    h, w = canvas.shape[:2]
    half = width // 2
    for dr in range(-half, width - half):
        for dc in range(-half, width - half):
            rr = np.clip(np.round(rows + dr).astype(int), 0, h - 1)
            cc = np.clip(np.round(cols + dc).astype(int), 0, w - 1)
            canvas[rr, cc] = color


# -- agent views (obs_type="pixels") ------------------------------------------------------------------------------
# The agent views are drawn channel by channel, one object per colour channel, so that the picture reads at a glance
# and a demonstrator can decode it exactly (ttt_envs.experts.base.PixelDecodingDemonstrator). gymnasium's pixel
# wrappers (PixelObservationWrapper / AddRenderObservation) would observe ``env.render()``, which is the privileged
# view; the agent views are therefore drawn here from the agent's own observation vector instead.

#: Side, in pixels, of the square agent views: small enough for a CNN to train on a CPU.
PIXEL_SIDE = 32
#: Colour channels of the agent views.
RED_CHANNEL, GREEN_CHANNEL, BLUE_CHANNEL = 0, 1, 2
#: A channel counts as lit at or above this value when a view is decoded.
LIT = 128


def image_space(height: int, width: int) -> spaces.Box:
    """``Box(0, 255, (height, width, 3), uint8)``: an RGB image, channels last, as SB3's ``is_image_space`` accepts."""
    return spaces.Box(low=0, high=255, shape=(height, width, 3), dtype=np.uint8)


@dataclass(frozen=True)
class GridPixels:
    """Geometry of a grid env's agent view: ``grid_size`` x ``grid_size`` square cells centred on a square image.

    Cells are ``cell_px`` pixels wide, the largest size that fits ``side`` with a margin of at least one pixel on
    every side (at least 1 pixel, the image growing past ``side`` only for grids wider than ``side - 2`` cells). The
    margin is free for flags (a lit channel all round the grid).
    """

    grid_size: int
    side: int = PIXEL_SIDE
    floor: Color = (60, 60, 60)

    @property
    def cell_px(self) -> int:
        return max((self.side - 2) // self.grid_size, 1)

    @property
    def image_side(self) -> int:
        return max(self.side, self.cell_px * self.grid_size + 2)

    @property
    def margin(self) -> int:
        return (self.image_side - self.cell_px * self.grid_size) // 2

    def blank(self) -> np.ndarray:
        """A black image with the grid's cells in the floor colour."""
        canvas = blank(self.image_side, self.image_side, BLACK)
        span = self.cell_px * self.grid_size
        canvas[self.margin : self.margin + span, self.margin : self.margin + span] = self.floor
        return canvas

    def light_cell(self, canvas: np.ndarray, cell: tuple[int, int], channel: int) -> None:
        """Set ``channel`` to 255 over the whole of ``cell`` (row, col)."""
        top, left = self.margin + cell[0] * self.cell_px, self.margin + cell[1] * self.cell_px
        canvas[top : top + self.cell_px, left : left + self.cell_px, channel] = 255

    def lit_cells(self, image: np.ndarray, channel: int) -> list[tuple[int, int]]:
        """The cells whose centre pixel has ``channel`` lit, in row-major order."""
        centres = self.margin + np.arange(self.grid_size) * self.cell_px + self.cell_px // 2
        lit = np.asarray(image)[..., channel][np.ix_(centres, centres)] >= LIT
        return [(int(r), int(c)) for r, c in np.argwhere(lit)]

    def light_margin(self, canvas: np.ndarray, channel: int) -> None:
        """Set ``channel`` to 255 on the margin around the grid."""
        span = self.cell_px * self.grid_size
        inside = canvas[self.margin : self.margin + span, self.margin : self.margin + span, channel].copy()
        canvas[..., channel] = 255
        canvas[self.margin : self.margin + span, self.margin : self.margin + span, channel] = inside

    def margin_lit(self, image: np.ndarray, channel: int) -> bool:
        """Whether the margin has ``channel`` lit (read at the top-left corner pixel)."""
        return bool(np.asarray(image)[0, 0, channel] >= LIT)


def add_blob(canvas: np.ndarray, row: float, col: float, sigma: float, channel: int) -> None:
    """Add a Gaussian blob (peak 255, standard deviation ``sigma`` pixels) centred at the continuous pixel position
    (row, col) to ``channel``; pixel (i, j) sits at position (i, j). The sub-pixel position stays readable from the
    blob's intensity-weighted centre (:func:`blob_centre`)."""
    h, w = canvas.shape[:2]
    rows = np.arange(h, dtype=np.float64)[:, None]
    cols = np.arange(w, dtype=np.float64)[None, :]
    blob = 255.0 * np.exp(-((rows - row) ** 2 + (cols - col) ** 2) / (2.0 * sigma**2))
    canvas[..., channel] = np.maximum(canvas[..., channel], np.round(blob).astype(np.uint8))


def blob_centre(image: np.ndarray, channel: int) -> tuple[float, float]:
    """The intensity-weighted centre (row, col) of ``channel``: where :func:`add_blob` put its blob.

    Raises:
        ValueError: when the channel is dark (no blob to read).
    """
    weights = np.asarray(image)[..., channel].astype(np.float64)
    total = weights.sum()
    if total <= 0:
        raise ValueError(f"blob_centre: channel {channel} of the image is dark, there is no blob to locate.")
    rows, cols = np.indices(weights.shape)
    return float((rows * weights).sum() / total), float((cols * weights).sum() / total)
