"""``python -m local.simulator``: the simulator on its own, configured by flags or the stack's names."""

from __future__ import annotations

import argparse
import os

from local.servers import run_until_signalled
from local.simulator.app import graph_api_url, start_simulator
from local.simulator.config import DEFAULT_PORT, SimulatorConfig


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    defaults = SimulatorConfig.from_env()
    parser = argparse.ArgumentParser(description="Local WhatsApp Cloud API simulator (Meta's side).")
    parser.add_argument("--host", default=os.environ.get("SIMULATOR_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SIMULATOR_PORT", DEFAULT_PORT)))
    parser.add_argument("--webhook-url", default=defaults.webhook_url, help="where to POST webhooks")
    parser.add_argument("--app-secret", default=defaults.app_secret, help="signs X-Hub-Signature-256")
    parser.add_argument("--token", default=defaults.access_token, help="bearer token Graph calls must carry")
    parser.add_argument("--verify-token", default=defaults.verify_token)
    parser.add_argument("--phone-number-id", default=defaults.phone_number_id)
    parser.add_argument("--display-phone-number", default=defaults.display_phone_number)
    parser.add_argument("--waba-id", default=defaults.waba_id)
    parser.add_argument("--status-delay", type=float, default=defaults.status_delay_seconds)
    parser.add_argument("--no-auto-read", action="store_true", help="stop status webhooks at 'delivered'")
    parser.add_argument("--media-url-ttl", type=float, default=defaults.media_url_ttl_seconds)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    config = SimulatorConfig.from_env().updated(
        {
            "webhook_url": args.webhook_url,
            "app_secret": args.app_secret,
            "access_token": args.token,
            "verify_token": args.verify_token,
            "phone_number_id": args.phone_number_id,
            "display_phone_number": args.display_phone_number,
            "waba_id": args.waba_id,
            "status_delay_seconds": args.status_delay,
            "auto_read": not args.no_auto_read,
            "media_url_ttl_seconds": args.media_url_ttl,
        }
    )
    running = start_simulator(args.port, args.host, config, log_requests=True)
    banner = (
        f"WhatsApp simulator: chat page {running.url}/  Graph API {graph_api_url(running)}\n"
        f"  phone_number_id={config.phone_number_id}  webhook={config.webhook_url or '(none)'}"
    )
    run_until_signalled(running, banner)
