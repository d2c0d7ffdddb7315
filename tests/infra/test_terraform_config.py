"""Terraform and the code agree: what the functions read, publish and import is what gets deployed.

These read terraform/*.tf with python-hcl2 (no providers needed) and compare it with the
repository: the function folders, shared/config.py, shared/store, deploy/package.py.
"""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

import pytest

from deploy import package
from shared.config import SETTING_NAMES, Settings
from shared.store.schema import EXPIRING_COLLECTIONS
from tests.infra.terraform_config import (
    ROOT,
    TerraformConfig,
    block,
    env_names,
    function_env_names,
    keys_of,
    strings,
)
from tests.support.firestore_indexes import declared_indexes

FUNCTION = ("google_cloudfunctions2_function", "fn")

# Settings the code declares that production must NOT set, each with the reason.
LOCAL_ONLY_SETTINGS = {
    "GEMINI_BASE_URL": "endpoint override for the offline model server and tests; production calls Google",
    "DASHBOARD_PASSWORD": "password of the local login form; in production operators come through IAP",
    # Not in SETTING_NAMES today (the client libraries read them), listed so they never slip in.
    "FIRESTORE_EMULATOR_HOST": "emulator address, local runs and tests only",
    "PUBSUB_EMULATOR_HOST": "emulator address, local runs and tests only",
    "STORAGE_EMULATOR_HOST": "emulator address, local runs and tests only",
}

# Variables Terraform sets that shared/config.py does not read, each with its reader.
NOT_SETTINGS = {
    "LOG_EXECUTION_ID": "read by functions-framework; the Functions API adds it anyway, declared to avoid a plan diff",
}

# What each function's code needs from Secret Manager (the system's design, ARCHITECTURE.md).
# WAHA's keys only when a WAHA server is configured (var.waha).
EXPECTED_SECRETS = {
    "webhook": {"WHATSAPP_APP_SECRET", "WEBHOOK_VERIFY_TOKEN", "WAHA_WEBHOOK_HMAC_KEY"},
    "media": {"WHATSAPP_API_TOKEN", "WAHA_API_KEY"},
    "ai_reply": {"WHATSAPP_API_TOKEN", "GEMINI_API_KEY", "WAHA_API_KEY"},
    # The Knowledge page embeds documents with Gemini.
    "dashboard": {"WHATSAPP_API_TOKEN", "DASHBOARD_SESSION_SECRET", "GEMINI_API_KEY", "WAHA_API_KEY"},
}

BASIC_ROLES = re.compile(r"\broles/(owner|editor|viewer)\b")
PUBLIC_MEMBERS = re.compile(r"\ball(Authenticated)?Users\b")


def function_folders() -> list[str]:
    root = ROOT / "functions"
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def has_default(name: str) -> bool:
    """A setting whose dataclass default is usable as is (an empty string means "required")."""
    default = {f.name.upper(): f.default for f in fields(Settings)}[name]
    return default != ""


def all_strings(tf: TerraformConfig) -> list[str]:
    parts: list[Any] = [tf.resources, tf.data, tf.variables, tf.locals, tf.outputs]
    return [s for part in parts for s in strings(part)]


# ----- functions --------------------------------------------------------------------------------


def test_every_function_folder_is_deployed_and_every_deployed_function_has_a_folder(tf):
    assert set(keys_of(tf.locals["functions"])) == set(function_folders())


def test_each_function_runs_its_folder_name_as_entry_point_from_its_packaged_folder(tf):
    fn = tf.resource(*FUNCTION)
    build = block(fn, "build_config")
    assert fn["for_each"] == "${local.functions}"
    assert build["entry_point"] == "${each.key}"
    assert build["runtime"] == "python312", "pydub needs audioop, gone in 3.13"
    storage = block(block(build, "source"), "storage_source")
    assert storage["object"] == "${google_storage_bucket_object.function_source[each.key].name}"

    source_object = tf.resource("google_storage_bucket_object", "function_source")
    assert source_object["source"] == "${data.archive_file.function[each.key].output_path}"
    # Named by content hash: new code => new object => redeploy; same code => no change.
    assert "output_sha256" in source_object["name"] or "output_md5" in source_object["name"]

    archive = tf.data[("archive_file", "function")]
    packaged = (package.DEFAULT_OUT / "${each.key}").as_posix()
    assert archive["source_dir"] == "${path.module}/../" + packaged


