"""Routes for the link pages: GET shows the form (never uses the link), POST completes it.

Left out of the OpenAPI document: they are pages for people, open to anyone holding the
link, whose token is the capability.
"""

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import ContainerDep
from api.errors import status_of
from api.pages import forms, render
from api.pages.render import Problem
from api.pages.steps import PAGES, Filled, LinkPage
from api.timing import client_address
from domain.errors import DomainError, TooManyAttempts
from domain.passwords import MAX_CHARS

router = APIRouter()
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")
INCOMPLETE = Problem(
    400, "incomplete_link", "This link is incomplete: open the whole link from the e-mail."
)
CROSS_SITE = Problem(403, "cross_origin_form", "This form was sent from another site.")
EMPTY = Problem(422, "missing_field", "Fill in every field.")
TOO_LONG = Problem(422, "field_too_long", f"A password is at most {MAX_CHARS} characters.")


def _form(page: LinkPage, token: str, problem: Problem | None = None) -> Response:
    return render.page(
        "form.html",
        problem.status if problem else 200,
        problem.headers if problem else None,
        title=page.title,
        intro=page.intro,
        action=page.path,
        token=token,
        fields=page.secrets,
        button=page.button,
        max_chars=MAX_CHARS,
        problem=problem,
    )


def _problem_of(error: DomainError) -> Problem:
    headers = None
    if isinstance(error, TooManyAttempts):
        headers = {"Retry-After": str(error.retry_after_s)}
    return Problem(status_of(error), error.code, error.message, headers)


def _add(page: LinkPage) -> None:
    names = tuple(secret.name for secret in page.secrets)

    async def show(request: Request) -> Response:
        token = request.query_params.get("token", "")
        if not TOKEN.fullmatch(token):
            return render.problem_page(page.title, INCOMPLETE)
        return _form(page, token)

    async def submit(request: Request, container: ContainerDep) -> Response:
        if not forms.same_origin(request.headers, container.settings.links_base()):
            return render.problem_page(page.title, CROSS_SITE)
        try:
            posted = await forms.read(request, ("token", *names))
        except forms.Unreadable as unreadable:
            return render.problem_page(page.title, unreadable.problem)
        token = posted.pop("token")
        if not TOKEN.fullmatch(token):
            return render.problem_page(page.title, INCOMPLETE)
        if not all(posted.values()):
            return _form(page, token, EMPTY)
        if any(len(value) > MAX_CHARS for value in posted.values()):
            return _form(page, token, TOO_LONG)
        filled = Filled(token, posted, client_address(request), datetime.now(UTC))
        try:
            await run_in_threadpool(page.complete, container, filled)
        except DomainError as error:
            problem = _problem_of(error)
            if error.code == "invalid_token":
                return render.problem_page(page.title, problem)
            return _form(page, token, problem)
        return render.page("result.html", title=page.title, lines=page.done, problem=None)

    hidden: dict[str, Any] = {"include_in_schema": False}
    router.add_api_route(page.path, show, methods=["GET"], **hidden)
    router.add_api_route(page.path, submit, methods=["POST"], **hidden)


for _page in PAGES:
    _add(_page)
router.add_api_route(render.STYLESHEET, render.stylesheet, methods=["GET"], include_in_schema=False)
