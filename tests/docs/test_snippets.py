"""Every code example in README.md and docs/ is run, so examples never rot.

- ```python blocks run as scripts, each in a fresh interpreter in its own
  empty folder (so ``./rlwatch_logs`` lands there), with no RLWATCH_*
  variables from the caller's shell.
- A ``<!-- skip-if-missing: trl, transformers -->`` comment right before a
  block skips it only when one of those modules cannot be imported (the
  framework's own nox session then runs it).
- ```bash blocks whose every command starts with ``rlwatch `` run command by
  command, in a folder that already holds a demo run; a run id in the command
  (``RUN`` or an example name) is replaced by the demo's; `diagnose` may exit 1
  (the demo has critical alerts: that exit code is the documented contract).
  Commands that serve or send (``dashboard``, ``notify-test``) are not run.
- ```yaml blocks that look like rlwatch configuration are loaded with
  `rlwatch.load_config`, which rejects unknown keys and bad values.

Conventions are documented in TESTING.md.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)[ \t]*(?P<lang>[\w+-]*)")
SKIP_IF_MISSING = re.compile(r"^\s*<!--\s*skip-if-missing:\s*(?P<mods>[\w., ]+?)\s*-->\s*$")
NOT_RUN_COMMANDS = {
    "dashboard": "serves until interrupted",
    "notify-test": "sends to the real configured services",
}
PYTHON_TIMEOUT = 300  # a framework example (RLlib) may start Ray
DEMO_RUN = "docs-demo"


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown file."""

    path: Path
    line: int
    lang: str
    code: str
    needs: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT).as_posix()}:{self.line}"


def extract_blocks(path: Path) -> list[Block]:
    """Fenced blocks of a file, with the modules their skip marker names."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.group("indent"), m.group("fence"), m.group("lang").lower()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            line = lines[i]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            i += 1
        i += 1
        blocks.append(Block(path, start + 1, lang, "\n".join(body) + "\n", _marker(lines, start)))
    return blocks


def _marker(lines: list[str], fence_index: int) -> tuple[str, ...]:
    j = fence_index - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j >= 0:
        m = SKIP_IF_MISSING.match(lines[j])
        if m:
            return tuple(name.strip() for name in m.group("mods").split(",") if name.strip())
    return ()


def _all_blocks() -> list[Block]:
    return [b for path in SOURCES for b in extract_blocks(path)]


BLOCKS = _all_blocks()
PYTHON = [b for b in BLOCKS if b.lang in ("python", "py", "python3")]


def _is_rlwatch_commands(block: Block) -> bool:
    if block.lang not in ("bash", "sh", "shell", "console"):
        return False
    commands = _commands(block)
    return bool(commands) and all(c[0] == "rlwatch" for c in commands)


def _commands(block: Block) -> list[list[str]]:
    out = []
    for line in block.code.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            return []
        if words:
            out.append(words)
    return out


BASH = [b for b in BLOCKS if _is_rlwatch_commands(b)]


def _config_roots() -> set[str]:
    from rlwatch.config import RLWatchConfig
    from rlwatch.plugins import section_classes as plugin_sections

    roots = {f.name for f in dataclasses.fields(RLWatchConfig) if not f.metadata.get("internal")}
    roots |= {path.split(".")[0] for path in plugin_sections()}
    return roots


def _looks_like_config(block: Block, roots: set[str]) -> bool:
    first_line = block.code.strip().splitlines()[0] if block.code.strip() else ""
    if "rlwatch.yaml" in first_line:  # a block that says it is one is checked, whatever its keys
        return True
    try:
        data = yaml.safe_load(block.code)
    except yaml.YAMLError:
        return True  # broken YAML in the docs is worth a failure, whatever it was meant to be
    return isinstance(data, dict) and any(key in roots for key in data)


YAML = [b for b in BLOCKS if b.lang in ("yaml", "yml")]


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RLWATCH_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _skip_if_missing(block: Block) -> None:
    missing = [name for name in block.needs if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (skip-if-missing marker)")


def _rlwatch_exe() -> str:
    beside = Path(sys.executable).parent / "rlwatch"
    return str(beside) if beside.exists() else (shutil.which("rlwatch") or "rlwatch")


def test_the_docs_have_examples_to_run() -> None:
    # Guards the extractor itself: if it found nothing, every test below would pass vacuously.
    assert len(PYTHON) >= 10 and BASH and YAML
    readme = [b for b in PYTHON if b.path.name == "README.md"]
    assert readme, "README.md's quick start must be a ```python block"


@pytest.mark.parametrize("block", PYTHON, ids=lambda b: b.id)
def test_python_block_runs(block: Block, tmp_path: Path) -> None:
    _skip_if_missing(block)
    script = tmp_path / "snippet.py"
    script.write_text(block.code, encoding="utf-8")
    try:
        proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_clean_env(),
                              capture_output=True, text=True, timeout=PYTHON_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{block.id}: the example did not finish in {PYTHON_TIMEOUT}s", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(f"{block.id}: the example fails (exit {proc.returncode}):\n{block.code}\n"
                    f"--- stderr ---\n{proc.stderr[-4000:]}", pytrace=False)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose ./rlwatch_logs holds one finished demo run."""
    folder = tmp_path_factory.mktemp("demo")
    subprocess.run([_rlwatch_exe(), "demo", "--delay", "0", "--run-id", DEMO_RUN], cwd=folder,
                   env=_clean_env(), capture_output=True, text=True, check=True, timeout=300)
    return folder / "rlwatch_logs"


