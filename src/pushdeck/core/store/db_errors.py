"""What a failing PostgreSQL statement means for a long-running sender (a worker).

psycopg raises ``OperationalError`` for very different things; a worker must answer
each differently (SQLSTATE, https://www.postgresql.org/docs/current/errcodes-appendix.html):

- the connection is gone (class 08, the server shutting down or restarting 57P01/2/3,
  an idle-session timeout 57P05, or libpq's own "server closed the connection" without
  a SQLSTATE): open a new one with a backoff. ``store.pg`` raises these as
  ``ConnectionLostError`` (still an ``OperationalError``, so older handlers hold);
- a deadlock (40P01) or serialization failure (40001): the transaction was rolled back
  and may simply be run again, a bounded number of times (``retry_conflicts``);
- anything else the server refuses (disk full 53100, out of memory 53200, a statement
  cancelled 57014, …): the connection is fine, the server is not. Say which error and
  what to do (``explain``), keep what was not written, and try again later.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg

T = TypeVar("T")


class ConnectionLostError(psycopg.OperationalError):
    """The workspace connection broke (server restarted, backend terminated, network cut):
    ``Workspace.reconnect`` opens a new one."""


#: The SQLSTATEs after which the session is gone, besides class 08.
_LOST_STATES = frozenset({"57P01", "57P02", "57P03", "57P05"})
#: A transaction the server rolled back that may succeed when run again.
CONFLICT_STATES = frozenset({"40P01", "40001"})


def is_connection_loss(exc: psycopg.Error, conn: psycopg.Connection[object] | None) -> bool:
    state = exc.sqlstate
    if state is None:  # libpq's own: "server closed the connection", "connection is closed"
        return True
    if state.startswith("08") or state in _LOST_STATES:
        return True
    return conn is not None and bool(conn.closed)


def as_connection_lost(exc: psycopg.OperationalError) -> ConnectionLostError:
    lost = ConnectionLostError(" ".join(str(exc).split()) or "the connection was lost")
    lost.__cause__ = exc
    return lost


def is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, psycopg.Error) and exc.sqlstate in CONFLICT_STATES


#: A statement the server refused for a reason of its own, the connection intact
#: (conflicts too, once their retries are spent). Catch ``ConnectionLost`` first.
ServerRefused = (psycopg.OperationalError,)

#: SQLSTATE -> (what happened, what to do), for the ones a worker meets in production.
_ADVICE = {
    "53100": (
        "the database server's disk is full",
        "free space on the PostgreSQL server's disk (or grow it)",
    ),
    "53200": (
        "the database server is out of memory",
        "check the server's memory settings (work_mem, max_connections) and its load",
    ),
    "53300": (
        "the database server has too many connections",
        "raise max_connections or run fewer clients",
    ),
    "53400": (
        "a configured limit of the database server was reached",
        "check the server's log for the limit",
    ),
    "57014": (
        "the database server cancelled a statement (statement_timeout, or an administrator)",
        "check statement_timeout for this role and database (ALTER ROLE … RESET "
        "statement_timeout) and the server's load",
    ),
    "40P01": ("a deadlock with another client, again and again", "check the server's log"),
    "40001": (
        "a serialization failure with another client, again and again",
        "check the server's log",
    ),
}


def explain(exc: BaseException) -> str:
    """One sentence naming the error (its SQLSTATE) and what to do about it."""
    state = getattr(exc, "sqlstate", None)
    diag = getattr(exc, "diag", None)
    primary = (getattr(diag, "message_primary", None) or str(exc) or type(exc).__name__).strip()
    primary = " ".join(primary.split())
    what, todo = _ADVICE.get(
        str(state),
        ("the database server refused a statement", "check the PostgreSQL server's log"),
    )
    where = f"SQLSTATE {state}: {primary}" if state else primary
    return f"{what} ({where}); {todo}"


#: Runs of a transaction that met a deadlock or serialization failure, in all.
CONFLICT_ATTEMPTS = 4


def retry_conflicts(run: Callable[[], T], attempts: int = CONFLICT_ATTEMPTS) -> T:
    """``run()``, run again (after a few jittered milliseconds) while the server rolls it
    back as a deadlock or serialization failure; the last failure is raised. ``run``
    must be one whole transaction (the workspace rolled it back before this retries)."""
    for attempt in range(1, attempts + 1):
        try:
            return run()
        except psycopg.OperationalError as exc:
            if attempt == attempts or not is_conflict(exc) or isinstance(exc, ConnectionLostError):
                raise
            time.sleep(random.uniform(0, 0.01 * 2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover
