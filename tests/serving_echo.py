"""A WSGI application that answers the keys of the environ it was called
with: tests/test_serving.py serves it through the production start
(`python -m gisportal.serving --application tests.serving_echo:application`)
to see what every request of the portal is handed."""

import json


def application(environ, start_response):
    body = json.dumps(sorted(environ)).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
