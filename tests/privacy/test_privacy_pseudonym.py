"""Keyed pseudonyms and the key's life cycle."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat

import pandas as pd
import pytest

from pceval.errors import PrivacyError
from pceval.privacy import load_key, new_key, pseudonymise, write_key_file

KEY = bytes(range(32))
KEY_HEX = KEY.hex()


def hand_hmac(key: bytes, namespace: str, text: str, length: int = 16) -> str:
    """The pseudonym by the definition, computed without pceval."""
    mac = hmac.new(key, f"{namespace}\x1f{text}".encode(), hashlib.sha256)
    return "P" + mac.hexdigest()[:length]


# --- new_key -------------------------------------------------------------------------------

def test_new_key_is_32_random_bytes_as_hex():
    first, second = new_key(), new_key()
    assert len(first) == 64 and len(bytes.fromhex(first)) == 32
    assert first != second


# --- pseudonymise --------------------------------------------------------------------------

def test_pseudonym_equals_hand_computed_hmac():
    out = pseudonymise(pd.Series(["C-0042"]), KEY, namespace="case")
    assert out[0] == hand_hmac(KEY, "case", "c-0042")
    # a fixed value, so a change to the definition shows up here
    assert out[0] == "P" + hmac.new(KEY, b"case\x1fc-0042", hashlib.sha256).hexdigest()[:16]


def test_same_input_same_output_and_normalisation():
    values = pd.Series(["C-0042", "  c-0042 ", "C-0042\t", "c-0042", "C-0043"])
    out = pseudonymise(values, KEY, namespace="case")
    assert out[0] == out[1] == out[2] == out[3]
    assert out[4] != out[0]
    inner = pseudonymise(pd.Series(["AB  12", "ab 12", "AB\n12"]), KEY, namespace="case")
    assert inner.nunique() == 1
    assert inner[0] == hand_hmac(KEY, "case", "ab 12")


def test_casefold_and_unicode_normalisation():
    out = pseudonymise(pd.Series(["STRASSE", "straße", "ＡＢ１", "ab1"]), KEY, namespace="x")
    assert out[0] == out[1]
    assert out[2] == out[3]


def test_whole_number_floats_match_their_text():
    numbers = pseudonymise(pd.Series([1234.0, 1234, 12.5]), KEY, namespace="case")
    texts = pseudonymise(pd.Series(["1234", "1234", "12.5"]), KEY, namespace="case")
    assert numbers.tolist() == texts.tolist()


def test_different_key_or_namespace_gives_different_pseudonyms():
    values = pd.Series(["C-0042"])
    base = pseudonymise(values, KEY, namespace="case")[0]
    other_key = pseudonymise(values, bytes(32), namespace="case")[0]
    other_namespace = pseudonymise(values, KEY, namespace="record/womens_survey")[0]
    assert len({base, other_key, other_namespace}) == 3
    assert other_namespace == hand_hmac(KEY, "record/womens_survey", "c-0042")


def test_missing_values_index_name_and_length_kept():
    values = pd.Series(["a1", None, pd.NA, "a1"], index=[10, 11, 12, 13], name="case_no",
                       dtype="object")
    out = pseudonymise(values, KEY, namespace="case", length=8)
    assert out.index.tolist() == [10, 11, 12, 13] and out.name == "case_no"
    assert str(out.dtype) == "string"
    assert out.isna().tolist() == [False, True, True, False]
    assert out[10] == out[13] == hand_hmac(KEY, "case", "a1", length=8)
    assert len(out[10]) == 9


def test_many_values_with_duplicates():
    values = pd.Series([f"C{i % 5000:05d}" for i in range(200_000)])
    out = pseudonymise(values, KEY, namespace="case")
    assert out.nunique() == 5000
    assert out[7] == out[5007] == hand_hmac(KEY, "case", "c00007")


@pytest.mark.parametrize("length", [0, 7, 65, 16.0])
def test_bad_length_is_refused(length):
    with pytest.raises(ValueError, match="length"):
        pseudonymise(pd.Series(["a"]), KEY, namespace="case", length=length)


@pytest.mark.parametrize("namespace", ["", "a\x1fb"])
def test_bad_namespace_is_refused(namespace):
    with pytest.raises(ValueError, match="namespace"):
        pseudonymise(pd.Series(["a"]), KEY, namespace=namespace)


def test_short_key_is_refused_without_showing_it():
    short = b"0123456789"
    with pytest.raises(PrivacyError) as info:
        pseudonymise(pd.Series(["a"]), short, namespace="case")
    assert "10 bytes" in str(info.value)
    assert short.decode() not in str(info.value) and short.hex() not in str(info.value)


def test_input_is_not_modified():
    values = pd.Series([" A ", None])
    before = values.copy()
    pseudonymise(values, KEY, namespace="case")
    pd.testing.assert_series_equal(values, before)


# --- load_key ------------------------------------------------------------------------------

@pytest.fixture
def no_env_key(monkeypatch):
    monkeypatch.delenv("PCEVAL_KEY", raising=False)


def test_load_key_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PCEVAL_KEY", f"  {KEY_HEX}\n")
    (tmp_path / "k").write_text(bytes(32).hex())
    assert load_key() == KEY
    assert load_key(key_file=tmp_path / "k") == KEY  # the variable wins over the file


def test_load_key_from_named_variable(monkeypatch):
    monkeypatch.setenv("MY_EVAL_KEY", KEY_HEX)
    assert load_key(env_var="MY_EVAL_KEY") == KEY


def test_load_key_from_file(no_env_key, tmp_path):
    path = tmp_path / "pseudonym.key"
    path.write_text(KEY_HEX + "\n")
    assert load_key(key_file=path) == KEY
    assert load_key(key_file=str(path)) == KEY


def test_empty_variable_falls_back_to_file(monkeypatch, tmp_path):
    monkeypatch.setenv("PCEVAL_KEY", "   ")
    path = tmp_path / "k"
    path.write_text(KEY_HEX)
    assert load_key(key_file=path) == KEY


def test_base64_key_is_accepted(no_env_key, tmp_path):
    path = tmp_path / "k"
    path.write_text(base64.urlsafe_b64encode(KEY).decode())
    assert load_key(key_file=path) == KEY
    path.write_text(base64.urlsafe_b64encode(KEY).decode().rstrip("="))
    assert load_key(key_file=path) == KEY


def test_no_key_anywhere(no_env_key):
    with pytest.raises(PrivacyError) as info:
        load_key()
    message = str(info.value)
    assert "PCEVAL_KEY" in message and "pceval key new --out FILE" in message
    assert "\n" not in message


def test_missing_key_file(no_env_key, tmp_path):
    with pytest.raises(PrivacyError, match="does not exist") as info:
        load_key(key_file=tmp_path / "nope.key")
    assert "nope.key" in str(info.value) and "pceval key new" in str(info.value)


def test_empty_key_file(no_env_key, tmp_path):
    path = tmp_path / "k"
    path.write_text("\n")
    with pytest.raises(PrivacyError, match="empty"):
        load_key(key_file=path)


@pytest.mark.parametrize(
    "secret",
    ["00112233445566778899aabbccddee", "c2hvcnQta2V5", "not a key, just words!", "é" * 40],
    ids=["short-hex", "short-base64", "not-base64", "not-ascii"],
)
def test_bad_keys_are_refused_without_showing_them(no_env_key, monkeypatch, tmp_path, secret):
    path = tmp_path / "k"
    path.write_text(secret, encoding="utf-8")
    monkeypatch.setenv("OTHER_KEY", secret)
    for kwargs in ({"key_file": path}, {"env_var": "OTHER_KEY"}):
        with pytest.raises(PrivacyError) as info:
            load_key(**kwargs)
        error = info.value
        for shown in (str(error), repr(error), error.message, error.fix or ""):
            assert secret not in shown
            assert secret[:8] not in shown
        # nothing chained that could carry the key text
        assert error.__cause__ is None and error.__context__ is None


def test_too_short_key_says_how_long(no_env_key, tmp_path):
    path = tmp_path / "k"
    path.write_text("00" * 8)
    with pytest.raises(PrivacyError, match="8 bytes long; at least 16"):
        load_key(key_file=path)


# --- write_key_file ------------------------------------------------------------------------

def test_write_key_file_mode_0600_and_loadable(no_env_key, tmp_path):
    path = write_key_file(tmp_path / "private" / "pseudonym.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(load_key(key_file=path)) == 32
    assert os.listdir(path.parent) == ["pseudonym.key"]  # no temporary file left behind


def test_write_key_file_with_given_key(no_env_key, tmp_path):
    path = write_key_file(tmp_path / "k", key=KEY_HEX)
    assert load_key(key_file=path) == KEY


def test_write_key_file_never_overwrites(no_env_key, tmp_path):
    path = write_key_file(tmp_path / "k")
    before = path.read_bytes()
    with pytest.raises(PrivacyError, match="already exists"):
        write_key_file(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["k"]


def test_write_key_file_refuses_a_weak_key(tmp_path):
    with pytest.raises(PrivacyError, match="at least 16"):
        write_key_file(tmp_path / "k", key="00" * 4)
    assert not (tmp_path / "k").exists()


def test_two_key_files_differ(tmp_path):
    a = write_key_file(tmp_path / "a").read_text()
    b = write_key_file(tmp_path / "b").read_text()
    assert a != b
