"""Every page speaks exactly one language.

Each page of the URL conf (every non-API GET route, with the arguments it
needs taken from the demo data and the dossier/feedback fixtures) is rendered
for each kind of user (anonymous, citizen, desk officer, processing officer
of a sector department, leader, administrator) in Vietnamese and in English
(the language cookie the switch sets). The visible text is extracted (text
nodes outside script/style/code, plus title, placeholder, aria-label, alt and the
value of buttons; option labels are text nodes), and:

- an English page must hold no word with a Vietnamese diacritic,
- a Vietnamese page must hold none of a list of common English UI words,

once the data shown on the page is taken out. Data is what the database
holds (place, agency, procedure, service-point and people's names, codes,
addresses, notes): every text value of every model is collected from the
database and removed from the page text before it is checked, so no page
text is allowed by a hard-coded list. The language names of the switch
("Tiếng Việt", "English") are data of the same kind (settings.LANGUAGES).

Left out, and why: /api/docs/ is Swagger UI's own (third-party, English)
page chrome around the OpenAPI schema; the JSON APIs, OGC, tiles, Open311
and the sandboxes' machine endpoints answer JSON or XML, not pages.
"""

import os
import re
import unicodedata
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.conf import settings
from django.db import models
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from dossiers.tests.conftest import catalogue, drive, people, points, submit  # noqa: F401 (fixtures)

VIETNAMESE_LETTERS = "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"
_VIETNAMESE_WORD = re.compile(rf"\w*[{VIETNAMESE_LETTERS}{VIETNAMESE_LETTERS.upper()}]\w*")

# Common English words of a user interface; a Vietnamese page shows none of
# them (outside data). Words Vietnamese also writes (PDF, GIS, OK, ID, API,
# CSV, email, Zalo, VNPay) are not in the list.
ENGLISH_WORDS = {
    "the", "and", "of", "to", "for", "with", "your", "you", "this", "from", "not", "yes", "no",
    "received", "search", "submit", "status", "whole", "province", "commune", "communes", "sign",
    "login", "logout", "password", "save", "cancel", "delete", "edit", "add", "back", "next",
    "previous", "filter", "filters", "all", "none", "date", "name", "code", "procedure",
    "procedures", "dossier", "dossiers", "agency", "agencies", "service", "point", "points", "map",
    "layer", "layers", "legend", "load", "population", "coverage", "density", "indicators",
    "export", "download", "upload", "home", "help", "contact", "feedback",
    "report", "reports", "send", "close", "open", "show", "hide", "more", "less", "total", "count",
    "day", "days", "per", "counter", "counters", "overloaded", "rank", "late", "finished", "on",
    "time", "period", "approve", "refuse", "assign", "result", "payment", "pay", "fee",
    "address", "phone", "user", "users", "settings", "inbox", "read", "unread", "new", "list",
    "select", "choose", "change", "history", "action", "actions", "step", "steps", "note", "notes",
    "required", "optional", "error", "errors", "loading", "nearest", "distance", "radius",
    "channel", "online", "person", "post", "office", "desk", "leader", "officer", "citizen",
    "administrator", "worklist", "apply", "reset", "clear", "view", "details", "detail",
    "welcome", "site", "administration", "groups", "group", "recent", "by", "or", "at", "is",
    "are", "be", "has", "have", "will", "can", "may", "must", "please", "enter", "type", "value",
    "data", "working", "opening", "hours", "received_at", "due", "overdue", "rating",
}
ENGLISH_WORDS = {w for w in ENGLISH_WORDS if " " not in w}
_WORD = re.compile(r"\w+")  # words with a digit or an underscore (Open311, value_date) are names, not words
_LINK = re.compile(r"https?://\S+")

