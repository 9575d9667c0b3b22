"""Cell text that reads well in a narrow column: whole words, and the rest in the tooltip.

Qt elides a cell at any character ("CT 2: 5/5m…"). For labels (series,
studies, patients in the browser) :class:`WholeWordsDelegate` breaks the
text at spaces over as many lines as the row is tall (a series row is as
tall as its thumbnail: two or three lines), and when the words still do not
fit, the last line ends with "…" after a whole word. The full label is the
item's tooltip, set by the widget that owns the items.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

ELLIPSIS = "…"
#: What separates the lines in a cell's text: the style draws U+2028 as a line break ("\n" it does not).
LINE_BREAK = "\u2028"


def _cut(word: str, width: int, advance: Callable[[str], int]) -> str:
    """The longest start of `word` that fits with the ellipsis (a word wider than the column)."""
    for end in range(len(word) - 1, 0, -1):
        if advance(word[:end] + ELLIPSIS) <= width:
            return word[:end] + ELLIPSIS
    return ELLIPSIS


def fit_words(text: str, width: int, lines: int, advance: Callable[[str], int]) -> list[str]:
    """`text` in at most `lines` lines of `width` pixels, broken at spaces.

    `advance(s)` is the width of `s` in pixels. When not every word fits, the
    last line ends with an ellipsis after the last whole word that fits; only a
    single word wider than a line is cut inside (there is no whole word to end on).
    """
    if width <= 0 or advance(text) <= width:
        return [text]
    words = text.split()
    done: list[str] = []
    current = ""
    i = 0
    while i < len(words):
        candidate = f"{current} {words[i]}" if current else words[i]
        if advance(candidate) <= width:
            current, i = candidate, i + 1
        elif current and len(done) + 1 < lines:
            done.append(current)  # the next word starts a new line
            current = ""
        else:
            break  # the last line is full, or one word is wider than a line
    if i == len(words):
        return done + [current]
    tail = current
    while True:
        while tail and advance(tail + ELLIPSIS) > width:
            tail = tail.rpartition(" ")[0]  # drop a whole word to make room for the ellipsis
        if tail:
            return done + [tail + ELLIPSIS]
        if done and (current or advance(words[i]) <= width):
            tail = current = done.pop()  # no whole word fits with the ellipsis here: end the line before
            continue
        return done + [_cut(current or words[i], width, advance)]


class WholeWordsDelegate(QStyledItemDelegate):
    """Draws a cell's text with :func:`fit_words` in the room the cell has."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._measuring = False

    def sizeHint(self, option, index):
        # The width the whole text needs (resizing a column to its contents), not the fitted one.
        self._measuring = True
        try:
            return super().sizeHint(option, index)
        finally:
            self._measuring = False

    def initStyleOption(self, option, index):
        super().initStyleOption(option, index)
        if self._measuring or option.rect.width() <= 0 or not option.text:
            return
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        text_rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, option, widget)
        # The style draws the text inside a margin on each side (QCommonStyle's viewItemDrawText).
        margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, widget) + 1
        metrics = option.fontMetrics
        lines = max(1, text_rect.height() // max(1, metrics.lineSpacing()))
        option.text = LINE_BREAK.join(fit_words(option.text, text_rect.width() - 2 * margin - 1, lines, metrics.horizontalAdvance))

    def displayed_lines(self, view, index) -> list[str]:
        """The lines of text this delegate draws for `index` of `view` as it is now (for tests)."""
        option = QStyleOptionViewItem()
        view.initViewItemOption(option)
        option.rect = view.visualRect(index)
        self.initStyleOption(option, index)
        return option.text.split(LINE_BREAK)
