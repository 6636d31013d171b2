"""What setup.cfg promises about dependencies holds for the installed set:
installing the test extra cannot move a runtime dependency; and CI runs
README's test command itself."""

import configparser
import importlib.metadata

from helpers import REPO
from packaging.requirements import Requirement


def requirements():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    runtime = [Requirement(line) for line in cfg["options"]["install_requires"].splitlines()
               if line.strip() and not line.strip().startswith("#")]
    test = [Requirement(line) for line in cfg["options.extras_require"]["test"].splitlines() if line.strip()]
    return runtime, test


def test_runtime_ranges_agree_with_what_the_test_extra_requires():
    """Every runtime dependency that a test tool also requires is declared in a
    range inside the tool's, so `pip install '.[test]'` keeps what `pip install .` chose."""
    runtime, test = requirements()
    ours = {r.name.lower().replace("_", "-"): r for r in runtime}
    for tool in test:
        for text in importlib.metadata.requires(tool.name) or []:
            theirs = Requirement(text)
            if theirs.marker is not None or theirs.name.lower().replace("_", "-") not in ours:
                continue
            mine = ours[theirs.name.lower().replace("_", "-")]
            if not theirs.specifier:
                continue
            installed = importlib.metadata.version(mine.name)
            assert installed in mine.specifier, f"{mine.name} {installed} is outside setup.cfg's {mine}"
            assert installed in theirs.specifier, f"{tool.name} needs {theirs}"
            # A tool that pins the dependency to its current minor release (the
            # next minor is already excluded) needs the same ceiling in our range;
            # otherwise `pip install .` takes a newer release that the extra undoes.
            major, minor = (int(x) for x in installed.split(".")[:2])
            next_minor = f"{major}.{minor + 1}.0"
            if next_minor not in theirs.specifier:
                assert next_minor not in mine.specifier, (
                    f"setup.cfg's {mine} allows {next_minor}, which {tool.name} ({theirs}) does not: "
                    "installing the test extra would downgrade it")

def test_every_package_folder_ships():
    """setup.cfg lists packages by name (static/ and hooks/ are mapped in):
    a new folder of posplugin/ left off the list is missing from a plain
    `pip install .`, and its imports fail there only."""
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    listed = {line.strip() for line in cfg["options"]["packages"].splitlines() if line.strip()}
    folders = {".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "posplugin").rglob("__init__.py")}
    assert folders - listed == set(), "add these to [options] packages in setup.cfg"


def test_installed_versions_satisfy_setup_cfg():
    runtime, test = requirements()
    for requirement in runtime + test:
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        version = importlib.metadata.version(requirement.name)
        assert version in requirement.specifier, f"{requirement.name} {version} is not {requirement.specifier}"


def test_ci_runs_readmes_test_command_itself():
    """.ci/run reads README's test command and runs that line, nothing of its
    own: what a new user types is what CI proves works. On a fresh machine the
    package lists were never fetched, so the line fetches them before it installs."""
    import re
    import subprocess

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^Run the full test suite.*?^```sh\n(.+?)\n```", readme, re.M | re.S)
    command = block.group(1)
    assert "\n" not in command
    printed = subprocess.run([str(REPO / ".ci" / "run"), "--print"], capture_output=True, text=True, timeout=30)
    assert printed.returncode == 0 and printed.stdout == command + "\n"
    steps = [step.strip() for step in command.split("&&")]
    assert steps[0] == "apt-get update" and steps[1].startswith("apt-get install -y ")
    assert steps[-1] == "python3 -m pytest"
    # The script installs and runs nothing itself: only comments, the reading, and running what it read.
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    code = [line for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert not any(re.search(r"\b(apt-get|pip|pytest)\b", line) for line in code), code
