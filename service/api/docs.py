"""The API's documents: the OpenAPI schema (with the serving bundle's category
vocabulary as the enum of the category filters) and Swagger UI served from the
installed ``swagger-ui-bundle`` package, so ``/docs`` works without internet."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from service.bundle_manager import BundleManager

ASSETS = "/docs/assets"
FILTERS = ("include_category", "exclude_category")


def install_docs(app: FastAPI) -> None:
    import swagger_ui_bundle

    app.mount(ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )


def openapi(
    app: FastAPI, bundles: BundleManager, bodies: tuple[type[BaseModel], ...] = ()
) -> dict[str, Any]:
    """The schema, rebuilt when the serving bundle changes (its categories are the
    filters' enum). ``bodies``: models of request bodies routes parse themselves
    (``service.api.body``), added to the components."""
    bundle = bundles.current
    key = bundle.identity if bundle is not None else ""
    cached = getattr(app.state, "openapi", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in bodies:
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(body.pop("$defs", {}))
        components[model.__name__] = body
    if bundle is not None and bundle.items.categories:
        for operation in (v for path in schema["paths"].values() for v in path.values()):
            for parameter in operation.get("parameters", []):
                if parameter["name"] in FILTERS:
                    parameter["schema"]["items"]["enum"] = list(bundle.items.categories)
    app.state.openapi = (key, schema)
    return schema
