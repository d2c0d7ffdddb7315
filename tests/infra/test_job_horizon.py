"""No job ends unsettled: the code's attempts, ages and deadlines held against Terraform's push
subscriptions (their ack deadlines, backoff and delivery attempts) and function timeouts.

Pub/Sub delivers a job at most `max_delivery_attempts` times, then dead-letters it. Before that
every job must have been settled by the code: a medium after MAX_ATTEMPTS counted attempts and
one delivery more, a reply after REPLY_MAX_JOB_ATTEMPTS and one more, a reply job waiting for a
dead instance's lease only once the lease ran out; and no job may be taken for lost (too old)
while Pub/Sub may still be delivering it.
"""

from __future__ import annotations

from shared.bus import backoff_seconds, dead_letter_subscription, redelivery_horizon_seconds
from shared.config import Settings
from shared.deadline import MARGIN_SECONDS
from shared.media.job import MAX_ATTEMPTS, STORE_SECONDS
from shared.media.pipeline import MediaLimits
from tests.infra.terraform_config import TerraformConfig, block


def sizing(tf: TerraformConfig, function: str) -> dict:
    return tf.default("function_sizing")[function]


def ack_deadline(tf: TerraformConfig, function: str) -> int:
    """What local.push_ack_deadline_seconds gives the function's push subscription."""
    return min(600, int(sizing(tf, function)["timeout_seconds"]) + 30)


def deliveries(tf: TerraformConfig) -> int:
    return int(tf.default("max_delivery_attempts"))


def horizon(tf: TerraformConfig) -> float:
    """local.redelivery_horizon_seconds with Terraform's defaults."""
    longest_ack = max(ack_deadline(tf, "media"), ack_deadline(tf, "ai_reply"))
    return redelivery_horizon_seconds(
        deliveries(tf), longest_ack, tf.default("retry_maximum_backoff_seconds")
    )


def test_terraform_computes_the_job_age_limit_from_the_subscriptions_own_horizon(tf) -> None:
    assert tf.locals["redelivery_horizon_seconds"] == (
        "${var.max_delivery_attempts * max(values(local.push_ack_deadline_seconds) ...)"
        " + (var.max_delivery_attempts - 1) * var.retry_maximum_backoff_seconds}"
    )
    assert tf.locals["job_max_age_seconds"] == (
        "${local.redelivery_horizon_seconds + var.retry_maximum_backoff_seconds}"
    )
    for function in ("media", "ai_reply"):
        assert (
            tf.locals["function_env"][function]["JOB_MAX_AGE_SECONDS"]
            == "${tostring(local.job_max_age_seconds)}"
        )
    push = tf.resource("google_pubsub_subscription", "push")
    assert block(push, "retry_policy")["maximum_backoff"] == "${var.retry_maximum_backoff_seconds}s"
    assert block(push, "dead_letter_policy")["max_delivery_attempts"] == "${var.max_delivery_attempts}"


def test_the_default_age_limit_outlasts_every_delivery_pubsub_may_still_make(tf) -> None:
    # 10 deliveries of up to 330 s and 9 backoffs of up to 600 s: 2 h 25 min.
    assert horizon(tf) == 10 * 330 + 9 * 600
    terraform_age = horizon(tf) + tf.default("retry_maximum_backoff_seconds")
    assert terraform_age > horizon(tf)
    # Local runs (and anyone not deploying with Terraform) get the code's default.
    assert Settings().job_max_age_seconds > terraform_age


def test_a_medium_is_settled_before_its_job_would_be_dead_lettered(tf) -> None:
    # MAX_ATTEMPTS counted attempts, then one delivery that only settles (the last attempt may
    # have been killed, with nobody left to settle it).
    assert deliveries(tf) >= MAX_ATTEMPTS + 1
    assert MAX_ATTEMPTS + 1 <= 5, "Pub/Sub lets max_delivery_attempts go down to 5"


