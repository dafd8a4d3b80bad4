"""tests/pages_catalogue.py names every page: each named URL pattern of the
portal is either a page there (and its path resolves to that pattern) or
listed in NOT_PAGES with the reason, or under an API prefix."""

from django.urls import URLPattern, URLResolver, get_resolver, resolve

from tests.pages_catalogue import NOT_PAGE_PREFIXES, NOT_PAGES, USER_KINDS, CatalogueData, pages

SAMPLE = CatalogueData(
    procedure_code="1.001193",
    dossier_code="000.00.13.H04-250101-0001",
    feedback_id="PA-250101-000001",
    ogc_collection="schools",
    ogc_feature_id="1",
)


def _named_patterns(patterns, prefix: str = "") -> dict[str, str]:
    found = {}
    for entry in patterns:
        if isinstance(entry, URLResolver):
            found.update(_named_patterns(entry.url_patterns, prefix + str(entry.pattern)))
        elif isinstance(entry, URLPattern) and entry.name:
            found.setdefault(entry.name, prefix + str(entry.pattern))
    return found


def test_every_named_url_is_a_page_or_says_why_not():
    listed = {page.name for page in pages(SAMPLE)}
    named = _named_patterns(get_resolver().url_patterns)
    forgotten = {
        name: route
        for name, route in named.items()
        if name not in listed and name not in NOT_PAGES and not route.startswith(NOT_PAGE_PREFIXES)
    }
    assert forgotten == {}
    assert listed & set(NOT_PAGES) == set()
    assert set(NOT_PAGES) <= set(named)  # no stale reasons


def test_each_page_path_resolves_to_its_pattern_and_has_a_known_user():
    for page in pages(SAMPLE):
        assert resolve(page.path.split("?")[0]).url_name == page.name, page
        assert page.user in USER_KINDS, page
    names = [page.name for page in pages(SAMPLE)]
    assert len(names) == len(set(names))
