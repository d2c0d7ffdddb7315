"""One deadline per job: each step gets its share of what is left, and none runs past it."""

from __future__ import annotations

import time

import pytest

from local.simulator import DEFAULT_ACCESS_TOKEN, graph_api_url, start_simulator
from shared.deadline import MARGIN_SECONDS, Deadline, DeadlineExceeded
from shared.media.pipeline import MediaLimits
from shared.whatsapp.client import RetryPolicy, WhatsAppClient
from shared.whatsapp.errors import ConnectionFailed


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_jobs_deadline_is_its_functions_timeout_less_the_margin_for_recording_the_outcome() -> None:
    clock = Clock()
    deadline = Deadline.for_job(300, clock=clock)
    assert deadline.remaining() == 300 - MARGIN_SECONDS
    clock.now += 100
    assert deadline.remaining() == 200 - MARGIN_SECONDS


def test_a_step_gets_its_own_limit_or_what_is_left_whichever_is_less() -> None:
    clock = Clock()
    deadline = Deadline.after(50, clock=clock)
    assert deadline.share(20, "a download") == 20
    assert deadline.share(200, "a decoder", keep=30) == 20
    clock.now += 45
    assert deadline.share(20, "a download") == 5
    with pytest.raises(DeadlineExceeded, match="a decoder: no time left"):
        deadline.share(200, "a decoder", keep=30)


def test_a_step_that_needs_more_than_is_left_does_not_start() -> None:
    clock = Clock()
    deadline = Deadline.after(15, clock=clock)
    deadline.check("sending part 1", needs=10)
    clock.now += 6
    with pytest.raises(DeadlineExceeded, match="sending part 1"):
        deadline.check("sending part 1", needs=10)


def test_a_call_that_overruns_its_share_is_given_up_on_in_time() -> None:
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="the model call did not finish"):
        Deadline.after(0.3).run(lambda: time.sleep(5), "the model call")
    assert time.monotonic() - started < 1.5
    assert Deadline.after(5).run(lambda: 42, "a quick call") == 42


def test_every_decoder_wall_clock_is_cut_to_the_job_leaving_time_to_store() -> None:
    limits = MediaLimits().within(Deadline.after(100), keep=30)
    assert limits.sound_and_video_budget.wall_seconds <= 70  # was 200 on its own
    assert limits.document_budget.wall_seconds <= 70 and limits.image_budget.wall_seconds == 60
    assert limits.ffmpeg_timeout_seconds <= 70
    assert limits.sound_and_video_budget.cpu_seconds == MediaLimits().sound_and_video_budget.cpu_seconds
    with pytest.raises(DeadlineExceeded):
        MediaLimits().within(Deadline.after(20), keep=30)


def test_a_whatsapp_call_waits_no_longer_than_the_job_has_left_and_does_not_sleep_past_it() -> None:
    with start_simulator(status_delay_seconds=0, webhook_url="http://127.0.0.1:9/unused") as server:
        server.state.add_faults([{"target": "media_metadata", "hang_seconds": 3.0, "count": 5}])
        sleeps: list[float] = []
        client = WhatsAppClient(
            graph_api_url(server), DEFAULT_ACCESS_TOKEN, retry=RetryPolicy(attempts=4), sleep=sleeps.append
        )
        started = time.monotonic()
        with pytest.raises((ConnectionFailed, DeadlineExceeded)):
            client.media_metadata("m-1", deadline=Deadline.after(1.0))
        assert time.monotonic() - started < 2.5  # not 4 attempts of 3 s
        assert sum(sleeps) < 1.0
