"""Layouts of viewports and which series hangs in which: grid shapes, hanging protocols, the prior study.

Pure logic for the window's grid of viewports (:mod:`viewer.ui.viewport.viewport_layout`):

* :class:`GridShape` -- rows x columns, 1x1 up to 4x4; :data:`PRESET_SHAPES` are the
  ones offered by name (1x1, 1x2, 2x1, 2x2, 1x3, 3x3).
* :func:`hang` -- which series of a study goes into which cell, in reading
  order (left to right, then top to bottom): the series the user hung in a
  cell last time for that modality (matched by (0008,103E) *Series
  Description*) first, the rest by (0020,0011) *Series Number*, then in the
  order they were met.
* :class:`HangingProtocol` -- what is kept per modality in the settings: the
  shape and each cell's series description; :func:`protocols_from_json` /
  :func:`protocols_to_json` read and write them.
* :func:`latest_prior` -- the prior study to compare with: the same patient
  ((0010,0020) *Patient ID* and (0010,0021) *Issuer of Patient ID*), the same
  modality, the latest (0008,0020) *Study Date* / (0008,0030) *Study Time*
  before the current one's (PS3.3 C.7.2.1).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from viewer.core.dicom.io import ViewerError

#: The largest grid: 4 rows by 4 columns (16 viewports).
MAX_ROWS = MAX_COLUMNS = 4


@dataclass(frozen=True)
class GridShape:
    """A grid of viewports: `rows` x `columns`, each 1..4."""

    rows: int = 1
    columns: int = 1

    def __post_init__(self) -> None:
        if not (1 <= self.rows <= MAX_ROWS and 1 <= self.columns <= MAX_COLUMNS):
            raise ViewerError(f"a layout has 1 to {MAX_ROWS} rows and 1 to {MAX_COLUMNS} columns, not {self.rows}x{self.columns}")

    @property
    def cells(self) -> int:
        return self.rows * self.columns

    def position(self, cell: int) -> tuple[int, int]:
        """(row, column) of cell number `cell`, in reading order (left to right, then down)."""
        return divmod(cell, self.columns)

    def __str__(self) -> str:
        return f"{self.rows}x{self.columns}"


#: The shapes offered by name in the layout chooser.
PRESET_SHAPES = tuple(GridShape(r, c) for r, c in ((1, 1), (1, 2), (2, 1), (2, 2), (1, 3), (3, 3)))


def parse_grid_shape(text: str) -> GridShape:
    """'2x3' (or '2 x 3', '2*3') as a :class:`GridShape`; ViewerError for anything else."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX*\u00d7]\s*(\d+)\s*", text or "")
    if match is None:
        raise ViewerError(f"not a layout: {text!r} (rows x columns, e.g. 2x2)")
    return GridShape(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class SeriesFacts:
    """What hanging needs of a series: its UID, (0020,0011) *Series Number* and (0008,103E) *Series Description*."""

    uid: str
    number: str = ""
    description: str = ""


def _series_number(facts: SeriesFacts) -> float:
    """The Series Number as a number (IS, PS3.5 6.2); series without one hang after those with one."""
    try:
        number = float(facts.number)
    except ValueError:
        return math.inf
    return number if math.isfinite(number) else math.inf


def hanging_order(series: Sequence[SeriesFacts]) -> list[int]:
    """Indexes of `series` by Series Number, ties (and series without one) in the order given."""
    return sorted(range(len(series)), key=lambda i: (_series_number(series[i]), i))


def hang(series: Sequence[SeriesFacts], cells: int, preferred: Sequence[str] = ()) -> list[int | None]:
    """For each of `cells` cells in reading order, the index into `series` of the series it shows (None: empty).

    A cell whose entry in `preferred` (a Series Description, as kept by a
    :class:`HangingProtocol`) matches a series not hung yet gets that series;
    the other cells get the remaining series in :func:`hanging_order`. Each
    series hangs at most once; with fewer series than cells the last cells stay empty.
    """
    result: list[int | None] = [None] * cells
    used: set[int] = set()
    order = hanging_order(series)
    for cell, description in enumerate(list(preferred)[:cells]):
        if not description:
            continue
        match = next((i for i in order if i not in used and series[i].description == description), None)
        if match is not None:
            result[cell] = match
            used.add(match)
    remaining = iter(i for i in order if i not in used)
    for cell in range(cells):
        if result[cell] is None:
            result[cell] = next(remaining, None)
    return result


def hang_keeping_first(series: Sequence[SeriesFacts], cells: int, first: int, preferred: Sequence[str] = ()) -> list[int | None]:
    """As :func:`hang`, but cell 0 keeps series `first` (shown at once while the study was being read,
    so that the image the user is looking at does not jump), unless the cell-0 entry of `preferred`
    names another series of the study; the other series fill the other cells."""
    wanted = preferred[0] if preferred else ""
    if wanted and series[first].description != wanted and any(s.description == wanted for s in series):
        return hang(series, cells, preferred)
    rest = [i for i in range(len(series)) if i != first]
    others = hang([series[i] for i in rest], cells - 1, list(preferred)[1:])
    return [first] + [None if j is None else rest[j] for j in others]


@dataclass(frozen=True)
class HangingProtocol:
    """What a modality's studies open in: a grid `shape` and the Series Description hung in each cell ('' for any)."""

    shape: GridShape = GridShape()
    descriptions: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"layout": str(self.shape), "series": list(self.descriptions)}

    @classmethod
    def from_dict(cls, data: dict) -> HangingProtocol:
        """The protocol `data` describes; ViewerError if it is not one."""
        if not isinstance(data, dict):
            raise ViewerError("not a hanging protocol")
        shape = parse_grid_shape(str(data.get("layout", "")))
        series = data.get("series", [])
        descriptions = tuple(str(d) for d in series) if isinstance(series, list) else ()
        return cls(shape, descriptions[: shape.cells])


