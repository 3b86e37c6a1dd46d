"""POSTing to a webhook URL without becoming a way into the host's private network.

Only http and https; the host name is resolved once, every address it resolves to
is checked, and the connection goes to a checked address (so a DNS answer that
changes between the check and the connect, "DNS rebinding", cannot redirect it).
Private, loopback, link-local, multicast, reserved and other non-global addresses
are refused unless the operator allows them (L4D2_WEBHOOKS_ALLOW_PRIVATE=1).
Redirects are never followed. The stdlib is enough: http.client lets the
connection be pinned to the checked address while TLS still verifies the name.
"""

import http.client
import ipaddress
import socket
import ssl
from typing import NamedTuple
from urllib.parse import urlsplit

NAT64 = ipaddress.ip_network("64:ff9b::/96")
BODY_KEPT = 300  # characters of an error answer kept for the delivery log


class Refused(Exception):
    """The URL or the address it resolves to is not allowed; trying again will not help."""


class Response(NamedTuple):
    status: int
    reason: str
    retry_after: str | None
    body: str


def url_problem(url):
    """Why `url` can never be a webhook (scheme, host, credentials), or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        return "That is not a valid URL."
    if parts.scheme not in ("http", "https"):
        return "Only http:// and https:// URLs can be webhooks."
    if not parts.hostname:
        return "The URL has no host name."
    if parts.username or parts.password:
        return "Put credentials in the URL's path or query, not as user:password@."
    return None


def address_problem(address):
    """Why a connection to `address` is refused ("a loopback address"), or None if it is global."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    embedded = None
    if ip.version == 6:
        if ip.ipv4_mapped:
            embedded = ip.ipv4_mapped
        elif ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour:
            embedded = ip.sixtofour
        elif ip.teredo:
            embedded = ip.teredo[1]
    if embedded is not None and (reason := address_problem(str(embedded))):
        return reason
    # Most telling first: 169.254.169.254 is "private" too, but "link-local" says why it matters.
    for kind in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{kind}"):
            name = kind.replace("_", "-")
            return f"{'an' if name[0] in 'aeiou' else 'a'} {name} address"
    if not ip.is_global:
        return "not a public address"
    return None


def resolve(host, port):
    """Every address `host` resolves to (raises OSError if it does not)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def checked_addresses(host, port, *, allow_private):
    """The addresses to connect to; Refused if any of them is not allowed."""
    addresses = resolve(host, port)
    if not allow_private:
        for address in addresses:
            if reason := address_problem(address):
                raise Refused(
                    f"{host} resolves to {address}, {reason}: refused "
                    "(the host's operator can allow it with L4D2_WEBHOOKS_ALLOW_PRIVATE=1)."
                )
    return addresses


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to the checked addresses only (the first that answers); the Host header still names the host."""

    def __init__(self, host, port, *, addresses, timeout):
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def connect(self):
        error = OSError(f"no address to connect to for {self.host}")
        for address in self.addresses:
            try:
                self.sock = socket.create_connection((address, self.port), self.timeout)
                return
            except OSError as exc:
                error = exc
        raise error


class _PinnedHTTPS(_PinnedHTTP):
    default_port = http.client.HTTPS_PORT

    def connect(self):
        super().connect()
        # The certificate must still be valid for the host name, not the address.
        self.sock = ssl.create_default_context().wrap_socket(self.sock, server_hostname=self.host)


def post(url, data, headers, *, timeout, allow_private):
    """POST `data` to `url`; the receiver's Response, Refused, or OSError/HTTPException on failure."""
    if problem := url_problem(url):
        raise Refused(problem)
    parts = urlsplit(url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    addresses = checked_addresses(parts.hostname, port, allow_private=allow_private)
    connection_class = _PinnedHTTPS if https else _PinnedHTTP
    connection = connection_class(parts.hostname, port, addresses=addresses, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=data, headers=headers)
        answer = connection.getresponse()
        text = answer.read(BODY_KEPT * 4).decode("utf-8", "replace")[:BODY_KEPT]
        return Response(answer.status, answer.reason, answer.getheader("Retry-After"), text)
    finally:
        connection.close()
