"""Create, read, update, patch and delete of one resource type over the revisioned store.

This is where Kubernetes' object semantics live: system metadata, optimistic concurrency, the status
subresource, generation, graceful deletion and finalizers, dry runs. The HTTP layer above only
decodes requests and encodes answers.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from edgeplane.api import errors
from edgeplane.api.registry import ResourceType
from edgeplane.apiserver.objectmeta import generated_name, meta, new_uid, now_rfc3339
from edgeplane.apiserver.strategies import PREPARE_FOR_CREATE
from edgeplane.store.interface import (
    CompactedError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    RevisionConflictError,
    Store,
)

# Kinds whose spec changes bump metadata.generation (as their Kubernetes strategies do).
_GENERATION_KINDS = frozenset(
    {"Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "CustomResourceDefinition", "NodePool", "YurtAppSet"}
)
# Kinds whose status is reset on create (their Kubernetes strategies' PrepareForCreate).
_STATUS_RESET_ON_CREATE = frozenset({"Deployment", "ReplicaSet", "DaemonSet", "Service", "CustomResourceDefinition"})
_CONFLICT_RETRIES = 8
_MODIFIED_MSG = "the object has been modified; please apply your changes to the latest version and try again"


def registry_prefix(rt: ResourceType) -> str:
    return f"/registry/{rt.group or 'core'}/{rt.plural}/"


@dataclass(slots=True)
class WriteOptions:
    dry_run: bool = False
    field_validation: str = "Warn"  # Strict | Warn | Ignore
    field_manager: str = ""


@dataclass(slots=True)
class WriteResult:
    obj: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    created: bool = False


@dataclass(slots=True)
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None  # Orphan | Background | Foreground
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False


@dataclass(slots=True)
class ListPage:
    items: list[dict[str, Any]]
    revision: int
    continue_token: str = ""


# An admission hook: called before a write is stored, may change the object or raise an APIError.
Admission = Callable[[str, ResourceType, dict[str, Any], dict[str, Any] | None], Awaitable[None]]


def decode(kv: KeyValue) -> dict[str, Any]:
    obj = orjson.loads(kv.value)
    obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
    return obj


def encode_for_store(obj: dict[str, Any]) -> bytes:
    # The revision is the store's to assign: never persist a resourceVersion inside the value.
    m = obj["metadata"]
    rv = m.pop("resourceVersion", None)
    try:
        # A right-sized copy: orjson's result keeps its whole buffer (4 KiB at least), and stored values
        # live on in the store's and the watch caches' rings.
        return bytes(memoryview(orjson.dumps(obj)))
    finally:
        if rv is not None:
            m["resourceVersion"] = rv


class ResourceStorage:
    def __init__(self, rt: ResourceType, store: Store, admission: list[Admission] | None = None) -> None:
        self.rt = rt
        self.store = store
        self.admission = admission or []
        self.prefix = registry_prefix(rt)

    # -- keys ------------------------------------------------------------------------------------

    def key(self, namespace: str, name: str) -> str:
        return f"{self.prefix}{namespace}/{name}" if self.rt.namespaced else f"{self.prefix}{name}"

    def list_prefix(self, namespace: str) -> str:
        return f"{self.prefix}{namespace}/" if self.rt.namespaced and namespace else self.prefix

    def _not_found(self, name: str) -> errors.APIError:
        return errors.not_found(self.rt.plural, self.rt.group, name)

    def _conflict(self, name: str, detail: str = _MODIFIED_MSG) -> errors.APIError:
        return errors.conflict(self.rt.plural, self.rt.group, name, detail)

    # -- reads -----------------------------------------------------------------------------------

    async def get_kv(self, namespace: str, name: str) -> KeyValue:
        kv = await self.store.get(self.key(namespace, name))
        if kv is None:
            raise self._not_found(name)
        return kv

    async def get(self, namespace: str, name: str) -> dict[str, Any]:
        return decode(await self.get_kv(namespace, name))

    async def list_page(
        self,
        namespace: str,
        limit: int,
        continue_token: str,
        revision: int,
        keep: Callable[[dict[str, Any]], bool] | None,
    ) -> ListPage:
        """One page of a paginated list, read from the store at one revision so pages are consistent."""
        prefix = self.list_prefix(namespace)
        start_after: str | None = None
        if continue_token:
            revision, start_after = _decode_continue(continue_token, prefix)
        items: list[dict[str, Any]] = []
        try:
            while True:
                result = await self.store.range(prefix, revision=revision, start_after=start_after, limit=limit)
                revision = result.revision
                for kv in result.kvs:
                    obj = decode(kv)
                    if keep is None or keep(obj):
                        items.append(obj)
                if not result.kvs:
                    return ListPage(items, revision)
                start_after = result.kvs[-1].key
                if not result.more:
                    return ListPage(items, revision)
                if len(items) >= limit:
                    return ListPage(items, revision, _encode_continue(revision, start_after))
        except CompactedError:
            raise errors.gone(
                "The provided continue parameter is too old to display a consistent list result. You can start a "
                "new list without the continue parameter, or use the continue token in this response to retrieve "
                "the remainder of the results."
            ) from None
        except FutureRevisionError as exc:
            raise errors.APIError(
                504, "Timeout", f"Too large resource version: {exc.requested}, current: {exc.current}"
            ) from None

    # -- create ----------------------------------------------------------------------------------

    async def create(self, namespace: str, obj: dict[str, Any], opts: WriteOptions) -> WriteResult:
        rt = self.rt
        m = meta(obj)
        self._check_type(obj)
        if rt.namespaced:
            ns = m.get("namespace") or namespace
            if namespace and ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            m["namespace"] = ns
        else:
            m.pop("namespace", None)
        generate = not m.get("name") and bool(m.get("generateName"))
        if generate:
            m["name"] = generated_name(m["generateName"])
        for system_field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"):
            m.pop(system_field, None)
        m["uid"] = new_uid()
        m["creationTimestamp"] = now_rfc3339()
        if rt.kind in _GENERATION_KINDS or rt.is_crd:
            m["generation"] = 1
        else:
            m.pop("generation", None)
        if rt.kind in _STATUS_RESET_ON_CREATE or (rt.is_crd and "status" in rt.subresources):
            obj.pop("status", None)
        rt.apply_defaults(obj)
        prepare = PREPARE_FOR_CREATE.get((rt.group, rt.kind))
        if prepare:
            prepare(obj)
        warnings = self._validate(obj, None, opts)
        for hook in self.admission:
            await hook("create", rt, obj, None)
        if opts.dry_run:
            return WriteResult(obj, warnings, created=True)
        for _ in range(_CONFLICT_RETRIES):
            try:
                kv = await self.store.create(self.key(m.get("namespace", ""), m["name"]), encode_for_store(obj))
            except KeyExistsError:
                if generate:
                    m["name"] = generated_name(m["generateName"])
                    continue
                raise errors.already_exists(rt.plural, rt.group, m["name"]) from None
            m["resourceVersion"] = str(kv.mod_revision)
            return WriteResult(obj, warnings, created=True)
        raise errors.APIError(
            500, "AlreadyExists", f"could not generate a unique name from generateName {m['generateName']!r}"
        )

    def _check_type(self, obj: Any) -> None:
        rt = self.rt
        if not isinstance(obj, dict):
            raise errors.bad_request(f"the request body must be a {rt.kind} object, not {type(obj).__name__}")
        api_version = obj.get("apiVersion")
        kind = obj.get("kind")
        if api_version and api_version != rt.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({rt.api_version})"
            )
        if kind and kind != rt.kind:
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        if "metadata" in obj and not isinstance(obj["metadata"], dict):
            raise errors.invalid_object(
                rt.kind, rt.group, "", [errors.type_invalid("metadata", obj["metadata"], "object")]
            )

    def _validate(self, obj: dict[str, Any], old: dict[str, Any] | None, opts: WriteOptions) -> list[str]:
        causes, warnings = self.rt.validate(obj, old, opts.field_validation)
        if causes:
            raise errors.invalid_object(self.rt.kind, self.rt.group, obj["metadata"].get("name", ""), causes)
        return warnings

    # -- update ----------------------------------------------------------------------------------

    async def update(
        self, namespace: str, name: str, obj: dict[str, Any], subresource: str, opts: WriteOptions
    ) -> WriteResult:
        self._check_type(obj)
        m = meta(obj)
        if m.get("name") and m["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({m['name']}) does not match the name on the URL ({name})"
            )
        if self.rt.namespaced and m.get("namespace") and m["namespace"] != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        expected = m.get("resourceVersion") or ""
        kv = await self.get_kv(namespace, name)
        if expected and expected != str(kv.mod_revision):
            raise self._conflict(name)
        return await self._write_update(kv, obj, subresource, opts)

    async def guaranteed_update(
        self,
        namespace: str,
        name: str,
        mutate: Callable[[dict[str, Any]], dict[str, Any]],
        subresource: str,
        opts: WriteOptions,
    ) -> WriteResult:
        """Reads the object, applies ``mutate`` (a patch) and writes it; retries on a concurrent write unless
        the mutation pinned a resourceVersion of its own."""
        for _ in range(_CONFLICT_RETRIES):
            kv = await self.get_kv(namespace, name)
            current = decode(kv)
            del current["metadata"]["resourceVersion"]  # present afterwards only if the mutation pinned one
            updated = mutate(current)
            self._check_type(updated)
            m = meta(updated)
            if m.get("name", name) != name:
                raise errors.bad_request(
                    f"the name of the object ({m.get('name')}) does not match the name on the URL ({name})"
                )
            pinned = m.pop("resourceVersion", None)
            if pinned and pinned != str(kv.mod_revision):
                raise self._conflict(name)
            try:
                return await self._write_update(kv, updated, subresource, opts)
            except errors.APIError as exc:
                if exc.code == 409 and exc.reason == "Conflict" and not pinned:
                    continue
                raise
        raise self._conflict(name)

    async def _write_update(
        self, kv: KeyValue, obj: dict[str, Any], subresource: str, opts: WriteOptions
    ) -> WriteResult:
        rt = self.rt
        old = decode(kv)
        old_meta = old["metadata"]
        m = meta(obj)
        if subresource == "status":
            # A status write changes status alone (and may not touch spec or metadata).
            new = dict(old)
            new["metadata"] = dict(old_meta)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            obj = new
            m = obj["metadata"]
        else:
            for fixed in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
                if fixed in old_meta:
                    m[fixed] = old_meta[fixed]
                else:
                    m.pop(fixed, None)
            m["name"] = old_meta["name"]
            if rt.namespaced:
                m["namespace"] = old_meta["namespace"]
            m.pop("managedFields", None)
            if "status" in rt.subresources and subresource == "":
                if "status" in old:
                    obj["status"] = old["status"]
                else:
                    obj.pop("status", None)
            rt.apply_defaults(obj)
            if "generation" in old_meta and obj.get("spec") != old.get("spec"):
                m["generation"] = old_meta["generation"] + 1
            if old_meta.get("deletionTimestamp"):
                _forbid_new_finalizers(old_meta, m, rt)
        m["resourceVersion"] = str(kv.mod_revision)
        warnings = self._validate(obj, old, opts)
        for hook in self.admission:
            await hook("update", rt, obj, old)
        if obj == old:
            return WriteResult(obj, warnings)  # a no-op write keeps its resourceVersion, as in Kubernetes
        if opts.dry_run:
            return WriteResult(obj, warnings)
        if (m.get("deletionTimestamp") and not m.get("finalizers") and not _awaits_graceful_end(rt, obj)
                and not _namespace_finalizers(rt, obj)):
            try:
                await self.store.delete(kv.key, kv.mod_revision)
            except RevisionConflictError:
                raise self._conflict(m["name"]) from None
            except KeyNotFoundError:
                raise self._not_found(m["name"]) from None
            return WriteResult(obj, warnings)
        try:
            new_kv = await self.store.update(kv.key, encode_for_store(obj), kv.mod_revision)
        except RevisionConflictError:
            raise self._conflict(m["name"]) from None
        except KeyNotFoundError:
            raise self._not_found(m["name"]) from None
        m["resourceVersion"] = str(new_kv.mod_revision)
        return WriteResult(obj, warnings)

    async def bind(self, namespace: str, name: str, node_name: str, opts: WriteOptions) -> dict[str, Any]:
        """pods/binding: assigns a pending pod to a node, once."""
        for _ in range(_CONFLICT_RETRIES):
            kv = await self.get_kv(namespace, name)
            pod = decode(kv)
            spec = pod.setdefault("spec", {})
            if spec.get("nodeName"):
                raise self._conflict(name, f"pod {name} is already assigned to node \"{spec['nodeName']}\"")
            if pod["metadata"].get("deletionTimestamp"):
                raise self._conflict(name, f"pod {name} is being deleted, cannot be assigned to a host")
            spec["nodeName"] = node_name
            status = pod.setdefault("status", {})
            conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                               "lastTransitionTime": now_rfc3339()})
            status["conditions"] = conditions
            if opts.dry_run:
                return pod
            try:
                new_kv = await self.store.update(kv.key, encode_for_store(pod), kv.mod_revision)
            except RevisionConflictError:
                continue
            except KeyNotFoundError:
                raise self._not_found(name) from None
            pod["metadata"]["resourceVersion"] = str(new_kv.mod_revision)
            return pod
        raise self._conflict(name)

    # -- delete ----------------------------------------------------------------------------------

    async def delete(self, namespace: str, name: str, opts: DeleteOptions) -> tuple[dict[str, Any], bool]:
        """Deletes, or starts deleting, an object. Returns the object and whether it is gone already."""
        for _ in range(_CONFLICT_RETRIES):
            kv = await self.get_kv(namespace, name)
            obj = decode(kv)
            m = obj["metadata"]
            if opts.precondition_uid and opts.precondition_uid != m.get("uid"):
                raise self._conflict(
                    name,
                    f"Precondition failed: UID in precondition: {opts.precondition_uid}, UID in object meta: {m.get('uid')}",
                )
            if opts.precondition_rv and opts.precondition_rv != m["resourceVersion"]:
                raise self._conflict(
                    name,
                    f"Precondition failed: ResourceVersion in precondition: {opts.precondition_rv}, "
                    f"ResourceVersion in object meta: {m['resourceVersion']}",
                )
            finalizers = list(m.get("finalizers") or [])
            policy = opts.propagation_policy
            if policy == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            elif policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            grace = self._grace_period(obj, opts)
            if not finalizers and grace == 0 and not _namespace_finalizers(self.rt, obj):
                if opts.dry_run:
                    return obj, True
                try:
                    deleted = await self.store.delete(kv.key, kv.mod_revision)
                except RevisionConflictError:
                    continue
                except KeyNotFoundError:
                    raise self._not_found(name) from None
                obj["metadata"]["resourceVersion"] = str(deleted.mod_revision)
                return obj, True
            # Graceful deletion or finalizers pending: mark, and let their owners finish the job.
            if m.get("deletionTimestamp") and m.get("finalizers") == finalizers and (
                m.get("deletionGracePeriodSeconds") in (None, grace) or grace is None
            ):
                return obj, False
            m["finalizers"] = finalizers
            if not m.get("deletionTimestamp"):
                m["deletionTimestamp"] = now_rfc3339()
            m["deletionGracePeriodSeconds"] = grace or 0
            if _namespace_finalizers(self.rt, obj):
                obj.setdefault("status", {})["phase"] = "Terminating"
            if opts.dry_run:
                return obj, False
            try:
                new_kv = await self.store.update(kv.key, encode_for_store(obj), kv.mod_revision)
            except RevisionConflictError:
                continue
            except KeyNotFoundError:
                raise self._not_found(name) from None
            m["resourceVersion"] = str(new_kv.mod_revision)
            return obj, False
        raise self._conflict(name)

    def _grace_period(self, obj: dict[str, Any], opts: DeleteOptions) -> int:
        """Pods bound to a node end gracefully (their node agent confirms); everything else goes at once."""
        if self.rt.kind != "Pod" or self.rt.group:
            return 0
        if not (obj.get("spec") or {}).get("nodeName"):
            return 0
        if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        if opts.grace_period_seconds is not None:
            return max(0, opts.grace_period_seconds)
        existing = obj["metadata"].get("deletionGracePeriodSeconds")
        if existing is not None:
            return existing
        return int((obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30))


def _awaits_graceful_end(rt: ResourceType, obj: dict[str, Any]) -> bool:
    return rt.kind == "Pod" and not rt.group and bool(obj["metadata"].get("deletionGracePeriodSeconds"))


def _namespace_finalizers(rt: ResourceType, obj: dict[str, Any]) -> bool:
    """A Namespace's spec.finalizers hold its deletion until the namespace controller has removed its content
    and taken its own finalizer out."""
    return rt.kind == "Namespace" and not rt.group and bool((obj.get("spec") or {}).get("finalizers"))


def _forbid_new_finalizers(old_meta: dict[str, Any], m: dict[str, Any], rt: ResourceType) -> None:
    added = set(m.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
    if added:
        raise errors.invalid_object(
            rt.kind,
            rt.group,
            m.get("name", ""),
            [errors.forbidden("metadata.finalizers", f"no new finalizers can be added if the object is being deleted, found new finalizers {sorted(added)}")],
        )


def _encode_continue(revision: int, start_after: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start_after})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str, prefix: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
        revision, start = int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise errors.bad_request(f'invalid continue token "{token}"') from None
    if not start.startswith(prefix) or revision <= 0:
        raise errors.bad_request(f'invalid continue token "{token}": it belongs to another list')
    return revision, start
