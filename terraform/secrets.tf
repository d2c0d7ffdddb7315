# The secrets exist here; their values never do. No google_secret_manager_secret_version: a value
# given to Terraform would be stored in plain text in state. Values are added with gcloud
# (docs/deploy.md, "Add the secret values"):
#   printf %s "$VALUE" | gcloud secrets versions add <secret id> --data-file=-
locals {
  # Env var the code reads => Secret Manager secret id.
  secret_ids = merge(
    {
      WHATSAPP_API_TOKEN       = "whatsapp-api-token"
      WHATSAPP_APP_SECRET      = "whatsapp-app-secret"
      WEBHOOK_VERIFY_TOKEN     = "webhook-verify-token"
      DASHBOARD_SESSION_SECRET = "dashboard-session-secret"
    },
    # With Vertex AI the model is called with the function's identity; no key to keep.
    var.use_vertexai ? {} : { GEMINI_API_KEY = "gemini-api-key" },
    var.waha.url == "" ? {} : { WAHA_API_KEY = "waha-api-key", WAHA_WEBHOOK_HMAC_KEY = "waha-webhook-hmac-key" },
  )
}

resource "google_secret_manager_secret" "secret" {
  for_each = local.secret_ids

  project   = var.project_id
  secret_id = each.value
  labels    = var.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}
