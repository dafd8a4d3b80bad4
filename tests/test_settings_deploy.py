"""Production settings pass Django's deployment checks, given their environment."""

import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import requests
from django.conf import settings

from tests.processes import free_port, start_portal, stop


def _check_deploy(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "gisportal.settings.production", **env_overrides}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_passes_check_deploy():
    result = _check_deploy(
        {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "dichvucong.bacninh.example",
            "CACHE_URL": "redis://127.0.0.1:6379/1",
        }
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret():
    env = {"DJANGO_SECRET_KEY": ""}
    result = _check_deploy(env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_collects_static_files(tmp_path):
    """The manifest storage refuses files whose references (source maps, CSS
    urls) are missing: every vendored asset must be complete."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gisportal.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "CACHE_URL": "redis://127.0.0.1:6379/1",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "static" / "staticfiles.json").is_file()
    _served_static_files_are_hashed_compressed_and_cached(env, tmp_path / "server.log")


HTTPS = {"X-Forwarded-Proto": "https"}  # as the TLS proxy says; else a redirect to https


def _served_static_files_are_hashed_compressed_and_cached(env: dict, log: Path) -> None:
    """What `./portal serve --production` sends (gisportal/serving.py, the production
    settings, whitenoise over the collected files): pages name the static
    files by their content hash; a hashed file is cached for ten years
    (`immutable`) and sent compressed, an unhashed name only briefly."""
    port = free_port()
    env = {**env, "DJANGO_ALLOWED_HOSTS": "127.0.0.1"}
    server = start_portal(["--bind", f"127.0.0.1:{port}", "--workers", "1"], env=env, log=log, cwd=settings.BASE_DIR)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                page = requests.get(f"{base}/accounts/login/", headers=HTTPS, timeout=60)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None, log.read_text()
                time.sleep(0.2)
        assert page.status_code == 200, page.text[:500]
        css = re.search(r'href="(/static/maps/portal\.[0-9a-f]{12}\.css)"', page.text)
        assert css, "the page does not name portal.css by its hash"
        for encoding in ("br", "gzip"):
            hashed = requests.get(base + css.group(1), headers={**HTTPS, "Accept-Encoding": encoding}, timeout=30)
            assert hashed.status_code == 200 and hashed.headers["Content-Encoding"] == encoding
            assert hashed.headers["Cache-Control"] == "max-age=315360000, public, immutable"
        plain = requests.get(f"{base}/static/maps/portal.css", headers=HTTPS, timeout=60)
        assert plain.status_code == 200 and "immutable" not in plain.headers["Cache-Control"]
    finally:
        stop(server)


def test_production_refuses_the_retired_num_proxies():
    result = _check_deploy(
        {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "CACHE_URL": "redis://127.0.0.1:6379/1",
            "NUM_PROXIES": "1",
        }
    )
    assert result.returncode != 0
    assert "set TRUSTED_PROXIES" in result.stderr


def test_production_check_names_a_bad_trusted_proxy():
    result = _check_deploy(
        {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "dichvucong.bacninh.example",
            "CACHE_URL": "redis://127.0.0.1:6379/1",
            "TRUSTED_PROXIES": "127.0.0.1,nginx",
        }
    )
    assert result.returncode != 0
    assert "gisportal.E001" in result.stderr and "'nginx'" in result.stderr


def test_production_needs_no_cache_url_its_cache_is_the_brokers_redis_one_database_up():
    """README: DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS are enough; the
    shared cache defaults to REDIS_URL's server, one database up, through the
    fail-open backend."""
    env = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "dichvucong.bacninh.example",
        "REDIS_URL": "redis://10.1.2.3:6380/2",
        "CACHE_URL": "",
    }
    checked = _check_deploy(env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    shown = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", "from django.conf import settings; print(settings.CACHES)"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "gisportal.settings.production", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    assert "'BACKEND': 'gisportal.cache.FailOpenRedisCache'" in shown.stdout
    assert "'LOCATION': 'redis://10.1.2.3:6380/3'" in shown.stdout
