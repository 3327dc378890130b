"""Reading a posted form, and refusing one posted from another site."""

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit

from fastapi import Request

from api.pages.render import Problem

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 8


class Unreadable(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.code)
        self.problem = problem


def same_origin(headers: Mapping[str, str], public_url: str) -> bool:
    """False for a form a browser posts from another site. The token in the form is the
    capability; this keeps another site from making a visitor's browser post one.
    Clients that send neither header (not browsers) pass."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in {"same-origin", "none"}:
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    own = {headers.get("host"), urlsplit(public_url).netloc}
    return urlsplit(origin).netloc in own - {None, ""}


async def read(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    """The named fields of a urlencoded form ("" for a missing one)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != FORM_TYPE:
        raise Unreadable(Problem(415, "unsupported_form", "Send the form as a web form."))
    try:
        pairs = parse_qsl(
            (await request.body()).decode(), keep_blank_values=True, max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise Unreadable(Problem(400, "malformed_form", "The form could not be read.")) from None
    values = dict(pairs)
    return {name: values.get(name, "") for name in names}
