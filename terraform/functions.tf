# The four gen2 functions, each built from its packaged folder (`make package` ->
# build/functions/<name>/: main.py, templates/, assets/, shared/, requirements.txt).
locals {
  # Key = folder under functions/ = entry point. media and ai_reply have no event_trigger:
  # our own push subscriptions (pubsub.tf) call them, so retries and dead letters stay in
  # Terraform. Their code uses @functions_framework.cloud_event, which turns the raw push body
  # into the same CloudEvent an Eventarc trigger would deliver.
  functions = {
    webhook = {
      description = "Receives WhatsApp webhooks from Meta (public; every request is signature-checked)."
      ingress     = "ALLOW_ALL"
    }
    media = {
      description = "Downloads and processes media jobs pushed from the media topic."
      ingress     = var.worker_ingress
    }
    ai_reply = {
      description = "Answers conversations with Gemini; jobs pushed from the reply topic."
      ingress     = var.worker_ingress
    }
    dashboard = {
      description = "Operator dashboard, reachable only through the IAP load balancer."
      ingress     = "ALLOW_INTERNAL_AND_GCLB"
    }
  }

  # Cloud Run service names allow no underscores.
  function_names = { for key in keys(local.functions) : key => "${var.name_prefix}-${replace(key, "_", "-")}" }

  # Settings every function reads (names from shared/config.py SETTING_NAMES).
  base_env = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    MEDIA_TOPIC          = google_pubsub_topic.jobs["media"].name
    REPLY_TOPIC          = google_pubsub_topic.jobs["reply"].name
    MEDIA_BUCKET         = google_storage_bucket.media.name
    LOG_LEVEL            = var.log_level
    RETENTION_DAYS       = tostring(var.retention_days)
    # The Functions API adds this itself; declaring it avoids a permanent plan diff.
    LOG_EXECUTION_ID = "true"
  }

  # Only set when overridden, so the code's default stays the single source otherwise.
  optional_env = merge(
    var.whatsapp_api_url == "" ? {} : { WHATSAPP_API_URL = var.whatsapp_api_url },
    local.waha ? { WAHA_URL = var.waha.url, WAHA_SESSION = var.waha.sessions } : {},
  )
  waha = var.waha.url != ""

  function_env = {
    webhook = {
      # An owner's message from the WhatsApp Business app pauses the assistant this long.
      HUMAN_REPLY_PAUSE_MINUTES = tostring(var.human_reply_pause_minutes)
    }
    media = {
      # Each job's deadline (shared/deadline.py) ends inside the function's timeout.
      MEDIA_JOB_TIMEOUT_SECONDS = tostring(var.function_sizing["media"].timeout_seconds)
      JOB_MAX_AGE_SECONDS       = tostring(local.job_max_age_seconds)
    }
    ai_reply = {
      # The default voice of every business number (the dashboard's Settings page sets a number's own).
      BUSINESS_NAME             = var.business_name
      GOOGLE_GENAI_USE_VERTEXAI = tostring(var.use_vertexai)
      GOOGLE_CLOUD_LOCATION     = var.vertex_location
      # The knowledge base: questions are embedded with the model the documents were.
      EMBEDDING_MODEL      = var.embedding_model
      EMBEDDING_DIMENSIONS = tostring(var.embedding_dimensions)
      GEMINI_MODEL         = var.gemini_model
      JOB_MAX_AGE_SECONDS  = tostring(local.job_max_age_seconds)
      # The job's own time budget (shared/ai_reply/budget.py) ends inside the function's timeout.
      REPLY_JOB_TIMEOUT_SECONDS = tostring(var.function_sizing["ai_reply"].timeout_seconds)
      # A reply lease must outlive the instance that holds it, or a slow reply could be sent
      # twice by a second instance taking the "expired" lease.
      REPLY_LEASE_SECONDS = tostring(local.reply_lease_seconds)
      REENGAGE_TEMPLATE   = var.reengage_template
      # Opt-out words and the texts sent without the model (empty: the built-in ones, in six languages).
      OPT_OUT_KEYWORDS     = var.opt_out_keywords
      OPT_IN_KEYWORDS      = var.opt_in_keywords
      OPT_OUT_CONFIRMATION = var.opt_out_confirmation
      OPT_IN_CONFIRMATION  = var.opt_in_confirmation
      LIMIT_NOTICE         = var.limit_notice
    }
    dashboard = {
      BUSINESS_NAME             = var.business_name                       # shown as the default on the Settings page
      HUMAN_REPLY_PAUSE_MINUTES = tostring(var.human_reply_pause_minutes) # an operator's reply pauses it too
      IAP_AUDIENCE              = local.iap_audience
      OPERATOR_EMAILS           = join(",", var.operator_emails)
      # Whose templates the dashboard syncs; the operator's template picker sends them.
      WHATSAPP_BUSINESS_ACCOUNT_ID = var.whatsapp_business_account_id
      # The Knowledge page embeds documents; the vector index is built for these dimensions.
      GOOGLE_GENAI_USE_VERTEXAI = tostring(var.use_vertexai)
      GOOGLE_CLOUD_LOCATION     = var.vertex_location
      EMBEDDING_MODEL           = var.embedding_model
      EMBEDDING_DIMENSIONS      = tostring(var.embedding_dimensions)
      AUDIT_BUCKET              = google_storage_bucket.audit.name
    }
  }

  # Secret env vars per function: each function's service account can read only these.
  # With WAHA, the webhook checks its signatures and the senders call its API.
  function_secrets = {
    webhook   = concat(["WHATSAPP_APP_SECRET", "WEBHOOK_VERIFY_TOKEN"], local.waha ? ["WAHA_WEBHOOK_HMAC_KEY"] : [])
    media     = concat(["WHATSAPP_API_TOKEN"], local.waha ? ["WAHA_API_KEY"] : [])
    ai_reply  = concat(["WHATSAPP_API_TOKEN"], var.use_vertexai ? [] : ["GEMINI_API_KEY"], local.waha ? ["WAHA_API_KEY"] : [])
    dashboard = concat(["WHATSAPP_API_TOKEN", "DASHBOARD_SESSION_SECRET"], var.use_vertexai ? [] : ["GEMINI_API_KEY"], local.waha ? ["WAHA_API_KEY"] : [])
  }
}

