"""OpenAPI (drf-spectacular) description of the portal's token scheme:
drf-spectacular knows DRF's and knox's own classes, not a subclass."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "gisportal.accounts.authentication.ApiTokenAuthentication"
    # The name DRF's token scheme had: clients and docs that refer to it stay valid.
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`Authorization: Token <token>`, the token from `POST /api/v1/auth/token/`. "
                "It expires (see `expiry`) and is revoked by `POST /api/v1/auth/logout/`."
            ),
        }
