"""The index rules on their own: which index a query shape needs, and whether a declaration serves it.

These do not depend on what the suite happened to run; each case is a rule of Firestore's native
mode (see tests/support/firestore_indexes.py) held against a small declaration.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra import terraform_config
from tests.support.firestore_indexes import (
    COLLECTION,
    COLLECTION_GROUP,
    CONTAINS,
    VECTOR,
    CompositeIndex,
    DeclaredIndexes,
    FieldOverride,
    IndexField,
    Need,
    declared_indexes,
    judge,
    needs_of,
    serve,
    unused,
)
from tests.support.firestore_queries import ASCENDING, DESCENDING, Composite, Condition, Record, Shape

ASC, DESC = ASCENDING, DESCENDING
NOTHING = DeclaredIndexes()


def where(*conditions: tuple[str, str]) -> Condition | Composite:
    parts = tuple(Condition(field, op) for field, op in conditions)
    return parts[0] if len(parts) == 1 else Composite("and", parts)


def composite(collection: str, *fields: tuple[str, str], scope: str = COLLECTION) -> CompositeIndex:
    return CompositeIndex(
        f"index.{collection}", collection, scope, tuple(IndexField(f, m) for f, m in fields)
    )


def only_need(shape: Shape) -> Need:
    (need,) = needs_of(shape)
    return need


def served(shape: Shape, declared: DeclaredIndexes) -> bool:
    return all(serve(need, declared) is not None for need in needs_of(shape))


# -- what needs no composite index ---------------------------------------------------------------


def test_a_query_without_filters_or_orders_reads_the_document_name_index():
    need = only_need(Shape("messages"))
    assert need.kind == "none"
    assert served(Shape("messages", collection_group=True), NOTHING)


def test_equality_on_one_field_is_served_by_its_automatic_index():
    shape = Shape("messages", filter=where(("status", "==")))
    assert only_need(shape).kind == "merge"
    assert serve(only_need(shape), NOTHING).description == "automatic single-field index (status ASCENDING)"


def test_equality_on_several_fields_merges_single_field_indexes_without_a_composite():
    shape = Shape("messages", filter=where(("status", "=="), ("type", "=="), ("tags", "array_contains")))
    need = only_need(shape)
    assert need.kind == "merge"
    assert need.equality == {"status", "type"} and need.contains == {"tags"}
    assert served(shape, NOTHING)


def test_a_range_and_an_order_on_the_same_field_use_that_fields_index():
    shape = Shape(
        "conversations", filter=where(("last_message_at", ">")), orders=(("last_message_at", DESC),)
    )
    need = only_need(shape)
    assert (need.kind, need.orders) == ("single", (("last_message_at", DESC),))
    assert served(shape, NOTHING)


def test_a_range_alone_is_ordered_by_its_field_ascending():
    assert only_need(Shape("conversations", filter=where(("last_message_at", ">=")))).orders == (
        ("last_message_at", ASC),
    )


def test_ordering_by_one_field_descending_needs_no_composite():
    assert served(Shape("messages", orders=(("created_at", DESC),)), NOTHING)


def test_a_trailing_document_name_in_the_direction_of_the_last_order_is_implicit():
    shape = Shape("messages", orders=(("created_at", DESC), ("__name__", DESC)))
    assert only_need(shape).orders == (("created_at", DESC),)
    assert served(shape, NOTHING)


def test_is_null_counts_as_equality():
    assert only_need(Shape("messages", filter=where(("error", "is-null")))).equality == {"error"}


# -- what needs a composite index ----------------------------------------------------------------


def test_equality_then_an_order_on_another_field_needs_a_composite_index():
    shape = Shape("messages", filter=where(("status", "==")), orders=(("created_at", ASC),))
    need = only_need(shape)
    assert need.kind == "composite"
    assert need.describe() == "composite index messages (COLLECTION): status (==), created_at ASCENDING"
    assert not served(shape, NOTHING)
    assert served(shape, DeclaredIndexes([composite("messages", ("status", ASC), ("created_at", ASC))]))
    # The equality field may be indexed in either direction.
    assert served(shape, DeclaredIndexes([composite("messages", ("status", DESC), ("created_at", ASC))]))


def test_a_composite_index_serves_only_its_order_direction_collection_and_scope():
    shape = Shape("messages", filter=where(("status", "==")), orders=(("created_at", ASC),))
    wrong = [
        composite("messages", ("status", ASC), ("created_at", DESC)),
        composite("messages", ("created_at", ASC), ("status", ASC)),
        composite("messages", ("status", ASC), ("created_at", ASC), scope=COLLECTION_GROUP),
        composite("ai_responses", ("status", ASC), ("created_at", ASC)),
        composite("messages", ("status", ASC), ("type", ASC), ("created_at", ASC)),
    ]
    for index in wrong:
        assert not served(shape, DeclaredIndexes([index])), index


def test_equality_fields_come_first_in_any_order():
    shape = Shape("conversations", filter=where(("a", "=="), ("b", "==")), orders=(("t", DESC),))
    assert served(shape, DeclaredIndexes([composite("conversations", ("b", ASC), ("a", ASC), ("t", DESC))]))


def test_an_inequality_field_not_ordered_is_ordered_after_the_explicit_orders_in_their_direction():
    shape = Shape("messages", filter=where(("received_at", ">=")), orders=(("type", DESC),))
    assert only_need(shape).orders == (("type", DESC), ("received_at", DESC))
    assert served(shape, DeclaredIndexes([composite("messages", ("type", DESC), ("received_at", DESC))]))
    assert not served(shape, DeclaredIndexes([composite("messages", ("type", DESC), ("received_at", ASC))]))


def test_equality_and_a_range_on_another_field_needs_the_range_field_ascending_after_it():
    shape = Shape("messages", filter=where(("type", "=="), ("received_at", ">=")))
    need = only_need(shape)
    assert (need.kind, need.equality, need.orders) == ("composite", {"type"}, (("received_at", ASC),))


def test_inequalities_on_several_fields_are_ordered_by_field_name():
    shape = Shape("messages", filter=where(("b", "<"), ("a", "!="), ("c", "not-in")))
    assert only_need(shape).orders == (("a", ASC), ("b", ASC), ("c", ASC))


def test_is_not_null_is_an_inequality():
    shape = Shape("messages", filter=where(("status", "=="), ("error", "is-not-null")))
    assert only_need(shape).orders == (("error", ASC),)


def test_two_orders_need_a_composite_index():
    shape = Shape("messages", orders=(("type", ASC), ("created_at", DESC)))
    assert only_need(shape).kind == "composite"
    assert not served(shape, NOTHING)


def test_a_document_name_order_against_the_direction_of_the_last_order_is_an_index_field():
    shape = Shape("messages", orders=(("created_at", DESC), ("__name__", ASC)))
    need = only_need(shape)
    assert need.orders == (("created_at", DESC), ("__name__", ASC))
    assert not served(shape, NOTHING)


def test_array_contains_with_an_order_needs_a_contains_field_in_the_composite():
    shape = Shape("messages", filter=where(("labels", "array_contains")), orders=(("created_at", DESC),))
    assert not served(shape, DeclaredIndexes([composite("messages", ("labels", ASC), ("created_at", DESC))]))
    assert served(shape, DeclaredIndexes([composite("messages", ("labels", CONTAINS), ("created_at", DESC))]))


def test_an_or_needs_an_index_for_each_of_its_conjunctions():
    shape = Shape(
        "conversations",
        filter=Composite("or", (Condition("needs_attention", "=="), Condition("has_failure", "=="))),
        orders=(("last_message_at", DESC),),
    )
    needs = needs_of(shape)
    assert [n.equality for n in needs] == [{"needs_attention"}, {"has_failure"}]
    one = composite("conversations", ("needs_attention", ASC), ("last_message_at", DESC))
    other = composite("conversations", ("has_failure", ASC), ("last_message_at", DESC))
    assert not served(shape, DeclaredIndexes([one]))
    assert served(shape, DeclaredIndexes([one, other]))


def test_and_over_or_is_expanded_into_conjunctions():
    shape = Shape(
        "messages",
        filter=Composite(
            "and", (Condition("a", "=="), Composite("or", (Condition("b", "=="), Condition("c", "=="))))
        ),
    )
    assert [n.equality for n in needs_of(shape)] == [{"a", "b"}, {"a", "c"}]


def test_an_aggregation_needs_the_index_of_the_query_it_counts():
    counted = Shape(
        "messages", filter=where(("status", "==")), orders=(("created_at", ASC),), aggregations=("count()",)
    )
    assert needs_of(counted) == needs_of(
        Shape("messages", filter=where(("status", "==")), orders=(("created_at", ASC),))
    )


def test_a_nearest_neighbour_query_needs_a_vector_index_after_its_prefilter_fields():
    shape = Shape("documents", filter=where(("owner", "==")), vector_field="embedding")
    assert only_need(shape).kind == "composite"
    assert not served(shape, NOTHING)
    assert not served(shape, DeclaredIndexes([composite("documents", ("embedding", VECTOR))]))
    assert served(shape, DeclaredIndexes([composite("documents", ("owner", ASC), ("embedding", VECTOR))]))
    assert served(
        Shape("documents", vector_field="embedding"),
        DeclaredIndexes([composite("documents", ("embedding", VECTOR))]),
    )


def test_an_unknown_operator_is_an_error_not_a_pass():
    with pytest.raises(ValueError, match="unknown operator"):
        needs_of(Shape("messages", filter=where(("status", "SOMETHING_NEW"))))


# -- collection groups and field overrides -------------------------------------------------------


def test_a_collection_group_query_has_no_automatic_index():
    shape = Shape("messages", collection_group=True, filter=where(("status", "==")))
    assert not served(shape, NOTHING)
    override = FieldOverride(
        "field.status", "messages", "status", frozenset({(COLLECTION, ASC), (COLLECTION_GROUP, ASC)})
    )
    assert serve(only_need(shape), DeclaredIndexes(overrides={("messages", "status"): override})).uses == (
        ("field.status", COLLECTION_GROUP),
    )


def test_a_collection_group_order_needs_the_override_in_that_direction():
    shape = Shape("messages", collection_group=True, orders=(("received_at", DESC),))
    ascending_only = FieldOverride("field.r", "messages", "received_at", frozenset({(COLLECTION_GROUP, ASC)}))
    assert not served(shape, DeclaredIndexes(overrides={("messages", "received_at"): ascending_only}))


def test_a_field_whose_indexes_are_removed_cannot_be_queried():
    exempt = DeclaredIndexes(
        overrides={("messages", "expire_at"): FieldOverride("ttl", "messages", "expire_at", frozenset())}
    )
    assert not served(Shape("messages", filter=where(("expire_at", "<"))), exempt)
    assert served(Shape("ai_responses", filter=where(("expire_at", "<"))), exempt)  # another collection


def test_an_override_replaces_the_automatic_indexes_of_its_field():
    ascending_only = FieldOverride("field.c", "messages", "created_at", frozenset({(COLLECTION, ASC)}))
    declared = DeclaredIndexes(overrides={("messages", "created_at"): ascending_only})
    assert served(Shape("messages", orders=(("created_at", ASC),)), declared)
    assert not served(Shape("messages", orders=(("created_at", DESC),)), declared)


# -- verdicts and idle declarations --------------------------------------------------------------


READY = Shape("messages", filter=where(("status", "==")), orders=(("created_at", ASC),))


def test_the_verdict_names_the_refused_shape_where_it_was_built_and_what_it_needs():
    records = [
        Record(READY, "shared/store/replies.py:129 ready_messages", "ai_reply"),
        Record(READY, "shared/store/replies.py:129 ready_messages", "pytest"),
    ]
    (verdict,) = judge(records, NOTHING)
    assert verdict.refused
    text = verdict.describe()
    assert "messages (collection); where status ==; order by created_at ASC" in text
    assert "shared/store/replies.py:129 ready_messages [ai_reply]" in text
    assert "composite index messages (COLLECTION): status (==), created_at ASCENDING" in text
    assert "production refuses it" in text


def test_queries_built_only_by_tests_or_local_tools_are_not_judged():
    records = [
        Record(READY, "tests/e2e/conftest.py:80 messages", "pytest"),
        Record(READY, "local/stack.py:10 start", "devstack"),
    ]
    assert judge(records, NOTHING) == []
    assert judge([Record(READY, "unknown", "ai_reply")], NOTHING)[0].refused


def test_an_index_no_query_needs_is_idle_and_one_that_serves_is_not():
    ready_index = composite("messages", ("status", ASC), ("created_at", ASC))
    idle_index = CompositeIndex(
        "index.idle", "messages", COLLECTION_GROUP, (IndexField("type", ASC), IndexField("received_at", ASC))
    )
    group_override = FieldOverride(
        "field.group", "messages", "type", frozenset({(COLLECTION, ASC), (COLLECTION_GROUP, ASC)})
    )
    exemption = FieldOverride("field.ttl", "messages", "expire_at", frozenset())
    declared = DeclaredIndexes(
        [ready_index, idle_index],
        {("messages", "type"): group_override, ("messages", "expire_at"): exemption},
    )
    # The override serves this collection-scope query, but its collection-group indexes serve nothing.
    records = [
        Record(READY, "shared/a.py:1 f", "x"),
        Record(Shape("messages", filter=where(("type", "=="))), "shared/a.py:2 g", "x"),
    ]
    assert unused(declared, judge(records, declared)) == ["field.group", "index.idle"]


# -- reading terraform ---------------------------------------------------------------------------


FIRESTORE_TF = """
locals {
  flags = ["needs_attention", "has_failure"]
  group_fields = {
    "messages:received_at" = { collection = "messages", field = "received_at" }
  }
  ttl = ["messages"]
}

