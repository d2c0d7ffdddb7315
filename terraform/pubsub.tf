# Job topics, their dead-letter topics, and our own push subscriptions to the workers.
#
# Why not an event_trigger on the functions: Eventarc creates and owns the subscription, so its
# dead-letter policy cannot be set here. Our push subscription calls the function's run.app URL
# at /projects/<project>/topics/<topic>, which is where functions-framework reads the CloudEvent
# `source` from, so the code sees the same event shape as with Eventarc.
locals {
  topics = {
    media = { name = var.media_topic, function = "media" }
    reply = { name = var.reply_topic, function = "ai_reply" }
  }

  # For push, the ack deadline is the HTTP timeout: give the function its full timeout plus
  # room for the 504 to come back, within Pub/Sub's 600 s cap.
  push_ack_deadline_seconds = {
    for key, topic in local.topics :
    key => min(600, var.function_sizing[topic.function].timeout_seconds + 30)
  }

  # The longest Pub/Sub may still deliver a job after it was published: every delivery running
  # until its ack deadline, with the longest backoff before each redelivery (shared/bus.py,
  # redelivery_horizon_seconds). A job older than that was lost, not slow: the workers settle it
  # as failed (JOB_MAX_AGE_SECONDS) only past it, one more backoff later.
  redelivery_horizon_seconds = var.max_delivery_attempts * max(values(local.push_ack_deadline_seconds)...) + (var.max_delivery_attempts - 1) * var.retry_maximum_backoff_seconds
  job_max_age_seconds        = local.redelivery_horizon_seconds + var.retry_maximum_backoff_seconds

  # A reply lease outlives the instance holding it (ai_reply's timeout, and a margin).
  reply_lease_seconds = var.function_sizing["ai_reply"].timeout_seconds + 30
  # A reply job that finds the lease taken is delivered again until the lease runs out (a holder
  # that died lets go no other way), and still needs REPLY_MAX_JOB_ATTEMPTS (3) deliveries and
  # one to settle after that: the backoff before the other deliveries must outlast the lease.
  reply_job_deliveries = 3 + 1
  lease_watch_seconds = sum([
    for n in range(1, var.max_delivery_attempts - local.reply_job_deliveries + 1) :
    min(var.retry_maximum_backoff_seconds, var.retry_minimum_backoff_seconds * pow(2, n - 1))
  ])
}

resource "google_pubsub_topic" "jobs" {
  #checkov:skip=CKV_GCP_83:Jobs carry only identifiers (conversation id = business number + customer WhatsApp id, message ids), never message text or media, and live minutes; Google-managed encryption at rest suffices, CMEK would add a KMS key and its grants to run.
  for_each = local.topics

  project = var.project_id
  name    = each.value.name
  labels  = var.labels

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Dead letters are the same identifier-only jobs as on the job topics; Google-managed encryption at rest suffices.
  for_each = local.topics

  project = var.project_id
  name    = "${each.value.name}-dead-letter"
  labels  = var.labels

  depends_on = [google_project_service.enabled]
}

# Keeps the dead letters: a topic without a subscription would drop them. Never expires, so it
# is there when something finally fails.
resource "google_pubsub_subscription" "dead_letter" {
  for_each = local.topics

  project                    = var.project_id
  name                       = "${each.value.name}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  ack_deadline_seconds       = 60
  message_retention_duration = "${var.dead_letter_retention_days * 86400}s"
  labels                     = var.labels

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "push" {
  for_each = local.topics

  project                    = var.project_id
  name                       = "${each.value.name}-push"
  topic                      = google_pubsub_topic.jobs[each.key].id
  ack_deadline_seconds       = local.push_ack_deadline_seconds[each.key]
  message_retention_duration = "604800s"
  labels                     = var.labels

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.fn[each.value.function].service_config[0].uri}/projects/${var.project_id}/topics/${each.value.name}"

    oidc_token {
      service_account_email = google_service_account.push_invoker.email
      # Cloud Run checks the audience against the service URL, not the full endpoint with path.
      audience = google_cloudfunctions2_function.fn[each.value.function].service_config[0].uri
    }
  }

  retry_policy {
    minimum_backoff = "${var.retry_minimum_backoff_seconds}s"
    maximum_backoff = "${var.retry_maximum_backoff_seconds}s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.key].id
    max_delivery_attempts = var.max_delivery_attempts
  }

  # An idle subscription is deleted after 31 days by default; this one must live forever.
  expiration_policy {
    ttl = ""
  }

  lifecycle {
    precondition {
      condition     = local.lease_watch_seconds >= local.reply_lease_seconds
      error_message = "With these max_delivery_attempts and retry backoffs a reply job waiting for a dead instance's reply lease (${local.reply_lease_seconds} s) would be dead-lettered first: raise max_delivery_attempts or the backoffs."
    }
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.push_invoker,
    google_service_account_iam_member.pubsub_token_creator,
    google_pubsub_topic_iam_member.dead_letter_publisher,
  ]
}
