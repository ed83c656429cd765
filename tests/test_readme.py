"""The README and docs/ as a user reads them: every command they show, in a code block or inline, runs its parser
with the flags it uses; every local link points at a file that exists; the README is a guide in a user's order."""
import functools
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from ganforge.cli import _parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SCRIPT = re.compile(r"^python3? ((?:bench|tools)/\S+\.py)")


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _shown(text: str) -> list[str]:
    """Command lines in ```bash blocks and in `inline code`."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        lines += [line.split(" #", 1)[0] for line in block.replace("\\\n", " ").splitlines()]
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    lines += [span for span in re.findall(r"`([^`\n]+)`", text) if len(span.split()) > 2]  # `ganforge eval` names a command
    return lines


def _commands(page: Path) -> list[str]:
    found = []
    for line in _shown(page.read_text()):
        line = re.sub(r"^(\S+=\S+ )+", "", line.strip())  # OMP_NUM_THREADS=1 ...
        line = re.sub(r"^(\.venv/bin/)?python3? -m ganforge ", "ganforge ", line)
        line = re.sub(r"^\.venv/bin/ganforge ", "ganforge ", line)
        line = re.sub(r"^torchrun (--\S+ )*-m ganforge ", "ganforge ", line)
        if (line.startswith("ganforge ") and len(line.split()) > 1) or SCRIPT.match(line) or line.startswith("make "):
            found.append(line.split(" | ")[0].split(" && ")[0].split(" > ")[0].strip())
    return found


COMMANDS = [(_name(page), line) for page in PAGES for line in _commands(page)]


def test_inline_commands_are_found_and_checked_too():
    page = "Run `ganforge train --out runs/x` or `python bench/fid_speed.py --images 8` (`ganforge eval`), then\n```bash\nmake demo\n```"
    assert [c for c in _shown(page)] == ["make demo", "ganforge train --out runs/x", "python bench/fid_speed.py --images 8"]
    assert {name for name, _ in COMMANDS} >= {"README.md", "docs/seed-study/README.md", "docs/metrics.md"}


def test_the_readme_shows_the_main_commands():
    shown = {line.split()[1] for name, line in COMMANDS if name == "README.md" and line.startswith("ganforge ")}
    assert {"train", "watch", "report", "eval", "generate", "export", "study", "import-keras"} <= shown


# Runs each script shown up to the end of its argument parsing, all in one process: parse_args is patched to stop there.
_PARSE_ONLY = """
import argparse, json, runpy, sys
parse = argparse.ArgumentParser.parse_args
class Parsed(Exception):
    pass
def parse_then_stop(self, *args, **kwargs):
    parse(self, *args, **kwargs)
    raise Parsed
argparse.ArgumentParser.parse_args = parse_then_stop
results = {}
for line in json.loads(sys.argv[1]):
    words = line.split("\\0")
    sys.argv = words[1:]
    sys.path.insert(0, words[1].rsplit("/", 1)[0])  # as `python SCRIPT` would: its folder first
    try:
        runpy.run_path(words[1], run_name="__main__")
        results[line] = "never parsed its arguments"
    except Parsed:
        results[line] = ""
    except SystemExit as exc:
        results[line] = f"exit {exc.code}"
    except Exception as exc:
        results[line] = f"{type(exc).__name__}: {exc}"
    sys.path.pop(0)
print(json.dumps(results))
"""


@functools.cache
def _scripts_parsed() -> dict[str, str]:
    import json

    lines = sorted({"\0".join(shlex.split(line)) for _, line in COMMANDS if SCRIPT.match(line)})
    run = subprocess.run([sys.executable, "-c", _PARSE_ONLY, json.dumps(lines)], capture_output=True, text=True, timeout=300,
                         cwd=ROOT)
    assert run.returncode == 0, run.stderr[-500:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@functools.cache
def _make_targets() -> set[str]:
    return set(re.findall(r"^([\w.-]+):", (ROOT / "Makefile").read_text(), re.M))


@pytest.mark.parametrize("page, line", COMMANDS, ids=[f"{p}: {c}" for p, c in COMMANDS])
def test_every_command_shown_parses(page, line, capsys):
    argv = shlex.split(line)
    if argv[0] == "make":
        assert set(argv[1:]) <= _make_targets(), f"{page}: `{line}`: no such make target"
        return
    if argv[0].startswith("python"):  # a script: its own parser takes the arguments shown
        assert _scripts_parsed()["\0".join(argv)] == "", f"{page}: `{line}` does not parse"
        return
    try:
        args = _parser().parse_args([a for a in argv[1:] if a != "--debug"])
    except SystemExit as exc:
        pytest.fail(f"{page}: `{line}` does not parse: {capsys.readouterr().err.strip()} (exit {exc.code})")
    if args.command in ("generate", "eval"):  # what argparse cannot say: a RUN or the flag that replaces it
        assert args.run or getattr(args, "model", None) or getattr(args, "samples", None), f"{page}: `{line}` names no RUN"


@pytest.mark.parametrize("page", PAGES, ids=[_name(p) for p in PAGES])
def test_every_local_link_exists(page):
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
        assert (page.parent / target).exists(), f"{_name(page)} links to {target}, which does not exist"


def test_the_readme_is_a_guide_in_a_users_order():
    text = (ROOT / "README.md").read_text()
    headings = re.findall(r"^## (.+)$", text, re.M)
    order = ["Two commands", "Train on your own images", "Watch it, score it, generate from it", "The seed's GAN",
             "The seed's study", "Results"]
    assert [h for h in headings if h in order] == order
    first_command = text.index("```bash")
    assert text[:first_command].count("\n") < 25  # the commands come before any long story
    assert len(text.splitlines()) <= 160
    assert "shared/seed" not in text  # not in the repository: the seed's account is docs/seed.md


def test_the_settings_page_is_what_the_code_says():
    """docs/settings.md is generated from config.py and the train flags: it names every setting and flag, and a
    changed default or comment fails here until `python tools/settings_page.py` is rerun."""
    from ganforge.cli import TRAIN_FLAGS
    from ganforge.config import settings_reference

    run = subprocess.run([sys.executable, "tools/settings_page.py", "--check"], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    page = (ROOT / "docs" / "settings.md").read_text()
    for name, _, _, about in settings_reference():
        assert f"| `{name}` |" in page and about, name  # every setting, each with a description
    for flag in TRAIN_FLAGS:
        assert f"`--{flag.replace('_', '-')}`" in page
    for wanted in ("train.keep_checkpoints", "train.max_rollbacks", "data.cache_dir", "`--workers`", "`--no-progress`"):
        assert wanted in page