# Routes that are not pages (a POST endpoint, a redirect, a file, a
# machine-to-machine stand-in), so they are not rendered here.
NOT_PAGES = {
    "set_language": "POST only: sets the language cookie",
    "logout": "POST only",
    "token-revoke": "POST only",
    "my-document-delete": "POST only",
    "dossier-draft-delete": "POST only",
    "tokens-revoke-all": "POST only",
    "password_reset_confirm": "needs a one-time token; its form is Django's own, checked with password_change",
    "procedure-form-file": "a file download",
    "feedback-photo-public": "a JPEG",
    "registry-upload-template": "a CSV template",
    "dossier-action": "POST only",
    "dossier-apology": "POST only",
    "dossier-assign": "POST only",
    "dossier-result": "POST only",
    "dossier-supplement": "POST only",
    "postal-shipment-action": "POST only",
    "inbox-read": "POST only",
    "payment-vnpay-return": "a redirect from the gateway, checked by the payment tests",
    "sandbox-vnpay-api": "the gateway stand-in's JSON API",
    "vnpost-sandbox-create-order": "the carrier stand-in's JSON API",
    "vnpost-sandbox-get-order": "the carrier stand-in's JSON API",
    "vnpost-sandbox-move-order": "the carrier stand-in's JSON API",
    "zalo-webhook": "Zalo's webhook (JSON)",
    "zalo-sandbox-settings": "POST only",
    "zalo-sandbox-tokens": "POST only",
    "zalo-sandbox-follower-create": "POST only",
    "zalo-sandbox-act": "POST only",
    "zalo-sandbox-message-cs": "the Zalo stand-in's JSON API",
    "zalo-sandbox-conversation": "the Zalo stand-in's JSON API",
    "zalo-sandbox-oauth": "the Zalo stand-in's JSON API",
    "api-docs": "Swagger UI: third-party page chrome (English) around the schema",
    "schema": "JSON",
    "schema-yaml": "YAML",
}
MACHINE_PREFIXES = ("api/", "ogc/", "tiles/", "open311/")