def test_worker_functions_have_no_eventarc_trigger_so_their_dead_letters_stay_in_terraform(tf):
    assert "event_trigger" not in tf.resource(*FUNCTION)


def test_only_the_webhook_accepts_traffic_from_anywhere(tf):
    ingress = {name: f["ingress"] for name, f in tf.locals["functions"].items()}
    assert ingress["webhook"] == "ALLOW_ALL"
    assert ingress["media"] == ingress["ai_reply"] == "${var.worker_ingress}"
    assert tf.default("worker_ingress") == "ALLOW_INTERNAL_ONLY"
    assert ingress["dashboard"] == "ALLOW_INTERNAL_AND_GCLB"
    assert tf.resource(*FUNCTION)["service_config"][0]["ingress_settings"] == "${each.value.ingress}"


def test_each_function_runs_as_its_own_service_account(tf):
    service = block(tf.resource(*FUNCTION), "service_config")
    assert service["service_account_email"] == "${google_service_account.function[each.key].email}"
    assert tf.resource("google_service_account", "function")["for_each"] == "${local.functions}"


def test_function_timeouts_fit_what_a_push_subscription_can_wait_for(tf):
    sizing = tf.default("function_sizing")
    assert set(sizing) == set(function_folders()) | set(keys_of(tf.locals["functions"]))
    for name, size in sizing.items():
        assert 1 <= size["timeout_seconds"] <= 600, name
    validations = " ".join(v["condition"] for v in tf.variables["function_sizing"]["validation"])
    assert "timeout_seconds <= 600" in validations


# ----- settings ---------------------------------------------------------------------------------


def test_every_setting_the_code_reads_is_set_by_terraform_or_has_a_default(tf):
    set_anywhere = set().union(*(function_env_names(tf, f) for f in keys_of(tf.locals["functions"])))
    missing = [
        name
        for name in SETTING_NAMES
        if name not in LOCAL_ONLY_SETTINGS and name not in set_anywhere and not has_default(name)
    ]
    assert not missing, f"required settings no function gets from Terraform: {missing}"


def test_terraform_sets_only_settings_the_code_declares(tf):
    for function in keys_of(tf.locals["functions"]):
        unknown = function_env_names(tf, function) - set(SETTING_NAMES) - set(NOT_SETTINGS)
        assert not unknown, (
            f"{function}: Terraform sets {sorted(unknown)}, which shared/config.py never reads"
        )


def test_settings_meant_for_local_runs_are_not_set_in_production(tf):
    for function in keys_of(tf.locals["functions"]):
        leaked = function_env_names(tf, function) & set(LOCAL_ONLY_SETTINGS)
        assert not leaked, f"{function} gets local-only settings {sorted(leaked)}"


def test_code_defaults_and_terraform_defaults_agree_on_names_and_model(tf):
    defaults = Settings()
    assert tf.default("media_topic") == defaults.media_topic
    assert tf.default("reply_topic") == defaults.reply_topic
    assert tf.default("gemini_model") == defaults.gemini_model
    assert tf.default("retention_days") == defaults.retention_days


def test_each_function_gets_exactly_the_secrets_its_code_needs(tf):
    for function, expected in EXPECTED_SECRETS.items():
        assert env_names(tf.locals["function_secrets"][function]) == expected, function
    # Every secret a function reads exists, and its service account may read it (and only it).
    assert env_names(tf.locals["secret_ids"]) == set().union(*EXPECTED_SECRETS.values())
    accessor = tf.resource("google_secret_manager_secret_iam_member", "accessor")
    assert accessor["for_each"] == "${local.secret_grants}"
    assert "local.function_secrets" in tf.locals["secret_grants"]
    assert accessor["member"] == "${google_service_account.function[each.value.function].member}"


def test_secret_values_never_pass_through_terraform(tf):
    assert not tf.resources_of("google_secret_manager_secret_version")
    assert not [s for s in all_strings(tf) if "secret_data" in s]


