"""Text in the right script: declared character sets, suspicion, guesses, overrides.

DICOM text is bytes plus (0008,0005) *Specific Character Set* (PS3.5 6.1,
PS3.3 C.12.1.1.2). pydicom decodes the declared sets, ISO 2022 code
extensions included; this module adds what real files need:

- **suspicion**: bytes above 0x7F under no declaration, ASCII or Latin-1, or
  bytes that do not decode under the declared set, mark a value as suspect
  (a common fault: GB18030 or UTF-8 names written with no or the wrong set);
- **a best guess** among UTF-8, GB18030, Shift_JIS, ISO 2022 JP, EUC-KR and
  Windows-1251, by how plausible each decoding's characters are;
- **overrides** chosen by the user for a file, a series, a Station Name or an
  Institution Name, applied before the file's own declaration: a
  :class:`CharsetOverrides` passed to each call (the window's settings own
  one; the command line makes its own from --charset; None: no choices).

Everything that shows text (browser, annotations, tag inspector, dump,
query results) goes through :func:`decode_text` / :func:`header_text`.
"""

from __future__ import annotations

import codecs
import unicodedata
from dataclasses import dataclass, field

import numpy as np
from pydicom.charset import convert_encodings, decode_bytes, python_encoding
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.filewriter import correct_ambiguous_vr_element
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.valuerep import AMBIGUOUS_VR, PersonName

#: VRs whose values are text in the Specific Character Set (PS3.5 6.1.2.3).
TEXT_VRS = {"SH", "LO", "ST", "LT", "UC", "UT", "PN"}
#: VRs that are always plain ASCII (the default repertoire).
ASCII_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI", "UR"}

#: Choices offered to the user: label -> codec understood by decode_with().
#: DICOM defined terms are decoded by pydicom; the others (not DICOM terms,
#: but what misconfigured devices really write) by Python's codecs.
CHOICES: dict[str, str] = {
    "As declared by the file": "",
    "UTF-8 (ISO_IR 192)": "ISO_IR 192",
    "Chinese GB18030": "GB18030",
    "Chinese GBK": "GBK",
    "Japanese Shift_JIS": "shift_jis",
    "Japanese ISO 2022 (IR 87)": "\\ISO 2022 IR 87",
    "Korean EUC-KR": "euc_kr",
    "Korean ISO 2022 (IR 149)": "\\ISO 2022 IR 149",
    "Cyrillic Windows-1251": "cp1251",
    "Cyrillic ISO 8859-5 (ISO_IR 144)": "ISO_IR 144",
    "Latin-1 (ISO_IR 100)": "ISO_IR 100",
    "Latin-2 (ISO_IR 101)": "ISO_IR 101",
    "Greek (ISO_IR 126)": "ISO_IR 126",
    "Arabic (ISO_IR 127)": "ISO_IR 127",
    "Hebrew (ISO_IR 138)": "ISO_IR 138",
    "Turkish (ISO_IR 148)": "ISO_IR 148",
    "Thai (ISO_IR 166)": "ISO_IR 166",
}
LABELS = {codec: label for label, codec in CHOICES.items()}

#: Guess candidates, in order of preference on a tie.
GUESSES = ("ISO_IR 192", "GB18030", "euc_kr", "shift_jis", "\\ISO 2022 IR 87", "cp1251", "ISO_IR 100")


@dataclass(frozen=True)
class DecodedText:
    """A text value as shown: the text, whether it is suspect, and how it was decoded.

    ``guess`` is set when the text comes from a guess rather than from the
    file's declaration or a user override; ``charset`` names what was used.
    """

    text: str
    suspect: bool = False
    guess: str | None = None
    charset: str = ""
    overridden: bool = False

    def __str__(self) -> str:
        return self.text


def declared_charsets(ds: Dataset) -> list[str]:
    """(0008,0005) as a list of defined terms ([''] when absent)."""
    elem = ds.get_item(0x00080005) if 0x00080005 in ds else None
    if elem is None:
        return [""]
    value = elem.value
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("ascii", "replace")
        values = [v.strip(" \x00") for v in text.split("\\")]
    elif isinstance(value, str):
        values = [value.strip()]
    elif isinstance(value, (list, tuple)) or hasattr(value, "__iter__"):
        values = [str(v).strip() for v in value]
    else:
        # (0008,0005) with a numeric VR (a damaged file): one unknown term,
        # reported as such, rather than a TypeError (tests/robustness).
        values = [str(value).strip()]
    return values or [""]


