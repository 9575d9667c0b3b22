"""The quick first image: a file opened at start-up painted before numpy, pydicom and the viewports load.

When the app starts with exactly one file (or one disc: a media folder or
its DICOMDIR, whose first image is found from the records by
:mod:`viewer.core.media.first_record`), and that file is the simple case
of :mod:`viewer.core.display.first_image` (native, one greyscale frame, a
LINEAR window of its own), its image is painted right after the window's
frame; the viewports are built after that paint, and the active viewport's
own image (the same pixels, painted alike: tests/ui/test_quick_image.py)
takes its place once it is ready. Until then it covers the start hint, and
then the pane, so the hint never shows between the two. Before the
viewports exist it is fitted to the whole central area, the pane's area
plus the slider row below it: the image shrinks by that row's height
when the viewports appear.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QRectF, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from viewer.core.display.first_image import QuickImage
    from viewer.ui.window.main_window import MainWindow


class QuickImageView(QWidget):
    """A :class:`~viewer.core.display.first_image.QuickImage` fitted and centred on black, as the pane fits a frame.

    It lies over the widget it covers (the central area, then the active
    viewport's pane) and follows its size; mouse events go through to it.
    """

    def __init__(self, image: QuickImage, covered: QWidget):
        super().__init__(covered)
        self.image = image
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._covered: QWidget | None = None
        self.cover(covered)

    def cover(self, widget: QWidget) -> None:
        """Lie over `widget` (a child of it, above its other children), following its size."""
        if self._covered is not None:
            self._covered.removeEventFilter(self)
        self._covered = widget
        if self.parent() is not widget:
            self.setParent(widget)
        widget.installEventFilter(self)
        self.setGeometry(widget.rect())
        self.raise_()
        self.show()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self._covered and event.type() == QEvent.Type.Resize:
            self.setGeometry(self._covered.rect())
            self.raise_()
        return False

    def fitted_scale(self) -> float:
        """Screen pixels per image pixel when fitted (as the pane's fit)."""
        rows, columns = self.image.rows, self.image.columns
        if self.width() <= 0 or self.height() <= 0:
            return 1.0
        return min(self.width() / columns, self.height() / rows)

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.black)
        if self.width() > 0 and self.height() > 0:
            rows, columns = self.image.rows, self.image.columns
            scale = self.fitted_scale()
            # As the pane renders a fitted frame: every stride-th pixel, the stride that of
            # its screen size, drawn without smoothing (viewer.ui.viewport.image_view.visible_region).
            stride = max(1, int(1.0 / scale))
            pixels = self.image.pixels
            if stride > 1:
                pixels = b"".join(pixels[r * columns : (r + 1) * columns : stride] for r in range(0, rows, stride))
            shown_rows, shown_columns = -(-rows // stride), -(-columns // stride)
            grey = QImage(pixels, shown_columns, shown_rows, shown_columns, QImage.Format.Format_Grayscale8)
            # Drawn from RGB32, as the pane draws: Qt samples a scaled Grayscale8 image at other pixels.
            picture = grey.convertToFormat(QImage.Format.Format_RGB32)
            target = QRectF(
                (self.width() - columns * scale) / 2,
                (self.height() - rows * scale) / 2,
                shown_columns * stride * scale,
                shown_rows * stride * scale,
            )
            painter.drawImage(target, picture)
        painter.end()

    def remove(self) -> None:
        """The viewport shows the image now (or will not show one): gone at the next paint."""
        if self._covered is not None:
            self._covered.removeEventFilter(self)
            self._covered = None
        self.hide()
        self.deleteLater()


def show_quick_image(window: MainWindow, paths: list[str]) -> QuickImageView | None:
    """Paint the first image of `paths` over the window's central area, if it is one file of the simple case,
    or a disc (a media folder or its DICOMDIR) whose first image is one (:mod:`viewer.core.media.first_record`).

    Called before the window's contents are built; :func:`keep_until_viewport_image` moves
    it onto the active viewport once they are. None when nothing is shown
    (the normal path shows the file).
    """
    if len(paths) != 1:
        return None
    if window.central.width() <= 0 or window.central.height() <= 0:
        return None  # it would never be painted, and the contents wait for its paint
    from viewer.core.display.first_image import first_image  # the standard library only: no numpy, no pydicom
    from viewer.core.media.first_record import first_media_image  # the same

    path = paths[0]
    if os.path.isdir(path) or os.path.basename(path).upper() == "DICOMDIR":
        path = first_media_image(path)  # a disc: the image the window shows first, from its DICOMDIR
    image = first_image(path) if path is not None and os.path.isfile(path) else None
    if image is None:
        return None
    return QuickImageView(image, window.central)


def keep_until_viewport_image(window: MainWindow, view: QuickImageView) -> None:
    """The contents are built: cover the active viewport's pane until it shows its own image (or cannot).

    Removed when the viewport's image is shown or fails, or when the
    opening ends without one.
    """
    view.cover(window.pane)
    viewport = window.viewport
    done = []

    def remove(*_args) -> None:
        if not done:
            done.append(True)
            window.image_shown.disconnect(remove)
            viewport.image_failed.disconnect(remove)
            window.series_opened.disconnect(remove)
            view.remove()

    window.image_shown.connect(remove)
    viewport.image_failed.connect(remove)
    window.series_opened.connect(remove)