def test_secrets_are_documented_with_the_command_that_adds_their_values(tf):
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    secret_ids = re.findall(r'= "([a-z][a-z-]+)"', tf.locals["secret_ids"])
    assert len(secret_ids) == len(env_names(tf.locals["secret_ids"]))
    for secret_id in secret_ids:
        assert f"gcloud secrets versions add {secret_id}" in guide, secret_id


# ----- Pub/Sub ----------------------------------------------------------------------------------


def test_topics_the_code_publishes_to_exist_with_the_names_from_settings(tf):
    topics = tf.locals["topics"]
    assert topics["media"]["name"] == "${var.media_topic}"
    assert topics["reply"]["name"] == "${var.reply_topic}"
    assert tf.resource("google_pubsub_topic", "jobs")["for_each"] == "${local.topics}"
    assert {t["function"] for t in topics.values()} == {"media", "ai_reply"}
    env = keys_of(tf.locals["base_env"])
    assert {"MEDIA_TOPIC", "REPLY_TOPIC", "MEDIA_BUCKET", "GOOGLE_CLOUD_PROJECT"} <= env


def test_every_job_subscription_dead_letters_after_bounded_retries(tf):
    push = tf.resource("google_pubsub_subscription", "push")
    assert push["for_each"] == "${local.topics}"
    dead_letter = block(push, "dead_letter_policy")
    assert dead_letter["dead_letter_topic"] == "${google_pubsub_topic.dead_letter[each.key].id}"
    assert dead_letter["max_delivery_attempts"] == "${var.max_delivery_attempts}"
    assert 5 <= tf.default("max_delivery_attempts") <= 100
    retry = block(push, "retry_policy")
    assert retry["minimum_backoff"] and retry["maximum_backoff"]
    assert block(push, "expiration_policy")["ttl"] == "", "an idle subscription must not expire"


def test_dead_letters_are_kept_on_a_pull_subscription(tf):
    assert tf.resource("google_pubsub_topic", "dead_letter")["for_each"] == "${local.topics}"
    keeper = tf.resource("google_pubsub_subscription", "dead_letter")
    assert keeper["topic"] == "${google_pubsub_topic.dead_letter[each.key].id}"
    assert "push_config" not in keeper
    assert block(keeper, "expiration_policy")["ttl"] == ""


def test_pubsub_service_agent_may_move_failed_jobs_to_the_dead_letter_topic(tf):
    publisher = tf.resource("google_pubsub_topic_iam_member", "dead_letter_publisher")
    assert publisher["topic"] == "${google_pubsub_topic.dead_letter[each.key].name}"
    assert publisher["role"] == "roles/pubsub.publisher"
    assert publisher["member"] == "${local.pubsub_agent}"
    forwarder = tf.resource("google_pubsub_subscription_iam_member", "dead_letter_forwarder")
    assert forwarder["subscription"] == "${google_pubsub_subscription.push[each.key].name}"
    assert forwarder["role"] == "roles/pubsub.subscriber"
    assert forwarder["member"] == "${local.pubsub_agent}"


def test_push_reaches_the_function_url_at_the_topic_path_with_an_oidc_token(tf):
    config = block(tf.resource("google_pubsub_subscription", "push"), "push_config")
    uri = "${google_cloudfunctions2_function.fn[each.value.function].service_config[0].uri}"
    # functions-framework takes the CloudEvent `source` from this path.
    assert config["push_endpoint"] == uri + "/projects/${var.project_id}/topics/${each.value.name}"
    token = block(config, "oidc_token")
    assert token["service_account_email"] == "${google_service_account.push_invoker.email}"
    assert token["audience"] == uri


def test_push_waits_at_least_as_long_as_the_function_may_run(tf):
    push = tf.resource("google_pubsub_subscription", "push")
    assert push["ack_deadline_seconds"] == "${local.push_ack_deadline_seconds[each.key]}"
    deadline = tf.locals["push_ack_deadline_seconds"]
    assert "min(600, var.function_sizing[topic.function].timeout_seconds + 30)" in deadline


# ----- access -----------------------------------------------------------------------------------


