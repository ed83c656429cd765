"""The README and docs/ as a user reads them: every ganforge command they show parses with the flags it uses, and
every local link points at a file that exists."""
import re
import shlex
from pathlib import Path

import pytest

from ganforge.cli import _parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _commands(page: Path) -> list[str]:
    found = []
    for block in re.findall(r"```bash\n(.*?)```", page.read_text(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if " -m ganforge " in line:
                line = "ganforge " + line.split(" -m ganforge ", 1)[1]
            if line.startswith("ganforge "):
                found.append(line)
    return found


COMMANDS = [(page.name, line) for page in PAGES for line in _commands(page)]


def test_the_readme_shows_the_main_commands():
    shown = {line.split()[1] for name, line in COMMANDS if name == "README.md"}
    assert {"train", "watch", "report", "eval", "generate", "export", "study", "import-keras"} <= shown


@pytest.mark.parametrize("page, line", COMMANDS, ids=[f"{p}: {c}" for p, c in COMMANDS])
def test_every_command_shown_parses(page, line, capsys):
    argv = shlex.split(line)[1:]
    try:
        _parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"{page}: `{line}` does not parse: {capsys.readouterr().err.strip()} (exit {exc.code})")


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_local_link_exists(page):
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
        assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


def test_the_readme_is_a_guide_of_at_most_250_lines():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250
