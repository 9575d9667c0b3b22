"""(0028,3006) *LUT Data* and its kin read as entries, in both layouts of 8-bit entries.

One reader for every lookup table the viewer applies: the Modality LUT
Sequence (PS3.3 C.11.1.1), the VOI LUT Sequence (C.11.2.1.1), a presentation
state's Presentation LUT Sequence (C.11.6.1) and the Palette Color Lookup
Table Data (C.7.6.3.1.5-6).

The third value of the (0028,3002) *LUT Descriptor* gives the bits per
entry. The standard stores 8-bit entries "in a format equivalent to 8 bits
allocated" (C.11.1.1.1, C.11.2.1.1.1): two entries packed in each 16-bit
word of the OW/US value, the first in the low byte. Many older files store
one 8-bit entry per word instead. The layout is told by the data's length,
as dcmtk's ``DiLookupTable`` does: a byte length equal to the entry count
rounded up to even is packed; twice the entry count is one entry per word,
its low byte. pydicom 3.0's ``apply_voi`` and ``apply_modality_lut`` read
only the second layout (a packed table raises struct.error), and its
``apply_voi`` indexes an 8-bit table of more than 256 entries with 8-bit
indices (entry 256 read as entry 0).

A word-per-entry table whose descriptor says 8 bits but whose words have a
high byte that is neither 0 nor equal to the low byte holds 16-bit entries
(a descriptor error): it is read as 16 bits, as dcmtk does when it checks
LUT depths (``dcmj2pnm +Ict``); dcmtk's default keeps the low bytes, which
would show such a table as noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_modality_lut


@dataclass(frozen=True)
class LutTable:
    """A lookup table: entries, the stored value mapped to the first entry, bits per output value."""

    entries: np.ndarray
    first_mapped: int
    bits: int

    @property
    def output_max(self) -> int:
        return (1 << self.bits) - 1

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Values below the first mapped one get the first entry, above the last the last (C.11.1.1.1)."""
        index = np.clip(np.asarray(values, dtype=np.int64) - self.first_mapped, 0, len(self.entries) - 1)
        return self.entries[index]


def is_little_endian(ctx: Dataset | None) -> bool:
    """The byte order of OW values in `ctx`'s file (PS3.5 7.3); little endian when unknown."""
    if ctx is None:
        return True
    meta = getattr(ctx, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    if uid is not None and getattr(uid, "is_transfer_syntax", False):
        return bool(uid.is_little_endian)
    return getattr(ctx, "original_encoding", (None, True))[1] is not False


def _words(data: object, little: bool) -> np.ndarray:
    """The value as 16-bit words: OW bytes in the file's byte order, or US numbers."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if len(raw) % 2:
            raw += b"\0"
        return np.frombuffer(raw, dtype="<u2" if little else ">u2").astype(np.int64)
    if isinstance(data, (int, np.integer)):
        return np.array([int(data)], dtype=np.int64)
    return np.asarray([int(v) for v in data], dtype=np.int64)


def lut_table(descriptor: object, data: object, little_endian: bool = True) -> LutTable:
    """The entries of LUT Data `data` described by `descriptor` (entries, first mapped value, bits).

    ValueError when the data holds fewer entries than the descriptor says or
    the bits are not 1-16.
    """
    values = [int(v) for v in descriptor]  # type: ignore[attr-defined]
    if len(values) != 3:
        raise ValueError(f"a LUT Descriptor has 3 values, not {len(values)}")
    count, first, bits = values[0] or 1 << 16, values[1], values[2]
    if not 1 <= bits <= 16:
        raise ValueError(f"{bits} bits per LUT entry")
    words = _words(data, little_endian)
    if bits <= 8 and len(words) == (count + 1) // 2 and len(words) != count:
        # Packed: entry 2k in the low byte of word k, entry 2k+1 in its high byte.
        packed = np.empty(2 * len(words), dtype=np.int64)
        packed[0::2] = words & 0xFF
        packed[1::2] = words >> 8
        return LutTable(packed[:count], first, bits)
    if len(words) < count:
        raise ValueError(f"the LUT Data holds {len(words)} entries where its descriptor says {count}")
    entries = words[:count]
    if bits <= 8:
        high, low = entries >> 8, entries & 0xFF
        if np.any((high != 0) & (high != low)):
            return LutTable(entries, first, 16)
        entries = entries & 0xFF
    return LutTable(entries, first, bits)


def item_table(item: Dataset, ctx: Dataset | None = None) -> LutTable:
    """The LUT of a Modality, VOI or Presentation LUT Sequence item; `ctx` gives the byte order."""
    return lut_table(item.LUTDescriptor, item.LUTData, is_little_endian(ctx if ctx is not None else item))


def modality_values(stored: np.ndarray, ctx: Dataset) -> np.ndarray:
    """Stored values through the Modality LUT (PS3.3 C.11.1): the drop-in for pydicom's ``apply_modality_lut``.

    The (0028,3000) *Modality LUT Sequence* wins over rescale and is read by
    :func:`lut_table`; rescale (or nothing) is pydicom's.
    """
    if ctx.get("ModalityLUTSequence"):
        return item_table(ctx.ModalityLUTSequence[0], ctx).apply(stored)
    return apply_modality_lut(stored, ctx)


def voi_table(ctx: Dataset, index: int) -> LutTable:
    """Item `index` of the (0028,3010) *VOI LUT Sequence* (PS3.3 C.11.2.1.1)."""
    return item_table(ctx.VOILUTSequence[index], ctx)


_PALETTE = ("Red", "Green", "Blue")


def palette_tables(ctx: Dataset) -> list[LutTable] | None:
    """The red, green and blue Palette Color Lookup Tables (C.7.6.3.1.5-6), or None when segmented (C.7.9).

    OW data in the file's byte order; 8-bit entries in either layout.
    """
    if f"{_PALETTE[0]}PaletteColorLookupTableData" not in ctx:
        return None
    little = is_little_endian(ctx)
    tables = []
    for c in _PALETTE:
        descriptor = [int(v) for v in ctx[f"{c}PaletteColorLookupTableDescriptor"].value]
        data = ctx[f"{c}PaletteColorLookupTableData"].value
        if descriptor[2] > 8 and isinstance(data, bytes) and len(data) == (descriptor[0] or 1 << 16):
            descriptor[2] = 8  # one byte per entry whatever the descriptor says (as pydicom and dcmtk read it)
        tables.append(lut_table(descriptor, data, little))
    return tables
