"""cri_node.py — a private Kubernetes-style node for `make test-cri`: Debian's containerd
with its CRI plugin on a private socket and state directory (cgroupfs, no systemd,
`restrict_oom_score_adj` since the VM lacks CAP_SYS_RESOURCE), the `spinfer` runtime
handler (containerd-shim-spinfer-v2), a pause image built from tests/cri/pause.c, Debian's
CNI plugins on a bridge of its own, a Service-like address DNAT'd with iptables as
kube-proxy does, and a CRI v1 client (PyPI container-runtime-interface-api) — the calls
the kubelet makes. Everything it creates (bridge, iptables chains, cgroups, mounts,
processes) is removed by close(); nothing of the machine's own containerd is touched.
"""
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time

import grpc
from cri_api.v1 import api_pb2 as cri
from cri_api.v1 import api_pb2_grpc as cri_grpc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from spinfer_proc import stop  # noqa: E402
from test_containerd import config_head, leave_nothing, shim_pids  # noqa: E402

NS = "k8s.io"  # the CRI plugin's containerd namespace
HANDLER = "spinfer"
PAUSE = "spinfer.test/pause:1"
BRIDGE = "spcri0"
POD_CIDR = "10.213.0.0/24"
SERVICE_CIDR = "10.214.0.0/16"
CGROUP_PARENT = "/spinfer-cri-test"
CHAIN_PRE, CHAIN_POST = "SPINFER-CRI-SVC", "SPINFER-CRI-MASQ"
EMPTY_TAR_DIFF_ID = "sha256:" + hashlib.sha256(bytes(1024)).hexdigest()


