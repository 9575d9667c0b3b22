"""Offers to open DICOM media inserted while the viewer runs (a CD/DVD, a USB drive).

:class:`MediaWatcher` lists the mounted volumes (``QStorageInfo.mountedVolumes()``,
no OS-specific daemon) every :data:`POLL_MS` on a QTimer. The listing and the
look at each new volume's root (:func:`viewer.core.media.media_watch.newly_mounted_media`)
run on the window's BackgroundRunner: a disc spinning up, or a network mount
that hangs, never stalls the window.

The offer is a bar above the image, not a dialog. A modal box would stop the
user in the middle of reading images; a non-modal message box is a second
window that takes the keyboard focus (Space, which plays the cine, would press
its default button) and can end up behind the main window. The bar waits
beside the image until answered ("Open" or "Not now"), and goes away by
itself when the media is removed. Several new media are offered one after
the other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QStorageInfo, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from viewer.core.media.media_watch import MediaOffer, Volume, newly_mounted_media

if TYPE_CHECKING:
    from viewer.core.settings import Settings
    from viewer.ui.window.settings_store import SettingsStore

#: How often the mounted volumes are listed (ms): a disc is offered 0-2.5 s after it is mounted.
POLL_MS = 2500
#: The setting (bool) that turns the offer on or off (Edit > Settings > General).


def mounted_volumes() -> list[Volume]:
    """The volumes mounted now, as the core's :class:`Volume` (QStorageInfo is reentrant: any thread)."""
    volumes = []
    for info in QStorageInfo.mountedVolumes():
        if not (info.isValid() and info.isReady()):
            continue  # an empty drive, a volume being unmounted
        volumes.append(
            Volume(
                root=info.rootPath(),
                name=info.name(),
                device=bytes(info.device().data()).decode("utf-8", "replace"),
                file_system=bytes(info.fileSystemType().data()).decode("utf-8", "replace"),
                read_only=info.isReadOnly(),
            )
        )
    return volumes


class MediaOfferBar(QFrame):
    """ "A disc 'NAME' with DICOM images was inserted.  [Open] [Not now]"."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("media_offer_bar")
        self.message = QLabel()
        self.open_button = QPushButton("Open")
        self.later_button = QPushButton("Not now")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.open_button)
        layout.addWidget(self.later_button)
        # The colours of the inspector's character-set bar, with a dark text for dark themes too.
        self.setStyleSheet("#media_offer_bar { background: #fff4e0; } #media_offer_bar QLabel { color: #3d2b00; }")
        self.hide()

    def show_offer(self, offer: MediaOffer) -> None:
        self.message.setText(offer.question())
        self.message.setToolTip(f"{offer.volume.root} ({offer.dicomdir.name})")
        self.show()


class MediaWatcher(QObject):
    """Polls the mounted volumes for `window` (a MainWindow) and offers new DICOM media in :attr:`bar`.

    The offer is on or off as `settings` say (:attr:`Settings.offer_media
    <viewer.core.settings.Settings.offer_media>`); a change is saved in `store`.

    `volumes` returns the mounted volumes (default :func:`mounted_volumes`;
    tests give their own list). Signals: ``offered(MediaOffer)`` when an
    offer is made, ``polled()`` when a poll (listing and looks) has finished.
    """

    offered = Signal(object)
    polled = Signal()

    def __init__(
        self,
        window,
        settings: Settings,
        store: SettingsStore,
        volumes: Callable[[], list[Volume]] | None = None,
        interval_ms: int = POLL_MS,
    ):
        super().__init__(window)
        self.window = window
        self.settings, self.store = settings, store
        self.volumes = volumes or mounted_volumes
        self.bar = MediaOfferBar()
        self.bar.open_button.clicked.connect(self.open_offer)
        self.bar.later_button.clicked.connect(self.decline_offer)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.poll)
        self.offers: list[MediaOffer] = []  # waiting for an answer; the first is on the bar
        self.polling = False
        self.enabled = False
        self._mounted: list[Volume] | None = None  # None: not listed yet (the first listing is the baseline)
        self._generation = 0  # turned off and on again: a poll from before is not to be believed
        window.installEventFilter(self)  # stop polling when the window closes
        self.set_enabled(settings.offer_media, remember=False)

    def set_enabled(self, enabled: bool, remember: bool = True) -> None:
        """Turn the offer on (media mounted now are not offered) or off (no polling at all)."""
        if remember:
            self.settings.offer_media = bool(enabled)
            self.store.save_offer_media(bool(enabled))
        if enabled == self.enabled:
            return
        self.enabled = bool(enabled)
        self._mounted = None
        self._generation += 1
        if self.enabled:
            self.timer.start()
            self.poll()
        else:
            self.timer.stop()
            self.offers.clear()
            self._show_first()

    def poll(self) -> None:
        """List the volumes and look at the new ones, in the background (one poll at a time)."""
        if self.polling or not self.enabled:
            return
        self.polling = True
        previous, list_volumes, generation = self._mounted, self.volumes, self._generation

        def look() -> tuple[int, list[Volume], list[MediaOffer]]:
            current = list(list_volumes())
            return generation, current, ([] if previous is None else newly_mounted_media(previous, current))

        self.window.runner.submit("media-watch", look, self._looked, self._look_failed)

    def _looked(self, result) -> None:
        self.polling = False
        generation, current, offers = result
        if generation != self._generation:
            self.poll()  # turned off and on while it ran: list again for the new baseline
            return
        if self.enabled:
            self._mounted = current
            mounted = {volume.mount for volume in current}
            self.offers = [offer for offer in self.offers if offer.volume.mount in mounted]  # removed unanswered
            for offer in offers:
                self.offers.append(offer)
                self.offered.emit(offer)
            self._show_first()
        self.polled.emit()

    def _look_failed(self, _error: BaseException) -> None:
        self.polling = False  # the next poll tries again from the same baseline
        self.polled.emit()

    def _show_first(self) -> None:
        if self.offers:
            self.bar.show_offer(self.offers[0])
        else:
            self.bar.hide()

    def open_offer(self) -> None:
        """ "Open": read the media, as File > Open folder or media would."""
        if not self.offers:
            return
        offer = self.offers.pop(0)
        self._show_first()
        self.window.open_paths([offer.volume.root])

    def decline_offer(self) -> None:
        """ "Not now": that media is not offered again until it is removed and inserted again."""
        if self.offers:
            self.offers.pop(0)
        self._show_first()

    def eventFilter(self, watched, event):
        if watched is self.window and event.type() == QEvent.Type.Close:
            self.timer.stop()  # no poll may reach a runner that is shutting down
            self.enabled = False
        return False