def _codec_list(charset: str) -> list[str]:
    """An override code as a list of DICOM terms or one Python codec."""
    if charset.startswith("\\"):
        return ["", charset[1:]]  # ISO 2022 with the default repertoire first
    return [charset]


#: ISO 2022 escape designating GB 2312 (ISO-IR 58) to G1 (PS3.3 Table C.12-4).
_ESC_GB2312 = b"\x1b$)A"


def _is_python_codec(charset: str) -> bool:
    """An override code that is a Python codec name rather than a DICOM defined term."""
    return bool(charset) and not charset.startswith("\\") and charset not in python_encoding


def decode_with(raw: bytes, charsets: list[str], vr: str = "LO") -> str:
    """Decode `raw` with DICOM terms (pydicom) or a Python codec, strictly.

    Raises UnicodeDecodeError/LookupError/ValueError when the bytes do not fit.
    """
    import warnings

    if len(charsets) == 1 and _is_python_codec(charsets[0]):
        return raw.decode(charsets[0], "strict")
    if "ISO 2022 IR 58" in charsets and _ESC_GB2312 in raw and raw.count(b"\x1b") == raw.count(_ESC_GB2312):
        # pydicom leaves ESC $ ) A in the text (it expects Python's gb2312 codec
        # to strip it; it does not). With only ASCII in G0 and GB 2312 in G1
        # (PS3.5 Annex K), the bytes without the escapes are plain EUC-CN.
        return raw.replace(_ESC_GB2312, b"").decode("gb2312", "strict")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pydicom warns and replaces; we want to know
        encodings = convert_encodings(charsets)
        if vr == "PN":
            return str(PersonName(raw, encodings=encodings).decode())
        delimiters = {0x5C} if vr in ("SH", "LO", "UC") else set()
        return decode_bytes(raw, encodings, delimiters)


def _lenient(raw: bytes, charsets: list[str], vr: str) -> str:
    """Decode as best pydicom can, replacing what does not fit (never raises)."""
    import warnings

    try:
        return decode_with(raw, charsets, vr)
    except Exception:  # fall back to a replacing decode
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if len(charsets) == 1 and _is_python_codec(charsets[0]):
                return raw.decode(charsets[0], "replace")
            encodings = convert_encodings(charsets)
            if vr == "PN":
                return str(PersonName(raw, encodings=encodings).decode())
            return decode_bytes(raw, encodings, set())
        except Exception:  # whatever the bytes: show them as Latin-1 rather than nothing
            return raw.decode("latin-1")


# ----------------------------------------------------------------------------- guessing


def _char_score(ch: str, charset: str) -> float:
    """How typical a decoded character is for text written in `charset`."""
    code = ord(ch)
    if code < 0x80:
        return 1.0
    category = unicodedata.category(ch)
    if category.startswith("C") or ch == "\ufffd":
        return 0.0  # control, unassigned, private use, replacement
    if charset == "euc_kr":
        return 1.0 if 0xAC00 <= code <= 0xD7A3 else 0.3
    if charset == "GB18030":
        if 0x4E00 <= code <= 0x9FFF:
            try:
                ch.encode("gb2312")
                return 1.0  # one of the 6763 common characters
            except UnicodeEncodeError:
                return 0.4
        return 0.5 if category.startswith(("L", "P")) else 0.1
    if charset in ("shift_jis", "\\ISO 2022 IR 87"):
        if 0x3040 <= code <= 0x30FF:
            return 1.0  # hiragana, katakana
        if 0x4E00 <= code <= 0x9FFF:
            return 0.9
        if 0xFF61 <= code <= 0xFF9F:
            return 0.3  # half-width katakana: what Latin-1 bytes look like in Shift_JIS
        return 0.2
    if charset == "cp1251":
        return 1.0 if 0x0400 <= code <= 0x04FF else 0.2
    if charset == "ISO_IR 100":
        return 0.9 if category.startswith("L") else 0.3
    return 0.5


#: Hangul syllables common in Korean names (surnames and given-name syllables).
#: EUC-KR and GB18030 share their byte ranges, so a Korean reading is only
#: preferred when it yields syllables people are actually named with.
COMMON_NAME_HANGUL = set(
    "김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허유남심노하곽성차주우구나민진지엄채원천방공현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용"
    "서지현준우영수진은하연예윤도성재호훈원정승동혜희경주아나다빈채시율건태상철석광용기규한환완선미숙순자옥애랑린혁찬결솔별봄솜나래보람슬기"
    "가영미경숙희정은주현수진지혜선아름다운민서윤우준호영재훈성동철상균명환석창길대중일구열종범근택익덕만봉남식형태웅희춘복"
)
_WORD_SEPARATORS = "^= \\,.-_()"


