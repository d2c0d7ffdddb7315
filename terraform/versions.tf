terraform {
  # 1.5 brought `import` blocks and the check/validation features the docs rely on.
  required_version = ">= 1.5"

  required_providers {
    google = {
      source = "hashicorp/google"
      # 6.x made `iap.enabled` explicit and added build_config.service_account and
      # automatic_update_policy to gen2 functions; 8.x may break arguments used here.
      version = ">= 6.14, < 8"
    }
    google-beta = {
      # Only for google_project_service_identity, which creates the Pub/Sub and IAP service
      # agents before we grant them roles (the GA provider has no such resource).
      source  = "hashicorp/google-beta"
      version = ">= 6.14, < 8"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4, < 3"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

provider "google-beta" {
  project = var.project_id
  region  = var.region
}
