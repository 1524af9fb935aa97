"""A pod's volumes as host paths: configMap, secret, downwardAPI and projected volumes are written as files
under ``pods/<uid>/volumes/<name>``, emptyDir is a directory there, hostPath is the host's own path.

Files are rewritten only when their content or mode changed, so calling this on every sync keeps
ConfigMap and Secret volumes current (as the kubelet does) at the cost of a few stats.
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path
from typing import Any, Protocol

from edgeplane.edge.runtimes.interface import ContainerConfigError

DEFAULT_MODE = 0o644


class ObjectSource(Protocol):
    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None: ...


def materialise(pod: dict[str, Any], store: ObjectSource, pods_dir: Path) -> dict[str, str]:
    """Volume name -> host path for every volume of the pod; raises ContainerConfigError naming the problem."""
    meta = pod["metadata"]
    base = pods_dir / meta["uid"] / "volumes"
    out: dict[str, str] = {}
    for i, volume in enumerate((pod.get("spec") or {}).get("volumes") or ()):
        name = volume.get("name", "")
        where = f"spec.volumes[{i}] ({name})"
        directory = base / name
        if "emptyDir" in volume:
            directory.mkdir(parents=True, exist_ok=True)
        elif "hostPath" in volume:
            out[name] = _host_path(volume["hostPath"], where)
            continue
        elif "configMap" in volume or "secret" in volume or "downwardAPI" in volume or "projected" in volume:
            files = _files(volume, pod, store, where)
            _sync_files(directory, files)
        else:
            kinds = sorted(set(volume) - {"name"})
            raise ContainerConfigError(
                f"{where}: volume type {', '.join(kinds) or '(none)'} is not supported at the edge "
                "(supported: configMap, secret, emptyDir, hostPath, downwardAPI, projected)"
            )
        out[name] = str(directory)
    return out


def _host_path(source: dict[str, Any], where: str) -> str:
    path = source.get("path") or ""
    kind = source.get("type") or ""
    if not path.startswith("/"):
        raise ContainerConfigError(f"{where}: hostPath.path {path!r} must be absolute")
    exists = os.path.exists(path)
    if kind == "DirectoryOrCreate" and not exists:
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif kind == "FileOrCreate" and not exists:
        Path(path).touch(mode=0o644)
    elif kind in ("Directory", "File", "Socket", "CharDevice", "BlockDevice") and not exists:
        raise ContainerConfigError(f"{where}: hostPath {path!r} of type {kind} does not exist on the node")
    elif kind == "Directory" and not os.path.isdir(path):
        raise ContainerConfigError(f"{where}: hostPath {path!r} is not a directory")
    return path


def _files(volume: dict[str, Any], pod: dict[str, Any], store: ObjectSource, where: str) -> dict[str, tuple[bytes, int]]:
    """Relative path -> (content, mode) of every file the volume holds."""
    if "projected" in volume:
        projected = volume["projected"] or {}
        default = projected.get("defaultMode", DEFAULT_MODE)
        files: dict[str, tuple[bytes, int]] = {}
        for j, source in enumerate(projected.get("sources") or ()):
            files.update(_source_files(source, pod, store, f"{where}.projected.sources[{j}]", default))
        return files
    return _source_files(volume, pod, store, where, None)


def _source_files(
    source: dict[str, Any], pod: dict[str, Any], store: ObjectSource, where: str, default: int | None
) -> dict[str, tuple[bytes, int]]:
    namespace = pod["metadata"]["namespace"]
    if "configMap" in source or "secret" in source:
        is_secret = "secret" in source
        ref = source["secret" if is_secret else "configMap"] or {}
        name = ref.get("secretName" if is_secret and "secretName" in ref else "name", "")
        obj = store.get("secrets" if is_secret else "configmaps", namespace, name)
        kind = "Secret" if is_secret else "ConfigMap"
        if obj is None:
            if ref.get("optional"):
                return {}
            raise ContainerConfigError(f'{where}: {kind} "{name}" not found in namespace "{namespace}"')
        data = _object_data(obj, is_secret)
        mode = ref.get("defaultMode", default if default is not None else DEFAULT_MODE)
        items = ref.get("items")
        if not items:
            return {key: (value, mode) for key, value in data.items()}
        files = {}
        for item in items:
            key = item.get("key", "")
            if key not in data:
                if ref.get("optional"):
                    continue
                raise ContainerConfigError(f'{where}: key "{key}" not found in {kind} "{name}"')
            files[_relative(item.get("path") or key, where)] = (data[key], item.get("mode", mode))
        return files
    if "downwardAPI" in source:
        ref = source["downwardAPI"] or {}
        mode = ref.get("defaultMode", default if default is not None else DEFAULT_MODE)
        files = {}
        for item in ref.get("items") or ():
            field = (item.get("fieldRef") or {}).get("fieldPath", "")
            files[_relative(item.get("path", ""), where)] = (
                downward_value(pod, field, where).encode(), item.get("mode", mode))
        return files
    raise ContainerConfigError(f"{where}: projected source {sorted(source)} is not supported at the edge")


def _object_data(obj: dict[str, Any], is_secret: bool) -> dict[str, bytes]:
    data: dict[str, bytes] = {}
    if is_secret:
        for key, value in (obj.get("stringData") or {}).items():
            data[key] = value.encode()
        for key, value in (obj.get("data") or {}).items():
            data[key] = base64.b64decode(value)
    else:
        for key, value in (obj.get("data") or {}).items():
            data[key] = value.encode()
        for key, value in (obj.get("binaryData") or {}).items():
            data[key] = base64.b64decode(value)
    return data


def downward_value(pod: dict[str, Any], field: str, where: str) -> str:
    """A downward API fieldPath as a string (labels/annotations as key="value" lines)."""
    meta = pod.get("metadata") or {}
    if field in ("metadata.labels", "metadata.annotations"):
        values = meta.get(field.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))
    for prefix in ("metadata.labels['", "metadata.annotations['"):
        if field.startswith(prefix) and field.endswith("']"):
            return str((meta.get(prefix[9:-2]) or {}).get(field[len(prefix) : -2], ""))
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": (pod.get("spec") or {}).get("nodeName"),
        "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName"),
        "status.podIP": (pod.get("status") or {}).get("podIP"),
        "status.hostIP": (pod.get("status") or {}).get("hostIP"),
    }
    if field not in simple:
        raise ContainerConfigError(f"{where}: fieldPath {field!r} is not supported")
    return str(simple[field] or "")


def _relative(path: str, where: str) -> str:
    parts = Path(path).parts
    if not path or path.startswith("/") or ".." in parts:
        raise ContainerConfigError(f"{where}: item path {path!r} must be relative and may not contain '..'")
    return path


def _sync_files(directory: Path, files: dict[str, tuple[bytes, int]]) -> None:
    """Makes the directory hold exactly these files; unchanged files are not rewritten."""
    directory.mkdir(parents=True, exist_ok=True)
    for rel, (content, mode) in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            same = path.read_bytes() == content and (path.stat().st_mode & 0o7777) == mode
        except FileNotFoundError:
            same = False
        if not same:
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(content)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
    wanted = {directory / rel for rel in files}
    for root, dirs, names in os.walk(directory, topdown=False):
        for n in names:
            if Path(root, n) not in wanted:
                os.unlink(Path(root, n))
        for d in dirs:
            p = Path(root, d)
            if not any(w.is_relative_to(p) for w in wanted):
                shutil.rmtree(p, ignore_errors=True)
