"""The relay's record of each publication: one full copy of an application's events on
its topic. A broker that lost its data gets a new publication from notification 1; so
does a broker that kept its data but forgot the relay's marker (then the topic holds two
copies one after the other). Each publication records, per partition, the offset of its
first acknowledged message, taken from the broker's delivery reports, so an auditor can
find every copy without trusting watermarks (which the embedded broker reports wrongly).
"""

from dataclasses import dataclass
from typing import Any

from psycopg import Connection

UNKNOWN = -1  # no message of this publication acknowledged on the partition yet

DDL = (
    """CREATE TABLE IF NOT EXISTS relay_publications (
        application text NOT NULL,
        publication integer NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        first_offsets bigint[] NOT NULL,
        PRIMARY KEY (application, publication)
    )""",
)


@dataclass(frozen=True)
class Publication:
    number: int
    first_offsets: list[int]


def begin(conn: Connection[Any], application: str, partitions: int, *, first: int) -> int:
    """Record a new publication whose partitions start at `first` (UNKNOWN: learn it)."""
    row = conn.execute(
        """INSERT INTO relay_publications (application, publication, first_offsets)
           SELECT %s, coalesce(max(publication), 0) + 1, %s FROM relay_publications
           WHERE application = %s
           RETURNING publication""",
        (application, [first] * partitions, application),
    ).fetchone()
    assert row is not None
    return int(row[0])


def learn_first_offsets(conn: Connection[Any], application: str, offsets: dict[int, int]) -> None:
    """Fill in the first offset of partitions the newest publication had not reached."""
    for partition, offset in offsets.items():
        conn.execute(
            """UPDATE relay_publications SET first_offsets[%s] = %s
               WHERE application = %s AND first_offsets[%s] = %s
                 AND publication = (SELECT max(publication) FROM relay_publications
                                    WHERE application = %s)""",
            (partition + 1, offset, application, partition + 1, UNKNOWN, application),
        )


def publications(conn: Connection[Any], application: str) -> list[Publication]:
    rows = conn.execute(
        """SELECT publication, first_offsets FROM relay_publications
           WHERE application = %s ORDER BY publication""",
        (application,),
    ).fetchall()
    return [Publication(int(number), list(offsets)) for number, offsets in rows]
