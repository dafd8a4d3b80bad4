"""gisportal.zipcheck: the one check of ZIP containers (registry imports and
DOCX attachments), on archives built by hand with lying directories."""

import io
import time

import pytest

from gisportal.tests import zips
from gisportal.zipcheck import ZipLimits, ZipRefused, size_text, zip_check

MB = 1024 * 1024
DECLARED = ZipLimits(max_entries=10, max_total_bytes=100 * MB, max_ratio=100)
INFLATED = ZipLimits(max_entries=10, max_total_bytes=100 * MB, max_ratio=100, inflate=True)


def check(data: bytes, limits: ZipLimits = INFLATED):
    return zip_check(io.BytesIO(data), limits=limits)


def refusal(data: bytes, limits: ZipLimits = INFLATED) -> ZipRefused:
    with pytest.raises(ZipRefused) as refused:
        check(data, limits)
    assert " / " in str(refused.value) and refused.value.vi and refused.value.en
    return refused.value


def test_an_honest_docx_passes_and_its_entries_come_back():
    entries = check(zips.docx(zips.stored("word/media/image1.png", b"\x89PNG" + bytes(500))))
    assert [e.filename for e in entries] == ["[Content_Types].xml", "word/document.xml", "word/media/image1.png"]


@pytest.mark.parametrize(
    "name", ["../evil.xml", "word/../../evil.xml", "/etc/cron.d/x", "\\windows\\x", "..\\evil.xml", "C:evil", "c:/x"]
)
def test_unsafe_paths_are_refused(name):
    refused = refusal(zips.docx(zips.stored(name, b"x")))
    assert "unsafe path" in refused.en and repr(name) in refused.en


def test_too_many_entries():
    many = [zips.stored(f"word/part{i}.xml", b"") for i in range(9)]
    assert "too many entries (at most 10)" in refusal(zips.docx(*many)).en


def test_ratio_above_the_limit_is_a_bomb_even_below_the_total():
    # 20 MB of zeros pack into ~20 KB: ratio ~1000, total well under 100 MB.
    refused = refusal(zips.docx(document=zips.zeros("word/document.xml", 20 * MB)), DECLARED)
    assert "ratio above 100" in refused.en and "word/document.xml" in refused.en


def test_small_entries_are_not_judged_by_their_ratio():
    check(zips.docx(zips.zeros("word/styles.xml", MB)))  # ratio ~1000 but only 1 MB


def test_total_above_the_limit():
    limits = ZipLimits(max_entries=10, max_total_bytes=2 * MB, max_ratio=10_000)
    refused = refusal(zips.docx(zips.zeros("a.bin", 3 * MB)), limits)
    assert "more than 2 MB" in refused.en and "vượt quá 2 MB" in refused.vi


def test_a_directory_that_understates_the_size_is_caught_only_by_inflating():
    """The directory claims 400 KB for an entry that inflates to 300 MB: the
    declared numbers pass, the real ones do not."""
    lying = zips.docx(document=zips.zeros("word/document.xml", 300 * MB, claimed_size=400 * 1024))
    assert check(lying, DECLARED)
    started = time.perf_counter()
    refused = refusal(lying, INFLATED)
    assert "zip bomb" in refused.en
    # Counting stops at the limit: about 100 MB decompressed, not 300 MB.
    assert time.perf_counter() - started < 3


def test_a_directory_that_overstates_or_misstates_is_broken():
    document = zips.deflated("word/document.xml", b"<w:document/>" * 10)
    overstated = zips.Entry(document.name, document.data, document.method, document.crc, document.size + 1)
    assert "broken" in refusal(zips.docx(document=overstated)).en
    stored = zips.stored("word/media/a.png", b"abc")
    lying_stored = zips.Entry(stored.name, stored.data, stored.method, stored.crc, 3 * MB)
    assert "broken" in refusal(zips.docx(lying_stored), ZipLimits(10, 100 * MB, 10**9, inflate=True)).en


def test_encrypted_entries_cannot_be_measured():
    secret = zips.deflated("word/secret.xml", b"x" * 100)
    encrypted = zips.Entry(secret.name, secret.data, secret.method, secret.crc, secret.size, flags=0x1)
    assert "broken" in refusal(zips.docx(encrypted)).en


@pytest.mark.parametrize("data", [b"PK\x03\x04 not a zip", b"", zips.docx()[:-30]])
def test_broken_archives(data):
    assert refusal(data).en == "The zip file is broken."


def test_size_text():
    assert [size_text(n) for n in (2 * 1024**3, 100 * MB, 10 * MB, 512 * 1024)] == ["2 GB", "100 MB", "10 MB", "512 KB"]