resource "google_firestore_index" "by_flag" {
  for_each    = toset(local.flags)
  collection  = "conversations"
  query_scope = "COLLECTION"
  fields {
    field_path = each.value
    order      = "ASCENDING"
  }
  fields {
    field_path = "last_message_at"
    order      = "DESCENDING"
  }
  fields {
    field_path = "__name__"
    order      = "DESCENDING"
  }
}

resource "google_firestore_index" "search" {
  collection = "documents"
  fields {
    field_path   = "tags"
    array_config = "CONTAINS"
  }
  fields {
    field_path = "embedding"
    vector_config {
      dimension = 768
      flat {}
    }
  }
}

resource "google_firestore_field" "group" {
  for_each   = local.group_fields
  collection = each.value.collection
  field      = each.value.field
  index_config {
    indexes {
      order       = "DESCENDING"
      query_scope = "COLLECTION_GROUP"
    }
    indexes {
      array_config = "CONTAINS"
    }
  }
}

resource "google_firestore_field" "expire_at" {
  for_each   = toset(local.ttl)
  collection = each.value
  field      = "expire_at"
  ttl_config {}
  index_config {}
}

resource "google_firestore_field" "ttl_only" {
  collection = "quarantine"
  field      = "expire_at"
  ttl_config {}
}
"""


def declared_from(tmp_path: Path, text: str) -> DeclaredIndexes:
    (tmp_path / "firestore.tf").write_text(text)
    return declared_indexes(terraform_config.load(tmp_path))


def test_declared_indexes_are_read_with_for_each_resolved(tmp_path):
    declared = declared_from(tmp_path, FIRESTORE_TF)
    assert {(i.address, i.scope, i.fields) for i in declared.composites} == {
        (
            'google_firestore_index.by_flag["needs_attention"]',
            COLLECTION,
            (IndexField("needs_attention", ASC), IndexField("last_message_at", DESC)),
        ),
        (
            'google_firestore_index.by_flag["has_failure"]',
            COLLECTION,
            (IndexField("has_failure", ASC), IndexField("last_message_at", DESC)),
        ),
        (
            "google_firestore_index.search",
            COLLECTION,
            (IndexField("tags", CONTAINS), IndexField("embedding", VECTOR)),
        ),
    }
    assert declared.overrides == {
        ("messages", "received_at"): FieldOverride(
            'google_firestore_field.group["messages:received_at"]',
            "messages",
            "received_at",
            frozenset({(COLLECTION_GROUP, DESC), (COLLECTION, CONTAINS)}),
        ),
        ("messages", "expire_at"): FieldOverride(
            'google_firestore_field.expire_at["messages"]', "messages", "expire_at", frozenset()
        ),
    }


def test_an_expression_the_check_cannot_resolve_fails_loudly(tmp_path):
    text = """
resource "google_firestore_index" "odd" {
  for_each   = var.fields
  collection = "messages"
  fields {
    field_path = each.value
    order      = "ASCENDING"
  }
}
"""
    with pytest.raises(AssertionError, match="cannot resolve for_each"):
        declared_from(tmp_path, text)
    with pytest.raises(AssertionError, match="cannot resolve"):
        declared_from(
            tmp_path, text.replace("for_each   = var.fields\n", "").replace("each.value", "var.field")
        )
