# Alerts for the failures nobody would otherwise notice: jobs that gave up (dead letters),
# functions failing, and Meta's webhooks being refused (Meta retries, then drops them).
# Cloud Monitoring bills each alert condition monthly, so each policy covers all its resources
# (one time series per subscription or function) instead of one policy per resource.
resource "google_monitoring_notification_channel" "email" {
  count = var.alert_email == "" ? 0 : 1

  project      = var.project_id
  display_name = "WhatsApp assistant alerts"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }

  depends_on = [google_project_service.enabled]
}

locals {
  notification_channels = google_monitoring_notification_channel.email[*].id

  dead_letter_subscriptions = [for key in keys(local.topics) : google_pubsub_subscription.dead_letter[key].name]

  # Gen2 functions report Cloud Run request metrics under their service name.
  run_requests_filter = join(" AND ", [
    "resource.type = \"cloud_run_revision\"",
    "metric.type = \"run.googleapis.com/request_count\"",
    "resource.labels.service_name = one_of(${join(", ", [for name in values(local.function_names) : "\"${name}\""])})",
  ])
}

resource "google_monitoring_alert_policy" "dead_letters" {
  project      = var.project_id
  display_name = "WhatsApp assistant: dead letters waiting"
  combiner     = "OR"

  conditions {
    display_name = "Undelivered messages on a dead-letter subscription > 0"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.labels.subscription_id = one_of(${join(", ", [for name in local.dead_letter_subscriptions : "\"${name}\""])})"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A job failed ${var.max_delivery_attempts} deliveries and was moved to a dead-letter topic (the incident names the subscription: one of ${join(", ", local.dead_letter_subscriptions)}). The dashboard's Dead letters page lists each with its message and why it failed; check the worker's logs, fix the cause, then replay them there or with `python -m shared.dashboard.dead_letters replay --all` (never republish the raw payload: its old stamp makes the job too old at once). See docs/deploy.md, \"Dead letters\"."
  }

  notification_channels = local.notification_channels
  user_labels           = var.labels

  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "function_error_rate" {
  project      = var.project_id
  display_name = "WhatsApp assistant: function 5xx rate above ${var.error_rate_threshold * 100}%"
  combiner     = "OR"

  conditions {
    display_name = "Share of 5xx responses per function"
    condition_threshold {
      filter             = "${local.run_requests_filter} AND metric.labels.response_code_class = \"5xx\""
      denominator_filter = local.run_requests_filter
      comparison         = "COMPARISON_GT"
      threshold_value    = var.error_rate_threshold
      duration           = "300s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }
      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "More than ${var.error_rate_threshold * 100}% of a function's requests failed for 5 minutes (the incident names the service). Open its logs (severity >= ERROR) in Cloud Logging; for the media and ai_reply workers, Pub/Sub retries the failing jobs and then dead-letters them."
  }

  notification_channels = local.notification_channels
  user_labels           = var.labels

  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [google_project_service.enabled]
}

# Any 5xx to Meta delays customers' messages (Meta backs off and eventually gives up), so the
# webhook alerts on the first one rather than on a rate.
resource "google_monitoring_alert_policy" "webhook_5xx" {
  project      = var.project_id
  display_name = "WhatsApp assistant: webhook answered Meta with 5xx"
  combiner     = "OR"

  conditions {
    display_name = "5xx responses from ${local.function_names["webhook"]}"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"run.googleapis.com/request_count\" AND resource.labels.service_name = \"${local.function_names["webhook"]}\" AND metric.labels.response_code_class = \"5xx\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The webhook answered Meta with 5xx: a Firestore write or a Pub/Sub publish failed, so Meta will redeliver (and eventually drop) the webhook. Check the webhook's logs and the `webhook_errors` collection."
  }

  notification_channels = local.notification_channels
  user_labels           = var.labels

  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [google_project_service.enabled]
}

# A business number reached its daily model spend cap: ai_reply stops calling the model for it and
# flags each conversation that asks, so operators answer by hand until the next UTC day. The reply
# function logs the event (shared/ai_reply/guard.py SPEND_CAP_EVENT) on every burst it withholds;
# the alert fires on the first and says so at most once an hour.
resource "google_monitoring_alert_policy" "spend_cap" {
  project      = var.project_id
  display_name = "WhatsApp assistant: a business number reached its daily spend cap"
  combiner     = "OR"

  conditions {
    display_name = "ai_reply withheld a reply for the spend cap"
    condition_matched_log {
      filter = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${local.function_names["ai_reply"]}\" AND jsonPayload.event = \"spend_cap_reached\""
      label_extractors = {
        phone_number_id = "EXTRACT(jsonPayload.phone_number_id)"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The business number in the incident's label reached its daily model spend cap: the assistant stops calling the model for it until 00:00 UTC and flags every conversation that writes, for operators to answer by hand. Raise the cap on the dashboard's Settings page if the traffic is genuine, or look for a flood of messages (the conversations show which limit they are over)."
  }

  notification_channels = local.notification_channels
  user_labels           = var.labels

  alert_strategy {
    auto_close = "86400s"
    notification_rate_limit {
      period = "3600s"
    }
  }

  depends_on = [google_project_service.enabled]
}
