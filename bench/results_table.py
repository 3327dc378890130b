"""The HTTP bench's printed tables: each path beside its anchor, then the other figures."""

from collections.abc import Sequence

from report import Figure
from rich.console import Console
from rich.table import Table

PAIRS = (  # (path shown, Jalur figure, anchor figure)
    ("single scans (wrk)", ("Jalur", "single scans"), ("anchor", "single scans")),
    (
        "GET /v1/track/{awb} (wrk)",
        ("Jalur", "GET /v1/track/{awb}"),
        ("anchor", "GET /v1/track/{awb}"),
    ),
    (
        "POST /v1/scans, 100 per request",
        ("Jalur", "batch scans, 100 per request"),
        ("raw PostgreSQL", "executemany, 1,000 rows per commit"),
    ),
)


def _find(figures: Sequence[Figure], key: tuple[str, str]) -> Figure | None:
    return next((f for f in figures if (f.section, f.name) == key), None)


def _cells(figure: Figure | None) -> list[str]:
    if figure is None or figure.value is None:
        return ["-", "", ""]
    return [f"{figure.value:,.0f}", *(str(figure.detail.get(k, "")) for k in ("p50_ms", "p99_ms"))]


def _ratio(jalur: Figure | None, anchor: Figure | None) -> str:
    if not jalur or not anchor or not jalur.value or not anchor.value:
        return "-"
    return f"{jalur.value / anchor.value:.2f}"


def pairs_table(figures: Sequence[Figure]) -> Table:
    table = Table(
        title="Jalur beside its anchors (rates per second, latencies in ms; load: the machine's"
        " 1-minute load average at the end of each, 2 cores)"
    )
    columns = ("path", "Jalur /s", "p50", "p99", "anchor /s", "p50", "p99", "ratio", "load J/A")
    for column in columns:
        table.add_column(column, justify="left" if column == "path" else "right")
    for path, jalur_key, anchor_key in PAIRS:
        jalur, anchor = _find(figures, jalur_key), _find(figures, anchor_key)
        load = "/".join(str(f.detail.get("loadavg_1m", "-")) if f else "-" for f in (jalur, anchor))
        table.add_row(path, *_cells(jalur), *_cells(anchor), _ratio(jalur, anchor), load)
    return table


def others_table(figures: Sequence[Figure]) -> Table:
    paired = {key for _, *keys in PAIRS for key in keys}
    table = Table(title="Lag, end to end, idle cost, raw PostgreSQL")
    for column in ("section", "figure", "value", "unit", "detail"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for figure in figures:
        if (figure.section, figure.name) in paired or figure.section in {"Jalur", "anchor"}:
            continue
        value = "FAILED" if figure.value is None else f"{figure.value:,.2f}"
        detail = ", ".join(f"{k}={v}" for k, v in figure.detail.items())
        table.add_row(figure.section, figure.name, value, figure.unit, detail)
    return table


def print_results(figures: Sequence[Figure], console: Console) -> None:
    console.print(pairs_table(figures))
    console.print(others_table(figures))
