"""The three PATCH bodies Kubernetes accepts, applied to a stored object.

- JSON patch (RFC 6902, ``application/json-patch+json``);
- JSON merge patch (RFC 7386, ``application/merge-patch+json``);
- strategic merge patch (``application/strategic-merge-patch+json``), the one kubectl sends for built-in
  types, following k8s.io/apimachinery/pkg/util/strategicpatch as the API server runs it (parallel delete
  lists merged, nulls that match nothing ignored).

Every function returns a new document and leaves its arguments untouched. Failures raise ``PatchError``
carrying the status kube-apiserver answers: 422 when a well-formed patch does not apply (a failed ``test``, a
missing path) and 400 when the patch itself is malformed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from edgeplane.api.errors import APIError, Cause, bad_request, internal
from edgeplane.api.patchmeta import PatchMeta

# kube-apiserver puts this text on every 422 from a patch and the patch library's message in a cause.
REJECTED = "the server rejected our request due to an error in our request"


class PatchError(Exception):
    """A patch that cannot be applied; ``code`` is the HTTP status to answer (422, 400 or 500)."""

    def __init__(self, message: str, *, code: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def api_error(self) -> APIError:
        """The Status kube-apiserver returns for this failure."""
        if self.code == 422:
            return APIError(
                422, "Invalid", REJECTED, causes=[Cause("UnexpectedServerResponse", self.message)]
            )
        if self.code == 500:
            return internal(self.message)
        return bad_request(self.message)


def _copy(value: Any) -> Any:
    """Deep copy of decoded JSON (much faster than copy.deepcopy, which handles arbitrary objects)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _show(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: 1 == 1.0, but true is not 1 (Python's bool is an int)."""
    kind = _json_kind(a)
    if kind != _json_kind(b):
        return False
    if kind == "object":
        return a.keys() == b.keys() and all(_json_equal(v, b[k]) for k, v in a.items())
    if kind == "array":
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# ---------------------------------------------------------------------------------------------------------
# JSON patch (RFC 6902). Messages follow the JSON patch library kube-apiserver uses.

_OPS = ("add", "remove", "replace", "move", "copy", "test")
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_BAD_ESCAPE = re.compile(r"~(?![01])")


def apply_json_patch(doc: dict, ops: list) -> dict:
    """Apply RFC 6902 operations in order; all of them or none (the input is never changed)."""
    if not isinstance(ops, list):
        raise PatchError(
            f"invalid JSON patch: must be an array of operations, got {_json_kind(ops)}", code=400
        )
    result: Any = _copy(doc)
    for index, op in enumerate(ops):
        if not isinstance(op, dict):
            raise PatchError(
                f"invalid JSON patch: operation {index} must be an object, got {_json_kind(op)}", code=400
            )
        result = _apply_operation(result, op, index)
    if not isinstance(result, dict):
        raise PatchError(f"the patched document must be an object, got {_json_kind(result)}")
    return result


def _apply_operation(doc: Any, op: dict, index: int) -> Any:
    kind = op.get("op")
    if kind not in _OPS:
        raise PatchError(
            f"Unexpected kind: {kind if kind is not None else 'unknown'} (operation {index}; "
            f"op must be one of {', '.join(_OPS)})"
        )
    path = _member(op, "path", index)
    tokens = _pointer(path, index, "path")
    if kind in ("add", "replace", "test") and "value" not in op:
        raise PatchError(f'{kind} operation at index {index} is missing its "value" member')
    if kind == "add":
        return _add(doc, tokens, _copy(op["value"]), path, "add")
    if kind == "remove":
        _remove(doc, tokens, path, "remove")
        return doc
    if kind == "replace":
        return _replace(doc, tokens, _copy(op["value"]), path)
    if kind == "test":
        found, value = _get(doc, tokens)
        if not found or not _json_equal(value, op["value"]):
            raise PatchError(f"testing value {path} failed: test failed")
        return doc
    source = _member(op, "from", index)
    source_tokens = _pointer(source, index, "from")
    found, value = _get(doc, source_tokens)
    if not found:
        raise PatchError(
            f'{kind} operation does not apply: doc is missing from path: "{source}": missing value'
        )
    if kind == "copy":
        return _add(doc, tokens, _copy(value), path, "copy")
    if source_tokens == tokens:
        return doc
    if tokens[: len(source_tokens)] == source_tokens:
        raise PatchError(f'move operation does not apply: cannot move "{source}" into its own child "{path}"')
    _remove(doc, source_tokens, source, "move")
    return _add(doc, tokens, value, path, "move")


def _member(op: dict, name: str, index: int) -> str:
    if name not in op:
        raise PatchError(f'operation {index} ({op.get("op")}) is missing its "{name}" member')
    value = op[name]
    if not isinstance(value, str):
        raise PatchError(f'operation {index}: "{name}" must be a string, got {_json_kind(value)}')
    return value


def _pointer(pointer: str, index: int, member: str) -> list[str]:
    """RFC 6901 reference tokens: ``/a~1b/~0c`` names key ``a/b`` then key ``~c``."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(
            f'operation {index}: {member} "{pointer}" is not a JSON pointer: must start with "/"'
        )
    if _BAD_ESCAPE.search(pointer):
        raise PatchError(f'operation {index}: {member} "{pointer}" has a "~" not followed by 0 or 1')
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(token: str, size: int, *, allow_end: bool) -> int:
    """The array position ``token`` names: 0..size-1, or size for an add (``-`` or ``size`` itself)."""
    if allow_end and token == "-":
        return size
    if not _ARRAY_INDEX.fullmatch(token):
        raise PatchError(f"Unable to access invalid index: {token}: invalid index referenced")
    position = int(token)
    if position > size or (position == size and not allow_end):
        raise PatchError(f"Unable to access invalid index: {position}: invalid index referenced")
    return position


def _get(doc: Any, tokens: list[str]) -> tuple[bool, Any]:
    node = doc
    for token in tokens:
        if isinstance(node, dict):
            if token not in node:
                return False, None
            node = node[token]
        elif isinstance(node, list):
            if not _ARRAY_INDEX.fullmatch(token) or int(token) >= len(node):
                return False, None
            node = node[int(token)]
        else:
            return False, None
    return True, node


def _container(doc: Any, tokens: list[str], path: str, verb: str) -> Any:
    """The object or array holding the last token of ``tokens``."""
    found, parent = _get(doc, tokens[:-1])
    if not found or not isinstance(parent, dict | list):
        raise PatchError(f'{verb} operation does not apply: doc is missing path: "{path}": missing value')
    return parent


def _add(doc: Any, tokens: list[str], value: Any, path: str, verb: str) -> Any:
    if not tokens:
        return value
    parent = _container(doc, tokens, path, verb)
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    else:
        parent.insert(_index(tokens[-1], len(parent), allow_end=True), value)
    return doc


def _remove(doc: Any, tokens: list[str], path: str, verb: str) -> None:
    missing = f'{verb} operation does not apply: doc is missing path: "{path}": missing value'
    if not tokens:
        raise PatchError(f"{verb} operation does not apply: the whole document cannot be removed")
    parent = _container(doc, tokens, path, verb)
    if isinstance(parent, dict):
        if tokens[-1] not in parent:
            raise PatchError(missing)
        del parent[tokens[-1]]
    else:
        del parent[_index(tokens[-1], len(parent), allow_end=False)]


def _replace(doc: Any, tokens: list[str], value: Any, path: str) -> Any:
    if not tokens:
        return value
    found, _ = _get(doc, tokens)
    if not found:
        raise PatchError(f"replace operation does not apply: doc is missing key: {path}: missing value")
    parent = _container(doc, tokens, path, "replace")
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    else:
        parent[int(tokens[-1])] = value
    return doc


# ---------------------------------------------------------------------------------------------------------
# JSON merge patch (RFC 7386).


def apply_merge_patch(doc: dict, patch: dict) -> dict:
    """Objects merge key by key, null deletes a key, anything else (lists too) replaces."""
    if not isinstance(patch, dict):
        raise PatchError(f"invalid merge patch: must be an object, got {_json_kind(patch)}", code=400)
    return _merge_object(_copy(doc) if isinstance(doc, dict) else {}, patch)


def _merge_object(target: dict, patch: dict) -> dict:
    """Merge ``patch`` (read only) into ``target`` (owned, changed in place)."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict):
            current = target.get(key)
            target[key] = _merge_object(current if isinstance(current, dict) else {}, value)
        else:
            target[key] = _copy(value)
    return target


# ---------------------------------------------------------------------------------------------------------
# Strategic merge patch.

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
_SET_ELEMENT_ORDER = "$setElementOrder"


class _NoMeta:
    """What is known about a field the schema does not describe: nothing (lists replace, maps merge)."""

    merge_key: str | None = None
    strategies: tuple[str, ...] = ()

    def field(self, name: str) -> PatchMeta | None:
        return None

    def items(self) -> PatchMeta | None:
        return None


_NO_META: PatchMeta = _NoMeta()


def apply_strategic_merge_patch(doc: dict, patch: dict, meta: PatchMeta | None) -> dict:
    """Kubernetes' strategic merge patch; with no meta (types without patch metadata) a JSON merge patch.

    One deliberate difference: values the patch supplies wholesale (a replaced list, an appended list item)
    are cleaned of directives and nulls. Kubernetes leaves them in and its typed decoding drops them right
    after; edgeplane stores the result as it is, so it drops them here.
    """
    if meta is None:
        return apply_merge_patch(doc, patch)
    if not isinstance(patch, dict):
        raise PatchError(
            f"invalid strategic merge patch: must be an object, got {_json_kind(patch)}", code=400
        )
    return _merge_map(_copy(doc) if isinstance(doc, dict) else {}, _copy(patch), meta)


def _bad(message: str) -> PatchError:
    return PatchError(message, code=400)


def _field_meta(meta: PatchMeta, key: str) -> PatchMeta:
    child = meta.field(key)
    if child is None:
        child = meta.items()  # a map's values (additionalProperties)
    return child if child is not None else _NO_META


def _strategy(meta: PatchMeta, key: str) -> str:
    """The field's strategy other than retainKeys (which only the ``$retainKeys`` directive acts on)."""
    strategies = tuple(meta.strategies)
    others = [s for s in strategies if s != "retainKeys"]
    if len(strategies) > 2 or len(others) > 1:
        raise PatchError(f"unexpected patch strategy for field {key!r}: {list(strategies)}", code=500)
    return others[0] if others else ""


def _merge_map(original: dict, patch: dict, meta: PatchMeta) -> dict:
    """Merge ``patch`` into ``original``; both are owned copies and are changed in place."""
    if _DIRECTIVE in patch:
        directive = patch[_DIRECTIVE]
        if directive == "replace":
            del patch[_DIRECTIVE]
            return _clean(patch)
        if directive == "delete":
            return {}
        raise _bad(f"unknown patch type: {directive} in map: {_show(patch)}")
    _apply_retain_keys(original, patch)
    _merge_ordered_lists(original, patch, meta)
    for key, value in list(patch.items()):
        is_delete_list = key.startswith(_DELETE_FROM_PRIMITIVE_LIST)
        if is_delete_list:
            key = _directive_target(key, _DELETE_FROM_PRIMITIVE_LIST)
        if value is None:
            original.pop(key, None)
            continue
        current = original.get(key)
        if key not in original or _shape(current) != _shape(value):
            if not is_delete_list:
                _set_clean(original, key, value)
            continue
        if isinstance(value, dict):
            field = _field_meta(meta, key)
            if _strategy(field, key) == "replace":
                _set_clean(original, key, value)
            else:
                original[key] = _merge_map(current, value, field)
        elif isinstance(value, list):
            original[key] = _merge_list_field(current, value, _field_meta(meta, key), key, is_delete_list)
        else:
            original[key] = value
    return original


def _shape(value: Any) -> str:
    return "map" if isinstance(value, dict) else "list" if isinstance(value, list) else "scalar"


def _set_clean(target: dict, key: str, value: Any) -> None:
    cleaned = _clean(value)
    if cleaned is _DROP:
        target.pop(key, None)
    else:
        target[key] = cleaned


_DROP: Any = object()


def _clean(value: Any) -> Any:
    """``value`` without nulls and directives; a map carrying ``$patch`` is dropped (``_DROP``) entirely."""
    if isinstance(value, dict):
        if _DIRECTIVE in value:
            return _DROP
        for key in list(value):
            item = value[key]
            if item is None or _is_directive_key(key):
                del value[key]
                continue
            cleaned = _clean(item)
            if cleaned is _DROP:
                del value[key]
            else:
                value[key] = cleaned
        return value
    if isinstance(value, list):
        return [c for c in (_clean(item) for item in value) if c is not _DROP]
    return value


def _is_directive_key(key: str) -> bool:
    return key == _RETAIN_KEYS or key.startswith(
        (_SET_ELEMENT_ORDER + "/", _DELETE_FROM_PRIMITIVE_LIST + "/")
    )


def _directive_target(key: str, prefix: str) -> str:
    """``$setElementOrder/containers`` -> ``containers``."""
    head, sep, target = key.partition("/")
    if not sep or head != prefix:
        kind = "primitive list" if prefix == _DELETE_FROM_PRIMITIVE_LIST else "setElementOrder list"
        raise _bad(f'invalid patch format of {kind}: "{key}" must be "{prefix}/<field>"')
    return target


def _apply_retain_keys(original: dict, patch: dict) -> None:
    """``$retainKeys``: clear the fields of ``original`` it does not list (union members being switched)."""
    if _RETAIN_KEYS not in patch:
        return
    retain = patch.pop(_RETAIN_KEYS)
    if not isinstance(retain, list):
        raise _bad(f"invalid patch format of retainKeys: must be a list, got {_json_kind(retain)}")
    keep = {k for k in retain if isinstance(k, str)}
    for key, value in patch.items():
        if value is None or key.startswith((_DELETE_FROM_PRIMITIVE_LIST, _SET_ELEMENT_ORDER)):
            continue
        if key not in keep:
            raise _bad(f'invalid patch format of retainKeys: field "{key}" is patched but not in $retainKeys')
    for key in [k for k in original if k not in keep]:
        del original[key]


def _merge_list_field(original: list, patch: list, field: PatchMeta, key: str, is_delete_list: bool) -> list:
    # Delete lists are handled the same way whatever the field's strategy is.
    if is_delete_list or _strategy(field, key) == "merge":
        items = field.items() or _NO_META
        return _merge_list(original, patch, items, field.merge_key or "", key, is_delete_list)
    return _clean(patch)


def _element_kind(key: str, *lists: list) -> str:
    """The one kind all elements share: map, string, number, boolean or null."""
    kind = ""
    for items in lists:
        for item in items:
            this = _json_kind(item)
            if this == "array":
                raise PatchError(f'field "{key}": lists of lists are not supported')
            if not kind:
                kind = "map" if this == "object" else this
            elif kind != ("map" if this == "object" else this):
                raise _bad(f'field "{key}": list element types are not identical: {_show(list(lists))}')
    return kind


def _merge_list(
    original: list, patch: list, item_meta: PatchMeta, merge_key: str, key: str, is_delete_list: bool
) -> list:
    if not original and not patch:
        return original
    kind = _element_kind(key, original, patch)
    if kind != "map":
        if is_delete_list:
            doomed = {_identity(v) for v in patch}
            return [v for v in original if _identity(v) not in doomed]
        merged = list({_identity(v): v for v in original + patch}.values())
        merge_key = ""
    else:
        if not merge_key:
            raise _bad(f'cannot merge lists without merge key for field "{key}"')
        original, patch = _apply_item_directives(original, patch, merge_key)
        merged = _merge_items(original, patch, merge_key, item_meta)
    in_patch, server_only = _partition(merged, patch, merge_key)
    return _normalize_order(in_patch, server_only, patch, original, merge_key)


def _apply_item_directives(original: list, patch: list, merge_key: str) -> tuple[list, list]:
    """Handle list items carrying ``$patch``; returns the new original and the patch without them."""
    plain = []
    replace = False
    for item in patch:
        if _DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[_DIRECTIVE]
        if directive == "delete":
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            doomed = _identity(item[merge_key])
            original = [o for o in original if merge_key not in o or _identity(o[merge_key]) != doomed]
        elif directive == "replace":
            replace = True  # keep going: other directive items are still pruned
        elif directive == "merge":
            raise _bad("merging lists cannot yet be specified in the patch")
        else:
            raise _bad(f"unknown patch type: {directive} in map: {_show(item)}")
    if replace:
        return _clean(plain), []
    return original, plain


def _merge_items(original: list, patch: list, merge_key: str, item_meta: PatchMeta) -> list:
    merged = list(original)
    for item in patch:
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        wanted = _identity(item[merge_key])
        for position, existing in enumerate(merged):
            if merge_key in existing and _identity(existing[merge_key]) == wanted:
                merged[position] = _merge_map(existing, item, item_meta)
                break
        else:
            cleaned = _clean(item)
            if cleaned is not _DROP:
                merged.append(cleaned)
    return merged


def _no_merge_key(item: Any, merge_key: str) -> PatchError:
    return _bad(f"map: {_show(item)} does not contain declared merge key: {merge_key}")


def _identity(value: Any) -> Any:
    """A hashable stand-in for a JSON value, equal only for equal values of the same type."""
    if isinstance(value, dict | list):
        return ("json", _show(value, limit=1 << 30))
    return (type(value), value)


def _order_key(item: Any, merge_key: str) -> Any:
    if merge_key:
        return _identity(item.get(merge_key)) if isinstance(item, dict) else _identity(None)
    return _identity(item)


def _partition(merged: list, by: list, merge_key: str) -> tuple[list, list]:
    """Split ``merged`` into the items ``by`` names and the ones only the server has."""
    if merge_key:
        for item in merged:
            if not isinstance(item, dict) or merge_key not in item:
                raise _no_merge_key(item, merge_key)
        for item in by:
            if not isinstance(item, dict):
                raise _bad(f"{_show(item)} is not a map")
        named = {_identity(item[merge_key]) for item in by if merge_key in item}
    else:
        named = {_identity(item) for item in by}
    in_patch, server_only = [], []
    for item in merged:
        (in_patch if _order_key(item, merge_key) in named else server_only).append(item)
    return in_patch, server_only


def _positions(order: list, merge_key: str) -> dict[Any, int]:
    positions: dict[Any, int] = {}
    for position, item in enumerate(order):
        positions.setdefault(_order_key(item, merge_key), position)
    return positions


def _sorted_by(items: list, order: list, merge_key: str) -> list:
    """``items`` in the relative order of ``order``; items deleting themselves go last."""
    doomed = []
    if merge_key:
        for item in [*items, *order]:
            if not isinstance(item, dict) or merge_key not in item:
                raise _no_merge_key(item, merge_key)
        doomed = [i for i in items if i.get(_DIRECTIVE) == "delete"]
        items = [i for i in items if i.get(_DIRECTIVE) != "delete"]
    positions = _positions(order, merge_key)
    return sorted(items, key=lambda item: positions.get(_order_key(item, merge_key), -1)) + doomed


def _normalize_order(
    in_patch: list, server_only: list, patch_order: list, server_order: list, merge_key: str
) -> list:
    """Patch items keep the patch's order, server-only items the live order, interleaved by the live order."""
    right = _sorted_by(in_patch, patch_order, merge_key)
    left = _sorted_by(server_only, server_order, merge_key)
    positions = _positions(server_order, merge_key)
    out: list = []
    i = j = 0
    while i < len(left) and j < len(right):
        li = positions.get(_order_key(left[i], merge_key), -1)
        ri = positions.get(_order_key(right[j], merge_key), -1)
        if 0 <= li < ri:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    return out + left[i:] + right[j:]


def _merge_ordered_lists(original: dict, patch: dict, meta: PatchMeta) -> None:
    """Apply each ``$setElementOrder/<field>`` together with the patch list of that field.

    Precedence of order: the directive, then the patch list, then the live list.
    """
    for directive_key in [k for k in patch if k.startswith(_SET_ELEMENT_ORDER)]:
        order = patch.pop(directive_key)
        key = _directive_target(directive_key, _SET_ELEMENT_ORDER)
        if not isinstance(order, list):
            raise _bad(f'invalid patch format of setElementOrder list: "{directive_key}" must be a list')
        live, patched = original.get(key), patch.get(key)
        if key in original and not isinstance(live, list):
            raise _bad(f'field "{key}": expected a list in the object, got {_json_kind(live)}')
        if key in patch and not isinstance(patched, list):
            raise _bad(f'field "{key}": expected a list in the patch, got {_json_kind(patched)}')
        field = _field_meta(meta, key)
        merge_key = field.merge_key or ""
        _validate_order(patched or [], order, merge_key, directive_key)
        if live is None and patched is None:
            continue
        if patched is None:
            merged = live
        elif live is None:
            merged = _clean(patched)
        else:
            merged = _merge_list_field(live, patched, field, key, False)
        if _element_kind(key, live or [], patched or []) != "map":
            merge_key = ""
        in_patch, server_only = _partition(merged, order, merge_key)
        original[key] = _normalize_order(in_patch, server_only, order, live or [], merge_key)
        patch.pop(key, None)


def _validate_order(patched: list, order: list, merge_key: str, directive_key: str) -> None:
    """The patch list's items must appear in ``$setElementOrder`` and in the same relative order."""
    if not order or not patched:
        return
    if merge_key:
        for item in [*patched, *order]:
            if not isinstance(item, dict):
                raise _bad(f"{directive_key}: expected a map, got {_show(item)}")
        patched = [i for i in patched if i.get(_DIRECTIVE) != "delete"]
    p = o = 0
    while p < len(patched) and o < len(order):
        item = patched[p]
        if isinstance(item, dict) and _DIRECTIVE in item:
            p += 1
            continue
        if merge_key:
            for side in (item, order[o]):
                if merge_key not in side:
                    raise _no_merge_key(side, merge_key)
            same = _identity(item[merge_key]) == _identity(order[o][merge_key])
        else:
            same = _identity(item) == _identity(order[o])
        if same:
            p += 1
        o += 1
    if p < len(patched):
        raise _bad(
            f"the order in patch list:\n{_show(patched)}\n doesn't match {directive_key} list:\n{_show(order)}"
        )
