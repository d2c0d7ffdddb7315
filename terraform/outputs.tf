output "webhook_url" {
  description = "Callback URL to paste into Meta's App Dashboard (WhatsApp > Configuration)."
  value       = "${google_cloudfunctions2_function.fn["webhook"].service_config[0].uri}/webhook/whatsapp"
}

output "dashboard_url" {
  description = "Operators' dashboard (behind IAP). The managed certificate needs the domain to resolve to dashboard_ip; allow up to an hour after the first apply."
  value       = "https://${local.dashboard_domain}/"
}

output "dashboard_ip" {
  description = "Point the dashboard domain's A record here."
  value       = google_compute_global_address.dashboard.address
}

output "iap_audience" {
  description = "Audience the dashboard verifies in the IAP JWT (already set as IAP_AUDIENCE)."
  value       = local.iap_audience
}

output "secret_ids" {
  description = "Secret Manager secret per setting; add their values with `gcloud secrets versions add`."
  value       = { for env, secret in google_secret_manager_secret.secret : env => secret.secret_id }
}

output "media_bucket" {
  description = "Private bucket of customers' media (MEDIA_BUCKET)."
  value       = google_storage_bucket.media.name
}

output "topics" {
  description = "Job topics and where their dead letters wait."
  value = {
    for key, topic in google_pubsub_topic.jobs : key => {
      topic                    = topic.name
      push_subscription        = google_pubsub_subscription.push[key].name
      dead_letter_topic        = google_pubsub_topic.dead_letter[key].name
      dead_letter_pull_for_ops = google_pubsub_subscription.dead_letter[key].name
    }
  }
}

output "function_service_accounts" {
  description = "Runtime identity of each function."
  value       = { for key, sa in google_service_account.function : key => sa.email }
}

output "functions" {
  description = "Deployed function (Cloud Run service) names, for logs and `gcloud run services update-traffic` rollbacks."
  value       = local.function_names
}

output "audit_bucket" {
  description = "The operators' audit trail (AUDIT_BUCKET): append-only for the dashboard, records kept audit_retention_days."
  value       = google_storage_bucket.audit.name
}
