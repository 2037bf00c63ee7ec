#!/usr/bin/env python3
"""Pack a Spin app into Spin's OCI application format, as an OCI image-layout tar that
`ctr image import` accepts (no registry, no container engine).

The layout is the one `spin registry push` makes (Spin's crates/oci) and SpinKube's
containerd-shim-spin reads:
  - image config: an OCI config with architecture "wasm", os "wasip1" and the label
    com.fermyon.spin.lockedAppDigest (so two apps never share an image id);
  - one layer per component, application/vnd.wasm.content.layer.v1+wasm;
  - one layer per static file, application/vnd.wasm.content.layer.v1+data (files of at
    most 128 bytes are inlined into the locked app instead, as Spin does);
  - last, the locked app (Spin's JSON lock format, version 1) as a layer of type
    application/vnd.fermyon.spin.application.v1+config, its components and files
    referring to those layers by digest.

usage: oci_pack.py [-f spin.toml] --name REF -o app.tar [--drop-config-layer]
(--drop-config-layer makes a broken artifact for the shim's bad-case tests, with an image
config of its own, so containerd's CRI, which keys images by config digest, never takes it
for the good image.)

--containerd16-rootfs: containerd 1.6 (Debian 12's, which the opt-in test runs) unpacks an
image by pairing *every* manifest layer with a rootfs diff id, so a Wasm artifact (no tar
layers, `diff_ids: []`) cannot be unpacked or run there; containerd >= 1.7 — what SpinKube
nodes run — skips non-tar layers. With this flag the config declares one diff id, that of
an empty tar, and the test creates that (empty) committed snapshot itself, so `ctr run`
finds the image already unpacked. Without it the artifact is byte-for-byte Spin's shape.
"""

import argparse
import base64
import glob
import hashlib
import io
import json
import os
import sys
import tarfile
import tomllib

WASM = "application/vnd.wasm.content.layer.v1+wasm"
DATA = "application/vnd.wasm.content.layer.v1+data"
LOCKED = "application/vnd.fermyon.spin.application.v1+config"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
INLINE_MAX = 128


class Blobs:
    def __init__(self):
        self.blobs = {}  # digest -> bytes

    def add(self, data: bytes) -> tuple[str, int]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.blobs[digest] = data
        return digest, len(data)


def files_of(root: str, spec) -> list[tuple[str, str]]:
    """(host path, guest path relative to /) for one `files` entry of spin.toml."""
    if isinstance(spec, str):
        out = []
        for p in sorted(glob.glob(spec, root_dir=root, recursive=True)):
            host = os.path.join(root, p)
            if os.path.isfile(host):
                out.append((host, p))
        if not out:
            sys.exit(f"oci_pack: files entry {spec!r} matches no file under {root}")
        return out
    src = os.path.join(root, spec["source"])
    dest = spec["destination"].strip("/")
    if os.path.isfile(src):
        return [(src, dest)]
    out = []
    for dirpath, _, names in sorted(os.walk(src)):
        for n in sorted(names):
            host = os.path.join(dirpath, n)
            rel = os.path.relpath(host, src)
            out.append((host, os.path.join(dest, rel) if dest else rel))
    return out


# Digest of an empty tar (two zero blocks): the one diff id `--containerd16-rootfs` declares.
EMPTY_TAR_DIFF_ID = "sha256:" + hashlib.sha256(bytes(1024)).hexdigest()


