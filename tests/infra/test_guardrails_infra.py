"""Terraform holds the guardrails: the audit trail append-only for the functions' identities, and
an alert on the spend cap the reply function logs."""

from __future__ import annotations

from shared.ai_reply.guard import SPEND_CAP_EVENT
from tests.infra.terraform_config import block, function_env_names

# The permissions of the two predefined roles the dashboard holds on the audit bucket (Google's
# IAM reference): creating and reading objects, nothing that deletes or replaces one.
AUDIT_ROLE_PERMISSIONS = {
    "roles/storage.objectCreator": {
        "storage.objects.create",
        "storage.managedFolders.create",
        "storage.multipartUploads.create",
        "storage.multipartUploads.abort",
        "storage.multipartUploads.listParts",
        "orgpolicy.policy.get",
        "resourcemanager.projects.get",
    },
    "roles/storage.objectViewer": {
        "storage.objects.get",
        "storage.objects.list",
        "storage.managedFolders.get",
        "storage.managedFolders.list",
        "storage.folders.get",
        "storage.folders.list",
        "resourcemanager.projects.get",
    },
}
WRITES_OVER_A_RECORD = {"storage.objects.delete", "storage.objects.update", "storage.objects.setRetention"}


def test_only_the_dashboard_holds_roles_on_the_audit_bucket_and_none_deletes_or_replaces(tf) -> None:
    grants = [
        body
        for body in tf.resources_of("google_storage_bucket_iam_member").values()
        if "google_storage_bucket.audit" in body["bucket"]
    ]
    assert len(grants) == 1
    (grant,) = grants
    assert grant["member"] == '${google_service_account.function["dashboard"].member}'
    assert grant["for_each"] == "${toset(local.audit_roles)}"
    roles = tf.locals["audit_roles"]
    assert set(roles) == set(AUDIT_ROLE_PERMISSIONS)
    for role in roles:
        assert not AUDIT_ROLE_PERMISSIONS[role] & WRITES_OVER_A_RECORD, role
    # No project-wide storage role reaches it from elsewhere.
    project_roles = {body["role"] for body in tf.resources_of("google_project_iam_member").values()}
    assert not {r for r in project_roles if r.startswith("roles/storage.")}


def test_the_audit_bucket_keeps_every_record_for_its_retention_whoever_asks(tf) -> None:
    bucket = tf.resource("google_storage_bucket", "audit")
    assert bucket["public_access_prevention"] == "enforced" and bucket["uniform_bucket_level_access"] is True
    policy = block(bucket, "retention_policy")
    assert policy["retention_period"] == "${var.audit_retention_days * 86400}"
    assert policy["is_locked"] == "${var.audit_retention_locked}"
    assert block(block(bucket, "lifecycle_rule"), "condition")["age"] == "${var.audit_retention_days}"
    assert "AUDIT_BUCKET" in function_env_names(tf, "dashboard")


def test_the_spend_cap_alert_matches_the_line_the_reply_function_logs(tf) -> None:
    policy = tf.resource("google_monitoring_alert_policy", "spend_cap")
    condition = block(block(policy, "conditions"), "condition_matched_log")
    assert f'jsonPayload.event = \\"{SPEND_CAP_EVENT}\\"' in condition["filter"] or (
        f'jsonPayload.event = "{SPEND_CAP_EVENT}"' in condition["filter"]
    )
    assert 'local.function_names["ai_reply"]' in condition["filter"]
    assert policy["notification_channels"] == "${local.notification_channels}"


def test_the_media_lifecycle_deletes_an_object_retention_days_after_the_last_message_that_references_it(
    tf,
) -> None:
    """RETENTION_DAYS and the bucket's rule are one number: the variable that sets the first sets
    the second, counted from the customTime shared/bucket.py stamps on every object."""
    bucket = tf.resource("google_storage_bucket", "media")
    assert "lifecycle_rule" not in bucket  # no rule of its own beside the two below
    rules = [next(iter(d.items())) for d in bucket["dynamic"]]
    assert [name for name, _ in rules] == ["lifecycle_rule", "lifecycle_rule"]
    conditions = []
    for _, rule in rules:
        assert rule["for_each"] == "${var.retention_days > 0 ? [var.retention_days] : []}"
        content = block(rule, "content")
        assert block(content, "action")["type"] == "Delete"
        conditions.append({k: v for k, v in block(content, "condition").items() if k != "__is_block__"})
    assert conditions[0] == {"days_since_custom_time": "${lifecycle_rule.value}"}
    # Objects from before customTime was stamped keep their age rule, and only those.
    assert conditions[1] == {
        "age": "${lifecycle_rule.value}",
        "created_before": "${local.media_custom_time_since}",
    }
    assert tf.locals["base_env"]["RETENTION_DAYS"] == "${tostring(var.retention_days)}"
