# ---------------------------------------------------------------------------------------------
# Where it runs
# ---------------------------------------------------------------------------------------------
variable "project_id" {
  description = "Google Cloud project that hosts everything."
  type        = string
}

variable "region" {
  description = "Region of the functions, buckets, serverless NEG and (by default) Firestore."
  type        = string
  default     = "europe-west1"
}

variable "name_prefix" {
  description = "Prefix of function, service account and load balancer names (lowercase, short: service account ids are at most 30 characters)."
  type        = string
  default     = "wa"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.name_prefix))
    error_message = "name_prefix must be 1-12 characters: lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "labels" {
  description = "Labels added to every resource that takes labels."
  type        = map(string)
  default     = { app = "whatsapp-assistant" }
}

# ---------------------------------------------------------------------------------------------
# Names the code reads (defaults match shared/config.py so a stock deploy needs no overrides)
# ---------------------------------------------------------------------------------------------
variable "media_topic" {
  description = "Pub/Sub topic of media jobs (MEDIA_TOPIC). Default = Settings.media_topic."
  type        = string
  default     = "whatsapp-media"
}

variable "reply_topic" {
  description = "Pub/Sub topic of reply jobs (REPLY_TOPIC). Default = Settings.reply_topic."
  type        = string
  default     = "whatsapp-reply"
}

variable "media_bucket_name" {
  description = "Name of the private media bucket (MEDIA_BUCKET). Empty = \"<project_id>-whatsapp-media\"."
  type        = string
  default     = ""
}

variable "whatsapp_api_url" {
  description = "Graph API base including the version (WHATSAPP_API_URL). Empty = the default in shared/config.py."
  type        = string
  default     = ""
}

variable "business_name" {
  description = "Who the assistant answers for (BUSINESS_NAME), on every business number the dashboard's Settings page gives no name of its own. Empty: none."
  type        = string
  default     = ""
}

variable "human_reply_pause_minutes" {
  description = "Minutes the assistant stays quiet in a conversation after a human reply there, from the WhatsApp Business app or the dashboard (HUMAN_REPLY_PAUSE_MINUTES); it then resumes by itself. 0: a human reply pauses nothing. Default = shared/config.py."
  type        = number
  default     = 60
  validation {
    condition     = var.human_reply_pause_minutes >= 0
    error_message = "human_reply_pause_minutes cannot be negative."
  }
}

variable "waha" {
  description = "A WAHA server (self-hosted WhatsApp HTTP API) serving some business numbers (docs/providers.md): its url (WAHA_URL, reachable from the functions) and sessions (WAHA_SESSION, `session[=business_number_id]` comma-separated). Empty url = no WAHA; its API key and webhook HMAC key are secrets."
  type = object({
    url      = string
    sessions = string
  })
  default = { url = "", sessions = "" }

  validation {
    condition     = (var.waha.url == "") == (var.waha.sessions == "")
    error_message = "Set both waha.url and waha.sessions, or neither."
  }
  validation {
    condition     = var.waha.url == "" || startswith(var.waha.url, "https://")
    error_message = "waha.url must be https: the API key and customers' files travel over it."
  }
}

variable "whatsapp_business_account_id" {
  description = "The WhatsApp Business Account whose message templates the dashboard syncs (WHATSAPP_BUSINESS_ACCOUNT_ID)."
  type        = string
  default     = ""
}

variable "reengage_template" {
  description = "Approved template sent once when an answer is due after the 24-hour window closed, as name:language (REENGAGE_TEMPLATE); empty flags the conversation for an operator instead."
  type        = string
  default     = ""

  validation {
    condition     = var.reengage_template == "" || can(regex("^[a-z0-9_]+:[A-Za-z_]+$", var.reengage_template))
    error_message = "reengage_template is name:language, e.g. follow_up:en_US."
  }
}

variable "gemini_model" {
  description = "Gemini model id (GEMINI_MODEL). Default = shared/config.py DEFAULT_GEMINI_MODEL."
  type        = string
  default     = "gemini-3.8-flash"
}

variable "embedding_model" {
  description = "Gemini embedding model of the knowledge base (EMBEDDING_MODEL). Default = shared/config.py."
  type        = string
  default     = "gemini-embedding-001"
}

variable "embedding_dimensions" {
  description = "Dimensions of the knowledge base's vectors (EMBEDDING_DIMENSIONS); the vector index is built for exactly this many, so changing it means re-adding the documents."
  type        = number
  default     = 768

  validation {
    condition     = var.embedding_dimensions >= 1 && var.embedding_dimensions <= 2048
    error_message = "Firestore vector indexes take 1 to 2048 dimensions."
  }
}

variable "use_vertexai" {
  description = "true: ai_reply (answers) and the dashboard (knowledge embeddings) call Gemini through Vertex AI with their service accounts (roles/aiplatform.user) and no API key secret exists; false: Gemini Developer API with the GEMINI_API_KEY secret."
  type        = bool
  default     = false
}

