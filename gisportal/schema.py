"""The OpenAPI schema says what the server really answers, for every
operation at once (`REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]`), rather than
each view copying the same error responses:

- every operation may answer 400 with the portal's error shapes (a NUL in a
  path or query parameter is refused before any view runs), 414 from the web
  server for an overlong URL, 404 when it has
  path parameters or looks something up, 401 and 403 when it reads
  credentials, 429 when it is rate-limited;
- security per operation: a public operation declares `{}` (no credentials)
  beside the schemes it reads, so that a client knows it may call it
  anonymously; one that needs a signed-in caller declares only the schemes.

Error shapes (`gisportal.api`): `{"detail": "vi / en"}` and
`{"<field>": ["vi / en", ...]}`."""

from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import AllowAny

ERROR = {"$ref": "#/components/schemas/Error"}
FIELD_ERRORS = {"$ref": "#/components/schemas/FieldErrors"}
COMPONENTS = {
    "schemas": {
        "Error": {
            "type": "object",
            "description": "One message, Vietnamese / English.",
            "properties": {"detail": {"type": "string"}},
            "required": ["detail"],
        },
        "FieldErrors": {
            "type": "object",
            "description": "Each offending parameter or field with its messages, Vietnamese / English.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "minProperties": 1,
        },
    }
}

_ERROR_DESCRIPTIONS = {
    "400": "Bad input: each offending parameter or field named (or one message for an unreadable body).",
    "401": "No credentials, or an invalid token.",
    "403": "Signed in but not allowed.",
    "404": "Not found, or not visible to the caller (the same answer).",
    "409": "The state of the resource does not allow it.",
    "413": "Too large: the upload, or the answer asked for (an HTML map of more features than it holds).",
    "422": "The same Idempotency-Key was used with another body.",
    "429": "Too many requests; see Retry-After.",
}
# Free text without NUL (or lone surrogates, which a URL cannot carry anyway).
NO_NUL_PATTERN = "^[^\\u0000]*$"


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


# Answered by the HTTP server in front of Django (Granian, nginx), not by the
# portal: a request line longer than it reads (Granian: 64 KiB; nginx: 8 KiB).
URI_TOO_LONG = {
    "description": "The URL is longer than the web server reads; answered by the server, in HTML.",
    "content": {"text/html": {"schema": {"type": "string"}}},
}


def error_response(code: str) -> dict:
    # A 400, 404 or 413 names the offending parameter when there is one (an
    # unknown slip kind, an oversized `file`); the others carry one message.
    schema = {"anyOf": [FIELD_ERRORS, ERROR]} if code in ("400", "404", "413") else ERROR
    response = {"description": _ERROR_DESCRIPTIONS[code], "content": _json(schema)}
    if code == "429":
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
    return response


class PortalAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema with the portal's errors and security."""

    def _login_required(self) -> bool:
        """Whether this operation refuses anonymous callers: a permission
        class other than AllowAny, or the view's own `login_required_methods`
        (views that check the caller in the method itself)."""
        permissions = [p for p in self.view.get_permissions() if not isinstance(p, AllowAny)]
        return bool(permissions) or self.method in getattr(self.view, "login_required_methods", ())

    def _reads_credentials(self) -> bool:
        return bool(self.view.get_authenticators())

    def get_auth(self):
        schemes = super().get_auth()
        schemes = [s for s in schemes if s != {}]
        if self._login_required():
            return schemes
        return [{}, *schemes]

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = {"400"}
        if self._reads_credentials():
            codes |= {"401", "403"}
        if self._login_required():
            codes.add("401")
        if "{" in self.path or "404" in responses:
            codes.add("404")
        if self.view.get_throttles():
            codes.add("429")
        # 401 here: a view that checks a credential of its own (a signature)
        # declares it, and gets the portal's error body.
        for code in ("401", "409", "413", "422"):
            if code in responses:
                codes.add(code)
        for code in codes:
            declared = responses.get(code)
            body = error_response(code)
            if declared and code == "409" and declared.get("content"):
                # A richer body of the view's own (e.g. the allowed actions of a refused move).
                body["content"] = {
                    media: {"schema": {"allOf": [ERROR, spec.get("schema", {})]}}
                    for media, spec in declared["content"].items()
                }
            responses[code] = body
        responses["414"] = URI_TOO_LONG
        return dict(sorted(responses.items()))


def postprocess(result, generator, request, public):
    """Schema-wide additions: the error components; free-text parameters
    refuse a NUL (`gisportal.unstorable`); an optional query parameter sent
    empty (`?to=`) counts as not sent (`QueryParams.raw`)."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(COMPONENTS["schemas"])
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if schema.get("type") == "string" and not ({"enum", "pattern", "format"} & schema.keys()):
                    schema["pattern"] = NO_NUL_PATTERN
                if parameter.get("in") == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
    return result
