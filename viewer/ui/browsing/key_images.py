"""Key images: what the Key Object Selections of the studies opened flag, marked in the series strip.

When an open ends, each Key Object Selection Document in the catalog is read
(:func:`viewer.core.documents.key_objects.key_objects`) and the series whose
instances it flags get a line in their strip row ("★ 2 key images"), a star
before their name in the tree and on their thumbnail, and the KO's title and
description in their tooltip; a viewport showing a flagged image and frame
says "★ Key image" in its corner text. The browser's "★ Key" button
(shown once a study holds key images) keeps only those series in the strip,
and a click on one then shows its key images alone (:class:`KeyImageSeries`).
References are resolved across series and frames: a KO may flag frames of a
multi-frame image in any series of its study.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from viewer.core.dicom.io import ViewerError
from viewer.core.dicom.sop_classes import KEY_IMAGES
from viewer.core.documents.key_objects import KeyObjects, key_objects
from viewer.core.documents.sr import read_report
from viewer.core.media.model import Catalog, ImageRef, Series
from viewer.core.runtime.wording import count

if TYPE_CHECKING:
    from viewer.ui.window.main_window import MainWindow


class KeyImageSeries(Series):
    """The key images of a series alone, in the series' order: what the viewport scrolls through
    when "key images only" is on (same key as the series, so the browser selects its row)."""

    def __init__(self, source: Series, refs: list[ImageRef]):
        super().__init__(source.uid, list(source.instances))
        self.source, self.refs = source, refs

    @property
    def images(self) -> list[ImageRef]:
        return list(self.refs)

    @property
    def image_count(self) -> int:
        return len(self.refs)


def key_selections(catalog: Catalog, known: dict[str, KeyObjects]) -> dict[str, KeyObjects]:
    """Every Key Object Selection of the catalog, read once (`known`: those read before, by path)."""
    found: dict[str, KeyObjects] = {}
    for series in catalog.all_series():
        if series.kind != KEY_IMAGES:
            continue
        for instance in series.instances:
            if not instance.available:
                continue
            key = str(instance.path)
            if key not in known:
                try:
                    known[key] = key_objects(read_report(instance.path))
                except ViewerError:
                    continue  # a damaged KO: the report view says why when it is opened
            found[key] = known[key]
    return found


def key_images_of(catalog: Catalog, selections: list[KeyObjects]) -> dict[str, tuple[list[ImageRef], list[KeyObjects]]]:
    """Series key -> (its key images in order, the selections flagging them), for the series with any."""
    result: dict[str, tuple[list[ImageRef], list[KeyObjects]]] = {}
    if not selections:
        return result
    flagged = {uid for selection in selections for uid in selection.instances}
    for series in catalog.all_series():
        if not series.shows_images or not any(inst.sop_instance_uid in flagged for inst in series.instances):
            continue
        refs = [ref for ref in series.images if any(s.flags(ref.instance.sop_instance_uid, ref.frame) for s in selections)]
        if refs:
            uids = {ref.instance.sop_instance_uid for ref in refs}
            result[series.uid] = (refs, [s for s in selections if uids & set(s.instances)])
    return result


class KeyImages:
    """Keeps the strip's key-image marks and the browser's key series up to date with the catalog."""

    def __init__(self, window: MainWindow):
        self.window = window
        self._read: dict[str, KeyObjects] = {}
        self.selections: list[KeyObjects] = []  # those of the catalog, after the last open

    def is_key_image(self, ref: ImageRef) -> bool:
        """Whether a Key Object Selection of the studies opened flags this image and frame."""
        uid = ref.instance.sop_instance_uid
        return any(selection.flags(uid, ref.frame) for selection in self.selections)

    def watch(self, viewport) -> None:
        """`viewport` says "★ Key image" in its corner text when the image it shows is one."""
        viewport.is_key_image = self.is_key_image

    def refresh(self) -> None:
        browser = self.window.browser
        catalog = self.window.opener.catalog
        selections = self.selections = list(key_selections(catalog, self._read).values())
        found = key_images_of(catalog, selections)
        notes = {
            uid: (f"★ {count(len(refs), 'key image')}", "Key images: " + "; ".join(s.note() for s in flagging))
            for uid, (refs, flagging) in found.items()
        }
        browser.key_series = {uid: KeyImageSeries(catalog.series[uid], refs) for uid, (refs, _) in found.items()}
        browser.mark_key_series(notes)
        browser.key_button.setVisible(bool(selections))
        for viewport in self.window.viewports:
            viewport.update_annotations()


def install(window: MainWindow) -> None:
    """Key images marked after every open."""
    window.key_images = KeyImages(window)
    window.opening.opened.connect(window.key_images.refresh)
    for viewport in window.viewports:
        window.key_images.watch(viewport)
    window.viewports.viewport_added.connect(window.key_images.watch)
