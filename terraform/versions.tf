terraform {
  # 1.5 brought `import` blocks and the check/validation features the docs rely on.
  required_version = ">= 1.5"

  # Every block here is checked against the schema of the versions that
  # tests/infra/provider_schema.json records (google and google-beta 8.7.0, archive 2.8.1,
  # time 0.14.2), so each constraint must admit that version. google's starts there because no
  # earlier schema is checked; minor releases within a major version only add arguments.
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 8.7, < 9"
    }
    google-beta = {
      # Only for google_project_service_identity, which creates the Pub/Sub and IAP service
      # agents before we grant them roles (the GA provider has no such resource).
      source  = "hashicorp/google-beta"
      version = ">= 8.7, < 9"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4, < 3"
    }
    # time_sleep: waits for IAM grants to propagate before the function builds use them.
    time = {
      source  = "hashicorp/time"
      version = ">= 0.14, < 1"
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
