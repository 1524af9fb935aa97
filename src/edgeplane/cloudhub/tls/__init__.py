"""A lean TLS 1.3 server for hub connections: OpenSSL does the mutual-TLS handshake, then a record layer
of a few hundred bytes carries the connection (``transport.py``); ``clienthello.py`` routes connections
by the ALPN protocols they offer."""

from edgeplane.cloudhub.tls.clienthello import ClientHello, parse_client_hello, peek_client_hello
from edgeplane.cloudhub.tls.handshake import LeanTLSContext
from edgeplane.cloudhub.tls.transport import LeanTLSProtocol, LeanTLSTransport

__all__ = ["ClientHello", "LeanTLSContext", "LeanTLSProtocol", "LeanTLSTransport", "parse_client_hello",
           "peek_client_hello"]
