"""Kubernetes' name syntaxes (DNS-1123, DNS-1035, qualified names, label values, config keys).

Each check returns the list of problems in Kubernetes' wording (empty when the value is fine), so callers
can wrap them in causes at the field they are checking.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

_LABEL_1123 = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = _LABEL_1123 + r"(\." + _LABEL_1123 + ")*"
_LABEL_1035 = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _QUALIFIED_NAME + ")?"
_CONFIG_KEY = "[-._a-zA-Z0-9]+"
_C_IDENTIFIER = "[A-Za-z_][A-Za-z0-9_]*"
_IANA_SVC_NAME = "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"

_label_1123 = re.compile(_LABEL_1123).fullmatch
_subdomain = re.compile(_SUBDOMAIN).fullmatch
_label_1035 = re.compile(_LABEL_1035).fullmatch
_qualified_name = re.compile(_QUALIFIED_NAME).fullmatch
_label_value = re.compile(_LABEL_VALUE).fullmatch
_config_key = re.compile(_CONFIG_KEY).fullmatch

Check = Callable[[str], list[str]]


def _regex_error(what: str, pattern: str, examples: tuple[str, ...]) -> str:
    shown = ",  or ".join(f"'{e}'" for e in examples)
    return f"{what} (e.g. {shown}, regex used for validation is '{pattern}')"


SUBDOMAIN_MSG = _regex_error(
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character",
    _SUBDOMAIN,
    ("example.com",),
)
LABEL_1123_MSG = _regex_error(
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character",
    _LABEL_1123,
    ("my-name", "123-abc"),
)
LABEL_1035_MSG = _regex_error(
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character",
    _LABEL_1035,
    ("my-name", "abc-123"),
)
QUALIFIED_NAME_MSG = _regex_error(
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character",
    _QUALIFIED_NAME,
    ("MyName", "my.name", "123-abc"),
)
LABEL_VALUE_MSG = _regex_error(
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character",
    _LABEL_VALUE,
    ("MyValue", "my_value", "12345"),
)
CONFIG_KEY_MSG = _regex_error(
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
    _CONFIG_KEY,
    ("key.name", "KEY_NAME", "key-name"),
)


def _cached_validity(check: Check) -> Check:
    """Names repeat (label keys, namespaces, config keys), so remember which are valid; errors are rebuilt."""
    valid = functools.lru_cache(maxsize=8192)(lambda value: not check(value))

    @functools.wraps(check)
    def cached(value: str) -> list[str]:
        return [] if valid(value) else check(value)

    return cached


def _too_long(limit: int) -> str:
    return f"must be no more than {limit} characters"


@_cached_validity
def dns1123_subdomain(value: str) -> list[str]:
    errors = [_too_long(253)] if len(value) > 253 else []
    if not _subdomain(value):
        errors.append(SUBDOMAIN_MSG)
    return errors


@_cached_validity
def dns1123_label(value: str) -> list[str]:
    errors = [_too_long(63)] if len(value) > 63 else []
    if not _label_1123(value):
        errors.append(LABEL_1123_MSG)
    return errors


@_cached_validity
def dns1035_label(value: str) -> list[str]:
    errors = [_too_long(63)] if len(value) > 63 else []
    if not _label_1035(value):
        errors.append(LABEL_1035_MSG)
    return errors


@_cached_validity
def qualified_name(value: str) -> list[str]:
    """Label and annotation keys: ``[prefix/]name`` with a DNS-1123 subdomain prefix."""
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
        errors: list[str] = []
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors = ["prefix part must be non-empty"]
        else:
            errors = ["prefix part " + e for e in dns1123_subdomain(prefix)]
    else:
        return [
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            f"validation is '{_QUALIFIED_NAME}') with an optional DNS subdomain prefix and '/' "
            "(e.g. 'example.com/MyName')"
        ]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part " + _too_long(63))
    if name and not _qualified_name(name):
        errors.append(QUALIFIED_NAME_MSG)
    return errors


@_cached_validity
def label_value(value: str) -> list[str]:
    errors = [_too_long(63)] if len(value) > 63 else []
    if not _label_value(value):
        errors.append(LABEL_VALUE_MSG)
    return errors


@_cached_validity
def config_key(value: str) -> list[str]:
    errors = [_too_long(253)] if len(value) > 253 else []
    if not _config_key(value):
        errors.append(CONFIG_KEY_MSG)
    if value in (".", ".."):
        errors.append(f"must not be '{value}'")
    elif value.startswith(".."):
        errors.append("must not start with '..'")
    return errors


def c_identifier(value: str) -> list[str]:
    if re.fullmatch(_C_IDENTIFIER, value):
        return []
    return [
        _regex_error(
            "a valid C identifier must start with alphabetic character or '_', followed by a string of "
            "alphanumeric characters or '_'",
            _C_IDENTIFIER,
            ("my_name", "MY_NAME", "MyName"),
        )
    ]


def port_name(value: str) -> list[str]:
    """IANA service names, as container and service port names must be."""
    errors = []
    if len(value) > 15:
        errors.append(_too_long(15))
    if not re.match(_IANA_SVC_NAME, value):
        errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in value:
        errors.append("must not contain consecutive hyphens")
    if not re.search("[a-z]", value):
        errors.append("must contain at least one letter (a-z)")
    return errors
