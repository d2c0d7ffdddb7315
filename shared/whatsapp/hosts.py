"""Where the access token may go: the configured Graph API, and the hosts Meta serves media from.

A media download follows an address that arrived in a webhook or in a Graph API answer, and it
needs the bearer token. Followed blindly, a forged delivery (a leaked app secret) or a written
Firestore field would send the system user's token to any host, and make our function fetch
internal addresses whose text the model then quotes back. So an address is used only when it is
https on one of Meta's media hosts (Meta's documented download URLs are on lookaside.fbsbx.com;
the CDN behind it is fbcdn.net and whatsapp.net), or on the configured Graph API origin itself,
which is how the local simulator serves media (over http, on 127.0.0.1).
"""

from __future__ import annotations

from urllib.parse import urlsplit

META_MEDIA_HOSTS = frozenset({"lookaside.fbsbx.com"})
META_MEDIA_DOMAINS = (".fbcdn.net", ".whatsapp.net")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters no legitimate address of Meta's holds, and that URL parsers disagree about.
_AMBIGUOUS = frozenset("\\ \t\r\n\x00")

Origin = tuple[str, str, int]


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) of an absolute http(s) URL without credentials; None for anything else."""
    if _AMBIGUOUS.intersection(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host or parts.username is not None or parts.password is not None:
        return None
    return scheme, host, port or _DEFAULT_PORTS[scheme]


class TrustedHosts:
    """Meta's media hosts over https, plus the Graph API origin we are configured with."""

    def __init__(self, graph_api_url: str) -> None:
        graph = origin_of(graph_api_url)
        if graph is None:
            raise ValueError(f"the Graph API address is not an http(s) URL: {graph_api_url!r}")
        self.graph = graph

    def trusts(self, url: str) -> bool:
        origin = origin_of(url)
        if origin is None:
            return False
        if origin == self.graph:
            return True
        scheme, host, port = origin
        meta = host in META_MEDIA_HOSTS or host.endswith(META_MEDIA_DOMAINS)
        return scheme == "https" and port == 443 and meta
