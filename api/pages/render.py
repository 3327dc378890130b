"""HTML answers: Jinja2 templates (autoescaped) and the headers every page carries."""

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).parent
STYLESHEET = "/pages/jalur.css"
# No script, nothing from elsewhere, no framing; forms post only back to Jalur.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True)
class Problem:
    status: int
    code: str
    message: str
    headers: dict[str, str] | None = None


@cache
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page(
    template: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    html = environment().get_template(template).render(stylesheet=STYLESHEET, **context)
    return HTMLResponse(html, status, headers=PAGE_HEADERS | (headers or {}))


def problem_page(title: str, problem: Problem, lines: tuple[str, ...] = ()) -> HTMLResponse:
    return page(
        "result.html", problem.status, problem.headers, title=title, problem=problem, lines=lines
    )


@cache
def _stylesheet() -> bytes:
    return (HERE / "static" / "jalur.css").read_bytes()


def stylesheet() -> Response:
    return Response(_stylesheet(), media_type="text/css", headers=PAGE_HEADERS)
