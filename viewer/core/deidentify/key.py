"""The key of a de-identification run: how UIDs, patients and dates are replaced, the same way every time.

PS3.15 E.1.1 note 3: replacement UIDs must stay consistent across the instances protected together (a
series' instances keep one Series Instance UID, a reference keeps pointing at the instance it names).
Every replacement here is a keyed hash (HMAC-SHA-256) of the original value with a secret salt, so it
is the same in every worker process of a run without any sharing, and the same in a later run that loads
the same key file. The salt is what protects the mapping: anyone holding the key file can link the
copies back to the originals, so it is kept away from the copies (it lists the UIDs replaced, too).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from pathlib import Path

from viewer.core.dicom.io import ViewerError

KEY_FORMAT = "dicom-viewer de-identification key"
#: PS3.5 B.2: a UID made from a UUID, as the decimal integer under 2.25; here 128 bits of the keyed hash.
UUID_ROOT = "2.25."
#: With no --shift-days, each patient's dates move back by 1 to this many days.
MAX_SHIFT_DAYS = 3 * 365


class DeidentificationKey:
    """The salt and the UIDs replaced so far (original -> replacement)."""

    def __init__(self, salt: bytes | None = None, uids: dict[str, str] | None = None):
        self.salt = salt if salt is not None else secrets.token_bytes(32)
        self.uids: dict[str, str] = dict(uids or {})

    def _digest(self, purpose: str, value: str) -> bytes:
        return hmac.new(self.salt, f"{purpose}\0{value}".encode("utf-8", "surrogateescape"), hashlib.sha256).digest()

    def uid(self, original: str) -> str:
        """The replacement of `original`: a 2.25 UID (at most 44 characters, within UI's 64)."""
        known = self.uids.get(original)
        if known is None:
            known = UUID_ROOT + str(int.from_bytes(self._digest("uid", original)[:16], "big"))
            self.uids[original] = known
        return known

    def pseudonym(self, patient: str) -> str:
        """A Patient ID (and name) for the patient whose original ID and name are `patient`: ANON and 10 letters."""
        return "ANON" + self._digest("patient", patient).hex()[:10].upper()

    def shift_days(self, patient: str) -> int:
        """How many days this patient's dates move: between -MAX_SHIFT_DAYS and -1."""
        return -(1 + int.from_bytes(self._digest("dates", patient)[:4], "big") % MAX_SHIFT_DAYS)

    # ---------------------------------------------------------------- the key file

    def to_json(self) -> dict:
        return {"format": KEY_FORMAT, "version": 1, "salt": self.salt.hex(), "uids": self.uids}

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DeidentificationKey:
        """Read a key file written by :meth:`save`; raises ViewerError with a one-line reason."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ViewerError("the key file does not exist", path) from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ViewerError(f"the key file cannot be read ({exc.__class__.__name__})", path) from None
        if not isinstance(data, dict) or data.get("format") != KEY_FORMAT:
            raise ViewerError("not a dicom-viewer de-identification key", path)
        try:
            salt = bytes.fromhex(data["salt"])
            uids = {str(k): str(v) for k, v in dict(data.get("uids") or {}).items()}
        except (KeyError, TypeError, ValueError):
            raise ViewerError("the key file is damaged (its salt or UID map cannot be read)", path) from None
        if len(salt) < 16:
            raise ViewerError("the key file's salt is too short", path)
        return cls(salt, uids)

    @classmethod
    def load_or_create(cls, path: str | os.PathLike[str]) -> DeidentificationKey:
        """The key in `path` when it exists, else a new one (saved there at the end of the run)."""
        return cls.load(path) if Path(path).exists() else cls()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the key atomically, readable by its owner only (it links the copies to the originals)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".key-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.to_json(), f, indent=1, sort_keys=True)
            os.chmod(temporary, 0o600)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
