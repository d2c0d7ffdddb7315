# The assistant resumes by itself after a human reply: every minute a sweep job goes to the reply
# topic, and the reply function starts a reply job in each conversation whose pause
# (HUMAN_REPLY_PAUSE_MINUTES) ran out (shared/ai_reply/resume.py). Cloud Scheduler publishes as
# its service agent, whose role carries pubsub.topics.publish: no grant of ours is needed.
resource "google_cloud_scheduler_job" "resume_sweep" {
  project     = var.project_id
  region      = var.region
  name        = "${var.name_prefix}-resume-sweep"
  description = "Resumes the assistant where a human's reply pause ran out"
  schedule    = "* * * * *"
  time_zone   = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.jobs["reply"].id
    data       = base64encode(jsonencode({ conversation_id = "", reason = "resume_sweep" }))
  }

  depends_on = [google_project_service.enabled]
}