variable "vertex_location" {
  description = "Vertex AI location (GOOGLE_CLOUD_LOCATION) when use_vertexai is true."
  type        = string
  default     = "global"
}

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "INFO"
}

variable "function_settings" {
  description = "Extra plain settings per function, e.g. { ai_reply = { REPLY_DEBOUNCE_MS = \"1500\" } }. Never put secrets here: they would land in state and in the function's config."
  type        = map(map(string))
  default     = {}
}

# ---------------------------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------------------------
variable "function_sizing" {
  description = "Per function: memory (Cloud Run units, e.g. 512Mi), cpu, timeout_seconds (<= 600 so a Pub/Sub push can wait for it), concurrency (requests per instance, and the threads its functions-framework runs), min/max instances."
  type = map(object({
    memory          = string
    cpu             = string
    timeout_seconds = number
    concurrency     = number
    min_instances   = number
    max_instances   = number
  }))
  default = {
    # Meta wants a quick 200; the handler only verifies, stores and publishes, so one instance
    # serves many webhooks at once.
    webhook = { memory = "512Mi", cpu = "1", timeout_seconds = 60, concurrency = 40, min_instances = 0, max_instances = 20 }
    # Image resizing and ffmpeg transcodes are CPU and memory bound: few jobs per instance.
    media = { memory = "2Gi", cpu = "1", timeout_seconds = 300, concurrency = 2, min_instances = 0, max_instances = 10 }
    # Mostly waiting on Gemini and WhatsApp: many concurrent replies per instance. The timeout
    # holds a reply job's worst case (shared/ai_reply/budget.py; a smaller one stops ai_reply at start).
    ai_reply = { memory = "1Gi", cpu = "1", timeout_seconds = 300, concurrency = 20, min_instances = 0, max_instances = 20 }
    # Streams media to operators, so requests can be long.
    dashboard = { memory = "512Mi", cpu = "1", timeout_seconds = 300, concurrency = 20, min_instances = 0, max_instances = 5 }
  }

  validation {
    condition     = alltrue([for name in ["webhook", "media", "ai_reply", "dashboard"] : contains(keys(var.function_sizing), name)])
    error_message = "function_sizing needs an entry for each of webhook, media, ai_reply and dashboard."
  }

  validation {
    # Pub/Sub push waits at most 600 s (ack_deadline_seconds), so a longer function would be
    # redelivered while still running.
    condition     = alltrue([for v in values(var.function_sizing) : v.timeout_seconds >= 1 && v.timeout_seconds <= 600])
    error_message = "timeout_seconds must be between 1 and 600."
  }

  validation {
    # Cloud Run refuses concurrency above 1 with less than one vCPU.
    condition     = alltrue([for v in values(var.function_sizing) : v.concurrency == 1 || tonumber(v.cpu) >= 1])
    error_message = "concurrency above 1 needs cpu >= 1."
  }
}

variable "worker_ingress" {
  description = "Ingress of the media and ai_reply functions. Pub/Sub push to the run.app URL in the same project counts as internal, so ALLOW_INTERNAL_ONLY works; ALLOW_ALL is the fallback (IAM still admits only the push invoker)."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"

  validation {
    condition     = contains(["ALLOW_INTERNAL_ONLY", "ALLOW_ALL"], var.worker_ingress)
    error_message = "worker_ingress must be ALLOW_INTERNAL_ONLY or ALLOW_ALL."
  }
}

variable "secret_versions" {
  description = "Secret version per setting, e.g. { WHATSAPP_API_TOKEN = \"3\" }; unset = \"latest\". Instances read secrets when they start, so changing a pin here is what rolls a rotated value out to every instance (docs/deploy.md, \"Rotating secrets\")."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------
# Pub/Sub delivery
# ---------------------------------------------------------------------------------------------
variable "max_delivery_attempts" {
  description = "Deliveries of one job before Pub/Sub moves it to the dead-letter topic (5-100)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100 (Pub/Sub's limits)."
  }
}

variable "retry_minimum_backoff_seconds" {
  description = "First redelivery delay of a failed job."
  type        = number
  default     = 10
}

variable "retry_maximum_backoff_seconds" {
  description = "Largest redelivery delay of a failed job (<= 600)."
  type        = number
  default     = 600

  validation {
    condition     = var.retry_maximum_backoff_seconds <= 600
    error_message = "Pub/Sub caps maximum_backoff at 600 seconds."
  }
}

variable "dead_letter_retention_days" {
  description = "How long dead letters wait on their pull subscription for someone to look (max 31)."
  type        = number
  default     = 14

  validation {
    condition     = var.dead_letter_retention_days >= 1 && var.dead_letter_retention_days <= 31
    error_message = "dead_letter_retention_days must be between 1 and 31."
  }
}

