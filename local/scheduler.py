"""Cloud Scheduler's part in the local stack: the sweep that resumes the assistant after human
replies (shared/ai_reply/resume.py), published to the reply topic every `interval` seconds, as
terraform/scheduler.tf does every minute in production."""

from __future__ import annotations

import logging
import os
import threading

from shared.ai_reply.resume import sweep_job

log = logging.getLogger(__name__)


class ResumeSweeps:
    def __init__(self, project: str, topic: str, pubsub_host: str, interval: float) -> None:
        self.project = project
        self.topic = topic
        self.pubsub_host = pubsub_host
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ResumeSweeps:
        self._thread = threading.Thread(target=self._run, name="resume-sweeps", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        from google.cloud import pubsub_v1

        saved = os.environ.get("PUBSUB_EMULATOR_HOST")
        os.environ["PUBSUB_EMULATOR_HOST"] = self.pubsub_host  # read when the client is created
        try:
            publisher = pubsub_v1.PublisherClient()
        finally:
            if saved is None:
                os.environ.pop("PUBSUB_EMULATOR_HOST", None)
            else:
                os.environ["PUBSUB_EMULATOR_HOST"] = saved
        path = publisher.topic_path(self.project, self.topic)
        while not self._stop.wait(self.interval):
            try:
                publisher.publish(path, sweep_job().encode()).result(timeout=10)
            except Exception as exc:  # the next tick tries again; a sweep is never owed
                log.warning("could not publish the resume sweep", extra={"error": repr(exc)})