def test_no_basic_role_is_granted_anywhere(tf):
    assert not [s for s in all_strings(tf) if BASIC_ROLES.search(s)]
    # Authoritative bindings would silently remove grants made outside this stack.
    authoritative = [k for k in tf.resources if k[0].endswith(("_iam_binding", "_iam_policy"))]
    assert not authoritative


def test_only_the_webhook_is_invokable_by_anyone(tf):
    public = [
        key for key, body in tf.resources.items() if any(PUBLIC_MEMBERS.search(s) for s in strings(body))
    ]
    assert public == [("google_cloud_run_v2_service_iam_member", "webhook_public")]
    grant = tf.resource("google_cloud_run_v2_service_iam_member", "webhook_public")
    assert grant["name"] == '${google_cloudfunctions2_function.fn["webhook"].name}'
    assert grant["role"] == "roles/run.invoker"


def test_workers_are_invoked_only_by_the_push_account_and_the_dashboard_only_through_iap(tf):
    invokers = tf.resources_of("google_cloud_run_v2_service_iam_member")
    assert set(invokers) == {"webhook_public", "push_invoker", "dashboard_iap"}
    push = invokers["push_invoker"]
    assert push["for_each"] == "${local.topics}"
    assert push["name"] == "${google_cloudfunctions2_function.fn[each.value.function].name}"
    assert push["member"] == "${google_service_account.push_invoker.member}"
    dashboard = invokers["dashboard_iap"]
    assert dashboard["name"] == '${google_cloudfunctions2_function.fn["dashboard"].name}'
    assert dashboard["member"] == "${local.iap_agent}"
    operators = tf.resource("google_iap_web_backend_service_iam_member", "operators")
    assert operators["role"] == "roles/iap.httpsResourceAccessor"
    assert block(tf.resource("google_compute_backend_service", "dashboard"), "iap")["enabled"] is True


def test_function_accounts_get_only_the_roles_their_code_uses(tf):
    publishers = {(v["function"], v["topic"]) for v in tf.locals["topic_publishers"].values()}
    assert publishers == {
        ("webhook", "media"),
        ("webhook", "reply"),
        ("media", "reply"),
        ("ai_reply", "reply"),
        ("dashboard", "media"),
        ("dashboard", "reply"),
    }
    # The dead-letter page reads (and the replay acknowledges) the dead letters, nothing else.
    subscribers = {
        name: body
        for name, body in tf.resources_of("google_pubsub_subscription_iam_member").items()
        if "google_service_account.function" in body["member"]
    }
    assert set(subscribers) == {"dashboard_dead_letters"}
    grant = subscribers["dashboard_dead_letters"]
    assert grant["for_each"] == "${local.topics}"
    assert grant["subscription"] == "${google_pubsub_subscription.dead_letter[each.key].name}"
    assert (grant["role"], grant["member"]) == (
        "roles/pubsub.subscriber",
        '${google_service_account.function["dashboard"].member}',
    )
    assert tf.locals["bucket_roles"] == {
        "media": "roles/storage.objectAdmin",
        "ai_reply": "roles/storage.objectViewer",
        "dashboard": "roles/storage.objectUser",  # reads media and deletes a customer's on erasure
    }
    project_roles = {
        name: body["role"]
        for name, body in tf.resources_of("google_project_iam_member").items()
        if "google_service_account.function" in body["member"]
    }
    assert project_roles == {"firestore_user": "roles/datastore.user", "vertex_user": "roles/aiplatform.user"}
    vertex = tf.resource("google_project_iam_member", "vertex_user")
    # ai_reply answers with Gemini; the dashboard embeds the knowledge base's documents.
    assert vertex["for_each"] == '${var.use_vertexai ? toset(["ai_reply", "dashboard"]) : toset([])}'
    assert vertex["member"] == "${google_service_account.function[each.value].member}"


def test_the_build_account_holds_only_the_role_google_defines_for_function_builds(tf):
    build = tf.resource(*FUNCTION)["build_config"][0]
    assert build["service_account"] == "${google_service_account.build.id}"
    grants = {
        key: body["role"]
        for key, body in tf.resources.items()
        if key[0].endswith("_iam_member") and "google_service_account.build." in body["member"]
    }
    # Project-wide, because the bucket a gen2 build reads its source from is created by the first
    # deploy; Run Builder holds nothing beyond a build's reads, pushes and logs.
    assert grants == {("google_project_iam_member", "build"): "roles/run.builder"}
    assert tf.resource("google_project_iam_member", "build")["project"] == "${var.project_id}"
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert "roles/run.builder" in guide and "gcf-v2-sources" in guide


