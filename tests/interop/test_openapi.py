"""The OpenAPI document the running server serves passes a real validator, so that
OpenAPI tools (code generators, API clients) can call every operation."""

from openapi_spec_validator import OpenAPIV31SpecValidator


def test_the_served_openapi_document_is_valid(lakeward):
    res = lakeward.call("GET", "/openapi.json")
    assert res.status_code == 200, res.text
    doc = res.json()
    assert doc["openapi"] == "3.1.0"
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in OpenAPIV31SpecValidator(doc).iter_errors()]
    assert errors == []
