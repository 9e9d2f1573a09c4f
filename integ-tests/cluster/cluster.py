"""A real three-node Elasticsearch cluster on loopback, for the fault and load tests.

Each node is a process of the integ-test distribution that integ-tests/es-node.sh unpacked, with the plugin
installed by elasticsearch-plugin (one ES_HOME, shared), its own config directory (ES_PATH_CONF), data,
logs and ports. Nodes can be started, stopped, killed with SIGKILL and started again on the same data.
Everything stays on 127.0.0.1.

Only the standard library: the tests that use it run on a fresh machine with Debian's python3.
"""

import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse

CLUSTER_NAME = "deep-hash-cluster"
RUN_USER = os.environ.get("ES_RUN_USER", "nobody")


def log(msg):
    print("[cluster] %s" % msg, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class HttpError(Exception):
    """A request that got no answer at all (the node is down, the connection was cut)."""


class Response:
    def __init__(self, status, body):
        self.status = status
        self.body = body

    def json(self):
        return json.loads(self.body) if self.body else None

    def __repr__(self):
        return "HTTP %d %s" % (self.status, self.body[:600].decode("utf-8", "replace"))


def request(url, method, path, body=None, timeout=60, ndjson=False):
    """One HTTP request; raises HttpError when the node does not answer."""
    parsed = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = {"Content-Type": "application/x-ndjson" if ndjson else "application/json"}
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return Response(resp.status, resp.read())
    except (OSError, http.client.HTTPException) as e:
        raise HttpError("%s %s%s: %s" % (method, url, path, e)) from e
    finally:
        conn.close()


class Node:
    def __init__(self, cluster, index):
        self.cluster = cluster
        self.index = index
        self.name = "n%d" % index
        self.dir = os.path.join(cluster.base, self.name)
        self.conf = os.path.join(self.dir, "config")
        self.data = os.path.join(self.dir, "data")
        self.logs = os.path.join(self.dir, "logs")
        self.run = os.path.join(self.dir, "run")
        self.pid_file = os.path.join(self.run, "es.pid")
        self.http_port = free_port()
        self.transport_port = free_port()
        self.url = "http://127.0.0.1:%d" % self.http_port
        self.node_id = None

    def pid(self):
        try:
            with open(self.pid_file) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return pid

    def alive(self):
        return self.pid() is not None

    def write_config(self, bootstrap):
        c = self.cluster
        seeds = ", ".join("127.0.0.1:%d" % n.transport_port for n in c.nodes)
        lines = [
            "# Written by integ-tests/cluster/cluster.py",
            "cluster.name: " + CLUSTER_NAME,
            "node.name: " + self.name,
            "network.host: 127.0.0.1",
            "http.port: %d" % self.http_port,
            "transport.port: %d" % self.transport_port,
            "discovery.seed_hosts: [%s]" % seeds,
            "path.data: " + self.data,
            "path.logs: " + self.logs,
            "xpack.security.enabled: false",
            "action.destructive_requires_name: false",
            # Disk watermarks in free bytes, small enough for any build machine; the disk-full test raises them.
            "cluster.routing.allocation.disk.watermark.low: 1gb",
            "cluster.routing.allocation.disk.watermark.high: 500mb",
            "cluster.routing.allocation.disk.watermark.flood_stage: 200mb",
            "cluster.info.update.interval: 10s",
        ]
        if bootstrap:
            lines.append("cluster.initial_master_nodes: [%s]" % ", ".join(n.name for n in c.nodes))
        lines.extend(c.extra_config)
        with open(os.path.join(self.conf, "elasticsearch.yml"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, bootstrap=False):
        """Starts the node in the background (returns at once; wait with Cluster.wait_for_nodes)."""
        assert not self.alive(), self.name + " is running"
        for d in (self.data, self.logs, self.run):
            os.makedirs(d, exist_ok=True)
        self.write_config(bootstrap)
        self.cluster.chown(self.dir)
        env = dict(os.environ)
        env.update({
            "ES_JAVA_HOME": self.cluster.java_home,
            "ES_JAVA_OPTS": "-Xms%s -Xmx%s" % (self.cluster.heap, self.cluster.heap),
            "ES_PATH_CONF": self.conf,
        })
        cmd = [os.path.join(self.cluster.es_home, "bin", "elasticsearch"), "-d", "-p", self.pid_file]
        if os.getuid() == 0:
            cmd = ["setpriv", "--reuid=" + RUN_USER, "--regid=" + self.cluster.run_group, "--clear-groups", "--"] + cmd
        with open(os.path.join(self.logs, "stdout.log"), "ab") as out:
            rc = subprocess.call(cmd, cwd=self.logs, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        if rc != 0:
            raise RuntimeError("%s did not start (launcher status %d):\n%s" % (self.name, rc, self.log_tail()))

    def kill(self):
        """SIGKILL: no flush, no goodbye to the cluster."""
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        self._wait_gone(pid, 30)

    def stop(self):
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        if not self._wait_gone(pid, 60):
            os.kill(pid, signal.SIGKILL)
            self._wait_gone(pid, 30)

    @staticmethod
    def _wait_gone(pid, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                return True
            time.sleep(0.1)
        return False

    def log_file(self):
        return os.path.join(self.logs, CLUSTER_NAME + ".log")

    def log_tail(self, lines=40):
        out = []
        for f in (self.log_file(), os.path.join(self.logs, "stdout.log")):
            try:
                with open(f, errors="replace") as fh:
                    out.append("---- %s ----\n%s" % (f, "".join(fh.readlines()[-lines:])))
            except OSError:
                pass
        return "\n".join(out)

    def full_gc(self):
        """A full collection now (jcmd GC.run, as the node's user), so that the GC log's next line is the live heap."""
        pid = self.pid()
        if pid is None:
            return False
        cmd = [os.path.join(self.cluster.java_home, "bin", "jcmd"), str(pid), "GC.run"]
        if os.getuid() == 0:
            cmd = ["setpriv", "--reuid=" + RUN_USER, "--regid=" + self.cluster.run_group, "--clear-groups", "--"] + cmd
        return subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120) == 0

    def gc_log(self):
        return os.path.join(self.logs, "gc.log")   # the distribution's jvm.options: file=gc.log under path.logs

    def rss_bytes(self, kind="VmRSS"):
        """Resident memory from /proc: VmRSS (all), RssAnon (heap, native: what a leak grows) or RssFile
        (pages of mapped files, the index's segments among them, which grow with the index)."""
        pid = self.pid()
        if pid is None:
            return None
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(kind + ":"):
                    return int(line.split()[1]) * 1024
        return None


class Cluster:
    """Three (or n) nodes sharing one ES_HOME with the plugin installed."""

    def __init__(self, es_home, base, size=3, java_home=None, heap="512m", extra_config=()):
        self.es_home = es_home
        self.base = base
        self.java_home = java_home or os.environ.get("ES_JAVA_HOME") or os.environ.get("JAVA_HOME") \
            or "/usr/lib/jvm/java-17-openjdk-amd64"
        self.heap = heap
        self.extra_config = list(extra_config)
        self.run_group = None
        if os.getuid() == 0:
            self.run_group = subprocess.check_output(["id", "-gn", RUN_USER]).decode().strip()
        self.nodes = []
        self.size = size

    def chown(self, path):
        if os.getuid() != 0:
            return
        user = pwd.getpwnam(RUN_USER)
        for root, dirs, files in os.walk(path):
            os.chown(root, user.pw_uid, user.pw_gid)
            for f in files:
                os.chown(os.path.join(root, f), user.pw_uid, user.pw_gid)

    def setup(self):
        """Fresh node directories (config copied from the distribution's), then every node started."""
        self.stop_all()
        if os.path.isdir(self.base):
            shutil.rmtree(self.base)
        os.makedirs(self.base)
        os.chmod(self.base, 0o755)
        self.nodes = [Node(self, i) for i in range(self.size)]
        for n in self.nodes:
            shutil.copytree(os.path.join(self.es_home, "config"), n.conf)
            # A keystore of the node's own (the launcher would otherwise create one in a shared place).
            for f in ("elasticsearch.keystore",):
                p = os.path.join(n.conf, f)
                if os.path.exists(p):
                    os.remove(p)
        for n in self.nodes:
            n.start(bootstrap=True)
        self.wait_for_nodes(self.size)
        for n in self.nodes:
            n.write_config(bootstrap=False)   # later starts join the formed cluster
        self.refresh_node_ids()
        log("cluster up: " + ", ".join("%s %s" % (n.name, n.url) for n in self.nodes))

    def stop_all(self):
        for n in self.nodes:
            n.stop()

    def live(self):
        return [n for n in self.nodes if n.alive()]

    def any_url(self, avoid=None):
        for n in self.live():
            if n is not avoid:
                return n.url
        raise RuntimeError("no node is running")

    def get(self, path, url=None, timeout=60):
        return request(url or self.any_url(), "GET", path, timeout=timeout)

    def call(self, method, path, body=None, url=None, timeout=60, expect=(200,)):
        """A request that must succeed (its status in expect); retried on another node if one is down."""
        last = None
        for attempt in range(5):
            try:
                r = request(url or self.any_url(), method, path, body, timeout=timeout)
            except HttpError as e:
                last = e
                time.sleep(1)
                continue
            if expect and r.status not in expect:
                raise AssertionError("%s %s: %r" % (method, path, r))
            return r
        raise last

    def wait_for_nodes(self, count, timeout=240):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            for n in self.live():
                try:
                    r = request(n.url, "GET", "/_cluster/health?wait_for_nodes=%d&timeout=5s" % count, timeout=10)
                    if r.status == 200 and r.json()["number_of_nodes"] == count:
                        return
                    last = r
                except HttpError as e:
                    last = e
            if not self.live() and time.time() > deadline - timeout + 30:
                break
            time.sleep(1)
        tails = "\n".join(n.log_tail() for n in self.nodes)
        raise RuntimeError("the cluster did not reach %d nodes in %d s (last: %r)\n%s" % (count, timeout, last, tails))

    def wait_for_green(self, index=None, timeout=240):
        path = "/_cluster/health%s?wait_for_status=green&wait_for_no_relocating_shards=true&wait_for_no_initializing_shards=true&timeout=%ds" % (
            "/" + index if index else "", timeout)
        r = self.call("GET", path, timeout=timeout + 30, expect=None)
        health = r.json()
        if r.status != 200 or health.get("status") != "green" or health.get("timed_out"):
            raise AssertionError("not green after %d s: %r\n%s" % (timeout, r, self.call("GET", "/_cat/shards?v", expect=None).body.decode()))
        return health

    def refresh_node_ids(self):
        r = self.call("GET", "/_nodes/_all/none")
        by_name = {v["name"]: k for k, v in r.json()["nodes"].items()}
        for n in self.nodes:
            if n.name in by_name:
                n.node_id = by_name[n.name]

    def master(self):
        r = self.call("GET", "/_cat/master?format=json")
        name = r.json()[0]["node"]
        return next(n for n in self.nodes if n.name == name)

    def node_by_id(self, node_id):
        return next(n for n in self.nodes if n.node_id == node_id)

    def shard_copies(self, index):
        """[(shard, primary, node)] of the started copies of an index."""
        r = self.call("GET", "/_cat/shards/%s?format=json&h=shard,prirep,state,node" % index)
        return [(int(s["shard"]), s["prirep"] == "p", next(n for n in self.nodes if n.name == s["node"]))
                for s in r.json() if s["state"] == "STARTED"]

    def index_uuid(self, index):
        return self.call("GET", "/%s/_settings" % index).json()[index]["settings"]["index"]["uuid"]
