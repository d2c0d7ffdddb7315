locals {
  firestore_location = var.firestore_location != "" ? var.firestore_location : var.region

  # Equality on a flag + newest first: the dashboard's filtered conversation lists.
  conversation_filters = ["needs_attention", "ai_paused", "has_failure"]

  # Dashboard statistics across every conversation's messages: count by a field within a
  # received_at range.
  message_stat_fields = ["type", "status"]

  # Single-field indexes the collection-group queries need: Firestore maintains single-field
  # indexes automatically only for collection scope, so these are declared (both scopes, both
  # orders, since an index_config replaces the inherited one).
  collection_group_fields = {
    "messages:received_at"    = { collection = "messages", field = "received_at" }
    "messages:status"         = { collection = "messages", field = "status" }
    "messages:type"           = { collection = "messages", field = "type" }
    "ai_responses:created_at" = { collection = "ai_responses", field = "created_at" }
  }

  # Collections whose documents carry expire_at (the code writes now + RETENTION_DAYS, or a
  # shorter fixed horizon for quarantine, webhook errors and parked statuses). Conversations are
  # kept: they are the index the dashboard lists, one small document per customer.
  ttl_collections = ["messages", "ai_responses", "quarantine", "webhook_errors", "orphan_statuses", "operator_sends"]
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

resource "google_firestore_index" "messages_by_field_and_time" {
  for_each = toset(local.message_stat_fields)

  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = "messages"
  query_scope = "COLLECTION_GROUP"

  fields {
    field_path = each.value
    order      = "ASCENDING"
  }
  fields {
    field_path = "received_at"
    order      = "ASCENDING"
  }
}

resource "google_firestore_field" "collection_group_index" {
  for_each = local.collection_group_fields

  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = each.value.collection
  field      = each.value.field

  index_config {
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION"
    }
    indexes {
      order       = "DESCENDING"
      query_scope = "COLLECTION"
    }
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION_GROUP"
    }
    indexes {
      order       = "DESCENDING"
      query_scope = "COLLECTION_GROUP"
    }
  }
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
