"""What linking draws over a viewport's image: reference lines, the cross-reference mark, "no linked slice".

A :class:`ReferenceOverlay` belongs to one viewport's :class:`~viewer.ui.viewport.image_view.ImagePane`.
Its lines and mark are items under the pane's image parent
(:meth:`ImagePane.image_parent`), kept in image coordinates, so zoom, pan and
a presentation state's turn and flip (PS3.3 C.10.6) move them with the image
and never redraw them (STYLE.md, "Viewports, layers and tools"); the mark is
a circle of its own size on the screen. The geometry comes
from :mod:`viewer.core.display.reference_lines`; this module only draws it.

The core's image points (column, row) put pixel centres at whole numbers;
the pane's image parent puts pixel (c, r) on the square from (c, r) to
(c + 1, r + 1), so a point is drawn half a pixel further on.

The pyqtgraph view is built after the first image is painted
(:mod:`viewer.ui.viewport.image_view`); until then the overlay keeps what it was
asked to show and puts it up once the pane first renders.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QLineF, QObject, QRectF, Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem, QGraphicsLineItem, QLabel

from viewer.core.display.reference_lines import ReferenceLine
from viewer.ui.viewport.image_view import ImagePane

#: The active image's line: the colour radiology viewers commonly use for it.
ACTIVE_LINE_COLOUR = QColor(255, 220, 0)
#: The first and last slice lines of the active series: dimmer, dashed.
END_LINE_COLOUR = QColor(90, 200, 255)
#: The cross-reference cursor's mark.
MARK_COLOUR = QColor(255, 60, 60)
#: Radius of the mark, in screen pixels.
MARK_RADIUS = 9
#: Above the image item (pyqtgraph gives items the view box's z + 1).
OVERLAY_Z = 50


def _pen(colour: QColor, width: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(colour)
    pen.setWidthF(width)
    pen.setStyle(style)
    pen.setCosmetic(True)  # in screen pixels, whatever the zoom
    return pen


def view_point(column: float, row: float) -> tuple[float, float]:
    """Where image point (column, row) (pixel centres at whole numbers) lies in the pane's view box."""
    return column + 0.5, row + 0.5


class ReferenceOverlay(QObject):
    """Reference lines, the cross-reference mark and the "no linked slice" note of one pane."""

    def __init__(self, pane: ImagePane):
        super().__init__(pane)
        self.pane = pane
        self.lines: dict[str, ReferenceLine | None] = {"active": None, "first": None, "last": None}
        self.mark_point: tuple[float, float] | None = None
        self._items: dict[str, QGraphicsLineItem] = {}
        self._mark: QGraphicsEllipseItem | None = None
        self.note = QLabel("No linked slice here", pane)
        self.note.setStyleSheet("color: #ffb060; background: rgba(0, 0, 0, 150); padding: 2px 6px;")
        self.note.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.note.hide()
        pane.installEventFilter(self)
        pane.rendered.connect(self._install)
        pane.view_changed.connect(self._place_mark)

    # -- what is shown ----------------------------------------------------------------------
    def show_lines(self, active: ReferenceLine | None, first: ReferenceLine | None = None, last: ReferenceLine | None = None) -> None:
        """The active image's line and the active series' first and last slice lines (None: not drawn)."""
        self.lines = {"active": active, "first": first, "last": last}
        self._update_lines()

    def clear(self) -> None:
        """No lines, no mark, no note (the active viewport itself, or nothing to cross)."""
        self.show_lines(None)
        self.set_mark(None)
        self.set_unlinked(False)

    def set_mark(self, point: tuple[float, float] | None) -> None:
        """Mark image point (column, row) with a circle (None removes it)."""
        self.mark_point = point
        self._place_mark()

    def set_unlinked(self, unlinked: bool) -> None:
        """Say "no linked slice here": the linked position lies outside this series or in a gap."""
        if unlinked != self.note.isVisible():
            self.note.setVisible(unlinked)
            if unlinked:
                self._place_note()
                self.note.raise_()

    def drawn_segment(self, name: str) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The segment drawn for line `name` ('active', 'first', 'last'), in image points; None when hidden."""
        item = self._items.get(name)
        if item is None or not item.isVisible():
            return None
        line = item.line()
        return (line.x1() - 0.5, line.y1() - 0.5), (line.x2() - 0.5, line.y2() - 0.5)

    @property
    def mark_visible(self) -> bool:
        return self._mark is not None and self._mark.isVisible()

    # -- pyqtgraph items --------------------------------------------------------------------
    def _install(self) -> None:
        """Create the items once the pane's view exists (its first render), then show what was asked."""
        if self._items:
            return
        parent = self.pane.image_parent(OVERLAY_Z)  # image coordinates: turned and flipped with the image
        if parent is None:
            return
        pens = {
            "active": _pen(ACTIVE_LINE_COLOUR, 1.5),
            "first": _pen(END_LINE_COLOUR, 1.0, Qt.PenStyle.DashLine),
            "last": _pen(END_LINE_COLOUR, 1.0, Qt.PenStyle.DashLine),
        }
        for name, pen in pens.items():
            item = QGraphicsLineItem()
            item.setPen(pen)
            item.setZValue(OVERLAY_Z)
            item.hide()
            item.setParentItem(parent)
            self._items[name] = item
        mark = QGraphicsEllipseItem()
        mark.setPen(_pen(MARK_COLOUR, 2.0))
        mark.setZValue(OVERLAY_Z + 1)
        # Drawn at its size on the screen, not the image's: a circle at any zoom.
        mark.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        mark.setRect(QRectF(-MARK_RADIUS, -MARK_RADIUS, 2 * MARK_RADIUS, 2 * MARK_RADIUS))
        mark.hide()
        mark.setParentItem(parent)
        self._mark = mark
        self._update_lines()
        self._place_mark()

    def _update_lines(self) -> None:
        if not self._items:
            self._install()
            if not self._items:
                return  # put up when the view is built
        for name, line in self.lines.items():
            item = self._items[name]
            if line is None:
                item.hide()
                continue
            item.setLine(QLineF(*view_point(*line.start), *view_point(*line.end)))
            item.show()

    def _place_mark(self) -> None:
        if self._mark is None:
            if self.mark_point is not None:
                self._install()
            if self._mark is None:
                return
        if self.mark_point is None:
            self._mark.hide()
            return
        self._mark.setPos(*view_point(*self.mark_point))
        self._mark.show()

    def _place_note(self) -> None:
        self.note.adjustSize()
        self.note.move(max(0, (self.pane.width() - self.note.width()) // 2), max(0, self.pane.height() - self.note.height() - 28))

    def eventFilter(self, watched, event):
        if watched is self.pane and event.type() == QEvent.Type.Resize and self.note.isVisible():
            self._place_note()
        return False