def _words(text: str) -> list[str]:
    word, words = [], []
    for ch in text:
        if ch in _WORD_SEPARATORS:
            if word:
                words.append("".join(word))
            word = []
        else:
            word.append(ch)
    if word:
        words.append("".join(word))
    return words


def _plausibility(text: str, charset: str) -> float:
    """0..1: how much `text` reads like names written in `charset`."""
    letters = [ch for ch in text if ord(ch) >= 0x80]
    if not letters:
        return 0.0
    score = sum(_char_score(ch, charset) for ch in letters) / len(letters)
    words = [w for w in _words(text) if any(ord(ch) >= 0x80 for ch in w)]
    if charset in ("cp1251", "ISO_IR 100") and words:
        # One-byte scripts: a word mixing Latin and Cyrillic letters is a misreading.
        def mixed(word: str) -> bool:
            latin = any(ch.isascii() and ch.isalpha() for ch in word)
            cyrillic = any(0x0400 <= ord(ch) <= 0x04FF for ch in word)
            return latin and cyrillic

        if any(mixed(w) for w in words):
            score *= 0.3
        elif charset == "cp1251" and all(len(w) >= 3 and w[:1].isupper() and (w[1:].islower() or w[1:].isupper()) for w in words):
            # Иванов, ИВАНОВ: capitalised like a name. Two-letter words are
            # left out: every two-byte Chinese character reads as one.
            score += 0.1
        elif charset == "ISO_IR 100" and all(any(ch.isascii() and ch.isalpha() for ch in w) for w in words):
            score += 0.15  # Müller: accents inside Latin words
    if charset == "euc_kr":
        syllables = [ch for ch in letters if 0xAC00 <= ord(ch) <= 0xD7A3]
        if syllables:
            common = sum(ch in COMMON_NAME_HANGUL for ch in syllables) / len(syllables)
            score = score * (0.5 + 0.6 * common)
    return score


def guess_charset(raw: bytes, vr: str = "LO") -> tuple[str, str] | None:
    """(charset, text) of the most plausible decoding of non-ASCII `raw`, or None.

    UTF-8 wins when the bytes are valid UTF-8 (accidental validity is rare).
    Otherwise each candidate's decoding is scored for plausibility: common
    Chinese characters for GB18030, kana for Shift_JIS, Hangul syllables
    people are named with for EUC-KR (its bytes are also valid GB18030),
    Cyrillic or Latin words that do not mix scripts for the one-byte sets.
    """
    if all(b < 0x80 for b in raw) and b"\x1b" not in raw:
        return None
    scored: list[tuple[float, int, str, str]] = []
    for rank, charset in enumerate(GUESSES):
        if charset == "\\ISO 2022 IR 87" and b"\x1b" not in raw:
            continue
        try:
            text = decode_with(raw, _codec_list(charset), vr)
        except Exception:  # does not decode: not a candidate
            continue
        if charset == "ISO_IR 192":
            return charset, text
        score = _plausibility(text, charset)
        if score > 0:
            scored.append((score, -rank, charset, text))
    if not scored:
        return None
    _, _, charset, text = max(scored)
    return charset, text


# ----------------------------------------------------------------------------- overrides


@dataclass
class CharsetOverrides:
    """User choices of character set, most specific first.

    Applied in this order: file, series, station, institution, then the
    file's own declaration (overrides exist for files whose declaration is
    wrong or absent). Plain data: the UI loads and saves it in settings.
    """

    files: dict[str, str] = field(default_factory=dict)
    series: dict[str, str] = field(default_factory=dict)
    stations: dict[str, str] = field(default_factory=dict)
    institutions: dict[str, str] = field(default_factory=dict)

    SCOPES = ("files", "series", "stations", "institutions")

    def lookup(self, ds: Dataset, path: str | None = None) -> tuple[str, str] | None:
        """(charset, scope) that applies to `ds`, or None."""
        if path and path in self.files:
            return self.files[path], "file"
        series_uid = _ascii(ds, 0x0020000E)
        if series_uid and series_uid in self.series:
            return self.series[series_uid], "series"
        station = _ascii(ds, 0x00081010)
        if station and station in self.stations:
            return self.stations[station], "station"
        institution = _ascii(ds, 0x00080080)
        if institution and institution in self.institutions:
            return self.institutions[institution], "institution"
        return None

    def set(self, scope: str, key: str, charset: str | None) -> None:
        table = getattr(self, scope)
        if charset:
            table[key] = charset
        else:
            table.pop(key, None)

    def to_dict(self) -> dict[str, dict[str, str]]:
        return {scope: dict(getattr(self, scope)) for scope in self.SCOPES}

    @classmethod
    def from_dict(cls, data) -> CharsetOverrides:
        data = data if isinstance(data, dict) else {}
        return cls(**{scope: {str(k): str(v) for k, v in (data.get(scope) or {}).items()} for scope in cls.SCOPES})


