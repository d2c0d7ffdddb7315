# Alerts for the failures nobody would otherwise notice: jobs that gave up (dead letters),
# functions failing, and Meta's webhooks being refused (Meta retries, then drops them).
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

  # Gen2 functions report Cloud Run request metrics under their service name.
  run_requests_filter = {
    for key, name in local.function_names :
    key => "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${name}\" AND metric.type = \"run.googleapis.com/request_count\""
  }
}

resource "google_monitoring_alert_policy" "dead_letters" {
  for_each = local.topics

  project      = var.project_id
  display_name = "Dead letters waiting: ${google_pubsub_subscription.dead_letter[each.key].name}"
  combiner     = "OR"

  conditions {
    display_name = "Undelivered messages on ${google_pubsub_subscription.dead_letter[each.key].name} > 0"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.dead_letter[each.key].name}\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\""
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
    content   = "A ${each.key} job failed ${var.max_delivery_attempts} deliveries and was moved to `${google_pubsub_topic.dead_letter[each.key].name}`. Read it with `gcloud pubsub subscriptions pull ${google_pubsub_subscription.dead_letter[each.key].name} --limit=10` (add `--auto-ack` once handled), check the ${local.function_names[each.value.function]} logs, fix the cause, then republish the payload to `${each.value.name}` or retry from the dashboard."
  }

  notification_channels = local.notification_channels
  user_labels           = var.labels

  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "function_error_rate" {
  for_each = local.functions

  project      = var.project_id
  display_name = "${local.function_names[each.key]}: 5xx rate above ${var.error_rate_threshold * 100}%"
  combiner     = "OR"

  conditions {
    display_name = "Share of 5xx responses of ${local.function_names[each.key]}"
    condition_threshold {
      filter             = "${local.run_requests_filter[each.key]} AND metric.labels.response_code_class = \"5xx\""
      denominator_filter = local.run_requests_filter[each.key]
      comparison         = "COMPARISON_GT"
      threshold_value    = var.error_rate_threshold
      duration           = "300s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "More than ${var.error_rate_threshold * 100}% of requests to ${local.function_names[each.key]} failed for 5 minutes. Open its logs (severity >= ERROR) in Cloud Logging; for media/ai_reply, Pub/Sub retries and then dead-letters the failing jobs."
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
  display_name = "${local.function_names["webhook"]}: webhook answered 5xx"
  combiner     = "OR"

  conditions {
    display_name = "5xx responses from ${local.function_names["webhook"]}"
    condition_threshold {
      filter          = "${local.run_requests_filter["webhook"]} AND metric.labels.response_code_class = \"5xx\""
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
    content   = "The webhook answered Meta with 5xx: a Firestore write or a Pub/Sub publish failed, so Meta will redeliver. Check the webhook logs and the `webhook_errors` collection."
  }

  notification_channels = local.notification_channels
  user_labels           = var.labels

  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [google_project_service.enabled]
}
