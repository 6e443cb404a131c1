"""The published OpenAPI document: valid, complete, and true to the routes it describes."""

from __future__ import annotations

from fastapi.routing import APIRoute
from openapi_spec_validator import validate

ENDPOINTS = {"acquire": "post", "start": "post", "query": "get", "update": "post",
             "updateLayout": "post", "stop": "post"}


def test_schema_is_served_without_credentials_and_is_valid_openapi(backend, settings):
    from fastapi.testclient import TestClient

    from cloudrec.api.app import create_app

    response = TestClient(create_app(backend, settings)).get("/openapi.json")

    assert response.status_code == 200
    validate(response.json())


def operations(document):
    return {op["operationId"]: (method, path, op)
            for path, item in document["paths"].items() for method, op in item.items()}


def test_every_agora_endpoint_is_documented(client):
    document = client.get("/openapi.json").json()

    documented = operations(document)

    assert {name: method for name, (method, _, _) in documented.items()} == ENDPOINTS
    assert document["components"]["securitySchemes"]["basicAuth"] == \
        {"type": "http", "scheme": "basic"}
    assert document["security"] == [{"basicAuth": []}]


def api_routes(routes):
    """The API routes, also inside included routers (FastAPI >= 0.16x wraps those)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (included := getattr(route, "original_router", None)) is not None:
            yield from api_routes(included.routes)


def test_documented_paths_are_the_served_routes(client):
    document = client.get("/openapi.json").json()
    served = {(method.lower(), route.path) for route in api_routes(client.app.routes)
              for method in route.methods}

    documented = {(method, path) for method, path, _ in operations(document).values()}

    assert documented == served


def test_each_operation_documents_path_parameters_body_and_error_shapes(client):
    document = client.get("/openapi.json").json()

    for name, (method, path, operation) in operations(document).items():
        names = {p["name"] for p in operation["parameters"]}
        assert names == {part[1:-1] for part in path.split("/") if part.startswith("{")}
        assert ("requestBody" in operation) == (method == "post"), name
        responses = operation["responses"]
        assert {"200", "400", "401", "404", "429"} <= set(responses), name
        assert responses["401"]["content"]["application/json"]["schema"] == \
            {"$ref": "#/components/schemas/GatewayError"}
    assert "201" in operations(document)["start"][2]["responses"]
    assert "206" in operations(document)["stop"][2]["responses"]


def test_start_body_schema_carries_the_agora_fields(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]

    start = schemas["StartOptions"]["properties"]
    recording = schemas["RecordingConfig"]["properties"]
    storage = schemas["Storage"]["properties"]

    assert {"token", "recordingConfig", "recordingFileConfig", "storageConfig"} <= set(start)
    assert {"transcodingConfig", "subscribeAudioUids", "unSubscribeVideoUids",
            "streamTypes", "maxIdleTime"} <= set(recording)
    assert storage["fileNamePrefix"]["anyOf"][0]["items"]["pattern"] == "^[A-Za-z0-9]+$"
    assert schemas["StartRequest"]["properties"]["uid"]["pattern"] == "^[1-9][0-9]{0,9}$"