def run(cmd, check=True, timeout=120, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p


def oci_image_tar(out, name, files, entrypoint):
    """A one-layer linux/amd64 OCI image-layout tar of `files` (path in image → bytes, mode 0755)."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as t:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o755
            t.addfile(info, io.BytesIO(data))
    layer = layer.getvalue()
    blobs = {}

    def blob(data):
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[d] = data
        return d, len(data)

    ldigest, lsize = blob(layer)
    config = {"architecture": "amd64", "os": "linux", "config": {"Entrypoint": entrypoint},
              "rootfs": {"type": "layers", "diff_ids": [ldigest]}}
    cdigest, csize = blob(json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": csize},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ldigest, "size": lsize}]}
    mdigest, msize = blob(json.dumps(manifest).encode())
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                "digest": mdigest, "size": msize,
                                                "annotations": {"io.containerd.image.name": name}}]}
    with tarfile.open(out, "w") as t:
        entries = {"oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
                   "index.json": json.dumps(index).encode()}
        entries.update({"blobs/sha256/" + d.split(":")[1]: b for d, b in blobs.items()})
        for path, data in entries.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


class Node:
    """containerd + CRI + CNI under `tmp`, the shim `shim` as runtime handler `spinfer`."""

    def __init__(self, tmp, shim, node_dir):
        self.tmp, self.sock = tmp, os.path.join(tmp, "c.sock")
        self.bin = os.path.join(tmp, "bin")
        os.makedirs(self.bin)
        shutil.copy(shim, os.path.join(self.bin, "containerd-shim-spinfer-v2"))
        self.ip_forward = open("/proc/sys/net/ipv4/ip_forward").read().strip()
        self._cni_config()
        cfg = os.path.join(tmp, "config.toml")
        cri_p = 'plugins."io.containerd.grpc.v1.cri"'
        with open(cfg, "w") as f:
            f.write(config_head(tmp, self.sock, [f"io.containerd.snapshotter.v1.{s}"
                                                 for s in ("btrfs", "zfs", "devmapper", "aufs")]))
            f.write(f'''[{cri_p}]
  sandbox_image = "{PAUSE}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [{cri_p}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri_p}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri_p}.containerd.runtimes.runc.options]
        SystemdCgroup = false
    [{cri_p}.containerd.runtimes.{HANDLER}]
      runtime_type = "io.containerd.spinfer.v2"
  [{cri_p}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{tmp}/cni"
    max_conf_num = 1
''')
        env = {**os.environ, "PATH": f"{self.bin}:{os.environ['PATH']}", "SPINFER_SHIM_NODE_DIR": node_dir,
               "RUST_LOG": "info,cranelift=warn,wasmtime=warn"}
        self.log = open(os.path.join(tmp, "containerd.log"), "w")
        self.proc = subprocess.Popen(["containerd", "--config", cfg], stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env)
        self.channel = grpc.insecure_channel("unix://" + self.sock)
        self.rt = cri_grpc.RuntimeServiceStub(self.channel)
        self.images = cri_grpc.ImageServiceStub(self.channel)
        end = time.time() + 60
        while True:
            try:
                if self.rt.Status(cri.StatusRequest(), timeout=5).status.conditions:
                    break
            except grpc.RpcError:
                pass
            if time.time() > end or self.proc.poll() is not None:
                raise SystemExit("containerd's CRI did not come up; see " + self.log.name)
            time.sleep(0.2)
        self.service_rules = []

    def _cni_config(self):
        os.makedirs(os.path.join(self.tmp, "cni"))
        conf = {"cniVersion": "0.4.0", "name": "spinfer-cri", "plugins": [{
            "type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False, "hairpinMode": True,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_CIDR}]], "routes": [{"dst": "0.0.0.0/0"}],
                     "dataDir": os.path.join(self.tmp, "cni-ipam")}}]}
        with open(os.path.join(self.tmp, "cni", "10-spinfer-cri.conflist"), "w") as f:
            json.dump(conf, f)

    def ctr(self, *args):
        return ["ctr", "-a", self.sock, "-n", NS, *args]

    def import_images(self, archives, pause_c):
        """The pause image (built here) and the Spin artifacts (`--no-unpack`, on containerd
        1.6's empty committed rootfs snapshot: scripts/oci_pack.py --containerd16-rootfs)."""
        pause = os.path.join(self.tmp, "pause")
        run(["gcc", "-static", "-Os", "-o", pause, pause_c])
        tar = os.path.join(self.tmp, "pause.tar")
        oci_image_tar(tar, PAUSE, {"pause": open(pause, "rb").read()}, ["/pause"])
        run(self.ctr("image", "import", tar))
        run(self.ctr("snapshots", "--snapshotter", "overlayfs", "prepare", "spinfer-empty", ""))
        run(self.ctr("snapshots", "--snapshotter", "overlayfs", "commit", EMPTY_TAR_DIFF_ID, "spinfer-empty"))
        for a in archives:
            run(self.ctr("image", "import", "--no-unpack", a))

    def image_id(self, ref, wait=10):
        """The CRI's id for `ref` ("" if unknown): its image store catches up with an import
        asynchronously, from containerd's events."""
        end = time.time() + wait
        while True:
            image = self.images.ImageStatus(cri.ImageStatusRequest(image=cri.ImageSpec(image=ref))).image
            if image.id or time.time() > end:
                return image.id
            time.sleep(0.1)

    # ---------------------------------------------------------------- pods, as the kubelet
    def run_pod(self, name):
        uid = hashlib.sha1(f"{name}-{time.time()}".encode()).hexdigest()[:12]
        logdir = os.path.join(self.tmp, "pods", name + "-" + uid)
        os.makedirs(logdir)
        config = cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(name=name, uid=uid, namespace="spinfer", attempt=0),
            hostname=name, log_directory=logdir,
            labels={"app.kubernetes.io/name": name},
            linux=cri.LinuxPodSandboxConfig(
                cgroup_parent=f"{CGROUP_PARENT}/pod{uid}",
                security_context=cri.LinuxSandboxSecurityContext(
                    namespace_options=cri.NamespaceOption(network=cri.POD, pid=cri.CONTAINER, ipc=cri.POD))))
        pod_id = self.rt.RunPodSandbox(cri.RunPodSandboxRequest(config=config, runtime_handler=HANDLER),
                                       timeout=120).pod_sandbox_id
        ip = self.rt.PodSandboxStatus(cri.PodSandboxStatusRequest(pod_sandbox_id=pod_id)).status.network.ip
        return Pod(self, pod_id, config, ip, logdir)

    def pods(self):
        return self.rt.ListPodSandbox(cri.ListPodSandboxRequest()).items

    # ---------------------------------------------------------------- a Service, as kube-proxy
    def add_service(self, service_ip, pod_ip, port=80):
        """ClusterIP-like `service_ip:port` → `pod_ip:port`: DNAT in PREROUTING (traffic from
        pods) and OUTPUT (from the node), and masquerade so a pod on the same bridge gets the
        answer back through the node (kube-proxy's hairpin; no br_netfilter needed)."""
        if not self.service_rules:
            for table_chain, hook in ((CHAIN_PRE, "PREROUTING"), (CHAIN_PRE, "OUTPUT"), (CHAIN_POST, "POSTROUTING")):
                run(["iptables", "-t", "nat", "-N", table_chain], check=False)
                run(["iptables", "-t", "nat", "-I", hook, "-j", table_chain])
                self.service_rules.append((hook, table_chain))
        run(["iptables", "-t", "nat", "-A", CHAIN_PRE, "-d", f"{service_ip}/32", "-p", "tcp", "--dport", str(port),
             "-j", "DNAT", "--to-destination", f"{pod_ip}:{port}"])
        run(["iptables", "-t", "nat", "-A", CHAIN_POST, "-s", POD_CIDR, "-d", f"{pod_ip}/32", "-p", "tcp",
             "--dport", str(port), "-m", "conntrack", "--ctstate", "DNAT", "-j", "MASQUERADE"])

    # ---------------------------------------------------------------- teardown
    def shim_pids(self):
        return shim_pids(self.bin)

    def close(self):
        try:
            for p in self.pods():
                try:
                    self.rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=p.id), timeout=60)
                    self.rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=p.id), timeout=60)
                except grpc.RpcError as e:
                    print(f"     (teardown: pod {p.metadata.name}: {e.details()})")
        except grpc.RpcError:
            pass
        finally:
            self.channel.close()
            stop(self.proc, 20)
            leave_nothing(self.bin, self.tmp)
            for hook, chain in self.service_rules:
                run(["iptables", "-t", "nat", "-D", hook, "-j", chain], check=False)
            for chain in (CHAIN_PRE, CHAIN_POST):
                run(["iptables", "-t", "nat", "-F", chain], check=False)
                run(["iptables", "-t", "nat", "-X", chain], check=False)
            run(["ip", "link", "del", BRIDGE], check=False)
            remove_cgroups(CGROUP_PARENT)
            with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
                f.write(self.ip_forward)
            self.log.close()


