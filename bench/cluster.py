#!/usr/bin/python3
"""Cluster benchmarks on one machine: real p2pfaasd processes on loopback.

  cluster.py convergence [--nodes 32]        time until every node sees every node alive
  cluster.py detection [--nodes 5 --trials 10]  kill -9 one node; time until every survivor says dead
  cluster.py leave [--nodes 5 --trials 5]     SIGTERM one node; time until every survivor says left
  cluster.py gossip [--nodes 8,32 --seconds 20]  gossip bytes/s per node in an idle cluster
  cluster.py soak [--nodes 8 --seconds 300 --stress]  idle cluster: count suspicions and deaths;
                                              with --stress, one node shares its core with
                                              stress-ng and must neither be declared dead nor
                                              declare anyone dead

Every figure is printed as it is measured; the last line of each command is a summary.
Uses only the Python standard library, and only loopback addresses.
"""
import argparse
import base64
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get("P2PFAASD", os.path.join(ROOT, "build", "bin", "p2pfaasd"))


def get_json(port, path, timeout=2.0):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return json.loads(r.read())


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2.0) as r:
        text = r.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def metric_sum(values, prefix):
    return sum(v for k, v in values.items() if k.startswith(prefix))


class Node:
    def __init__(self, workdir, node_id, key_file, seed_port=None, port=0, cpu=None, extra=()):
        self.id = node_id
        self.dir = os.path.join(workdir, node_id)
        os.makedirs(self.dir, exist_ok=True)
        self.log_path = os.path.join(self.dir, "log")
        args = [BINARY, "--node-id", node_id, "--listen", f"127.0.0.1:{port}",
                "--data-dir", os.path.join(self.dir, "data"), "--cluster-key-file", key_file,
                "--slots", "1", "--set", "node.io_threads=1"]
        if seed_port:
            args += ["--join", f"127.0.0.1:{seed_port}"]
        args += list(extra)
        if cpu is not None:
            args = ["taskset", "-c", str(cpu)] + args
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        self.port = self._wait_port()

    def _wait_port(self):
        deadline = time.monotonic() + 10
        pattern = re.compile(r"listening on [0-9a-fA-F.:\[\]]+:(\d+)")
        while time.monotonic() < deadline:
            with open(self.log_path) as f:
                m = pattern.search(f.read())
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)
        raise RuntimeError(f"{self.id} did not start:\n" + open(self.log_path).read())

    def states(self):
        try:
            doc = get_json(self.port, "/nodes")
        except Exception:
            return {}
        return {n["id"]: n["state"] for n in doc["nodes"]}

    def stop(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Cluster:
    def __init__(self, n, cpus=None, extra=()):
        self.workdir = tempfile.mkdtemp(prefix="p2pfaas-bench-")
        self.key_file = os.path.join(self.workdir, "cluster.key")
        with open(self.key_file, "w") as f:
            f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
        os.chmod(self.key_file, 0o600)
        self.extra = extra
        self.nodes = []
        for i in range(n):
            cpu = cpus[i] if cpus else None
            self.add(f"n{i:02d}", cpu=cpu)

    def add(self, node_id, port=0, cpu=None):
        seed = self.nodes[0].port if self.nodes else None
        node = Node(self.workdir, node_id, self.key_file, seed, port, cpu, self.extra)
        self.nodes.append(node)
        return node

    def wait(self, observers, ids, state, timeout):
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if all(all(o.states().get(i) == state for i in ids) for o in observers):
                return time.monotonic() - start
            time.sleep(0.02)
        return None

    def close(self):
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def convergence(args):
    for n in args.nodes:
        cluster = Cluster(n)
        try:
            start = time.monotonic()  # after the last node is up: what gossip itself takes
            took = cluster.wait(cluster.nodes, [x.id for x in cluster.nodes], "alive", 30)
            if took is None:
                print(f"convergence: {n} nodes did NOT converge within 30 s")
                return 1
            print(f"convergence: {n} nodes, every node sees all {n} alive "
                  f"{took * 1000:.0f} ms after the last one started")
        finally:
            cluster.close()
    return 0


def detection(args, sig=signal.SIGKILL, state="dead"):
    cluster = Cluster(args.nodes)
    times = []
    try:
        ids = [x.id for x in cluster.nodes]
        if cluster.wait(cluster.nodes, ids, "alive", 15) is None:
            print("cluster did not converge")
            return 1
        for trial in range(args.trials):
            victim = cluster.nodes[-1]
            survivors = cluster.nodes[:-1]
            port = victim.port
            t0 = time.monotonic()
            victim.stop(sig)
            took = cluster.wait(survivors, [victim.id], state, 20)
            if took is None:
                print(f"trial {trial + 1}: NOT seen {state} within 20 s")
                return 1
            took = time.monotonic() - t0
            times.append(took)
            print(f"trial {trial + 1}: every survivor says {state} after {took * 1000:.0f} ms")
            cluster.nodes.pop()
            cluster.add(victim.id, port=port)
            if cluster.wait(cluster.nodes, ids, "alive", 15) is None:
                print("restarted node did not rejoin")
                return 1
        what = "kill -9" if sig == signal.SIGKILL else "SIGTERM"
        print(f"{what} -> {state} over {len(times)} trials of {args.nodes} nodes: "
              f"median {statistics.median(times) * 1000:.0f} ms, "
              f"worst {max(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms")
    finally:
        cluster.close()
    return 0


def gossip(args):
    results = []
    for n in args.nodes:
        cluster = Cluster(n)
        try:
            if cluster.wait(cluster.nodes, [x.id for x in cluster.nodes], "alive", 30) is None:
                print(f"{n} nodes did not converge")
                return 1
            time.sleep(2)  # past the join burst
            before = [metrics(x.port) for x in cluster.nodes]
            t0 = time.monotonic()
            time.sleep(args.seconds)
            after = [metrics(x.port) for x in cluster.nodes]
            elapsed = time.monotonic() - t0
            out_rates = [(metric_sum(a, 'p2pfaas_gossip_bytes_total{direction="out"')
                          - metric_sum(b, 'p2pfaas_gossip_bytes_total{direction="out"')) / elapsed
                         for a, b in zip(after, before)]
            msg_rates = [(metric_sum(a, 'p2pfaas_gossip_messages_total{direction="out"')
                          - metric_sum(b, 'p2pfaas_gossip_messages_total{direction="out"')) / elapsed
                         for a, b in zip(after, before)]
            rate = statistics.mean(out_rates)
            results.append((n, rate))
            print(f"gossip: {n} idle nodes, per node {rate:.0f} bytes/s out "
                  f"({statistics.mean(msg_rates):.1f} datagrams/s), over {elapsed:.0f} s")
        finally:
            cluster.close()
    if len(results) >= 2:
        (n1, r1), (n2, r2) = results[0], results[-1]
        print(f"gossip: {n2 / n1:.0f}x the nodes -> {r2 / r1:.2f}x the bytes per node "
              f"(log10 ratio {__import__('math').log10(n2) / __import__('math').log10(n1):.2f})")
    return 0


def soak(args):
    stress = None
    cpus = None
    if args.stress:
        if not shutil.which("stress-ng"):
            print("soak --stress needs stress-ng (apt-get install stress-ng)")
            return 1
        # The last node shares core 0 with a CPU hog; the others get core 1 to themselves.
        cpus = [1] * (args.nodes - 1) + [0]
    cluster = Cluster(args.nodes, cpus=cpus)
    try:
        ids = [x.id for x in cluster.nodes]
        if cluster.wait(cluster.nodes, ids, "alive", 30) is None:
            print("cluster did not converge")
            return 1
        if args.stress:
            stress = subprocess.Popen(["stress-ng", "--cpu", "2", "--taskset", "0",
                                       "--timeout", f"{args.seconds}s", "--quiet"])
            print(f"soak: stress-ng saturating core 0, where {cluster.nodes[-1].id} runs")
        before = [metrics(x.port) for x in cluster.nodes]
        t0 = time.monotonic()
        not_alive = 0
        samples = 0
        while time.monotonic() - t0 < args.seconds:
            for node in cluster.nodes:
                states = node.states()
                samples += 1
                bad = {i: s for i, s in states.items() if s != "alive"}
                if bad:
                    not_alive += 1
                    print(f"  {time.monotonic() - t0:6.1f}s {node.id} sees {bad}")
            time.sleep(1)
        after = [metrics(x.port) for x in cluster.nodes]
        suspicions = sum(metric_sum(a, "p2pfaas_gossip_suspicions_total")
                         - metric_sum(b, "p2pfaas_gossip_suspicions_total")
                         for a, b in zip(after, before))
        deaths = sum(metric_sum(a, 'p2pfaas_cluster_member_events_total{kind="dead"')
                     - metric_sum(b, 'p2pfaas_cluster_member_events_total{kind="dead"')
                     for a, b in zip(after, before))
        stressed = cluster.nodes[-1]
        print(f"soak: {args.nodes} nodes for {args.seconds} s{' with stress' if args.stress else ''}: "
              f"{suspicions:.0f} suspicions raised, {deaths:.0f} deaths declared, "
              f"{not_alive} of {samples} /nodes samples showed a node not alive"
              + (f"; stressed node {stressed.id} alive everywhere: "
                 f"{all(n.states().get(stressed.id) == 'alive' for n in cluster.nodes)}"
                 if args.stress else ""))
        return 0 if deaths == 0 else 1
    finally:
        if stress and stress.poll() is None:
            stress.terminate()
            stress.wait()
        cluster.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("convergence")
    p.add_argument("--nodes", type=lambda s: [int(x) for x in s.split(",")], default=[32])
    p = sub.add_parser("detection")
    p.add_argument("--nodes", type=int, default=5)
    p.add_argument("--trials", type=int, default=10)
    p = sub.add_parser("leave")
    p.add_argument("--nodes", type=int, default=5)
    p.add_argument("--trials", type=int, default=5)
    p = sub.add_parser("gossip")
    p.add_argument("--nodes", type=lambda s: [int(x) for x in s.split(",")], default=[8, 32])
    p.add_argument("--seconds", type=float, default=20)
    p = sub.add_parser("soak")
    p.add_argument("--nodes", type=int, default=8)
    p.add_argument("--seconds", type=int, default=300)
    p.add_argument("--stress", action="store_true")
    args = parser.parse_args()
    if not os.access(BINARY, os.X_OK):
        print(f"no p2pfaasd at {BINARY}: build first (cmake --build build) or set P2PFAASD")
        return 1
    if args.command == "convergence":
        return convergence(args)
    if args.command == "detection":
        return detection(args)
    if args.command == "leave":
        return detection(args, signal.SIGTERM, "left")
    if args.command == "gossip":
        return gossip(args)
    return soak(args)


if __name__ == "__main__":
    sys.exit(main())
