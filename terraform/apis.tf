# APIs the system calls. disable_on_destroy = false: destroying this stack must not switch off
# an API that something else in the project may use.
locals {
  apis = toset(concat(
    [
      "artifactregistry.googleapis.com", # function images
      "cloudbuild.googleapis.com",       # builds the function images
      "cloudfunctions.googleapis.com",
      "cloudscheduler.googleapis.com", # the resume sweep (scheduler.tf)
      "compute.googleapis.com",        # dashboard load balancer
      "firestore.googleapis.com",
      "iam.googleapis.com",
      "iamcredentials.googleapis.com", # OIDC tokens for Pub/Sub push
      "iap.googleapis.com",
      "logging.googleapis.com",
      "monitoring.googleapis.com",
      "pubsub.googleapis.com",
      "run.googleapis.com", # gen2 functions are Cloud Run services
      "secretmanager.googleapis.com",
      "storage.googleapis.com",
    ],
    var.use_vertexai ? ["aiplatform.googleapis.com"] : ["generativelanguage.googleapis.com"],
  ))
}

resource "google_project_service" "enabled" {
  for_each = local.apis

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