def _raw_bytes(ds: Dataset, tag: int) -> tuple[bytes, str] | None:
    """The undecoded bytes and VR of an element, or None if absent/already decoded."""
    if tag not in ds:
        return None
    elem = ds.get_item(tag)
    if isinstance(elem, RawDataElement):
        value = elem.value or b""
        return bytes(value), str(elem.VR or "")
    value = elem.value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), str(elem.VR)
    if isinstance(value, PersonName) and value.original_string is not None:
        return bytes(value.original_string), "PN"
    return None


def _ascii(ds: Dataset, tag: int) -> str:
    raw = _raw_bytes(ds, tag)
    if raw is None:
        value = ds.get(tag)
        return "" if value is None else str(getattr(value, "value", value)).strip()
    return raw[0].decode("latin-1").strip(" \x00")


def decode_text(
    raw: bytes,
    vr: str,
    declared: list[str],
    override: str | None = None,
) -> DecodedText:
    """Decode one text value as the viewer shows it (see module docstring)."""
    raw = raw.rstrip(b"\x00 ") if vr not in ("UT", "ST", "LT") else raw.rstrip(b"\x00")
    if override:
        return DecodedText(_lenient(raw, _codec_list(override), vr), False, None, override, True)
    non_ascii = any(b >= 0x80 for b in raw) or b"\x1b" in raw
    terms = [t for t in declared if t] or [""]
    weak = all(t in ("", "ISO_IR 6", "ISO 2022 IR 6", "ISO_IR 100", "ISO 2022 IR 100") for t in terms)
    try:
        text = decode_with(raw, terms, vr)
        if not (non_ascii and weak and not _looks_latin1(text, terms)):
            return DecodedText(text, False, None, "\\".join(terms))
    except Exception:  # does not decode as declared: suspect
        text = None
    guessed = guess_charset(raw, vr)
    if guessed is not None:
        charset, guessed_text = guessed
        return DecodedText(guessed_text, True, charset, charset)
    return DecodedText(text if text is not None else _lenient(raw, terms, vr), True, None, "\\".join(terms))