def test_a_reply_is_settled_before_its_job_would_be_dead_lettered_even_after_waiting_out_a_dead_holder(
    tf,
) -> None:
    settings = Settings()
    reply_deliveries = settings.reply_max_job_attempts + 1
    assert tf.locals["reply_job_deliveries"] == f"${{{settings.reply_max_job_attempts} + 1}}"
    lease = int(sizing(tf, "ai_reply")["timeout_seconds"]) + 30
    waiting = deliveries(tf) - reply_deliveries
    minimum, maximum = (
        tf.default("retry_minimum_backoff_seconds"),
        tf.default("retry_maximum_backoff_seconds"),
    )
    watched = sum(backoff_seconds(n, minimum, maximum) for n in range(1, waiting + 1))
    # 10 + 20 + 40 + 80 + 160 + 320 s of backoff before the waiter's seventh delivery.
    assert watched >= lease, (
        f"a waiter would be dead-lettered {lease - watched:.0f} s before the lease runs out"
    )
    # Terraform refuses a configuration where it would not (the same sum, in HCL).
    assert tf.locals["lease_watch_seconds"] == (
        "${sum([for n in range(1, var.max_delivery_attempts - local.reply_job_deliveries + 1) : "
        "min(var.retry_maximum_backoff_seconds, var.retry_minimum_backoff_seconds * pow(2, n - 1))])}"
    )
    (lifecycle,) = tf.resource("google_pubsub_subscription", "push")["lifecycle"]
    (precondition,) = lifecycle["precondition"]
    assert precondition["condition"] == "${local.lease_watch_seconds >= local.reply_lease_seconds}"


def test_the_fewest_deliveries_pubsub_allows_would_not_outlast_a_dead_holders_lease(tf) -> None:
    """Why the precondition exists: at 5 deliveries the waiter has one redelivery, 10 s later."""
    waiting = 5 - (Settings().reply_max_job_attempts + 1)
    watched = sum(backoff_seconds(n, 10, 600) for n in range(1, waiting + 1))
    assert watched < int(sizing(tf, "ai_reply")["timeout_seconds"]) + 30


def test_each_worker_gets_its_functions_timeout_as_its_jobs_deadline(tf) -> None:
    env = tf.locals["function_env"]
    assert (
        env["media"]["MEDIA_JOB_TIMEOUT_SECONDS"]
        == '${tostring(var.function_sizing["media"].timeout_seconds)}'
    )
    assert env["ai_reply"]["REPLY_JOB_TIMEOUT_SECONDS"] == (
        '${tostring(var.function_sizing["ai_reply"].timeout_seconds)}'
    )
    assert Settings().media_job_timeout_seconds == int(sizing(tf, "media")["timeout_seconds"])
    # Every delivery is answered (or cut off by Cloud Run) before Pub/Sub stops waiting for it.
    for function in ("media", "ai_reply"):
        assert ack_deadline(tf, function) > int(sizing(tf, function)["timeout_seconds"])


def test_a_decoder_never_outlasts_the_media_job(tf) -> None:
    """The fixed budgets alone once added up to more than the function's timeout (video 390 s
    against 300 s); cut to the deadline, a decoder leaves the job its time to store the result."""
    from shared.deadline import Deadline

    timeout = int(sizing(tf, "media")["timeout_seconds"])
    fresh = MediaLimits().within(Deadline.for_job(timeout), keep=STORE_SECONDS)
    for budget in (fresh.image_budget, fresh.document_budget, fresh.sound_and_video_budget):
        assert budget.wall_seconds <= timeout - MARGIN_SECONDS - STORE_SECONDS
    assert fresh.ffmpeg_timeout_seconds <= timeout - MARGIN_SECONDS - STORE_SECONDS


def test_dead_letters_wait_on_the_subscription_the_code_reads_them_from(tf) -> None:
    keeper = tf.resource("google_pubsub_subscription", "dead_letter")
    assert keeper["name"] == "${each.value.name}-dead-letter"
    assert dead_letter_subscription("whatsapp-reply") == "whatsapp-reply-dead-letter"
    topic = tf.resource("google_pubsub_topic", "dead_letter")
    assert topic["name"] == "${each.value.name}-dead-letter"
