"""Tiny NumPy rasteriser for the privileged views (no window, no pygame): rectangles, discs and lines."""

from __future__ import annotations

import numpy as np

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
