locals {
  # The day shared/bucket.py began stamping customTime on every media object.
  media_custom_time_since = "2026-12-04"
  media_bucket_name       = var.media_bucket_name != "" ? var.media_bucket_name : "${var.project_id}-whatsapp-media"
}

# Customers' photos, voice notes, videos and documents, plus derived files. Private: objects
# are reachable only through the functions' service accounts (dashboard proxies them).
resource "google_storage_bucket" "media" {
  #checkov:skip=CKV_GCP_62:A usage-log bucket would be a second, unmanaged record of customers' media access; only the function accounts can read objects, and Data Access audit logs for storage (docs/deploy.md) are the place to audit reads.
  #checkov:skip=CKV_GCP_78:Versioning would keep every deleted media object past its retention period; media is re-downloadable while WhatsApp keeps it and the lifecycle rule must really delete it.
  project                     = var.project_id
  name                        = local.media_bucket_name
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = var.labels

  versioning {
    enabled = false
  }

  # Media lives as long as the messages that reference it: the code stamps every object's
  # customTime with the last time a message referenced it (shared/bucket.py), and this rule
  # deletes it RETENTION_DAYS after that, when Firestore's TTL deletes the message. With
  # retention_days = 0 (keep forever) there is no rule. tests/infra holds the two together.
  dynamic "lifecycle_rule" {
    for_each = var.retention_days > 0 ? [var.retention_days] : []
    content {
      condition {
        days_since_custom_time = lifecycle_rule.value
      }
      action {
        type = "Delete"
      }
    }
  }

  # Objects stored before the code stamped customTime have none, which the rule above never
  # matches: they keep the age rule they were stored under.
  dynamic "lifecycle_rule" {
    for_each = var.retention_days > 0 ? [var.retention_days] : []
    content {
      condition {
        age            = lifecycle_rule.value
        created_before = local.media_custom_time_since
      }
      action {
        type = "Delete"
      }
    }
  }

  depends_on = [google_project_service.enabled]
}

# Function source archives (one object per content hash). Versioned so a replaced archive stays
# available for a rollback for source_archive_retention_days.
resource "google_storage_bucket" "sources" {
  #checkov:skip=CKV_GCP_62:Holds only archives of this open-source code, written by Terraform and read by Cloud Build; Admin Activity audit logs record changes to it.
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-function-sources"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = var.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.source_archive_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}