def protocols_from_json(raw: str) -> dict[str, HangingProtocol]:
    """Modality -> protocol as saved by :func:`protocols_to_json`; what cannot be read is left out (never an error)."""
    try:
        data = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    protocols = {}
    for modality, entry in data.items() if isinstance(data, dict) else ():
        try:
            protocols[str(modality)] = HangingProtocol.from_dict(entry)
        except ViewerError:
            continue
    return protocols


def protocols_to_json(protocols: dict[str, HangingProtocol]) -> str:
    return json.dumps({modality: p.to_dict() for modality, p in sorted(protocols.items())}, ensure_ascii=False)


@dataclass(frozen=True)
class StudyFacts:
    """What finding a prior needs of a study.

    (0010,0020) *Patient ID*, (0010,0021) *Issuer of Patient ID*, (0008,0020)
    *Study Date* (DA, YYYYMMDD), (0008,0030) *Study Time* (TM, HHMMSS.FFFFFF)
    and the modalities of its series ((0008,0060) *Modality*).
    """

    uid: str
    patient_id: str
    issuer: str
    date: str
    time: str
    modalities: frozenset[str]


def study_moment(date: str, time: str) -> tuple[str, str] | None:
    """A sortable (date, time) of a study; None without a usable Study Date.

    DA is YYYYMMDD (PS3.5 6.2; the old 'YYYY.MM.DD' form is accepted); TM is
    HHMMSS.FFFFFF with trailing parts optional, so it is padded to compare.
    """
    digits = (date or "").strip().replace(".", "")
    if not re.fullmatch(r"\d{8}", digits):
        return None
    clock = (time or "").strip().replace(":", "")
    whole, _, fraction = clock.partition(".")
    if not re.fullmatch(r"\d{0,6}", whole) or not re.fullmatch(r"\d*", fraction):
        whole, fraction = "", ""
    return digits, whole.ljust(6, "0") + "." + fraction.ljust(6, "0")[:6]


def latest_prior(current: StudyFacts, studies: Iterable[StudyFacts], modality: str) -> StudyFacts | None:
    """The latest study of the same patient (Patient ID and Issuer) with a `modality` series, before `current`.

    None when there is none, when `current` has no Patient ID (nothing says
    two studies are the same patient's) or no Study Date (nothing is before it).
    """
    now = study_moment(current.date, current.time)
    if not current.patient_id or now is None:
        return None
    best: tuple[tuple[str, str], StudyFacts] | None = None
    for study in studies:
        if study.uid == current.uid or (study.patient_id, study.issuer) != (current.patient_id, current.issuer):
            continue
        if modality not in study.modalities:
            continue
        moment = study_moment(study.date, study.time)
        if moment is None or moment >= now:
            continue
        if best is None or moment > best[0]:
            best = (moment, study)
    return best[1] if best else None


def prior_series_index(current: SeriesFacts, candidates: Sequence[SeriesFacts]) -> int | None:
    """Which series of the prior study to show beside `current`: the same Series Description,
    else the same Series Number, else the first by Series Number (None if `candidates` is empty)."""
    if not candidates:
        return None
    for same in (
        lambda s: current.description and s.description == current.description,
        lambda s: current.number and s.number == current.number,
    ):
        found = next((i for i in hanging_order(candidates) if same(candidates[i])), None)
        if found is not None:
            return found
    return hanging_order(candidates)[0]