data "archive_file" "function" {
  for_each = local.functions

  type        = "zip"
  source_dir  = "${path.module}/../build/functions/${each.key}"
  output_path = "${path.module}/../build/archives/${each.key}.zip"
  # Fixed mode (timestamps are already zeroed by the provider) so the hash changes only with
  # the content: same code, same object, no redeploy.
  output_file_mode = "0644"
}

resource "google_storage_bucket_object" "function_source" {
  for_each = local.functions

  bucket       = google_storage_bucket.sources.name
  name         = "${each.key}/${data.archive_file.function[each.key].output_sha256}.zip"
  source       = data.archive_file.function[each.key].output_path
  content_type = "application/zip"
}

resource "google_cloudfunctions2_function" "fn" {
  #checkov:skip=CKV_GCP_124:Flags only the webhook, which Meta must reach from the internet (its code rejects any request without a valid X-Hub-Signature-256); media/ai_reply are internal-only and the dashboard internal+load balancer, which tests/infra asserts.
  for_each = local.functions

  project     = var.project_id
  name        = local.function_names[each.key]
  location    = var.region
  description = each.value.description
  labels      = var.labels

  build_config {
    # python312: pydub still imports audioop, removed in 3.13.
    runtime           = "python312"
    entry_point       = each.key
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function_source[each.key].name
      }
    }

    automatic_update_policy {}
  }

  service_config {
    available_memory                 = var.function_sizing[each.key].memory
    available_cpu                    = var.function_sizing[each.key].cpu
    timeout_seconds                  = var.function_sizing[each.key].timeout_seconds
    max_instance_request_concurrency = var.function_sizing[each.key].concurrency
    min_instance_count               = var.function_sizing[each.key].min_instances
    max_instance_count               = var.function_sizing[each.key].max_instances
    ingress_settings                 = each.value.ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.function[each.key].email

    environment_variables = merge(
      local.base_env,
      local.optional_env,
      local.function_env[each.key],
      lookup(var.function_settings, each.key, {}),
      # functions-framework's gunicorn serves THREADS requests at once (4 per CPU unless told):
      # exactly as many as Cloud Run sends one instance, so none wait inside it. Last, so
      # function_settings cannot pull the two apart.
      { THREADS = tostring(var.function_sizing[each.key].concurrency) },
    )

    dynamic "secret_environment_variables" {
      for_each = toset(local.function_secrets[each.key])
      content {
        key        = secret_environment_variables.value
        project_id = var.project_id
        secret     = google_secret_manager_secret.secret[secret_environment_variables.value].secret_id
        version    = lookup(var.secret_versions, secret_environment_variables.value, "latest")
      }
    }
  }

  depends_on = [
    google_project_service.enabled,
    # The build needs its account's role, and an instance that starts before it may read its
    # secrets fails its health check: both only once the grants have propagated.
    time_sleep.iam_propagation,
  ]
}

# Function images live in our own repository so the build account's write access is scoped to
# it and old images are cleaned up.
resource "google_artifact_registry_repository" "functions" {
  #checkov:skip=CKV_GCP_84:The images hold only this open-source code and its public dependencies, no customer data; Google-managed encryption suffices.
  project       = var.project_id
  location      = var.region
  repository_id = "${var.name_prefix}-functions"
  description   = "Images built from the WhatsApp assistant's function sources."
  format        = "DOCKER"
  labels        = var.labels

  # Keep recent images so Cloud Run can roll back to an earlier revision.
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "${var.source_archive_retention_days * 86400}s"
    }
  }

  depends_on = [google_project_service.enabled]
}
