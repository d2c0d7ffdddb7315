"""The recorder sees every kind of query, as sent, once, with where it was built; in started processes too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from google.cloud.firestore_v1.base_query import And, FieldFilter, Or
from google.cloud.firestore_v1.base_vector_query import DistanceMeasure
from google.cloud.firestore_v1.vector import Vector

from tests.support.cloud import PROJECT, ROOT
from tests.support.firestore_queries import (
    ASCENDING,
    DESCENDING,
    LOG_DIR_ENV,
    Composite,
    Condition,
    Shape,
    capturing,
    read_records,
)
from tests.support.query_log import CHILD_SITE

ITEMS = "recorder_items"
READY = Condition("status", "==")


def test_every_way_of_running_a_query_is_recorded_once_with_its_shape(firestore_db):
    items = firestore_db.collection(ITEMS)
    items.document("a").set(
        {"n": 1, "status": "ready", "tags": ["x"], "owner": "o", "embedding": Vector([1.0, 0.0])}
    )
    ready = items.where(filter=FieldFilter("status", "==", "ready"))
    with capturing() as seen:
        list(ready.order_by("n").stream())
        ready.get()
        items.order_by("n").limit_to_last(1).get()  # sent with its order reversed
        ready.count().get()
        ready.sum("n").get()
        ready.avg("n").get()
        list(firestore_db.collection_group(ITEMS).where(filter=FieldFilter("n", ">", 0)).stream())
        items.where(filter=FieldFilter("owner", "==", "o")).find_nearest(
            vector_field="embedding",
            query_vector=Vector([1.0, 0.0]),
            distance_measure=DistanceMeasure.COSINE,
            limit=1,
        ).get()
        either = Or(
            [
                FieldFilter("status", "==", "ready"),
                And([FieldFilter("n", ">", 2), FieldFilter("owner", "==", "o")]),
            ]
        )
        list(items.where(filter=either).stream())
        list(items.where(filter=FieldFilter("status", "not-in", ["gone"])).stream())
        list(
            items.where(filter=FieldFilter("owner", "in", ["o"]))
            .where(filter=FieldFilter("error", "==", None))
            .where(filter=FieldFilter("tags", "array_contains", "x"))
            .stream()
        )
        # Lookups by key are not queries.
        items.document("a").get()
        list(firestore_db.get_all([items.document("a")]))

    assert [record.shape for record in seen] == [
        Shape(ITEMS, filter=READY, orders=(("n", ASCENDING),)),
        Shape(ITEMS, filter=READY),
        Shape(ITEMS, orders=(("n", DESCENDING),)),
        Shape(ITEMS, filter=READY, aggregations=("count()",)),
        Shape(ITEMS, filter=READY, aggregations=("sum(n)",)),
        Shape(ITEMS, filter=READY, aggregations=("avg(n)",)),
        Shape(ITEMS, collection_group=True, filter=Condition("n", ">")),
        Shape(ITEMS, filter=Condition("owner", "=="), vector_field="embedding"),
        Shape(
            ITEMS,
            filter=Composite(
                "or", (READY, Composite("and", (Condition("n", ">"), Condition("owner", "=="))))
            ),
        ),
        Shape(ITEMS, filter=Condition("status", "not-in")),
        Shape(
            ITEMS,
            filter=Composite(
                "and",
                (
                    Condition("owner", "in"),
                    Condition("error", "is-null"),
                    Condition("tags", "array_contains"),
                ),
            ),
        ),
    ]


def test_a_shape_survives_its_trip_through_the_log():
    shape = Shape(
        "messages",
        collection_group=True,
        filter=Composite(
            "or", (READY, Composite("and", (Condition("n", ">"), Condition("tags", "array_contains"))))
        ),
        orders=(("created_at", DESCENDING),),
        vector_field="embedding",
        aggregations=("count()",),
    )
    assert Shape.from_json(shape.to_json()) == shape


def test_a_query_is_located_at_the_innermost_frame_of_the_repositorys_own_code(firestore_db):
    from shared.store.replies import ready_messages

    with capturing() as seen:
        ready_messages(firestore_db, "15550001_15550002")
        firestore_db.collection("messages").order_by("created_at").get()
    built_by_code, built_by_test = seen
    assert built_by_code.origin.startswith("shared/store/replies.py:")
    assert built_by_code.origin.endswith(" ready_messages")
    assert built_by_code.production
    assert built_by_test.origin.startswith("tests/indexes/test_query_recorder.py:")
    assert not built_by_test.production


CHILD = """
import sys
from google.cloud import firestore
from google.cloud.firestore_v1 import base_query
from shared.store.replies import ready_messages

hooked = getattr(base_query.BaseQuery.__dict__["_to_protobuf"], "_records_firestore_queries", False)
print("recording" if hooked else "silent", "firestore_query_recorder" in sys.modules)
ready_messages(firestore.Client(project=sys.argv[1]), "15550001_15550002")
"""


def run_child(emulators, extra: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items() if k not in (LOG_DIR_ENV, "PYTHONPATH")}
    env.update(emulators.env)
    env.update(extra)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, PROJECT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_started_process_records_its_queries_into_the_named_directory(emulators, tmp_path):
    log_dir = tmp_path / "queries"
    out = run_child(
        emulators, {LOG_DIR_ENV: str(log_dir), "PYTHONPATH": os.pathsep.join([str(CHILD_SITE), str(ROOT)])}
    )
    assert out.split() == ["recording", "True"]
    (record,) = read_records(log_dir)
    assert record.shape == Shape("messages", filter=READY, orders=(("created_at", ASCENDING),))
    assert record.origin.startswith("shared/store/replies.py:") and record.production


def test_without_a_log_directory_a_started_process_is_left_alone(emulators, tmp_path):
    out = run_child(emulators, {"PYTHONPATH": os.pathsep.join([str(CHILD_SITE), str(ROOT)])})
    assert out.split() == ["silent", "False"]


def test_the_sitecustomize_it_shadows_still_runs(emulators, tmp_path: Path):
    other = tmp_path / "other_site"
    other.mkdir()
    (other / "sitecustomize.py").write_text("print('the other sitecustomize ran')\n")
    path = os.pathsep.join([str(CHILD_SITE), str(other), str(ROOT)])
    out = run_child(emulators, {LOG_DIR_ENV: str(tmp_path / "queries"), "PYTHONPATH": path})
    assert out.splitlines() == ["the other sitecustomize ran", "recording True"]
