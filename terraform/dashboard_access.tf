# The dashboard is reached only through IAP on a global external Application Load Balancer:
#   https://<dashboard domain> -> forwarding rule -> HTTPS proxy -> URL map -> backend service
#   (IAP enabled) -> serverless NEG -> the dashboard function.
# The function's ingress (ALLOW_INTERNAL_AND_GCLB) refuses its run.app URL from the internet, and
# only the IAP service agent may invoke it, so every request passed IAP. Operators are granted
# roles/iap.httpsResourceAccessor on the backend service (iam.tf); the code verifies the IAP JWT
# (IAP_AUDIENCE) and checks OPERATOR_EMAILS as a second gate.
#
# Why not Cloud Run's own IAP switch: a gen2 function's service is managed by Cloud Functions, so
# Terraform cannot set iap_enabled on it, and that mode requires an organization.
locals {
  dashboard_domain = var.dashboard_domain != "" ? var.dashboard_domain : "${google_compute_global_address.dashboard.address}.nip.io"

  # What IAP puts in the `aud` claim of x-goog-iap-jwt-assertion for a backend service.
  iap_audience = "/projects/${data.google_project.this.number}/global/backendServices/${google_compute_backend_service.dashboard.generated_id}"

  use_own_oauth_client = var.iap_oauth2_client_id != ""
}

resource "google_compute_global_address" "dashboard" {
  project = var.project_id
  name    = "${var.name_prefix}-dashboard"

  depends_on = [google_project_service.enabled]
}

resource "google_compute_region_network_endpoint_group" "dashboard" {
  project               = var.project_id
  name                  = "${var.name_prefix}-dashboard"
  region                = var.region
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    # The name, not a reference to the function: the function's IAP_AUDIENCE depends on the
    # backend service, which depends on this NEG, so a reference would be a cycle.
    service = local.function_names["dashboard"]
  }

  depends_on = [google_project_service.enabled]
}

resource "google_compute_backend_service" "dashboard" {
  project               = var.project_id
  name                  = "${var.name_prefix}-dashboard"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"

  backend {
    group = google_compute_region_network_endpoint_group.dashboard.id
  }

  iap {
    enabled              = true
    oauth2_client_id     = local.use_own_oauth_client ? var.iap_oauth2_client_id : null
    oauth2_client_secret = local.use_own_oauth_client ? var.iap_oauth2_client_secret : null
  }

  log_config {
    enable      = true
    sample_rate = 1
  }
}

resource "google_compute_managed_ssl_certificate" "dashboard" {
  project = var.project_id
  # Name carries the domain hash: a new domain needs a new certificate, created before the old one goes.
  name = "${var.name_prefix}-dashboard-${substr(sha256(local.dashboard_domain), 0, 8)}"

  managed {
    domains = [local.dashboard_domain]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_ssl_policy" "dashboard" {
  project         = var.project_id
  name            = "${var.name_prefix}-dashboard"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"
}

resource "google_compute_url_map" "dashboard" {
  project         = var.project_id
  name            = "${var.name_prefix}-dashboard"
  default_service = google_compute_backend_service.dashboard.id
}

resource "google_compute_target_https_proxy" "dashboard" {
  project          = var.project_id
  name             = "${var.name_prefix}-dashboard"
  url_map          = google_compute_url_map.dashboard.id
  ssl_certificates = [google_compute_managed_ssl_certificate.dashboard.id]
  ssl_policy       = google_compute_ssl_policy.dashboard.id
}

resource "google_compute_global_forwarding_rule" "dashboard" {
  project               = var.project_id
  name                  = "${var.name_prefix}-dashboard"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_protocol           = "TCP"
  port_range            = "443"
  ip_address            = google_compute_global_address.dashboard.id
  target                = google_compute_target_https_proxy.dashboard.id
  labels                = var.labels
}
