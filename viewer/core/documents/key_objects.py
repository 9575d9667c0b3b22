"""Key Object Selection: which images a KO document flags, its title and its description.

A Key Object Selection Document (PS3.3 A.35.4, template TID 2010) is an SR
whose root CONTAINER's concept name is the title (PS3.16 CID 7010: "Of
Interest", "For Referring Provider", "Rejected for Quality Reasons"...), with
an optional TEXT item (113012, DCM) *Key Object Description* and one IMAGE
(or COMPOSITE, WAVEFORM) item per flagged object, each naming its SOP
Instance and, for a multi-frame image, the frames (0008,1160) *Referenced
Frame Number* (none: every frame). :func:`key_objects` reads them from a
:class:`~viewer.core.documents.sr.Report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from viewer.core.documents.sr import Report

#: (113012, DCM) *Key Object Description* (PS3.16 TID 2010).
KEY_OBJECT_DESCRIPTION = ("113012", "DCM")


@dataclass
class KeyObjects:
    """A KO's title, its description, and the flagged instances: SOP Instance UID -> 1-based frames
    (an empty tuple: all of its frames)."""

    title: str
    description: str = ""
    instances: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def flags(self, sop_instance_uid: str, frame: int) -> bool:
        """Whether frame `frame` (0-based) of the instance is a key image."""
        frames = self.instances.get(sop_instance_uid)
        return frames is not None and (not frames or frame + 1 in frames)

    def note(self) -> str:
        """'Of Interest: Two slices through the lesion' for a tooltip."""
        return ": ".join(p for p in (self.title, self.description) if p)


def key_objects(report: Report) -> KeyObjects:
    """The key objects of a KO document (or of any SR: its image references at the top level)."""
    selection = KeyObjects(report.title)
    for child in report.root.children:
        concept = child.concept
        if child.value_type == "TEXT" and concept is not None and (concept.value, concept.scheme) == KEY_OBJECT_DESCRIPTION:
            selection.description = child.value
        elif child.value_type in ("IMAGE", "COMPOSITE", "WAVEFORM"):
            for ref in child.references:
                known = selection.instances.get(ref.sop_instance_uid)
                if known is None:
                    selection.instances[ref.sop_instance_uid] = ref.frames
                elif known and ref.frames:  # flagged twice, different frames: both
                    selection.instances[ref.sop_instance_uid] = tuple(sorted(set(known) | set(ref.frames)))
                else:
                    selection.instances[ref.sop_instance_uid] = ()
    return selection
