"""The API's published contract: the OpenAPI document lists every route of issue §5, and the
docs page works offline under the CSP (no CDN, no inline script)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

CONTRACT = {
    "/api/v1/auth/token": {"post"},
    "/api/v1/me": {"get"},
    "/api/v1/dictionaries/{kind}": {"get"},
    "/api/v1/customers": {"get", "post"},
    "/api/v1/customers/{customer_id}": {"get", "patch", "delete"},
    "/api/v1/customers/{customer_id}/restore": {"post"},
    "/api/v1/customers/{customer_id}/history": {"get"},
    "/api/v1/customers/{customer_id}/contacts": {"get", "post"},
    "/api/v1/contacts/{contact_id}": {"patch", "delete"},
    "/api/v1/users/{user_id}/deactivate": {"post"},
    # Exports (issue 8 §7).
    "/api/v1/customers/export": {"get"},
    "/api/v1/contacts/export": {"get"},
    "/api/v1/leads/export": {"get"},
    "/api/v1/opportunities/export": {"get"},
    "/api/v1/followups/export": {"get"},
    "/api/v1/recycle-bin/customers/export": {"get"},
    "/api/v1/exports/{job_id}": {"get"},
}
CUSTOMER_FIELDS = {
    "id", "number", "type", "name", "industry", "source", "grade", "status", "owner_id",
    "phone", "email", "credit_code", "address", "background", "remarks", "contacts",
    "version", "created_at", "updated_at",
}  # fmt: skip


@pytest.fixture
def spec():
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_the_spec_loads_and_lists_every_contracted_route(spec):
    assert spec["openapi"].startswith("3.")
    for path, methods in CONTRACT.items():
        assert path in spec["paths"], path
        assert methods <= set(spec["paths"][path]), (path, set(spec["paths"][path]))


def test_operations_have_short_stable_ids_for_generated_clients(spec):
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert {"token_create", "me", "customer_list", "customer_update", "contact_delete"} <= set(ids)


# Open by design: the token exchange, and a web form's public endpoint (issue 7 §2), which
# answers only whether a submission was taken.
OPEN_ROUTES = {"/api/v1/auth/token", "/api/v1/public/forms/{key}/submit"}


def test_every_route_but_the_open_ones_needs_authentication(spec):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if path in OPEN_ROUTES:
                assert not operation.get("security"), f"{method} {path} must be open"
            else:
                assert operation.get("security"), f"{method} {path} is open"
                assert "401" in operation["responses"], f"{method} {path}"


def test_the_customer_schema_has_the_contracted_fields(spec):
    schemas = spec["components"]["schemas"]
    assert set(schemas["CustomerOut"]["properties"]) >= CUSTOMER_FIELDS
    assert schemas["CustomerPatch"]["required"] == ["version"]
    create = schemas["CustomerIn"]["properties"]
    assert {"contacts", "confirm_duplicates"} <= set(create)
    assert set(schemas["ContactIn"]["properties"]) >= {
        "name", "title", "phone", "email", "is_primary"}  # fmt: skip


def test_the_list_answers_with_items_and_a_next_link(spec):
    page = spec["components"]["schemas"]["CustomerPageOut"]["properties"]
    assert {"items", "page", "page_size", "has_next", "next"} <= set(page)
    params = {p["name"] for p in spec["paths"]["/api/v1/customers"]["get"]["parameters"]}
    assert params >= {
        "q", "type", "industry", "grade", "source", "status", "owner_id", "created_from",
        "created_to", "sort", "page", "page_size",
    }  # fmt: skip


def test_write_routes_document_their_error_answers(spec):
    post = spec["paths"]["/api/v1/customers"]["post"]["responses"]
    patch = spec["paths"]["/api/v1/customers/{customer_id}"]["patch"]["responses"]
    assert {"201", "401", "403", "409", "422"} <= set(post)
    assert {"200", "401", "403", "404", "409", "422"} <= set(patch)


def test_the_docs_page_uses_only_local_files_and_no_inline_script():
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui-bundle.js" in html
    # No external host at all: intranet deployments have no internet.
    assert not re.search(r"(src|href)=\"(https?:)?//", html), html
    assert "cdn" not in html.lower()
    for tag in re.findall(r"<script[^>]*>", html):
        # Either a file from our own origin, or a JSON data block the browser never executes.
        assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
    policy = response.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", policy).group(1)
    assert "'self'" in script_src and "unsafe-inline" not in script_src
    assert '"validatorUrl": null' in html  # Swagger would otherwise call swagger.io


def test_every_operation_documents_every_error_it_can_answer(spec):
    """Issue 5 §2: a schema-driven client refuses an undocumented status, so each operation
    lists 401/403 (authenticated), 400/413/422 (with a body), 422 (with parameters) and 404
    (with a path id), whatever its route declares."""
    missing = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            expected = set()
            parameters = operation.get("parameters", [])
            if operation.get("security") or path == "/api/v1/auth/token":
                expected |= {"401", "403"}
            if "requestBody" in operation:
                expected |= {"400", "413", "422"}
            if parameters:
                expected.add("422")
            if any(p["in"] == "path" for p in parameters):
                expected.add("404")
            absent = expected - set(operation["responses"])
            if absent:
                missing.append(f"{method.upper()} {path}: {sorted(absent)}")
    assert not missing, "\n".join(missing)


def test_every_error_answer_has_the_documented_json_body(spec):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                body = response["content"]["application/json"]["schema"]["$ref"]
                wanted = "ConflictOut" if status == "409" else "ErrorOut"
                assert body == f"#/components/schemas/{wanted}", (method, path, status)
    assert {"error", "message", "fields"} <= set(
        spec["components"]["schemas"]["ErrorOut"]["properties"]
    )


def test_route_specific_errors_are_listed_too(spec):
    paths = spec["paths"]
    assert "429" in paths["/api/v1/auth/token"]["post"]["responses"]
    for path, method in [
        ("/api/v1/customers", "post"),
        ("/api/v1/customers/{customer_id}", "patch"),
        ("/api/v1/customers/{customer_id}", "delete"),
        ("/api/v1/customers/{customer_id}/restore", "post"),
    ]:
        assert "409" in paths[path][method]["responses"], (method, path)


def test_strict_input_types_show_in_the_document(spec):
    schemas = spec["components"]["schemas"]
    customer = schemas["CustomerIn"]["properties"]
    assert customer["confirm_duplicates"]["type"] == "boolean"
    owner = customer["owner_id"]["anyOf"][0]
    assert owner["type"] == "integer" and owner["minimum"] == 1
    assert customer["first_contact_date"]["anyOf"][0]["format"] == "date"
    assert {"type": "number"} in customer["budget"]["anyOf"]
    assert {"type": "boolean"} not in customer["budget"]["anyOf"]


def test_an_export_documents_its_file_its_job_and_the_format(spec):
    operation = spec["paths"]["/api/v1/customers/export"]["get"]
    assert {"200", "202"} <= set(operation["responses"])
    assert "text/csv" in operation["responses"]["200"]["content"]
    assert "format" in {p["name"] for p in operation["parameters"]}
    job = spec["components"]["schemas"]["ExportJobOut"]["properties"]
    assert {"id", "state", "module", "format", "rows", "file_url", "created_at",
            "finished_at"} <= set(job)  # fmt: skip