def pack(manifest_path: str, drop_config: bool, containerd16: bool) -> tuple[Blobs, bytes]:
    root = os.path.dirname(os.path.abspath(manifest_path))
    with open(manifest_path, "rb") as f:
        m = tomllib.load(f)
    if m.get("spin_manifest_version") != 2:
        sys.exit("oci_pack: only spin_manifest_version = 2 is supported")
    blobs = Blobs()
    layers = []  # descriptors, in order, deduplicated

    def layer(data: bytes, media_type: str) -> str:
        digest, size = blobs.add(data)
        if all(l["digest"] != digest for l in layers):
            layers.append({"mediaType": media_type, "digest": digest, "size": size})
        return digest

    app = m.get("application", {})
    variables = {}
    for name, v in m.get("variables", {}).items():
        lv = {}
        if "default" in v:
            lv["default"] = v["default"]
        if v.get("secret"):
            lv["secret"] = True
        variables[name] = lv
    triggers = []
    for i, t in enumerate(m.get("trigger", {}).get("http", [])):
        triggers.append({
            "id": f"trigger--{t['component']}-{i}",
            "trigger_type": "http",
            "trigger_config": {"route": t["route"], "component": t["component"]},
        })
    components = []
    for cid, c in m.get("component", {}).items():
        with open(os.path.join(root, c["source"]), "rb") as f:
            wasm = f.read()
        files = []
        for spec in c.get("files", []):
            for host, guest in files_of(root, spec):
                with open(host, "rb") as f:
                    data = f.read()
                if len(data) <= INLINE_MAX:
                    ref = {"inline": base64.b64encode(data).decode()}
                else:
                    ref = {"digest": layer(data, DATA)}
                files.append({"content": ref, "path": guest})
        components.append({
            "id": cid,
            "metadata": {"allowed_outbound_hosts": c.get("allowed_outbound_hosts", [])},
            "source": {"content_type": "application/wasm",
                       "content": {"digest": layer(wasm, WASM)}},
            "env": c.get("environment", {}),
            "files": files,
            "config": c.get("variables", {}),
        })
    locked = {
        "spin_lock_version": 1,
        "metadata": {"name": app.get("name", "app"), "version": app.get("version", ""),
                     "trigger": {"type": "http"}},
        "variables": variables,
        "triggers": triggers,
        "components": components,
    }
    locked_json = json.dumps(locked, sort_keys=True).encode()
    locked_digest, _ = blobs.add(locked_json)
    if not drop_config:
        layer(locked_json, LOCKED)
    # The broken artifact gets a config of its own: containerd's CRI keys images by config
    # digest, so one that shared the good image's config would run the good image.
    labels = ({"dev.spinfer.broken-artifact": "no Spin application config layer"} if drop_config
              else {"com.fermyon.spin.lockedAppDigest": locked_digest})
    config = {
        "architecture": "wasm",
        "os": "wasip1",
        "config": {"Labels": labels},
        "rootfs": {"type": "layers",
                   "diff_ids": [EMPTY_TAR_DIFF_ID] if containerd16 else []},
    }
    cdigest, csize = blobs.add(json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": cdigest, "size": csize},
        "layers": layers,
    }
    return blobs, json.dumps(manifest, sort_keys=True).encode()


def write_layout(out: str, name: str, blobs: Blobs, manifest: bytes) -> str:
    mdigest, msize = blobs.add(manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": MANIFEST, "digest": mdigest, "size": msize,
            "annotations": {"io.containerd.image.name": name,
                            "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]},
        }],
    }
    entries = {"oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
               "index.json": json.dumps(index).encode()}
    for d, data in sorted(blobs.blobs.items()):
        entries["blobs/sha256/" + d.split(":", 1)[1]] = data
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w") as tar:
        for path, data in entries.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, out)
    return mdigest


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-f", "--from", dest="manifest", default="spin.toml")
    ap.add_argument("--name", required=True, help="image reference, e.g. docker.io/library/spinfer:dev")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--drop-config-layer", action="store_true")
    ap.add_argument("--containerd16-rootfs", action="store_true",
                    help="declare one empty rootfs layer (see module doc)")
    a = ap.parse_args()
    blobs, manifest = pack(a.manifest, a.drop_config_layer, a.containerd16_rootfs)
    digest = write_layout(a.out, a.name, blobs, manifest)
    size = os.path.getsize(a.out)
    print(f"oci_pack: {a.out}: {a.name} {digest} ({size / 1e6:.1f} MB, "
          f"{len(json.loads(manifest)['layers'])} layers)")


if __name__ == "__main__":
    main()
