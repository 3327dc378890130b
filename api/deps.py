"""The dependency every router shares: the container built at start-up."""

from typing import Annotated

from fastapi import Depends, Request

from commands.container import Container


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]
