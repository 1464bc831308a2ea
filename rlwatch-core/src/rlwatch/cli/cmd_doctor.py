"""`rlwatch doctor`: versions, plugins, resolved config (redacted), DB health."""

from __future__ import annotations

import argparse
import json
import os
import platform
from importlib import metadata
from typing import Any

from rlwatch import envflags, plugins
from rlwatch.cli._common import EXIT_OK, EXIT_USAGE, add_db_option
from rlwatch.config import ConfigError, load_config
from rlwatch.guard import error_counts


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``doctor`` command."""
    p = subparsers.add_parser("doctor", help="check the installation, plugins, configuration and database")
    add_db_option(p)
    p.add_argument("--config", help="rlwatch.yaml to check (default: $RLWATCH_CONFIG or ./rlwatch.yaml)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_doctor)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("rlwatch-core", "numpy", "scipy", "pluggy", "PyYAML"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    for dist in metadata.distributions():
        dist_name = dist.metadata["Name"] or ""
        if dist_name.startswith("rlwatch-") and dist_name != "rlwatch-core":
            out[dist_name] = dist.version
    return out


def _db_health(path: str) -> dict[str, Any]:
    import sqlite3

    from rlwatch.storage.reader import StoreError, StoreReader

    info: dict[str, Any] = {"path": os.path.abspath(path), "exists": os.path.exists(path)}
    if not info["exists"]:
        info["status"] = "not created yet (it appears on the first logged step)"
        return info
    info["size_bytes"] = os.path.getsize(path)
    try:
        with StoreReader(path) as reader:
            info["integrity"] = reader.integrity_check()
            info["runs"] = len(reader.runs())
            info["status"] = "ok" if info["integrity"] == "ok" else "damaged"
    except (StoreError, sqlite3.Error) as exc:
        info["status"] = f"error: {exc}"
    return info


def verdict(report: dict[str, Any]) -> tuple[list[str], list[str]]:
    """``(problems, notes)`` of a doctor report: what is wrong, and what is worth knowing."""
    problems: list[str] = []
    notes: list[str] = []
    if report["config_status"] != "ok":
        problems.append(f"configuration {report['config_status']}")
    for rec in report["plugins"]:
        if rec["status"] == "failed":
            problems.append(f"plugin {rec['name']!r} failed to load ({rec['detail']})")
        elif rec["status"] == "disabled":
            notes.append(f"plugin {rec['name']!r} is disabled ({rec['detail']})")
    status = str(report["database"].get("status", ""))
    if status == "damaged" or status.startswith("error"):
        problems.append(f"database {report['database']['path']}: {status}")
    errors = sum(report["internal_errors"].values())
    if errors:
        problems.append(f"{errors} internal error(s) so far: {', '.join(report['internal_errors'])}")
    if report["disabled"]:
        notes.append("RLWATCH_DISABLE is set: monitors record nothing")
    return problems, notes


def cmd_doctor(args: argparse.Namespace) -> int:
    """Print the health report."""
    try:
        cfg = load_config(args.config)
        config: dict[str, Any] = cfg.to_dict(redact=True)
        config_status = "ok"
        db_path = args.db or cfg.db_path
    except ConfigError as exc:
        config, config_status, db_path = {}, f"error: {exc}", args.db or "./rlwatch_logs/metrics.db"
    channels: list[dict[str, Any]] = []
    if config_status == "ok":
        try:
            for group in reversed(plugins.hook().rlwatch_channels(config=cfg)):
                for channel in group:
                    channels.append(channel.describe())
                    channel.close()
        except ConfigError as exc:
            config_status = f"error: {exc}"
    report: dict[str, Any] = {
        "versions": _versions(),
        "channels": channels,
        "plugins": [r.__dict__ for r in plugins.records()],
        "detectors": [cls.id for cls in plugins.detector_classes()],
        "config_status": config_status,
        "config": config,
        "database": _db_health(db_path),
        "internal_errors": error_counts(),
        "disabled": envflags.flag(envflags.DISABLE),
    }
    problems, notes = verdict(report)
    report = {"verdict": {"ok": not problems, "problems": problems, "notes": notes}, **report}
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        # The verdict first: most people run doctor to learn whether anything is wrong, not to read versions.
        if problems:
            print(f"rlwatch doctor: {len(problems)} problem(s): " + "; ".join(problems))
        else:
            alerts_to = ", ".join(str(c.get("name")) for c in report["channels"]) or "no channel"
            print(f"rlwatch doctor: OK: ready to record ({len(report['detectors'])} detectors; alerts to "
                  f"{alerts_to}; database {report['database'].get('status')})")
        for note in notes:
            print(f"  note: {note}")
        print("details:")
        print("  versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
        print("  plugins:")
        for rec in report["plugins"]:
            detail = f" ({rec['detail']})" if rec["detail"] else ""
            print(f"    {rec['name']:12} {rec['status']:9} {rec['source']}{detail}")
        print("  detectors: " + ", ".join(report["detectors"]))
        print("  channels: " + (", ".join(
            f"{c.get('name')} (>= {c.get('min_severity')})" for c in report["channels"]) or "none"))
        print(f"  config: {config_status}")
        if config:
            import yaml

            print("    " + yaml.safe_dump(config, sort_keys=False).replace("\n", "\n    ").rstrip())
        db = report["database"]
        print(f"  database: {db['path']}: {db.get('status')}")
        if report["disabled"]:
            print("  RLWATCH_DISABLE is set: monitors are no-ops")
    return EXIT_OK if config_status == "ok" else EXIT_USAGE
