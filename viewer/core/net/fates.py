"""What became of each instance a C-STORE SCU sent (:mod:`~viewer.core.net.send`), and a run's summary.

Plain data the command line prints (``--json``) and the Send dialog shows:
one :class:`InstanceFate` per file, the C-STORE status it got (PS3.4 B.2.3)
in words, and :class:`SendResult` for the run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from viewer.core.runtime.wording import count

#: An instance's fate.
STORED, WARNING, FAILED, REFUSED, NOT_SENT = "stored", "warning", "failed", "refused", "not sent"

#: C-STORE statuses in words (PS3.4 B.2.3, PS3.7 C), besides the categories pynetdicom names.
STORE_STATUSES = {
    0x0000: "success",
    0xB000: "coercion of data elements",
    0xB006: "elements discarded",
    0xB007: "data set does not match SOP class",
    0x0117: "invalid SOP instance",
    0x0122: "SOP class not supported",
    0x0124: "not authorised",
    0x0210: "duplicate invocation",
    0x0211: "unrecognised operation",
    0x0212: "mistyped argument",
}


@dataclass
class InstanceFate:
    """What happened to one file: ``fate`` (one of STORED, WARNING, FAILED, REFUSED, NOT_SENT), the C-STORE
    status when one came, ``reason`` in words, and the syntax it went in (``transcoded`` when not its own)."""

    path: str
    sop_instance_uid: str = ""
    sop_class_uid: str = ""
    fate: str = NOT_SENT
    status: int | None = None
    reason: str = ""
    stored_syntax: str = ""
    sent_syntax: str = ""
    transcoded: bool = False

    @property
    def stored(self) -> bool:
        return self.fate in (STORED, WARNING)

    def to_json(self) -> dict:
        data = asdict(self)
        data["status"] = None if self.status is None else f"0x{self.status:04X}"
        return data


@dataclass
class SendProgress:
    """After each instance: how many of ``total`` are done, and the last one's fate."""

    done: int
    total: int
    last: InstanceFate


@dataclass
class SendResult:
    fates: list[InstanceFate] = field(default_factory=list)
    #: associations that broke during the run (peer dropped, aborted or went silent)
    associations_lost: int = 0
    cancelled: bool = False
    seconds: float = 0.0

    def of(self, *fates: str) -> list[InstanceFate]:
        return [f for f in self.fates if f.fate in fates]

    @property
    def all_stored(self) -> bool:
        return all(f.stored for f in self.fates)

    def failures(self) -> list[str]:
        """The files of the instances not stored, to send again ("Retry failures")."""
        return [f.path for f in self.fates if not f.stored]

    def summary(self) -> str:
        """One line: "12 stored, 1 with warnings, 2 failed, 1 refused, 3 not sent"."""
        parts = [f"{len(self.of(STORED, WARNING))} stored"]
        for fate, words in ((WARNING, "with warnings"), (FAILED, "failed"), (REFUSED, "refused"), (NOT_SENT, "not sent")):
            if self.of(fate):
                parts.append(f"{len(self.of(fate))} {words}")
        if self.associations_lost:
            parts.append(f"association lost {count(self.associations_lost, 'time')}")
        return ", ".join(parts)


def store_status_text(status: int) -> str:
    """A C-STORE status as a user reads it: "failure 0xA700: out of resources"."""
    from pynetdicom.status import code_to_category

    if status in STORE_STATUSES:
        meaning = STORE_STATUSES[status]
    elif status & 0xFF00 == 0xA700:
        meaning = "out of resources"
    elif status & 0xFF00 == 0xA900:
        meaning = "data set does not match SOP class"
    elif status & 0xF000 == 0xC000:
        meaning = "cannot understand"
    else:
        meaning = ""
    return f"{code_to_category(status).lower()} 0x{status:04X}" + (f": {meaning}" if meaning else "")
