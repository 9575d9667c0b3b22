"""The corner text and orientation markers drawn into an exported image, as the pane shows them at 1:1.

The lines are the pane's own (:func:`viewer.core.display.annotations.corner_text`
with the zoom at 100 %, :func:`viewer.core.display.orientation.orientation_markers`);
they are laid out as :class:`viewer.ui.viewport.image_view.ImagePane` lays them out: the
four corners 6 pixels in, the markers at the middle of each edge, pale yellow
over a one-pixel black shadow. The font is Pillow's own (FreeType: a sans
serif of about the pane's 10 points at 96 dpi; the markers larger, as the
pane's 12-point bold). The image is the export's, not a screen: on a small
image the text covers more of it than in the pane.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.display.annotations import ViewFacts, corner_text, header_lines
from viewer.core.display.orientation import orientation_markers
from viewer.core.display.pixels.pipeline import VOI, FrameDisplay, frame_context
from viewer.core.media.model import ImageRef

if TYPE_CHECKING:
    from viewer.core.export.render import ExportOptions

#: The pane's overlay text colour (viewer.ui.viewport.image_view.OVERLAY_COLOUR) and its shadow.
TEXT_COLOUR = (0xF0, 0xF0, 0xA0)
SHADOW_COLOUR = (0, 0, 0)
#: Pixel sizes: 10 and 12 points at 96 dots per inch.
CORNER_TEXT_PIXELS = 13
MARKER_PIXELS = 16
MARGIN = 6


def view_corners(
    images: Sequence[ImageRef],
    index: int,
    frame: FrameDisplay,
    voi: VOI,
    options: ExportOptions,
    frame_rate: float | None = None,
) -> dict[str, list[str]]:
    """The four corners' lines for image `index` of `images`, as the pane words them at 1:1."""
    ref = images[index]
    facts = ViewFacts(
        image_number=index + 1,
        image_count=len(images),
        frame_number=ref.frame + 1,
        frame_count=ref.instance.frames,
        voi=voi,
        invert=options.invert,
        zoom=1.0,
        frame_rate=frame_rate if len(images) > 1 else None,
    )
    return corner_text(header_lines(ref.instance.header, frame.ctx, options.overrides), facts)


def burn_view_text(
    pixels: np.ndarray,
    images: Sequence[ImageRef],
    index: int,
    frame: FrameDisplay,
    header: Dataset,
    voi: VOI,
    options: ExportOptions,
    frame_rate: float | None = None,
) -> np.ndarray:
    """`pixels` with the corner text and the orientation markers drawn in: uint8 RGB, a new array."""
    corners = view_corners(images, index, frame, voi, options, frame_rate)
    markers = orientation_markers(frame_context(header, images[index].frame))
    edges = {} if markers is None else {e: getattr(markers, e) for e in ("left", "right", "top", "bottom")}
    return draw_text(pixels, corners, edges)


def draw_text(pixels: np.ndarray, corners: dict[str, list[str]], edges: dict[str, str]) -> np.ndarray:
    """`corners` (top_left...: lines) and `edges` (left...: a marker) drawn over `pixels`; uint8 RGB."""
    from PIL import Image, ImageDraw, ImageFont

    rgb = np.repeat(pixels[:, :, None], 3, axis=2) if pixels.ndim == 2 else pixels[:, :, :3]
    canvas = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB")
    draw = ImageDraw.Draw(canvas)
    width, height = canvas.size

    def put(text: str, font, x: float, y: float, anchor: str, align: str) -> None:
        for colour, offset in ((SHADOW_COLOUR, 1), (TEXT_COLOUR, 0)):
            draw.multiline_text((x + offset, y + offset), text, fill=colour, font=font, anchor=anchor, align=align, spacing=2)

    font = ImageFont.load_default(size=CORNER_TEXT_PIXELS)
    places = {
        "top_left": (MARGIN, MARGIN, "la", "left"),
        "top_right": (width - MARGIN, MARGIN, "ra", "right"),
        "bottom_left": (MARGIN, height - MARGIN, "ld", "left"),
        "bottom_right": (width - MARGIN, height - MARGIN, "rd", "right"),
    }
    for corner, lines in corners.items():
        text = "\n".join(line for line in lines if line)
        if text and corner in places:
            x, y, anchor, align = places[corner]
            put(text, font, x, y, anchor, align)
    marker_font = ImageFont.load_default(size=MARKER_PIXELS)
    spots = {
        "left": (MARGIN, height / 2, "lm"),
        "right": (width - MARGIN, height / 2, "rm"),
        "top": (width / 2, MARGIN, "ma"),
        "bottom": (width / 2, height - MARGIN, "md"),
    }
    for edge, text in edges.items():
        if text and edge in spots:
            x, y, anchor = spots[edge]
            put(text, marker_font, x, y, anchor, "center")
    return np.asarray(canvas)