def _routes() -> dict[str, str]:
    """name -> route of every non-API route of the URL conf."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if str(pattern.pattern) == "admin/":
                    continue  # the admin is checked through its index, one change list and one change form
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield pattern.name, prefix + str(pattern.pattern)

    return {
        name: route for name, route in walk(get_resolver().url_patterns) if not route.startswith(MACHINE_PREFIXES)
    }


class _Text(HTMLParser):
    """The text a visitor sees: text nodes outside script/style, and the
    attributes shown as text."""

    SHOWN = ("title", "placeholder", "aria-label", "alt")
    # Machine identifiers (a protocol's mode, a parameter): code, not words of a language.
    HIDDEN = ("script", "style", "template", "code", "kbd", "samp")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self._hidden += 1
        values = dict(attrs)
        for name in self.SHOWN:
            if values.get(name):
                self.parts.append(values[name])
        if tag == "input" and (values.get("type") or "") in ("submit", "button") and values.get("value"):
            self.parts.append(values["value"])

    def handle_endtag(self, tag):
        if tag in self.HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.parts


def data_values(*, english: bool) -> list[str]:
    """Every text value the database holds (names, codes, addresses, notes,
    JSON properties), longest first. For a Vietnamese page the English
    columns (`*_en`) are not data: a Vietnamese page must not show them."""
    values: set[str] = {name for _code, name in settings.LANGUAGES}
    for model in apps.get_models():
        if model._meta.app_label in ("sessions", "contenttypes", "admin"):
            continue
        for field in model._meta.get_fields():
            if not getattr(field, "concrete", False) or field.is_relation:
                continue
            if not english and field.name.endswith("_en"):
                continue
            if isinstance(field, (models.CharField, models.TextField)) and not field.choices:
                rows = model.objects.exclude(**{field.name: ""}).exclude(**{f"{field.name}__isnull": True})
                for value in rows.values_list(field.name, flat=True).distinct()[:5000]:
                    _strings_of(unicodedata.normalize("NFC", str(value)), values)
            elif isinstance(field, models.JSONField):
                for blob in model.objects.values_list(field.name, flat=True)[:5000]:
                    _strings_of(blob, values)
    # A value written "Tiếng Việt / English" is a label, not data: the page must pick its half.
    language = "en" if english else "vi"
    kept = (v for v in values if len(v) >= 2 and " / " not in v and _may_hide(v, language))
    return sorted(kept, key=len, reverse=True)


def _strings_of(blob, into: set[str]) -> None:
    if isinstance(blob, str):
        into.add(blob)
        # A stored message is shown line by line, its links apart from the text around them.
        for line in blob.splitlines():
            into.update(piece.strip() for piece in _LINK.split(line))
    elif isinstance(blob, dict):
        for key, value in blob.items():
            into.add(str(key))
            _strings_of(value, into)
    elif isinstance(blob, list):
        for value in blob:
            _strings_of(value, into)


def _may_hide(value: str, language: str) -> bool:
    """Whether taking `value` out of a page can hide a word of the other
    language (only such data values are worth looking for)."""
    if language == "en":
        return _VIETNAMESE_WORD.search(value) is not None
    return any(w.lower() in ENGLISH_WORDS for w in _WORD.findall(value))


_PATH = re.compile(r"\S*\w/\w\S*")  # an address or API path (`GET /api/v1/...`), not words
_IDENTIFIER = re.compile(r"\w*_\w*")  # a column or parameter name (value_date)


def _truncated_data(text: str, shown: list[str], data: list[str]) -> str:
    """Takes out a data value cut short with an ellipsis ("Cấp giấy phép…")."""
    head, _, tail = text.partition("…")
    words = head.split()
    for start in range(len(words)):
        candidate = " ".join(words[start:])
        if len(candidate) >= 8 and any(" ".join(value.split()).startswith(candidate) for value in data):
            return " ".join(words[:start]) + " " + tail
    return text


def foreign_words(parts: list[str], *, language: str, data: list[str]) -> list[str]:
    """The words of the other language in the visible text, data taken out."""
    parts = [unicodedata.normalize("NFC", part) for part in parts]
    page = "\n".join(parts)
    shown = [value for value in data if value in page]
    found = []
    for part in parts:
        text = part
        if "…" in text:  # a name cut short, before a shorter name inside it is taken out
            text = _truncated_data(text, shown, data)
        for value in shown:
            if value in text:
                text = text.replace(value, " ")
        text = _IDENTIFIER.sub(" ", _PATH.sub(" ", text))
        if language == "en":
            found += [(w, part) for w in _VIETNAMESE_WORD.findall(text)]
        else:
            # All-capital words are acronyms and HTTP methods (PDF, CSV, GET, POST), not English text.
            found += [
                (w, part) for w in _WORD.findall(text) if w.isalpha() and w.lower() in ENGLISH_WORDS and not w.isupper()
            ]
    return [f"{word!r} in {part[:90]!r}" for word, part in found]


@pytest.fixture
def world(people, submit, drive, points, catalogue, make_user):  # noqa: F811
    """Users of every kind and the objects whose pages need an argument."""
    from feedback.services import feedback_submit
    from layers.models import AdministrativeUnit, UnitLevel
    from payments.services import online_payment_start

    catalogue.main.fee_vnd = 50_000
    catalogue.main.save(update_fields=["fee_vnd"])
    dossier = submit()
    drive(dossier, "processing")
    finished = drive(submit(), "result_returned")
    online_payment_start(
        code=dossier.code,
        acting_user=people.citizen_a,
        ip_address="203.0.113.9",
        gateway_url="http://testserver/sandbox/vnpay/paymentv2/vpcpay.html",
        return_url="http://testserver/payments/vnpay/return/",
    )
    commune = AdministrativeUnit.objects.filter(level=UnitLevel.COMMUNE, era="2025").order_by("code").first()
    centre = commune.geom.point_on_surface
    report = feedback_submit(
        category_code="duong-via-he",
        text="Đèn đường hỏng ở ngõ 3.",
        lon=centre.x,
        lat=centre.y,
        photos=[],
        reporter_user=people.citizen_a,
        consent_location=True,
    )
    admin = people.administrator
    admin.is_staff = admin.is_superuser = True
    admin.save(update_fields=["is_staff", "is_superuser"])
    return {
        "users": {
            "anonymous": None,
            "citizen": people.citizen_a,
            "desk officer": people.desk_main,
            "sector officer": people.processor_other,
            "processing officer": people.processor,
            "leader": people.leader,
            "administrator": admin,
        },
        "args": {
            "code": dossier.code,
            "finished": finished.code,
            "procedure": catalogue.main.code,
            "public_id": report.public_id,
        },
    }


def _urls(args: dict) -> dict[str, str]:
    """route name -> URL of every page; a route of the URL conf that is
    neither here nor in NOT_PAGES fails the test."""
    from payments.models import Payment

    receipt = Payment.objects.order_by("-id").values_list("receipt_number", flat=True).first() or "BN-0000000"
    return {
        "home": "/",
        "map": "/map/",
        "register": "/accounts/register/",
        "tokens": "/accounts/tokens/",
        "sms-sandbox": "/accounts/sms-sandbox/",
        "login": "/accounts/login/",
        "password_change": "/accounts/password_change/",
        "password_change_done": "/accounts/password_change/done/",
        "password_reset": "/accounts/password_reset/",
        "password_reset_done": "/accounts/password_reset/done/",
        "password_reset_complete": "/accounts/reset/done/",
        "payment-vnpay-page": f"/dossiers/{args['code']}/payment/vnpay/",
        "payment-counter-page": f"/dossiers/{args['code']}/payment/counter/",
        "payment-reconciliation-page": "/payments/reconciliation/",
        "payment-bank-lines-page": "/payments/bank-lines/",
        "payment-receipt-check": f"/receipts/{receipt}/check/",
        "sandbox-vnpay-pay": "/sandbox/vnpay/paymentv2/vpcpay.html",
        "dossier-lookup-page": "/dossiers/lookup/",
        "dossier-submit": f"/procedures/{args['procedure']}/submit/",
        "my-dossiers": "/dossiers/mine/",
        "my-documents": "/me/documents/",
        "worklist": "/worklist/",
        "dossier-page": f"/dossiers/{args['code']}/",
        "procedure-list": "/procedures/",
        "procedure-detail": f"/procedures/{args['procedure']}/",
        "stats-dashboard": "/stats/",
        "planning-coverage": "/planning/coverage/",
        "planning-load": "/planning/load/",
        "planning-indicators": "/planning/indicators/",
        "planning-density": "/planning/density/",
        "planning-postal": "/planning/postal/",
        "dossier-rating-page": f"/dossiers/{args['finished']}/rating/",
        "feedback-map": "/feedback/",
        "feedback-new": "/feedback/new/",
        "feedback-worklist": "/feedback/worklist/",
        "feedback-page": f"/feedback/{args['public_id']}/",
        "feedback-manage": f"/feedback/{args['public_id']}/manage/",
        "postal-parcels": "/postal/parcels/",
        "vnpost-sandbox": "/sandbox/vnpost/",
        "registry-upload": "/registries/upload/",
        "inbox": "/inbox/",
        "notification-settings": "/inbox/settings/",
        "zalo-sandbox-home": "/sandbox/zalo/",
        "zalo-sandbox-follower": "/sandbox/zalo/followers/zalo-user-1/",
        # The admin: its index, a change list and a change form.
        "admin-index": "/admin/",
        "admin-changelist": "/admin/dossiers/procedure/",
        "admin-change": f"/admin/dossiers/procedure/{_procedure_pk(args['procedure'])}/change/",
    }


def _procedure_pk(code: str) -> int:
    from dossiers.models import Procedure

    return Procedure.objects.get(code=code).pk


def test_every_page_route_is_rendered_or_said_why_not(world):
    urls = _urls(world["args"])
    missing = sorted(set(_routes()) - set(urls) - set(NOT_PAGES))
    assert missing == [], f"routes neither rendered by the language test nor listed in NOT_PAGES: {missing}"


def test_every_page_speaks_one_language(world):
    urls = _urls(world["args"])
    data = {"en": data_values(english=True), "vi": data_values(english=False)}
    problems: list[str] = []
    rendered = 0
    for who, user in world["users"].items():
        client = Client()
        if user is not None:
            client.force_login(user)
        for language in ("vi", "en"):
            client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
            for name, url in urls.items():
                if name.startswith("admin-") and who != "administrator":
                    continue
                response = client.get(url)
                # Refusals (400, 403, 404) are pages too: they are checked as well.
                if response.status_code not in (200, 400, 403, 404) or "html" not in response.get("Content-Type", ""):
                    continue
                rendered += 1
                for problem in foreign_words(
                    visible_text(response.content.decode()), language=language, data=data[language]
                ):
                    problems.append(f"[{language}] {url} as {who}: {problem}")
    # Pages were really rendered: every kind of user, both languages.
    assert rendered > 2 * 7 * 12, rendered
    unique = sorted(set(problems))
    if os.environ.get("LANGUAGE_TEST_DUMP"):
        with open(os.environ["LANGUAGE_TEST_DUMP"], "w") as out:
            out.write("\n".join(unique))
    assert unique == [], f"{len(unique)} strings of the other language:\n" + "\n".join(unique[:400])


# --- text shown by the scripts -----------------------------------------------------

_JS_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\'|`((?:[^`\\]|\\.)*)`')
_ENGLISH_PHRASE = re.compile(r"\b[A-Z][a-z]+(?: [a-z]+)+\b")


def _js_literals(source: str) -> list[str]:
    """The string literals of a script, comments left out."""
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    code = re.sub(r"(?m)^\s*//.*$", "", code)
    code = re.sub(r"\s//[^\n\"'`]*$", "", code, flags=re.M)
    return [m.group(1) or m.group(2) or m.group(3) or "" for m in _JS_STRING.finditer(code)]


def test_scripts_take_their_words_from_the_translated_config():
    """The portal's scripts (static/<app>/*.js; vendored libraries aside)
    show no text of their own: every word a visitor reads comes from the
    strings the view passes, translated. A literal with a Vietnamese letter
    or an English phrase ("Network error") would be shown in one language
    whatever the page's."""
    from pathlib import Path

    scripts = sorted(p for p in (Path(settings.BASE_DIR) / "static").glob("*/*.js") if p.parent.name != "vendor")
    assert len(scripts) >= 10
    found = []
    for script in scripts:
        for literal in _js_literals(script.read_text(encoding="utf-8")):
            text = unicodedata.normalize("NFC", re.sub(r"<[^>]*>|\$\{[^}]*\}", "", literal))
            if _VIETNAMESE_WORD.search(text) or _ENGLISH_PHRASE.search(text):
                found.append(f"{script.relative_to(settings.BASE_DIR)}: {literal[:80]!r}")
    assert found == []
