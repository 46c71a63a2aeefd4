"""A real multi-node Ray cluster on one machine: one `ray start` process per node, token auth on.

Nodes are Ray's own processes (GCS, raylets, agents, workers), started as a
user would start them. Each node's `ray start` leads its own session, which
every process of the node inherits (workers change their process group, not
their session), so a test can kill exactly one node (a node loss) and the
teardown can stop every process this cluster started, and nothing else:
``ray stop`` would also stop any other Ray on the machine.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from helpers import CLI, command_line, free_port, free_ports, kill_session, session_members

RAY = str(Path(sys.executable).parent / "ray")
# Ray rewrites 127.0.0.1 to the machine's routable address (so that other machines
# can reach the node); any other 127.x address is kept, and is loopback all the same.
LOOPBACK = "127.0.0.2"


class LoopbackCluster:
    def __init__(self) -> None:
        # Short on purpose: Ray's socket paths under it must fit in 107 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="mt-ray-", dir="/tmp"))
        self.token = secrets.token_hex(32)
        token_path = self.root / "auth_token"
        token_path.write_text(self.token)
        token_path.chmod(0o600)
        self.port = free_port()
        # What a client of this cluster needs: token auth on, and where the token is.
        self.client_env = {
            **os.environ,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(token_path),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        self.nodes: dict[str, subprocess.Popen[bytes]] = {}
        self.node_ids: dict[str, str] = {}  # node name -> Ray node id
        self.sessions: list[int] = []  # every node's session, the killed ones' too: what `leftovers` checks
        self.dashboard_port: int | None = None  # the head's dashboard (and job server), when it has one

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def dashboard(self) -> str:
        """The job server's address, for ``ray job submit --address`` (RAY_ADDRESS)."""
        assert self.dashboard_port is not None, "the head was started without its dashboard"
        return f"http://{LOOPBACK}:{self.dashboard_port}"

    def start_node(self, name: str, num_cpus: int, timeout_s: float = 90, dashboard: bool = False) -> None:
        """Start a node: the first is the head, with its dashboard and job server when ``dashboard`` (that
        needs ``ray[default]``, the ``mixup-tune[cluster]`` extra)."""
        head = not self.nodes
        options = (
            "dashboard-agent-listen-port",
            "dashboard-agent-grpc-port",
            "metrics-export-port",
            "runtime-env-agent-port",
        )
        # none equal to the head's
        chosen = [port for port in free_ports(len(options) + 2) if port != self.port][: len(options) + 1]
        ports = [f"--{option}={port}" for option, port in zip(options, chosen)]
        if head and dashboard:
            self.dashboard_port = chosen[-1]
            shown = [
                "--include-dashboard=true",
                f"--dashboard-host={LOOPBACK}",
                f"--dashboard-port={chosen[-1]}",
            ]
        else:
            shown = ["--include-dashboard=false"]
        role = ["--head", f"--port={self.port}", *shown] if head else [f"--address={self.address}"]
        command = [
            RAY,
            "start",
            "--block",
            *role,
            f"--node-ip-address={LOOPBACK}",
            f"--num-cpus={num_cpus}",
            "--num-gpus=0",
            "--object-store-memory=100000000",
            f"--temp-dir={self.root / name}",
            *ports,
        ]
        env = {
            **self.client_env,
            # A dead node is declared dead after about 2 s instead of Ray's default 15 s or more.
            "RAY_health_check_period_ms": "500",
            "RAY_health_check_timeout_ms": "1000",
            "RAY_health_check_failure_threshold": "4",
        }
        log = self.root / f"{name}.log"
        self.nodes[name] = subprocess.Popen(
            command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
        )
        self.sessions.append(self.nodes[name].pid)
        deadline = time.monotonic() + timeout_s
        while "block forever" not in log.read_text(errors="replace"):
            if self.nodes[name].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"ray node {name!r} did not start:\n{log.read_text(errors='replace')[-3000:]}"
                )
            time.sleep(0.5)
        [self.node_ids[name]] = set(self.wait_for_nodes(len(self.nodes))) - set(self.node_ids.values())

    def mixup_tune(self, cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``mixup-tune ARGS`` run as a client of this cluster (its token in the environment), to its end."""
        return subprocess.run(
            [CLI, *args], cwd=cwd, env=self.client_env, capture_output=True, text=True, timeout=timeout
        )

    def alive_nodes(self) -> list[str]:
        """Node ids of the live nodes, asked of the cluster by a real (token-authenticated) client."""
        script = (
            "import json, ray; ray.init(address=%r, logging_level='ERROR'); "
            "print(json.dumps([n['NodeID'] for n in ray.nodes() if n['Alive']]))"
        )
        result = subprocess.run(
            [sys.executable, "-c", script % self.address],
            env=self.client_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"cannot query the cluster: {result.stderr[-2000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    def wait_for_nodes(self, count: int, timeout_s: float = 60) -> list[str]:
        deadline = time.monotonic() + timeout_s
        while len(nodes := self.alive_nodes()) != count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"expected {count} live nodes, found {len(nodes)}")
            time.sleep(1)
        return nodes

    def kill_node(self, name: str) -> int:
        """SIGKILL every process of one node at once, as when a machine dies. Returns how many."""
        process = self.nodes.pop(name)
        killed = kill_session(process.pid)
        process.wait(timeout=30)
        return killed

    def trial_workers(self) -> list[int]:
        """The processes of the live nodes that hold a trial: Ray titles a function trainable's actor
        ``ray::ImplicitFunc``, and ``ray::ImplicitFunc.train`` while it trains."""
        return [
            pid
            for node in list(self.nodes.values())
            for pid in session_members(node.pid)
            if command_line(pid).startswith(b"ray::ImplicitFunc")
        ]

    def leftovers(self, wait_s: float = 10) -> list[str]:
        """What is still running of every process this cluster started, as ``ps -s`` would list it, once
        those just killed have had ``wait_s`` to exit."""
        deadline = time.monotonic() + wait_s
        while True:
            alive = [pid for session in self.sessions for pid in session_members(session)]
            if not alive or time.monotonic() > deadline:
                return [f"{pid} {command_line(pid)[:80].decode(errors='replace').strip()}" for pid in alive]
            time.sleep(0.2)

    def stop(self) -> None:
        for name in list(self.nodes):
            self.kill_node(name)
        shutil.rmtree(self.root, ignore_errors=True)
