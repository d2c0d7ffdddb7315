"""The shape of every Firestore query the code builds, recorded while the tests run.

Production Firestore answers a query only from an index and refuses one that needs a composite
index nobody declared; the emulator answers everything. So the test run writes down the shape of
each query (its collection, or collection group; each filtered field with its operator; its orders;
the field of a nearest-neighbour search) and a test holds every shape against terraform/firestore.tf
(tests/support/firestore_indexes.py has the rules).

The hook wraps `_to_protobuf` of the client's query classes: every request that runs a query
(stream, get, limit_to_last, count/sum/avg, partitions, listeners, find_nearest) builds its
StructuredQuery there, and the shape is read from that protobuf, so it is what the server would be
sent, implicit orders the client adds included. Lookups by key (get, get_all) are not queries and
are not seen. Each process appends the shapes it has not written yet to its own JSON-lines file
in the directory named by FIRESTORE_QUERY_LOG_DIR; without that variable nothing is installed.

This module is also loaded by file path in the processes the tests start (see
child_site/sitecustomize.py), so it imports only the standard library at the top.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOG_DIR_ENV = "FIRESTORE_QUERY_LOG_DIR"
ROOT = Path(__file__).resolve().parents[2]

ASCENDING = "ASCENDING"
DESCENDING = "DESCENDING"

# Protobuf operator names, as the Python client spells them in `where()`.
FIELD_OPERATORS = {
    "LESS_THAN": "<",
    "LESS_THAN_OR_EQUAL": "<=",
    "GREATER_THAN": ">",
    "GREATER_THAN_OR_EQUAL": ">=",
    "EQUAL": "==",
    "NOT_EQUAL": "!=",
    "ARRAY_CONTAINS": "array_contains",
    "IN": "in",
    "ARRAY_CONTAINS_ANY": "array_contains_any",
    "NOT_IN": "not-in",
}
UNARY_OPERATORS = {
    "IS_NAN": "is-nan",
    "IS_NULL": "is-null",  # where(f, "==", None)
    "IS_NOT_NAN": "is-not-nan",
    "IS_NOT_NULL": "is-not-null",  # where(f, "!=", None)
}

# Where code of this repository runs in production; a query built elsewhere (a test's own check,
# the local stand-ins) never reaches a real database.
PRODUCTION_DIRS = ("shared", "functions")


# -- shapes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    field: str
    op: str


@dataclass(frozen=True)
class Composite:
    op: str  # "and" | "or"
    parts: tuple[Filter, ...]


Filter = Condition | Composite


@dataclass(frozen=True)
class Shape:
    """What of a query decides the index it needs; values, limits and cursors do not."""

    collection: str
    collection_group: bool = False
    filter: Filter | None = None
    orders: tuple[tuple[str, str], ...] = ()  # (field, ASCENDING | DESCENDING), as sent
    vector_field: str | None = None  # find_nearest
    aggregations: tuple[str, ...] = ()  # count(), sum(f), avg(f): they use the query's index

    def to_json(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "collection_group": self.collection_group,
            "filter": _filter_to_json(self.filter),
            "orders": [list(order) for order in self.orders],
            "vector_field": self.vector_field,
            "aggregations": list(self.aggregations),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Shape:
        return cls(
            collection=data["collection"],
            collection_group=data["collection_group"],
            filter=_filter_from_json(data["filter"]),
            orders=tuple((field, direction) for field, direction in data["orders"]),
            vector_field=data["vector_field"],
            aggregations=tuple(data["aggregations"]),
        )

    def describe(self) -> str:
        scope = "collection group" if self.collection_group else "collection"
        parts = []
        if self.filter is not None:
            parts.append("where " + _describe_filter(self.filter))
        if self.orders:
            parts.append("order by " + ", ".join(f"{f} {_short(d)}" for f, d in self.orders))
        if self.vector_field:
            parts.append(f"nearest to {self.vector_field}")
        if self.aggregations:
            parts.append("aggregate " + ", ".join(self.aggregations))
        return f"{self.collection} ({scope})" + "".join(f"; {part}" for part in parts)


def _short(direction: str) -> str:
    return "ASC" if direction == ASCENDING else "DESC"


def _filter_to_json(node: Filter | None) -> Any:
    if node is None:
        return None
    if isinstance(node, Condition):
        return {"field": node.field, "op": node.op}
    return {node.op: [_filter_to_json(part) for part in node.parts]}


def _filter_from_json(data: Any) -> Filter | None:
    if data is None:
        return None
    if "field" in data:
        return Condition(data["field"], data["op"])
    ((op, parts),) = data.items()
    return Composite(op, tuple(_filter_from_json(part) for part in parts))


def _describe_filter(node: Filter) -> str:
    if isinstance(node, Condition):
        return f"{node.field} {node.op}"
    inner = f" {node.op.upper()} ".join(_describe_filter(part) for part in node.parts)
    return f"({inner})" if node.op == "or" else inner


@dataclass(frozen=True)
class Record:
    """A shape, where in the code it was built (path:line function), and by which process."""

    shape: Shape
    origin: str
    process: str

    @property
    def production(self) -> bool:
        """Built by code that runs in production (unknown origins count, to be safe)."""
        return self.origin == "unknown" or self.origin.split("/", 1)[0] in PRODUCTION_DIRS


# -- from the protobuf ---------------------------------------------------------------------------


def shape_of(pb: Any) -> Shape:
    """The shape of a StructuredQuery or StructuredAggregationQuery protobuf."""
    from google.cloud.firestore_v1.types import StructuredAggregationQuery

    aggregations: tuple[str, ...] = ()
    if isinstance(pb, StructuredAggregationQuery):  # it wraps the query it aggregates over
        aggregations = tuple(_aggregation(a) for a in pb.aggregations)
        pb = pb.structured_query
    (selector,) = pb.from_
    return Shape(
        collection=selector.collection_id,
        collection_group=bool(selector.all_descendants),
        filter=_filter(pb.where) if "where" in pb else None,
        orders=tuple((order.field.field_path, order.direction.name) for order in pb.order_by),
        vector_field=pb.find_nearest.vector_field.field_path if "find_nearest" in pb else None,
        aggregations=aggregations,
    )


def _filter(pb: Any) -> Filter:
    if "composite_filter" in pb:
        op = pb.composite_filter.op.name.lower()
        parts: list[Filter] = []
        for part in (_filter(p) for p in pb.composite_filter.filters):
            # AND inside AND (or OR inside OR) is one level: the client nests them as built.
            parts.extend(part.parts if isinstance(part, Composite) and part.op == op else [part])
        return parts[0] if len(parts) == 1 else Composite(op, tuple(parts))
    if "field_filter" in pb:
        name = pb.field_filter.op.name
        return Condition(pb.field_filter.field.field_path, FIELD_OPERATORS.get(name, name))
    name = pb.unary_filter.op.name
    return Condition(pb.unary_filter.field.field_path, UNARY_OPERATORS.get(name, name))


def _aggregation(pb: Any) -> str:
    if "sum" in pb:
        return f"sum({pb.sum.field.field_path})"
    if "avg" in pb:
        return f"avg({pb.avg.field.field_path})"
    return "count()"


# -- the hook ------------------------------------------------------------------------------------


class _Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.local = threading.local()  # how deep inside a wrapped _to_protobuf this thread is
        self.log_dir: Path | None = None
        self.written: set[tuple[str, str]] = set()
        self.captures: list[list[Record]] = []

    def record(self, pb: Any) -> None:
        record = Record(shape_of(pb), _origin(), _process_name())
        key = (json.dumps(record.shape.to_json(), sort_keys=True), record.origin)
        with self.lock:
            for capture in self.captures:
                capture.append(record)
            if self.log_dir is None or key in self.written:
                return
            self.written.add(key)
            # One file per process (pid at write time: gunicorn forks its workers after startup).
            line = json.dumps(
                {"shape": record.shape.to_json(), "origin": record.origin, "process": record.process}
            )
            with (self.log_dir / f"{os.getpid()}.jsonl").open("a", encoding="utf-8") as out:
                out.write(line + "\n")


_recorder = _Recorder()
_MARK = "_records_firestore_queries"


def install(log_dir: Path | None) -> None:
    """Record every query from now on; to `log_dir` (if given) and to any open `capturing()`."""
    from google.cloud.firestore_v1 import base_aggregation, base_query, base_vector_query

    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        _recorder.log_dir = log_dir
    for cls in (
        base_query.BaseQuery,
        base_aggregation.BaseAggregationQuery,
        base_vector_query.BaseVectorQuery,
    ):
        original = cls.__dict__["_to_protobuf"]
        if not getattr(original, _MARK, False):
            cls._to_protobuf = _recording(original)


def installed() -> bool:
    from google.cloud.firestore_v1 import base_query

    return getattr(base_query.BaseQuery.__dict__["_to_protobuf"], _MARK, False)


def install_from_environment() -> None:
    """The child processes' entry (sitecustomize): a no-op unless the tests named a log directory."""
    log_dir = os.environ.get(LOG_DIR_ENV)
    if log_dir:
        install(Path(log_dir))


