"""gisportal.downloads: headers of every file the portal sends."""

import io
from urllib.parse import unquote

import pytest

from gisportal.downloads import content_disposition, download_response


def test_an_ascii_name_is_quoted_as_is():
    assert content_disposition("exp-api-dept.geojson") == 'attachment; filename="exp-api-dept.geojson"'
    assert content_disposition("a.pdf", inline=True) == 'inline; filename="a.pdf"'


def test_a_vietnamese_name_has_an_ascii_fallback_and_rfc5987_utf8():
    header = content_disposition('Tờ khai đăng ký "khai sinh".pdf')
    plain, encoded = header.split("; filename*=UTF-8''")
    assert plain == 'attachment; filename="To khai dang ky _khai sinh_.pdf"'
    assert unquote(encoded) == 'Tờ khai đăng ký "khai sinh".pdf'
    assert all(c.isascii() and c not in ' ";\r\n' for c in encoded)


def test_no_header_injection_through_a_name():
    header = content_disposition('x.pdf"\r\nSet-Cookie: a=b')
    assert "\r" not in header and "\n" not in header
    assert header.startswith('attachment; filename="x.pdf_Set-Cookie_ a_b"; filename*=')


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("text/html", "application/octet-stream"),
        ("text/html; charset=utf-8", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("application/xhtml+xml", "application/octet-stream"),
        ("application/pdf", "application/pdf"),
        ("text/csv; charset=utf-8", "text/csv; charset=utf-8"),
    ],
)
def test_content_types_that_could_run_as_a_page_are_not_sent(given, sent):
    for body in (b"x", io.BytesIO(b"x")):
        response = download_response(body, filename="f.bin", content_type=given)
        assert response["Content-Type"] == sent
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Disposition"] == 'attachment; filename="f.bin"'
        assert "Cache-Control" not in response


def test_private_downloads_stay_out_of_caches():
    response = download_response(b"%PDF-", filename="a.pdf", content_type="application/pdf", private=True)
    assert response["Cache-Control"] == "private, no-store"
