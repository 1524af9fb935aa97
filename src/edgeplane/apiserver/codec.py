"""Request bodies in, response bodies out: JSON and YAML decoding, JSON encoding, content negotiation."""

from __future__ import annotations

from typing import Any

import orjson
import yaml

from edgeplane.api import errors, protobuf

MAX_BODY_BYTES = 3 * 1024 * 1024  # kube-apiserver's limit for a request body

JSON = "application/json"
YAML = "application/yaml"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)


def media_type(content_type: str | None) -> str:
    return (content_type or JSON).split(";", 1)[0].strip().lower()


def decode_body(raw: bytes, content_type: str | None) -> Any:
    """Decodes a JSON or YAML body; malformed input is a 400 that says where it broke."""
    kind = media_type(content_type)
    if not raw.strip():
        raise errors.bad_request("the request body is empty: expected a JSON or YAML object")
    if kind in (JSON, MERGE_PATCH, STRATEGIC_MERGE_PATCH, JSON_PATCH) or kind.endswith("+json"):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None
    if kind in (YAML, "application/x-yaml", "text/yaml", APPLY_PATCH):
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"error converting YAML to JSON: {_one_line(str(exc))}") from None
    if kind == protobuf.MEDIA_TYPE:
        try:
            return protobuf.decode_object(raw)
        except protobuf.UnsupportedKind as exc:
            raise errors.unsupported_media_type(
                f"{exc}: send this kind as application/json or application/yaml"
            ) from None
        except protobuf.DecodeError as exc:
            raise errors.bad_request(f"unable to decode the protobuf body: {exc}") from None
    raise errors.unsupported_media_type(
        f'the body of the request was in an unknown format "{kind}" - accepted media types include: '
        "application/json, application/yaml"
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def encode(obj: Any) -> bytes:
    return orjson.dumps(obj)


# -- content negotiation -------------------------------------------------------------------------------


def wants_table(accept: str | None) -> bool:
    """kubectl get asks ``application/json;as=Table;v=v1;g=meta.k8s.io, application/json``."""
    if not accept or "as=Table" not in accept:
        return False
    for part in accept.split(","):
        params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in part.split(";")[1:])}
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            return True
    return False


def table_version(accept: str | None) -> str:
    return "meta.k8s.io/v1beta1" if accept and "v=v1beta1" in accept and "v=v1;" not in accept else "meta.k8s.io/v1"


def wants_yaml(accept: str | None) -> bool:
    return bool(accept) and media_type(accept.split(",")[0]) in (YAML, "application/x-yaml")
