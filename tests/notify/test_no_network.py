"""With every outbound connection except loopback blocked, a full run with all five channels works.

The child process installs an audit hook (PEP 578) that refuses any socket
connect or name lookup that is not loopback, then runs the real pipeline with
every channel pointed at local servers. It reports every connection it saw,
so the test also proves that nothing unconfigured ever opens a socket.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_CHILD = textwrap.dedent(
    """
    import json, sys, ipaddress
    attempts = []

    def guard(event, args):
        if event == "socket.connect":
            address = args[1]
            host = address[0] if isinstance(address, tuple) else str(address)
            attempts.append(host)
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                raise ConnectionRefusedError(f"blocked outbound connection to {host}")
        elif event == "socket.getaddrinfo":
            host = args[0]
            if isinstance(host, bytes):
                host = host.decode()
            try:
                ipaddress.ip_address(host)  # a literal address: the connect check decides
            except ValueError:
                if host not in ("localhost", None):
                    attempts.append(f"dns:{host}")
                    raise OSError(f"blocked name lookup of {host}")

    sys.addaudithook(guard)

    import rlwatch
    config = json.loads(sys.argv[1])
    monitor = rlwatch.attach(run_id="offline", log_dir=sys.argv[2], alerts=config)
    for step in range(30):
        monitor.log_step(step, loss=1.0, grad_norm=1.0, entropy=2.0)
    monitor.log_step(30, loss=float("nan"), grad_norm=1.0, entropy=2.0)
    monitor.stop()
    from rlwatch.storage import StoreReader
    with StoreReader(monitor.db_path) as reader:
        outcomes = {d["channel"]: d["status"] for a in reader.alerts() for d in a.deliveries}
    print(json.dumps({"attempts": attempts, "outcomes": outcomes}))
    """
)


def run_child(tmp_path, config):
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    result = subprocess.run(
        [sys.executable, str(script), json.dumps(config), str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_all_channels_work_with_only_loopback_allowed(http_server, smtp_factory, tmp_path):
    http_server.default.status = 202
    smtp = smtp_factory()
    fast = {"backoff_base": 0.05, "timeout": 2.0}
    config = {
        "slack": {"webhook_url": http_server.url("/slack"), **fast},
        "discord": {"webhook_url": http_server.url("/discord"), **fast},
        "webhook": {"url": http_server.url("/hook"), **fast},
        "pagerduty": {"routing_key": "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12", "events_url": http_server.url("/pd"), **fast},
        "email": {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "security": "none",
                  "from_addr": "a@lab.example", "to": ["b@lab.example"], **fast},
    }
    report = run_child(tmp_path, config)
    assert report["outcomes"] == {name: "delivered" for name in config}
    assert set(report["attempts"]) == {"127.0.0.1"}
    assert sorted(r.path for r in http_server.requests[:4]) == ["/discord", "/hook", "/pd", "/slack"]
    assert len(smtp.messages) == 1


def test_unconfigured_plugin_never_opens_a_socket(tmp_path):
    report = run_child(tmp_path, {})
    assert report == {"attempts": [], "outcomes": {}}


def test_the_guard_really_blocks(tmp_path):
    # The same audit hook refuses a public address, so the tests above would notice one.
    script = tmp_path / "probe.py"
    script.write_text(_CHILD.split("import rlwatch")[0] + textwrap.dedent(
        """
        import socket
        try:
            socket.socket().connect(("192.0.2.1", 9))
        except ConnectionRefusedError as exc:
            print("blocked" if "blocked" in str(exc) else "other")
        try:
            socket.getaddrinfo("hooks.slack.com", 443)
        except OSError as exc:
            print("blocked" if "blocked" in str(exc) else "other")
        """
    ))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=30)
    assert result.stdout.split() == ["blocked", "blocked"], result.stderr