def _with_demo_run(args: list[str]) -> list[str]:
    """The command's run id (a placeholder such as RUN, or an example name) replaced by the demo's.

    The real parser says which word is the run id, so only that word changes.
    """
    from rlwatch.cli.main import build_parser

    try:
        namespace = build_parser().parse_args(args)
    except SystemExit:
        return args  # let the real command report the usage error
    run = getattr(namespace, "run", None)
    if not run or run == DEMO_RUN:
        return args
    return [DEMO_RUN if word == run else word for word in args]


@pytest.mark.parametrize("block", BASH, ids=lambda b: b.id)
def test_rlwatch_commands_run(block: Block, tmp_path: Path, demo_db: Path) -> None:
    _skip_if_missing(block)
    shutil.copytree(demo_db, tmp_path / "rlwatch_logs")
    ran = 0
    for words in _commands(block):
        sub = words[1] if len(words) > 1 else ""
        if sub in NOT_RUN_COMMANDS:
            continue
        args = _with_demo_run(words[1:])
        if sub == "demo" and "--delay" not in args:
            args += ["--delay", "0"]
        proc = subprocess.run([_rlwatch_exe(), *args], cwd=tmp_path, env=_clean_env(),
                              capture_output=True, text=True, timeout=300)
        allowed = {0, 1} if sub == "diagnose" else {0}
        assert proc.returncode in allowed, (
            f"{block.id}: `{' '.join(words)}` exited {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
        ran += 1
    if not ran:
        pytest.skip("only commands that serve or send")


@pytest.mark.parametrize("block", YAML, ids=lambda b: b.id)
def test_yaml_config_block_loads(block: Block, tmp_path: Path) -> None:
    from rlwatch.config import ConfigError, load_config

    if not _looks_like_config(block, _config_roots()):
        pytest.skip("not rlwatch configuration")
    path = tmp_path / "rlwatch.yaml"
    path.write_text(block.code, encoding="utf-8")
    try:
        load_config(str(path), env={})
    except ConfigError as exc:
        pytest.fail(f"{block.id}: this rlwatch.yaml example is rejected: {exc}\n{block.code}", pytrace=False)


def test_skip_marker_applies_only_to_the_next_block(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- skip-if-missing: no_such_module_xyz, json -->\n\n```python\nimport no_such_module_xyz\n```\n\n"
        "text\n\n```python\nprint(1)\n```\n",
        encoding="utf-8",
    )
    first, second = extract_blocks(page)
    assert first.needs == ("no_such_module_xyz", "json") and first.line == 3
    assert second.needs == () and second.code == "print(1)\n"
    with pytest.raises(pytest.skip.Exception):
        _skip_if_missing(first)


def test_indented_blocks_are_dedented(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("1. step\n\n    ```python\n    x = 1\n    print(x)\n    ```\n", encoding="utf-8")
    (block,) = extract_blocks(page)
    assert block.code == "x = 1\nprint(x)\n"
