"""Every Firestore query the run made is served by an index terraform/firestore.tf declares, and
every composite index (or collection-group field override) it declares serves one of them.

The emulator answers any query; production refuses one without its index. These run after every
other test (the plugin orders them last) and judge the shapes all processes recorded. A table of
every shape and what serves it is written to artifacts/firestore-queries.txt.
"""

from __future__ import annotations

import pytest

from tests.infra import terraform_config
from tests.support import query_log
from tests.support.firestore_indexes import Verdict, declared_indexes, judge, unused
from tests.support.firestore_queries import Record, read_records

pytestmark = pytest.mark.after_all_queries

REPORT = terraform_config.ROOT / "artifacts" / "firestore-queries.txt"

# The functions that run queries (the webhook and media write, and read documents by key), each
# started as its own process by the suite: if none of their shapes arrived, the recorder did not
# reach them and the checks above would judge only the test process.
FUNCTIONS_THAT_QUERY = {"ai_reply", "dashboard"}


def recorded() -> list[Record]:
    directory = query_log.log_dir()
    if directory is None:
        pytest.skip("the query recorder (tests.support.query_log) is not loaded")
    records = read_records(directory)
    if not any(record.production for record in records):
        pytest.skip("this run built no Firestore query in shared/ or functions/ (a subset without them)")
    return records


def write_report(verdicts: list[Verdict]) -> None:
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n\n".join(v.describe() for v in verdicts) + "\n", encoding="utf-8")


def test_every_query_the_code_runs_is_served_by_a_declared_index():
    verdicts = judge(recorded(), declared_indexes(terraform_config.load()))
    write_report(verdicts)
    refused = [v for v in verdicts if v.refused]
    assert not refused, (
        f"production Firestore would refuse {len(refused)} of the {len(verdicts)} query shapes the code "
        "ran (FAILED_PRECONDITION: The query requires an index); declare their indexes in "
        "terraform/firestore.tf:\n\n" + "\n\n".join(v.describe() for v in refused)
    )


def test_every_declared_index_serves_a_query_the_code_runs():
    if not query_log.full_run():
        pytest.skip("only a run of the whole suite sees every query an index may be there for")
    declared = declared_indexes(terraform_config.load())
    idle = unused(declared, judge(recorded(), declared))
    assert not idle, (
        "terraform/firestore.tf declares indexes no query of the code needs (each costs storage and "
        "write latency on every document write); remove them:\n" + "\n".join(idle)
    )


def test_the_function_processes_recorded_their_queries():
    if not query_log.full_run():
        pytest.skip("only a run of the whole suite starts every function")
    processes = {record.process for record in recorded() if record.production}
    assert processes >= FUNCTIONS_THAT_QUERY, f"no queries recorded from {FUNCTIONS_THAT_QUERY - processes}"