def _looks_latin1(text: str, terms: list[str]) -> bool:
    """Latin-1 declared and the text reads like a Western name (letters, not symbols)."""
    if not any(t in ("ISO_IR 100", "ISO 2022 IR 100") for t in terms):
        return False
    high = [ch for ch in text if ord(ch) >= 0x80]
    return bool(high) and all(unicodedata.category(ch).startswith("L") for ch in high) and len(high) <= max(2, len(text) // 3)


def element_vr(elem: DataElement | RawDataElement, tag: int) -> str:
    """The VR of an element: its own (explicit VR), else the data dictionary's.

    Implicit VR files carry no VR (PS3.5 7.1.3): the dictionary gives it,
    possibly ambiguous ('US or SS', 'OB or OW'); group lengths (gggg,0000)
    are UL (PS3.5 7.2); '' for a private or unknown tag.
    """
    vr = str(elem.VR or "")
    if vr:
        return vr
    if tag & 0xFFFF == 0:
        return "UL"
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return ""


def _is_text(vr: str) -> bool:
    return vr in TEXT_VRS or vr in ASCII_VRS


def _float_text(value: float, vr: str) -> str:
    """The shortest text that reads back as the same FL (32-bit) or FD (64-bit) value."""
    return str(np.float32(value)) if vr == "FL" else repr(float(value))


def value_text(elem: DataElement) -> str:
    """A converted element's value as text, values joined by backslashes as dcmdump shows them.

    Numbers as pydicom converted them from the file's byte order (US, SS,
    UL, SL, SV, UV, FL, FD: PS3.5 Table 6.2-1), tags as (gggg,eeee) for AT,
    other binary values (OB, OW, UN...) as hex bytes; '' for a sequence.
    """
    value = elem.value
    if value is None or isinstance(value, Sequence) or (isinstance(value, str) and value == ""):
        return ""
    if isinstance(value, (bytes, bytearray)):
        return "\\".join(f"{b:02x}" for b in value)
    many = isinstance(value, (list, tuple)) or (hasattr(value, "__iter__") and not isinstance(value, (str, int)))
    values = list(value) if many else [value]
    vr = str(elem.VR)
    if vr == "AT":
        # An AT value pydicom could not split evenly comes as a nested list (tests/robustness).
        tags = [t for v in values for t in (v if isinstance(v, (list, tuple, MultiValue)) else [v])]
        return "\\".join(f"({int(t) >> 16:04X},{int(t) & 0xFFFF:04X})" for t in tags)
    if vr in ("FL", "FD", "OF", "OD"):
        return "\\".join(_float_text(v, vr) if isinstance(v, float) else str(v) for v in values)
    return "\\".join(str(v) for v in values)


def _binary_text(ds: Dataset, tag: int, elem: DataElement | RawDataElement) -> DecodedText:
    """A binary value (US, SS, FL, AT, OB ...) converted by pydicom in the file's byte order.

    The element itself is converted aside (`ds` keeps it raw); a value pydicom cannot convert (a US of
    3 bytes) is shown as its bytes in hex, marked suspect.
    """
    import warnings

    if isinstance(elem, RawDataElement):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a malformed value is marked suspect instead
                converted = convert_raw_data_element(elem, encoding=None, ds=ds)
                if converted.VR in AMBIGUOUS_VR:
                    # Implicit VR 'US or SS' (PS3.5 A.1): pydicom decides by the
                    # (0028,0103) Pixel Representation in force, as on any read.
                    converted = correct_ambiguous_vr_element(converted, ds, elem.is_little_endian)
        except Exception:  # see above
            raw = bytes(elem.value or b"")
            return DecodedText("\\".join(f"{b:02x}" for b in raw), True)
        elem = converted
    return DecodedText(value_text(elem))


def element_text(
    ds: Dataset,
    tag: int,
    path: str | None = None,
    overrides: CharsetOverrides | None = None,
    declared: list[str] | None = None,
) -> DecodedText | None:
    """The decoded text of element `tag` of `ds` (None when absent), the user's `overrides` applied.

    Text VRs are decoded in the character set in force; `declared` is the
    one in force when `ds` is a sequence item without its own (0008,0005):
    the enclosing dataset's (PS3.5 7.5.3). Binary VRs (US, SS, UL, FL, FD,
    AT, OB, OW ...) are converted by pydicom in the dataset's byte order,
    implicit VR ones by the dictionary's VR, and multiple values joined with
    backslashes.
    """
    if tag not in ds:
        return None
    elem = ds.get_item(tag)
    vr = element_vr(elem, tag)
    if vr == "UN":
        # UN is how a reader without the dictionary wrote a known attribute
        # (PS3.5 6.2.2): the dictionary says what its bytes are.
        try:
            known = str(dictionary_VR(tag))
        except KeyError:
            known = ""
        if _is_text(known):
            vr = known
    if vr and not _is_text(vr):
        return _binary_text(ds, tag, elem)
    raw = _raw_bytes(ds, tag)
    if raw is None:
        converted = ds[tag]
        if isinstance(converted.value, str):
            return DecodedText(converted.value)
        return DecodedText(value_text(converted))
    data = raw[0]
    vr = vr or "LO"  # a private tag of an implicit VR file: most are text
    if vr not in TEXT_VRS:
        return DecodedText(data.decode("ascii", "replace").strip(" \x00"), any(b >= 0x80 for b in data))
    rule = overrides.lookup(ds, path) if overrides is not None else None
    own = declared_charsets(ds) if 0x00080005 in ds or declared is None else declared
    return decode_text(data, vr, own, rule[0] if rule else None)


def header_text(ds: Dataset, keyword: str, path: str | None = None, overrides: CharsetOverrides | None = None) -> str:
    """Display text of an attribute by keyword ('' when absent), the user's `overrides` applied."""
    decoded = element_text(ds, int(Tag(keyword)), path, overrides)
    return "" if decoded is None else decoded.text.strip()


# ----------------------------------------------------------------------------- spellings


#: ISO 2022 multi-byte sets are code extensions after the default repertoire:
#: declared as a second value ('\\ISO 2022 IR 87', PS3.3 C.12.1.1.2).
_EXTENSIONS_ONLY = {"ISO 2022 IR 87", "ISO 2022 IR 159", "ISO 2022 IR 149", "ISO 2022 IR 58"}
#: The DICOM term a Python codec stands for, where one says exactly that codec (PS3.3 Table C.12-2, C.12-5).
_TERM_OF_CODEC = {
    codecs.lookup(python_encoding[term]).name: term
    for term in (
        "ISO_IR 192",
        "ISO_IR 100",
        "ISO_IR 101",
        "ISO_IR 109",
        "ISO_IR 110",
        "ISO_IR 126",
        "ISO_IR 127",
        "ISO_IR 138",
        "ISO_IR 144",
        "ISO_IR 148",
        "ISO_IR 166",
        "GB18030",
        "GBK",
    )
}
_TERM_OF_CODEC["ascii"] = "ISO_IR 6"


def _loose(spelling: str) -> str:
    """'ISO_IR 100', 'iso-ir-100' and 'ISO IR100' alike: case, spaces, '-' and '_' ignored."""
    return "".join(ch for ch in spelling.lower() if ch not in " -_\\")


_BY_LOOSE_NAME = {
    **{_loose(term): term for term in python_encoding if term},
    **{_loose(term): "\\" + term for term in _EXTENSIONS_ONLY},
    **{_loose(code): code for code in CHOICES.values() if code},
}
#: A few names to suggest when a spelling is unknown.
from viewer.core.dicom.charset_names import EXAMPLE_SPELLINGS  # noqa: E402 (kept here: its users import it from here)


def normalise_charset(spelling: str) -> str:
    """The canonical choice for a character set as a user types it ('' for the file's own declaration).

    Accepts the labels of :data:`CHOICES`, DICOM defined terms (PS3.3 C.12.1.1.2)
    and Python codec names with their aliases, in any case and with any of
    ' ', '-', '_' as separators: 'UTF-8', 'utf8', 'iso-ir-100', 'Latin-1',
    'SJIS', 'EUC-KR'. The result is a DICOM term where one names exactly that
    set ('utf8' -> 'ISO_IR 192', 'latin1' -> 'ISO_IR 100'), an ISO 2022
    multi-byte term after the default repertoire ('\\ISO 2022 IR 87'), the code
    offered in :data:`CHOICES` ('Shift_JIS' -> 'shift_jis'), else Python's own
    name of the codec ('eucjp' -> 'euc_jp'). Raises ViewerError (one line,
    with examples) for anything else.
    """
    from viewer.core.dicom.io import ViewerError

    text = " ".join(str(spelling or "").split())
    if not text:
        return ""
    for label, code in CHOICES.items():
        if text.lower() == label.lower():
            return code
    known = _BY_LOOSE_NAME.get(_loose(text))
    if known is not None:
        return known
    try:
        info = codecs.lookup(text)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise ViewerError(f"unknown character set '{text}': try {EXAMPLE_SPELLINGS}")
    if info.name in _TERM_OF_CODEC:
        return _TERM_OF_CODEC[info.name]
    for code in CHOICES.values():
        if code and _is_python_codec(code) and codecs.lookup(code).name == info.name:
            return code
    return info.name.replace("-", "_")


def sendable_charset(spelling: str) -> str:
    """A character set a query may declare in (0008,0005): a single DICOM defined term ('' for none).

    Raises ViewerError for a Python codec with no DICOM term ('Shift_JIS'),
    or an ISO 2022 code extension, which a request cannot declare alone.
    """
    from viewer.core.dicom.io import ViewerError

    code = normalise_charset(spelling)
    if not code:
        return ""  # nothing declared: the default repertoire (PS3.5 6.1.2.1)
    if _is_python_codec(code) or code.startswith("\\"):
        raise ViewerError(
            f"'{spelling}' is not a character set a query can declare: choose one such as ISO_IR 192 (UTF-8), ISO_IR 100, GB18030"
        )
    return code


def is_valid_codec(charset: str) -> bool:
    """Whether a user's spelling of a character set is understood (see :func:`normalise_charset`)."""
    from viewer.core.dicom.io import ViewerError

    try:
        normalise_charset(charset)
    except ViewerError:
        return False
    return True