# ---------------------------------------------------------------------------------------------
# Data and retention
# ---------------------------------------------------------------------------------------------
variable "firestore_location" {
  description = "Firestore location (cannot change after creation). Empty = var.region."
  type        = string
  default     = ""
}

variable "firestore_point_in_time_recovery" {
  description = "Keep 7 days of Firestore versions for recovery (billed as storage)."
  type        = bool
  default     = true
}

variable "retention_days" {
  description = "Days messages, AI responses and their media are kept (RETENTION_DAYS): the code writes expire_at = now + this, which Firestore's TTL policy deletes them by, and stamps each media object's customTime, which the bucket's lifecycle rule deletes it by this many days after. 0 = keep forever. Default = shared/config.py."
  type        = number
  default     = 365

  validation {
    condition     = var.retention_days >= 0
    error_message = "retention_days must be 0 (keep forever) or more."
  }
}

variable "opt_out_keywords" {
  description = "Comma-separated words that opt a customer out when sent alone (OPT_OUT_KEYWORDS), replacing the built-in list (STOP, UNSUBSCRIBE, BAJA, ARRET, STOPP, BASTA... in six languages). Empty = the built-in list."
  type        = string
  default     = ""
}

variable "opt_in_keywords" {
  description = "Comma-separated words that opt a customer back in (OPT_IN_KEYWORDS), replacing the built-in list (START, UNSTOP, ALTA, INICIAR...). Empty = the built-in list."
  type        = string
  default     = ""
}

variable "opt_out_confirmation" {
  description = "The one confirmation an opted-out customer gets (OPT_OUT_CONFIRMATION). Empty = the built-in text in the customer's language."
  type        = string
  default     = ""
}

variable "opt_in_confirmation" {
  description = "The confirmation a customer who opts back in gets (OPT_IN_CONFIRMATION). Empty = the built-in text in the customer's language."
  type        = string
  default     = ""
}

variable "limit_notice" {
  description = "The one notice a customer over a limit gets (LIMIT_NOTICE); each number's Settings page may set its own. Empty = the built-in text in the customer's language."
  type        = string
  default     = ""
}

variable "audit_retention_days" {
  description = "Days every record of the operators' audit trail is kept: the audit bucket's retention policy refuses to delete or replace a record younger than this, whoever asks, and its lifecycle rule deletes it after."
  type        = number
  default     = 400

  validation {
    condition     = var.audit_retention_days >= 1
    error_message = "audit_retention_days must be at least 1."
  }
}

variable "audit_retention_locked" {
  description = "Lock the audit bucket's retention policy: then nobody, project owners included, can shorten it or delete the bucket before its records expire. Irreversible; leave false until the period is settled."
  type        = bool
  default     = false
}

variable "source_archive_retention_days" {
  description = "Days a replaced function source archive is kept (noncurrent version) for rollbacks."
  type        = number
  default     = 90
}

variable "deletion_protection" {
  description = "Protect the Firestore database from deletion (set false only to tear down a test project)."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------
# Dashboard access (IAP)
# ---------------------------------------------------------------------------------------------
variable "operator_emails" {
  description = "Google accounts allowed to use the dashboard: granted roles/iap.httpsResourceAccessor and passed to the code as OPERATOR_EMAILS. At least one: behind IAP the dashboard refuses to start with nobody to operate it."
  type        = list(string)

  validation {
    condition     = length(var.operator_emails) > 0
    error_message = "Name at least one operator: the dashboard refuses to start without OPERATOR_EMAILS."
  }

  validation {
    condition     = alltrue([for e in var.operator_emails : can(regex("^[^:@\\s]+@[^:@\\s]+$", e))])
    error_message = "operator_emails holds plain email addresses (no \"user:\" prefix)."
  }
}

variable "dashboard_domain" {
  description = "DNS name of the dashboard (an A record to the dashboard_ip output). Empty = <ip>.nip.io, fine for a first try, not for production."
  type        = string
  default     = ""
}

variable "iap_oauth2_client_id" {
  description = "OAuth client for IAP. Empty = Google-managed client, which admits only accounts of the project's organization; set your own client (docs/deploy.md) for outside accounts."
  type        = string
  default     = ""
}

variable "iap_oauth2_client_secret" {
  description = "Secret of iap_oauth2_client_id. Note: the provider stores it in state (unavoidable for this argument)."
  type        = string
  default     = ""
  sensitive   = true
}

# ---------------------------------------------------------------------------------------------
# Alerts
# ---------------------------------------------------------------------------------------------
variable "alert_email" {
  description = "Where alerts go. Empty = policies exist but notify nobody (visible in Cloud Monitoring)."
  type        = string
  default     = ""
}

variable "error_rate_threshold" {
  description = "Share of 5xx responses (0-1) over 5 minutes above which a function alerts."
  type        = number
  default     = 0.05
}
