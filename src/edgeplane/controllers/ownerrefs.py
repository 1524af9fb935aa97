"""Owner references: who controls an object, and the references controllers write when they adopt."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def owner_references(obj: Obj) -> list[Obj]:
    return list(obj["metadata"].get("ownerReferences") or [])


def controller_ref(obj: Obj) -> Obj | None:
    """The owner reference with controller: true, if any (an object has at most one)."""
    for ref in owner_references(obj):
        if ref.get("controller"):
            return ref
    return None


def is_controlled_by(obj: Obj, owner: Obj) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == owner["metadata"].get("uid")


def reference_to(owner: Obj, *, controller: bool = True, block_owner_deletion: bool = True) -> Obj:
    m = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": m["name"], "uid": m["uid"],
            "controller": controller, "blockOwnerDeletion": block_owner_deletion}


def adoption_patch(obj: Obj, owner: Obj) -> Obj:
    """A merge patch that makes ``owner`` the controller of ``obj``, failing (409) if ``obj`` changed meanwhile.

    Pinning the resourceVersion makes adoption a compare-and-swap, so two controllers never both adopt.
    """
    refs = [*owner_references(obj), reference_to(owner)]
    return {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"], "ownerReferences": refs}}


def release_patch(obj: Obj, owner_uid: str) -> Obj:
    """A merge patch that drops the references to one owner (compare-and-swap, as adoption)."""
    refs = [r for r in owner_references(obj) if r.get("uid") != owner_uid]
    return {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"], "ownerReferences": refs or None}}


def owner_uid_index(obj: Obj) -> list[str]:
    """Informer index function: the uids of an object's owners."""
    return [r["uid"] for r in owner_references(obj) if r.get("uid")]


def controller_uid_index(obj: Obj) -> list[str]:
    ref = controller_ref(obj)
    return [ref["uid"]] if ref and ref.get("uid") else []
