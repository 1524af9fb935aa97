"""Kubernetes protobuf request bodies, decoded to the JSON-shaped dicts the rest of the API works with.

``wire`` reads the protobuf wire format, ``k8s_messages`` is the generated table of Kubernetes messages,
``messages`` turns one message into its JSON form and ``envelope`` unwraps the ``k8s\\x00`` + runtime.Unknown
envelope that kubectl and client-go send.
"""

from edgeplane.api.protobuf.envelope import UnsupportedKind, decode_object, message_for
from edgeplane.api.protobuf.wire import DecodeError

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

__all__ = ["MEDIA_TYPE", "DecodeError", "UnsupportedKind", "decode_object", "message_for"]
