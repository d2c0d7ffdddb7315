# Composite indexes for the queries the code runs; every other query is served by the single-field
# indexes Firestore keeps for every field (collection scope). tests/indexes records every query
# the test suite makes and fails on one without its index here, or on an index here none needs.
locals {
  firestore_location = var.firestore_location != "" ? var.firestore_location : var.region

  # Equality on a flag + newest first: the dashboard's filtered conversation lists.
  conversation_filters = ["needs_attention", "ai_paused", "has_failure", "opted_out"]

  # Collections whose documents carry expire_at (the code writes now + RETENTION_DAYS, or a
  # shorter fixed horizon for quarantine, webhook errors and parked statuses). Conversations are
  # kept: they are the index the dashboard lists, one small document per customer.
  # Passage fields read, never filtered on. (The embedding, the field of the vector index below,
  # keeps Firestore's default index settings.)
  knowledge_passage_unindexed = ["text"]

  ttl_collections = ["messages", "ai_responses", "quarantine", "body_chunks", "webhook_errors", "orphan_statuses", "operator_sends"]
}

resource "google_firestore_database" "main" {
  project                           = var.project_id
  name                              = "(default)"
  location_id                       = local.firestore_location
  type                              = "FIRESTORE_NATIVE"
  app_engine_integration_mode       = "DISABLED"
  point_in_time_recovery_enablement = var.firestore_point_in_time_recovery ? "POINT_IN_TIME_RECOVERY_ENABLED" : "POINT_IN_TIME_RECOVERY_DISABLED"
  delete_protection_state           = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  # `terraform destroy` forgets the database instead of deleting conversations.
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.enabled]
}

resource "google_firestore_index" "conversations_by_flag" {
  for_each = toset(local.conversation_filters)

  project     = var.project_id
  database    = google_firestore_database.main.name
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
}

# The conversations list's first section: those the assistant handed to a person, latest first.
resource "google_firestore_index" "conversations_waiting_for_a_person" {
  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = "conversations"
  query_scope = "COLLECTION"

  fields {
    field_path = "handoff_waiting"
    order      = "ASCENDING"
  }
  fields {
    field_path = "handoff_at"
    order      = "DESCENDING"
  }
}

# "Closed, waiting": unanswered conversations whose 24-hour window closed, most recent first.
resource "google_firestore_index" "conversations_closed_waiting" {
  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = "conversations"
  query_scope = "COLLECTION"

  fields {
    field_path = "awaiting_reply"
    order      = "ASCENDING"
  }
  fields {
    field_path = "last_inbound_at"
    order      = "DESCENDING"
  }
}

# The reply job's burst: a conversation's messages waiting for an answer, oldest first.
resource "google_firestore_index" "messages_ready_by_age" {
  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = "messages"
  query_scope = "COLLECTION"

  fields {
    field_path = "status"
    order      = "ASCENDING"
  }
  fields {
    field_path = "created_at"
    order      = "ASCENDING"
  }
}

# The Knowledge page filtered to one business number: its documents, last changed first.
resource "google_firestore_index" "knowledge_documents_by_scope" {
  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = "knowledge_documents"
  query_scope = "COLLECTION"

  fields {
    field_path = "scope"
    order      = "ASCENDING"
  }
  fields {
    field_path = "updated_at"
    order      = "DESCENDING"
  }
}

# Retrieval for each reply: the passages nearest the question (cosine) among the documents of
# the conversation's number and those for every number (scope in [number, "all"]).
resource "google_firestore_index" "knowledge_passages_nearest" {
  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = "knowledge_passages"
  query_scope = "COLLECTION"

  fields {
    field_path = "scope"
    order      = "ASCENDING"
  }
  fields {
    field_path = "embedding"
    vector_config {
      dimension = var.embedding_dimensions
      flat {}
    }
  }
}

# A passage's words are read, never filtered on: no single-field index to pay for on each of the
# thousands of passage writes.
resource "google_firestore_field" "knowledge_passage_unindexed" {
  for_each = toset(local.knowledge_passage_unindexed)

  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = "knowledge_passages"
  field      = each.value

  index_config {}
}

# Retention: Firestore deletes a document (typically within 24 h) once its expire_at has passed.
resource "google_firestore_field" "expire_at" {
  for_each = toset(local.ttl_collections)

  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = each.value
  field      = "expire_at"

  ttl_config {}

  # A timestamp that only grows would hot-spot its index and no query filters on it.
  index_config {}
}
