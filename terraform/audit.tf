# The operators' audit trail (shared/dashboard/audit.py): one object per operator action. Append-only
# for the functions' identities: the dashboard's service account may create objects and read them
# (roles/storage.objectCreator + objectViewer: no storage.objects.delete, which replacing an object
# also needs), and no other function has any role on the bucket. The retention policy refuses to
# delete or replace a record before audit_retention_days, whoever asks; locking it
# (audit_retention_locked) makes that hold against project owners too.
resource "google_storage_bucket" "audit" {
  #checkov:skip=CKV_GCP_62:An access-log bucket would be one more store to protect; Data Access audit logs for storage record reads of the trail (docs/deploy.md).
  #checkov:skip=CKV_GCP_78:Versioning is not needed: the retention policy already refuses to delete or replace any record before it expires.
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-audit"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = var.labels

  versioning {
    enabled = false
  }

  retention_policy {
    retention_period = var.audit_retention_days * 86400
    is_locked        = var.audit_retention_locked
  }

  lifecycle_rule {
    condition {
      age = var.audit_retention_days
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

locals {
  # Exactly what the dashboard needs to add a record and list the trail; nothing that deletes.
  audit_roles = ["roles/storage.objectCreator", "roles/storage.objectViewer"]
}

resource "google_storage_bucket_iam_member" "audit" {
  for_each = toset(local.audit_roles)

  bucket = google_storage_bucket.audit.name
  role   = each.value
  member = google_service_account.function["dashboard"].member
}
