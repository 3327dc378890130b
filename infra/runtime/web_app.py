"""The API as uvicorn's factory sees it: a container built from the environment when the
server starts (`serve_https("infra.runtime.web_app:from_environment", ...)`)."""

from fastapi import FastAPI

from api.app import create_app
from infra.runtime.bootstrap import bootstrap
from infra.settings import Settings


def from_environment() -> FastAPI:
    return create_app(lambda: bootstrap(Settings()))