def remove_cgroups(parent):
    for controller in os.listdir("/sys/fs/cgroup"):
        top = os.path.join("/sys/fs/cgroup", controller, parent.lstrip("/"))
        if os.path.isdir(top):
            for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass


class Pod:
    def __init__(self, node, pod_id, config, ip, logdir):
        self.node, self.id, self.config, self.ip, self.logdir = node, pod_id, config, ip, logdir

    def create(self, name, image, env, memory_limit=128 << 20, cpu_millis=1000, mounts=()):
        """CreateContainer as the kubelet does for the Deployment spin-operator builds from a
        SpinApp: the image, the `/` argument, the operator's env, limits as cgroup values,
        the kubelet's own mounts (hosts file, termination log)."""
        hosts = os.path.join(self.logdir, "etc-hosts")
        with open(hosts, "w") as f:
            f.write(f"127.0.0.1\tlocalhost\n{self.ip}\t{self.config.hostname}\n")
        term = os.path.join(self.logdir, f"{name}-termination-log")
        open(term, "w").close()
        kube_env = {"KUBERNETES_SERVICE_HOST": "10.214.0.1", "KUBERNETES_SERVICE_PORT": "443",
                    "HOSTNAME": self.config.hostname}
        config = cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name=name, attempt=0),
            image=cri.ImageSpec(image=image), args=["/"],
            envs=[cri.KeyValue(key=k, value=v) for k, v in {**kube_env, **env}.items()],
            mounts=[cri.Mount(container_path="/etc/hosts", host_path=hosts),
                    cri.Mount(container_path="/dev/termination-log", host_path=term), *mounts],
            log_path=f"{name}.log",
            linux=cri.LinuxContainerConfig(resources=cri.LinuxContainerResources(
                cpu_period=100000, cpu_quota=cpu_millis * 100, cpu_shares=max(2, cpu_millis * 1024 // 1000),
                memory_limit_in_bytes=memory_limit, oom_score_adj=999)))
        resp = self.node.rt.CreateContainer(cri.CreateContainerRequest(
            pod_sandbox_id=self.id, config=config, sandbox_config=self.config), timeout=120)
        return Container(self, resp.container_id, name)

    def log(self, name):
        path = os.path.join(self.logdir, f"{name}.log")
        return open(path).read() if os.path.exists(path) else ""

    def remove(self):
        self.node.rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=self.id), timeout=60)
        self.node.rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=self.id), timeout=60)


class Container:
    def __init__(self, pod, cid, name):
        self.pod, self.id, self.name = pod, cid, name

    def start(self):
        self.pod.node.rt.StartContainer(cri.StartContainerRequest(container_id=self.id), timeout=120)

    def info(self):
        s = self.pod.node.rt.ContainerStatus(cri.ContainerStatusRequest(container_id=self.id, verbose=True))
        return s.status, json.loads(s.info.get("info", "{}"))

    def pid(self):
        return self.info()[1]["pid"]

    def cgroup_dir(self, controller):
        """The container's own cgroup directory for a v1 controller, as /proc/<pid>/cgroup names it."""
        for line in open(f"/proc/{self.pid()}/cgroup"):
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if controller in ctrls.split(","):
                return os.path.join("/sys/fs/cgroup", controller, path.lstrip("/"))
        raise SystemExit(f"no {controller} cgroup for {self.name}")

    def stats(self):
        return self.pod.node.rt.ContainerStats(cri.ContainerStatsRequest(container_id=self.id)).stats

    def stop(self, timeout=10):
        self.pod.node.rt.StopContainer(cri.StopContainerRequest(container_id=self.id, timeout=timeout),
                                       timeout=timeout + 30)
