"""Deploy steps: packaging each function into the folder Terraform uploads (`package`)."""
