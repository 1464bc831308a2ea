"""`rlwatch doctor`: versions, plugins, resolved config (redacted), DB health.

Exit code 0 when ready to record, 2 when the configuration is wrong, 3 when
the database exists but cannot be used (damaged, not an rlwatch file,
written by a newer rlwatch). A database not created yet is fine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from importlib import metadata
from typing import Any

from rlwatch import envflags, plugins
from rlwatch.cli._common import EXIT_NO_DATA, EXIT_OK, EXIT_USAGE, add_db_option
from rlwatch.config import ConfigError, load_config
from rlwatch.guard import error_counts
from rlwatch.terminal import printable


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``doctor`` command."""
    p = subparsers.add_parser(
        "doctor", help="check the installation, plugins, configuration and database",
        description="Exit code 0 when ready to record, 2 for a configuration error, 3 when the database exists "
                    "but cannot be used (damaged, not an rlwatch file, written by a newer rlwatch).",
    )
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
    from rlwatch.errors import StoreError
    from rlwatch.redaction import redact_url
    from rlwatch.stores import is_url, open_store

    remote = is_url(path) and not path.startswith("file://")
    info: dict[str, Any] = {"path": redact_url(path) if remote else os.path.abspath(path)}
    if not remote:
        info["exists"] = os.path.exists(path)
        if not info["exists"]:
            info["status"] = "not created yet (it appears on the first logged step)"
            return info
        info["size_bytes"] = os.path.getsize(path)
        if info["size_bytes"] == 0:  # the monitor creates its tables in an empty file
            info["status"] = "empty (tables appear on the first logged step)"
            return info
    try:
        with open_store(path) as store:
            # The whole file (PRAGMA integrity_check), not just the pages a listing reads; first, since a
            # listing of a damaged file may fail with a less telling error.
            info["integrity"] = store.health()
            if info["integrity"] != "ok":
                info["status"] = f"damaged: {info['integrity']}"
                return info
            info["runs"] = len(store.runs())
            info["status"] = "ok"
    except StoreError as exc:
        info["status"] = f"error: {str(exc).replace(path, redact_url(path))}"
    return info


def database_unusable(report: dict[str, Any]) -> bool:
    """Whether the doctor report's database exists but cannot be used."""
    status = str(report["database"].get("status", ""))
    return status.startswith(("damaged", "error"))


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
    if database_unusable(report):
        problems.append(f"database {report['database']['path']}: {report['database']['status']}")
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
        # Plugin details, config values and paths are the user's text: nothing in them may drive the terminal.
        for line in _text_lines(report, problems, notes):
            print(printable(line, keep="\n"))
    if config_status != "ok":
        return EXIT_USAGE
    return EXIT_NO_DATA if database_unusable(report) else EXIT_OK


def _text_lines(report: dict[str, Any], problems: list[str], notes: list[str]) -> list[str]:
    """The human-readable report, one string per line (the config block is one multi-line string)."""
    lines: list[str] = []
    # The verdict first: most people run doctor to learn whether anything is wrong, not to read versions.
    if problems:
        lines.append(f"rlwatch doctor: {len(problems)} problem(s): " + "; ".join(problems))
    else:
        alerts_to = ", ".join(str(c.get("name")) for c in report["channels"]) or "no channel"
        lines.append(f"rlwatch doctor: OK: ready to record ({len(report['detectors'])} detectors; alerts to "
                     f"{alerts_to}; database {report['database'].get('status')})")
    lines.extend(f"  note: {note}" for note in notes)
    lines.append("details:")
    lines.append("  versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    lines.append("  plugins:")
    for rec in report["plugins"]:
        detail = f" ({rec['detail']})" if rec["detail"] else ""
        lines.append(f"    {rec['name']:12} {rec['status']:9} {rec['source']}{detail}")
    lines.append("  detectors: " + ", ".join(report["detectors"]))
    lines.append("  channels: " + (", ".join(
        f"{c.get('name')} (>= {c.get('min_severity')})" for c in report["channels"]) or "none"))
    lines.append(f"  config: {report['config_status']}")
    if report["config"]:
        import yaml

        # safe_dump escapes control characters inside the YAML itself; its line breaks are its own.
        lines.append("    " + yaml.safe_dump(report["config"], sort_keys=False).replace("\n", "\n    ").rstrip())
    db = report["database"]
    lines.append(f"  database: {db['path']}: {db.get('status')}")
    if report["disabled"]:
        lines.append("  RLWATCH_DISABLE is set: monitors are no-ops")
    return lines
