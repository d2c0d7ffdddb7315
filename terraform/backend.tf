# State lives in a GCS bucket created once by hand (docs/deploy.md, "The state bucket"): the
# bucket is given at init so the same code serves every project:
#   terraform init -backend-config=bucket=<STATE_BUCKET>
# For a throwaway local try-out, `terraform init -backend=false` skips it.
terraform {
  backend "gcs" {
    prefix = "whatsapp-assistant"
  }
}
