"""Reading an exported HTML map (gisportal/htmlmap.py) in tests: the data it
draws, and whether it would reach out to the network when opened."""

import json
import re

# Elements that make a browser fetch something by themselves.
_FETCHING = re.compile(
    r"<(?:script|link|img|iframe|source|video|audio|embed|object)\b[^>]*\b(?:src|href|data)\s*=\s*[\"']?([^\"' >]+)",
    re.IGNORECASE,
)
_CSS_URL = re.compile(r"url\(\s*[\"']?(?!data:)([^\"')]+)", re.IGNORECASE)
_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style>", re.IGNORECASE | re.DOTALL)
_ADDED = re.compile(r"_add\((\{.*\})\);\s*$", re.MULTILINE)


def external_references(html: str) -> list[str]:
    """Every URL an element or a stylesheet of the file would load (none may
    be outside the file: data: URIs are inside it)."""
    sources = [m.group(1) for m in _FETCHING.finditer(html)]
    css = "".join(m.group(1) for m in _STYLE.finditer(html))
    styles = [m.group(1) for m in _CSS_URL.finditer(css) if not m.group(1).startswith("#")]
    return [s for s in sources + styles if not s.startswith("data:")]


def drawn_features(html: str) -> list[dict]:
    """The features of the data layer (those carrying a class colour), as the
    file hands them to Leaflet."""
    for match in _ADDED.finditer(html):
        collection = json.loads(match.group(1))
        features = collection.get("features") or []
        if features and "_colour" in features[0]["properties"]:
            return features
    return []
