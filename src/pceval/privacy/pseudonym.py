"""Keyed pseudonyms: the same woman gets the same code in every file, and nobody without the key
can get from the code back to her case number.

A pseudonym is an HMAC-SHA256 of the value under the evaluation's secret key. A plain hash would
not do: case numbers are short and guessable, so anyone could hash every candidate and match.
The key lives in the evaluation's private folder (a file with mode 0600) or in an environment
variable; ``pceval.yml`` says where, never what. The key is never written to an output, and no
message or ``repr`` pceval produces contains it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import secrets
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pceval.errors import PrivacyError

KEY_ENV_VAR = "PCEVAL_KEY"
"""Environment variable read by :func:`load_key` unless told otherwise."""

MIN_KEY_BYTES = 16
"""Shortest key accepted (128 bits)."""

NEW_KEY_BYTES = 32
"""Length of the keys :func:`new_key` makes (256 bits)."""

_FIX = "run `pceval key new --out FILE` and set privacy.key_file in pceval.yml"
_SEPARATOR = "\x1f"  # ASCII unit separator: cannot occur in a namespace, so no two inputs collide
_WHITESPACE = re.compile(r"\s+")
_HEX = re.compile(r"[0-9a-fA-F]+")
_BASE64 = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def new_key() -> str:
    """Make a new random key: 32 bytes from the operating system's generator, as hex text.

    Examples
    --------
    >>> key = new_key()
    >>> len(key), len(bytes.fromhex(key))
    (64, 32)
    """
    return secrets.token_hex(NEW_KEY_BYTES)


def _decode_key(text: str, source: str, file: Path | None) -> bytes:
    """Key bytes from hex or URL-safe base64 text; messages never quote the text."""
    text = text.strip()
    if not text:
        raise PrivacyError(f"the pseudonym key in {source} is empty", file=file, fix=_FIX)
    # errors are raised outside any ``except`` block, so no chained exception (whose message
    # or attributes could hold the key text) travels with them
    key: bytes | None = None
    if len(text) % 2 == 0 and _HEX.fullmatch(text):
        key = bytes.fromhex(text)
    elif _BASE64.fullmatch(text):
        try:
            bare = text.rstrip("=")
            key = base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
        except (binascii.Error, ValueError):
            key = None
    if key is None:
        raise PrivacyError(f"the pseudonym key in {source} is neither hex nor URL-safe base64 "
                           "text", file=file, fix=_FIX)
    if len(key) < MIN_KEY_BYTES:
        raise PrivacyError(
            f"the pseudonym key in {source} is {len(key)} bytes long; at least "
            f"{MIN_KEY_BYTES} are needed",
            file=file, fix=_FIX,
        )
    return key


def load_key(*, env_var: str = KEY_ENV_VAR, key_file: str | Path | None = None) -> bytes:
    """Read the evaluation's pseudonym key.

    The environment variable wins when it is set and not empty; otherwise the key file is read.
    The text is hex (as :func:`new_key` writes it) or URL-safe base64; surrounding whitespace is
    ignored.

    Parameters
    ----------
    env_var : str
        Name of the environment variable that may hold the key.
    key_file : path, optional
        File holding the key (``privacy.key_file`` in ``pceval.yml``).

    Returns
    -------
    bytes
        The key, at least 16 bytes.

    Raises
    ------
    PrivacyError
        No key is found, the key is empty or not hex/base64, or it is shorter than 16 bytes.
        The message names where the key was looked for, never the key.

    Examples
    --------
    >>> import os
    >>> os.environ["PCEVAL_DOCTEST_KEY"] = "00" * 32
    >>> load_key(env_var="PCEVAL_DOCTEST_KEY") == bytes(32)
    True
    >>> del os.environ["PCEVAL_DOCTEST_KEY"]
    """
    text = os.environ.get(env_var)
    if text is not None and text.strip():
        return _decode_key(text, f"the environment variable {env_var}", None)
    if key_file is None:
        raise PrivacyError(
            f"no pseudonym key: the environment variable {env_var} is not set and no key file "
            "is configured",
            fix=_FIX,
        )
    path = Path(key_file)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PrivacyError("the pseudonym key file does not exist", file=path, fix=_FIX) from None
    except OSError as exc:
        raise PrivacyError(f"the pseudonym key file cannot be read ({exc.strerror})", file=path,
                           fix="check the file's permissions") from None
    if not raw.isascii():
        raise PrivacyError("the pseudonym key file is not hex or base64 text", file=path, fix=_FIX)
    return _decode_key(raw.decode("ascii"), "the key file", path)


def write_key_file(path: str | Path, *, key: str | None = None) -> Path:
    """Create a key file readable by its owner only (mode 0600), never replacing one.

    The key is written to a temporary file in the same folder and then linked into place, so the
    file appears complete or not at all, and an existing key (which every pseudonym of the
    evaluation depends on) is never overwritten.

    Parameters
    ----------
    path : path
        File to create. Its folder is created if needed.
    key : str, optional
        Key text to store; a new one from :func:`new_key` by default.

    Returns
    -------
    Path
        ``path``. The key itself is not returned: read it with :func:`load_key`.

    Raises
    ------
    PrivacyError
        The file already exists, or ``key`` is not a valid key.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = write_key_file(pathlib.Path(tempfile.mkdtemp()) / "pseudonym.key")
    >>> oct(p.stat().st_mode & 0o777), len(load_key(env_var="PCEVAL_UNSET_VAR", key_file=p))
    ('0o600', 32)
    """
    path = Path(path)
    text = new_key() if key is None else key.strip()
    _decode_key(text, "the key argument", None)  # refuse to store a key load_key would refuse
    if path.exists():
        raise PrivacyError("a key file already exists here; every pseudonym depends on it",
                           file=path, fix="keep it, or choose another path for a new key")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # atomic, and fails if the target exists
        except FileExistsError:
            raise PrivacyError("a key file already exists here; every pseudonym depends on it",
                               file=path, fix="keep it, or choose another path") from None
        except OSError:
            # file systems without hard links: exclusive create, then copy the bytes in
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
            try:
                out = os.open(path, flags, 0o600)
            except FileExistsError:
                raise PrivacyError("a key file already exists here", file=path,
                                   fix="keep it, or choose another path") from None
            with os.fdopen(out, "w", encoding="ascii") as handle:
                handle.write(text + "\n")
    finally:
        tmp.unlink(missing_ok=True)
    return path


def normalise_value(value: object) -> str:
    """The text a pseudonym is computed from.

    Unicode NFKC, surrounding whitespace removed, inner runs of whitespace made one space,
    case-folded. Whole-number floats lose their ``.0`` (a case number read as a float in one
    export and as text in another gets the same pseudonym).

    Examples
    --------
    >>> normalise_value("  AB-12\\t 3 "), normalise_value(1234.0), normalise_value("Straße")
    ('ab-12 3', '1234', 'strasse')
    """
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value))
    return _WHITESPACE.sub(" ", text).strip().casefold()


# printable ASCII words with single spaces between them: text that NFKC, the whitespace rules
# and case-folding leave as it is but for lower case (most case numbers and record ids)
_PLAIN = r"^[!-~]+(?: [!-~]+)*$"


def _normalised(uniques) -> list[str]:
    """:func:`normalise_value` of every distinct value, vectorised for text (a million case
    numbers or record ids take well under a second)."""
    series = pd.Series(uniques)
    if not (pd.api.types.is_string_dtype(series.dtype) or series.map(type).eq(str).all()):
        return [normalise_value(value) for value in uniques]
    text = series.astype("string[pyarrow]")
    plain = pa.array(text.array, from_pandas=True)
    plain = pc.match_substring_regex(plain, _PLAIN).to_numpy(zero_copy_only=False)
    if plain.all():
        return text.str.lower().tolist()
    out = text.str.lower()
    other = text[~plain].str.normalize("NFKC")
    other = other.str.replace(r"\s+", " ", regex=True).str.strip().str.casefold()
    out[~plain] = other
    return out.tolist()


def _hex_pseudonyms(macs: bytes, count: int, length: int) -> pa.Array:
    """``"P"`` and the first ``length`` hex digits of each 32-byte MAC, as Arrow text."""
    raw = np.frombuffer(macs, dtype=np.uint8).reshape(count, 32)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    hexed = np.empty((count, 64), dtype=np.uint8)
    hexed[:, 0::2], hexed[:, 1::2] = digits[raw >> 4], digits[raw & 15]
    width = length + 1
    cells = np.empty((count, width), dtype=np.uint8)
    cells[:, 0] = ord("P")
    cells[:, 1:] = hexed[:, :length]
    offsets = np.arange(0, count * width + 1, width, dtype=np.int32)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(cells.tobytes()))


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes | bytearray):
        raise TypeError("key must be bytes, as returned by load_key")
    if len(key) < MIN_KEY_BYTES:
        raise PrivacyError(f"the pseudonym key is {len(key)} bytes long; at least "
                           f"{MIN_KEY_BYTES} are needed", fix=_FIX)


def pseudonymise(values: pd.Series, key: bytes, *, namespace: str, length: int = 16) -> pd.Series:
    """Replace each value with its keyed pseudonym.

    Parameters
    ----------
    values : Series
        Case numbers, record ids or other linking keys. Missing values stay missing.
    key : bytes
        The evaluation's key (:func:`load_key`).
    namespace : str
        What kind of value this is (``"case"``, ``"record/womens_survey"``): the same value in
        two namespaces gets unrelated pseudonyms, so codes cannot be linked across uses.
    length : int
        Hex digits kept, 8 to 64. 16 hex digits (64 bits) make an accidental collision among a
        million values about 1 in 36 million.

    Returns
    -------
    Series
        ``"P"`` followed by ``length`` lower-case hex digits; ``string`` dtype, same index and
        name as ``values``.

    Notes
    -----
    ``"P" + hex(HMAC-SHA256(key, namespace + "\\x1f" + normalise_value(value)))[:length]``
    (RFC 2104 HMAC, UTF-8 message). Each distinct value is computed once (``pandas.factorize``).

    Examples
    --------
    >>> s = pd.Series(["C-001", " c-001 ", None])
    >>> p = pseudonymise(s, bytes(32), namespace="case")
    >>> bool(p[0] == p[1]), p[0][:1], len(p[0]), bool(p.isna()[2])
    (True, 'P', 17, True)
    """
    _check_key(key)
    if not isinstance(namespace, str) or not namespace or _SEPARATOR in namespace:
        raise ValueError("namespace must be a non-empty string without the \\x1f character")
    if not isinstance(length, int) or not 8 <= length <= 64:
        raise ValueError(f"length must be an integer from 8 to 64, got {length!r}")
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    # two spellings of one value ("C-001", " c-001 ") are one text: one MAC for both
    text_codes, texts = pd.factorize(np.asarray(_normalised(uniques), dtype=object))
    prefix = (namespace + _SEPARATOR).encode("utf-8")
    secret, digest = bytes(key), hmac.digest
    macs = b"".join([digest(secret, prefix + text.encode("utf-8"), "sha256") for text in texts])
    pseudonyms = _hex_pseudonyms(macs, len(texts), length)
    positions = np.where(codes >= 0, text_codes[np.maximum(codes, 0)] if len(text_codes) else 0, -1)
    cells = pc.take(pseudonyms, pa.array(positions, mask=positions < 0))
    return pd.Series(pd.array(cells, dtype="string"), index=values.index, name=values.name)
