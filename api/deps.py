"""Dependencies shared by the routers: the container and device authentication."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader

from infra.bootstrap import Container
from infra.keys import Device, authenticate

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="A device key.")


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def current_device(
    container: ContainerDep, key: Annotated[str | None, Depends(_api_key)]
) -> Device:
    device = authenticate(container.pool, key) if key else None
    if device is None:
        raise HTTPException(
            401, "A valid X-API-Key header is required.", {"WWW-Authenticate": "ApiKey"}
        )
    return device


DeviceDep = Annotated[Device, Depends(current_device)]