def test_functions_are_created_only_after_their_grants_have_had_time_to_propagate(tf):
    wait = tf.resource("time_sleep", "iam_propagation")
    assert int(wait["create_duration"].removesuffix("s")) >= 60
    waits_for = set(wait["depends_on"])
    assert {
        "${google_project_iam_member.build}",
        "${google_secret_manager_secret_iam_member.accessor}",
    } <= waits_for
    # A grant added later replaces the wait, so it runs again before the functions change.
    assert "google_project_iam_member.build.id" in wait["triggers"]["grants"]
    assert "google_secret_manager_secret_iam_member.accessor" in wait["triggers"]["grants"]
    assert "${time_sleep.iam_propagation}" in tf.resource(*FUNCTION)["depends_on"]


# ----- storage and Firestore --------------------------------------------------------------------


def test_media_bucket_is_private(tf):
    bucket = tf.resource("google_storage_bucket", "media")
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["uniform_bucket_level_access"] is True
    # Its lifecycle rule is held to RETENTION_DAYS in tests/infra/test_guardrails_infra.py.
    assert tf.resource("google_storage_bucket", "sources")["public_access_prevention"] == "enforced"


def test_the_firestore_indexes_are_declared_in_a_form_the_index_check_can_read(tf):
    # Which indexes must exist is decided in tests/indexes from the queries the suite records;
    # here, on any run, only that every declaration resolves (for_each over locals included).
    declared = declared_indexes(tf)
    assert declared.composites
    assert ("messages", "expire_at") in declared.overrides


def test_every_collection_the_code_stamps_with_expire_at_has_a_ttl_policy(tf):
    assert set(EXPIRING_COLLECTIONS) == set(tf.locals["ttl_collections"])
    ttl = tf.resource("google_firestore_field", "expire_at")
    assert ttl["field"] == "expire_at"
    assert ttl["ttl_config"]
    assert "RETENTION_DAYS" in keys_of(tf.locals["base_env"])


# ----- the configuration as a whole ------------------------------------------------------------


def test_every_reference_in_the_configuration_resolves(tf):
    declared = {f"{k}.{n}" for k, n in tf.resources} | {f"data.{k}.{n}" for k, n in tf.data}
    problems = []
    for text in all_strings(tf):
        for kind, name in re.findall(r"\b(var|local)\.([a-z0-9_]+)", text):
            pool = tf.variables if kind == "var" else tf.locals
            if name not in pool:
                problems.append(f"{kind}.{name}")
        for ref in re.findall(
            r"\b(data\.[a-z0-9_]+\.[a-z0-9_]+|(?:google|time)(?:_[a-z0-9]+)+\.[a-z0-9_]+)", text
        ):
            if ref not in declared:
                problems.append(ref)
    assert not sorted(set(problems))


def test_apis_stay_enabled_when_the_stack_is_destroyed(tf):
    assert tf.resource("google_project_service", "enabled")["disable_on_destroy"] is False


def test_outputs_give_meta_its_callback_url_and_operators_their_dashboard(tf):
    webhook_url = tf.outputs["webhook_url"]["value"]
    assert (
        webhook_url
        == '${google_cloudfunctions2_function.fn["webhook"].service_config[0].uri}/webhook/whatsapp'
    )
    assert tf.outputs["dashboard_url"]["value"].startswith("https://")


@pytest.mark.parametrize("name", ["alert_email", "dashboard_domain", "whatsapp_api_url"])
def test_optional_inputs_have_defaults(tf, name):
    assert "default" in tf.variables[name]


def test_operators_are_required_because_the_dashboard_refuses_to_start_without_them(tf):
    variable = tf.variables["operator_emails"]
    assert "default" not in variable
    assert any("length(var.operator_emails) > 0" in v["condition"] for v in variable["validation"])
