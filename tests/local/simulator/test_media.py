"""The media host: two-step download with the token, expiring URLs, faults, business uploads."""

from __future__ import annotations

import base64
import hashlib
import time

import requests

from local.simulator import graph_api_url, start_simulator
from tests.support.simulator import AUTH, PHONE_ID, TOKEN, USER, final_statuses, upload, wait_until


def test_inbound_image_then_two_step_download_with_the_token(sim, receiver):
    jpeg = b"\xff\xd8\xff\xe0 pretend jpeg"
    media = upload(sim, jpeg, "image/jpeg", "cat.jpg")
    requests.post(
        f"{sim.url}/_sim/inbound",
        json={"from": USER, "type": "image", "media_id": media["id"], "caption": "my cat"},
        timeout=5,
    )
    image = receiver.bodies()[0]["entry"][0]["changes"][0]["value"]["messages"][0]["image"]
    assert image == {
        "caption": "my cat",
        "mime_type": "image/jpeg",
        "sha256": base64.b64encode(hashlib.sha256(jpeg).digest()).decode(),
        "id": media["id"],
    }

    assert requests.get(f"{graph_api_url(sim)}/{image['id']}", timeout=5).status_code == 401
    meta = requests.get(f"{graph_api_url(sim)}/{image['id']}", headers=AUTH, timeout=5).json()
    assert meta["messaging_product"] == "whatsapp"
    assert meta["mime_type"] == "image/jpeg"
    assert meta["file_size"] == len(jpeg)
    assert meta["id"] == image["id"]

    assert requests.get(meta["url"], timeout=5).status_code == 401
    download = requests.get(meta["url"], headers=AUTH, timeout=5)
    assert download.status_code == 200
    assert download.content == jpeg
    assert download.headers["Content-Type"] == "image/jpeg"


def test_media_url_expires_and_a_fresh_one_works(receiver):
    running = start_simulator(webhook_url=receiver.url, access_token=TOKEN, media_url_ttl_seconds=0.2)
    try:
        media = upload(running, b"OggS voice", "audio/ogg")
        old_url = requests.get(f"{graph_api_url(running)}/{media['id']}", headers=AUTH, timeout=5).json()[
            "url"
        ]
        time.sleep(0.3)

        assert requests.get(old_url, headers=AUTH, timeout=5).status_code == 404
        new_url = requests.get(f"{graph_api_url(running)}/{media['id']}", headers=AUTH, timeout=5).json()[
            "url"
        ]
        assert requests.get(new_url, headers=AUTH, timeout=5).content == b"OggS voice"
    finally:
        running.stop()


def test_media_download_fault_answers_500_then_recovers(sim):
    media = upload(sim, b"%PDF-1.4", "application/pdf", "doc.pdf")
    requests.post(f"{sim.url}/_sim/faults", json={"target": "media_download", "http_status": 500}, timeout=5)
    url = requests.get(f"{graph_api_url(sim)}/{media['id']}", headers=AUTH, timeout=5).json()["url"]

    assert requests.get(url, headers=AUTH, timeout=5).status_code == 500
    assert requests.get(url, headers=AUTH, timeout=5).content == b"%PDF-1.4"


def test_business_uploads_media_and_sends_it_by_id(sim, receiver):
    uploaded = requests.post(
        f"{graph_api_url(sim)}/{PHONE_ID}/media",
        files={"file": ("chart.png", b"\x89PNG fake", "image/png")},
        data={"messaging_product": "whatsapp", "type": "image/png"},
        headers=AUTH,
        timeout=5,
    )
    media_id = uploaded.json()["id"]
    image = {"messaging_product": "whatsapp", "to": USER, "type": "image", "image": {"id": media_id}}
    unknown = {**image, "image": {"id": "999"}}

    sent = requests.post(f"{graph_api_url(sim)}/{PHONE_ID}/messages", json=image, headers=AUTH, timeout=5)
    bad = requests.post(f"{graph_api_url(sim)}/{PHONE_ID}/messages", json=unknown, headers=AUTH, timeout=5)

    assert sent.status_code == bad.status_code == 200  # Meta checks the media id only when delivering
    final = wait_until(lambda: len(final_statuses(receiver)) == 2 and final_statuses(receiver))
    assert final[sent.json()["messages"][0]["id"]]["status"] == "read"
    assert final[bad.json()["messages"][0]["id"]]["errors"][0]["code"] == 131053
