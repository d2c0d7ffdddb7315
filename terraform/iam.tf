# Identities and who may do what. One service account per function, each granted only what its
# code uses, scoped to the topic, bucket or secret wherever the role allows it. No basic roles
# (owner/editor/viewer) anywhere.
data "google_project" "this" {
  project_id = var.project_id
}

resource "google_service_account" "function" {
  for_each = local.functions

  project      = var.project_id
  account_id   = "${local.function_names[each.key]}-fn"
  display_name = "WhatsApp assistant: ${each.key} function"
}

# Signs the OIDC tokens Pub/Sub attaches to pushes; the only identity allowed to invoke the
# media and ai_reply functions.
resource "google_service_account" "push_invoker" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-push-invoker"
  display_name = "WhatsApp assistant: Pub/Sub push invoker"
}

# Builds the function images (instead of the default compute account, which may hold Editor).
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-fn-build"
  display_name = "WhatsApp assistant: function image builds"
}

# Google-managed agents, created explicitly so the grants below never race their creation.
resource "google_project_service_identity" "pubsub" {
  provider = google-beta

  project = var.project_id
  service = "pubsub.googleapis.com"

  depends_on = [google_project_service.enabled]
}

resource "google_project_service_identity" "iap" {
  provider = google-beta

  project = var.project_id
  service = "iap.googleapis.com"

  depends_on = [google_project_service.enabled]
}

locals {
  pubsub_agent = "serviceAccount:${google_project_service_identity.pubsub.email}"
  iap_agent    = "serviceAccount:${google_project_service_identity.iap.email}"

  # Who publishes where (the code's publish calls): webhook -> media and reply; media -> reply
  # when a file is ready; ai_reply -> reply to re-trigger itself; the dashboard -> both, for an
  # operator's retry and a dead letter's replay (a media job goes back to the media topic).
  topic_publishers = {
    "webhook:media"   = { function = "webhook", topic = "media" }
    "webhook:reply"   = { function = "webhook", topic = "reply" }
    "media:reply"     = { function = "media", topic = "reply" }
    "ai_reply:reply"  = { function = "ai_reply", topic = "reply" }
    "dashboard:media" = { function = "dashboard", topic = "media" }
    "dashboard:reply" = { function = "dashboard", topic = "reply" }
  }

  # media writes originals and derived files (and may overwrite them when a job is retried);
  # ai_reply reads them for Gemini; the dashboard streams them to operators.
  bucket_roles = {
    media     = "roles/storage.objectAdmin"
    ai_reply  = "roles/storage.objectViewer"
    dashboard = "roles/storage.objectUser" # shows media, and erases a customer's (shared/dashboard/erasure.py)
  }

  secret_grants = merge([
    for fn, names in local.function_secrets : {
      for name in names : "${fn}:${name}" => { function = fn, secret = name }
    }
  ]...)
}

# Firestore has no per-collection IAM: datastore.user (read/write documents, no admin) on the
# project is the narrowest predefined role that lets the code use its collections.
resource "google_project_iam_member" "firestore_user" {
  for_each = local.functions

  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function[each.key].member
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.topic_publishers

  project = var.project_id
  topic   = google_pubsub_topic.jobs[each.value.topic].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function[each.value.function].member
}

# The dashboard's dead-letter page pulls the dead letters to show them (giving each back at
# once) and acknowledges the ones it replays: subscriber on exactly those subscriptions.
resource "google_pubsub_subscription_iam_member" "dashboard_dead_letters" {
  for_each = local.topics

  project      = var.project_id
  subscription = google_pubsub_subscription.dead_letter[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = google_service_account.function["dashboard"].member
}

resource "google_storage_bucket_iam_member" "media" {
  for_each = local.bucket_roles

  bucket = google_storage_bucket.media.name
  role   = each.value
  member = google_service_account.function[each.key].member
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = local.secret_grants

  project   = var.project_id
  secret_id = google_secret_manager_secret.secret[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.value.function].member
}

# Vertex AI has no resource-level grant for model calls; only when Vertex mode is chosen.
# ai_reply answers (and embeds questions); the dashboard embeds the knowledge base's documents.
resource "google_project_iam_member" "vertex_user" {
  for_each = var.use_vertexai ? toset(["ai_reply", "dashboard"]) : toset([])

  project = var.project_id
  role    = "roles/aiplatform.user"
  member  = google_service_account.function[each.value].member
}

# ----- Build account ------------------------------------------------------------------------
# A gen2 build does not read our sources bucket: Cloud Functions first copies the archive into a
# bucket it creates itself at the first deploy (gcf-v2-sources-<project number>-<region>), and
# Cloud Build then fetches it from there as this account, writes its logs and pushes the image
# and the buildpack cache. Run Builder is the role Google defines for exactly that: storage
# objects get, Artifact Registry upload/download/delete, log entries create, source repos get.
# It has to be granted on the project: the copy's bucket does not exist before the first function
# is created, and its build starts right away, so no bucket-level grant could come first.
resource "google_project_iam_member" "build" {
  project = var.project_id
  role    = "roles/run.builder"
  member  = google_service_account.build.member
}

# IAM grants take a while to reach every Google service; a build or an instance start that runs
# into a grant not yet visible fails (a 403 in the build log, a secret that cannot be read). The
# functions wait for this instead (the provider's own gen2 builder example waits the same 60 s).
resource "time_sleep" "iam_propagation" {
  create_duration = "60s"

  # A new grant (a function or a secret added later) replaces the wait, so it runs again first.
  triggers = {
    grants = join(" ", concat(
      [google_project_iam_member.build.id],
      [for grant in google_secret_manager_secret_iam_member.accessor : grant.id],
    ))
  }

  depends_on = [
    google_project_iam_member.build,
    google_secret_manager_secret_iam_member.accessor,
  ]
}

# ----- Who may invoke which function (a gen2 function is a Cloud Run service) ----------------
# The webhook is the only public endpoint: Meta calls it without credentials, and the code
# rejects any request whose X-Hub-Signature-256 does not verify.
resource "google_cloud_run_v2_service_iam_member" "webhook_public" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn["webhook"].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "push_invoker" {
  for_each = local.topics

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.value.function].name
  role     = "roles/run.invoker"
  member   = google_service_account.push_invoker.member
}

# IAP forwards an operator's request with its own identity; nobody else may invoke the dashboard.
resource "google_cloud_run_v2_service_iam_member" "dashboard_iap" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn["dashboard"].name
  role     = "roles/run.invoker"
  member   = local.iap_agent
}

resource "google_iap_web_backend_service_iam_member" "operators" {
  for_each = toset(var.operator_emails)

  project             = var.project_id
  web_backend_service = google_compute_backend_service.dashboard.name
  role                = "roles/iap.httpsResourceAccessor"
  member              = "user:${each.value}"
}

# ----- What Pub/Sub itself needs for authenticated push and dead-lettering -------------------
# Mint OIDC tokens as the invoker (required for projects created before April 2021, harmless after).
resource "google_service_account_iam_member" "pubsub_token_creator" {
  service_account_id = google_service_account.push_invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

# Move a job that failed max_delivery_attempts times onto the dead-letter topic ...
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.topics

  project = var.project_id
  topic   = google_pubsub_topic.dead_letter[each.key].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

# ... and acknowledge it on the source subscription once forwarded.
resource "google_pubsub_subscription_iam_member" "dead_letter_forwarder" {
  for_each = local.topics

  project      = var.project_id
  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