def _recording(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def to_protobuf(self: Any) -> Any:
        # An aggregation or vector query builds its nested query's protobuf inside its own: only
        # the outermost call is the request.
        depth = getattr(_recorder.local, "depth", 0)
        _recorder.local.depth = depth + 1
        try:
            pb = original(self)
        finally:
            _recorder.local.depth = depth
        if depth == 0:
            _recorder.record(pb)
        return pb

    setattr(to_protobuf, _MARK, True)
    return to_protobuf


@contextlib.contextmanager
def capturing() -> Iterator[list[Record]]:
    """Every query built inside the block, in order (for the recorder's own tests)."""
    install(None)
    seen: list[Record] = []
    with _recorder.lock:
        _recorder.captures.append(seen)
    try:
        yield seen
    finally:
        with _recorder.lock:
            _recorder.captures.remove(seen)


_COMPREHENSIONS = frozenset({"<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>"})


def _origin() -> str:
    """The innermost frame of this repository's own code (not a library, not this module)."""
    frame: Any = sys._getframe(1)
    here = os.path.abspath(__file__)
    root = str(ROOT) + os.sep
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        comprehension = frame.f_code.co_name in _COMPREHENSIONS  # the function around it says more
        if (
            filename.startswith(root)
            and filename != here
            and "site-packages" not in filename
            and not comprehension
        ):
            relative = filename[len(root) :]
            if not relative.startswith((".venv", "venv", "build")):
                return f"{relative}:{frame.f_lineno} {frame.f_code.co_name}"
        frame = frame.f_back
    return "unknown"


def _process_name() -> str:
    """`webhook`, `dashboard`... for a function process; the program's name otherwise."""
    for arg in sys.argv:
        if arg.startswith("--target="):
            return arg.split("=", 1)[1]
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("python")
    return program.parent.name if program.name == "__main__.py" else program.name  # python -m pytest


# -- reading the log -----------------------------------------------------------------------------


def read_records(log_dir: Path) -> list[Record]:
    """Every record every process wrote to `log_dir`."""
    records = []
    for path in sorted(log_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            data = json.loads(line)
            records.append(Record(Shape.from_json(data["shape"]), data["origin"], data["process"]))
    return records
