"""The hashed locks cover pyproject.toml: a dependency added or raised without `make lock` fails here, before
a fresh `make install` or image build installs something nobody pinned (or refuses to install at all)."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
RUNTIME = [Requirement(r) for r in PROJECT["dependencies"]]
DEV = RUNTIME + [Requirement(r) for extra in ("test", "ml") for r in PROJECT["optional-dependencies"][extra]]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def read_lock(path: Path) -> dict[str, tuple[str, list[str]]]:
    """{canonical name: (version, hashes)} of a requirements file as uv writes it: an entry starts at column 0,
    its `--hash=` options follow on indented continuation lines."""
    entries: dict[str, tuple[str, list[str]]] = {}
    name = None
    for line in path.read_text("utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            match = PIN.match(line)
            assert match, f"{path.name}: not pinned with ==: {line!r}"
            name = canonicalize_name(match.group(1))
            entries[name] = (match.group(2), [])
        entries[name][1].extend(re.findall(r"--hash=(sha256:[0-9a-f]{64})", line))
    return entries


LOCKS = {"requirements.lock": RUNTIME, "requirements-dev.lock": DEV}


@pytest.mark.parametrize("lock,wanted", LOCKS.items(), ids=list(LOCKS))
def test_every_dependency_of_pyproject_is_pinned_within_its_range(lock, wanted):
    """Each name pyproject asks for is in the lock at a version its specifier accepts."""
    pins = read_lock(ROOT / lock)
    missing = [str(r) for r in wanted if canonicalize_name(r.name) not in pins]
    assert not missing, f"{lock} lacks {missing}: run `make lock`"
    outside = [f"{r} (locked {pins[canonicalize_name(r.name)][0]})" for r in wanted
               if not r.specifier.contains(Version(pins[canonicalize_name(r.name)][0]), prereleases=True)]
    assert not outside, f"{lock} pins versions pyproject.toml no longer allows: {outside}: run `make lock`"


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_package_has_hashes(lock):
    """`pip install --require-hashes` refuses a file without one: a lock edited by hand fails here first."""
    bare = [name for name, (_, hashes) in read_lock(ROOT / lock).items() if not hashes]
    assert not bare, f"{lock}: no --hash for {bare}"


def test_the_image_and_make_install_the_same_versions():
    """The runtime lock is the dev lock minus test and ml: a bug seen in `make test` is the image's too."""
    runtime, dev = read_lock(ROOT / "requirements.lock"), read_lock(ROOT / "requirements-dev.lock")
    differ = {n: (v, dev.get(n, ("absent",))[0]) for n, (v, _) in runtime.items() if dev.get(n, ("",))[0] != v}
    assert not differ, f"requirements.lock and requirements-dev.lock disagree (runtime, dev): {differ}"


def test_the_check_catches_a_dependency_added_without_a_refresh(tmp_path):
    """The reader is not blind: a lock missing a package, or one without hashes, is seen."""
    lines = (ROOT / "requirements.lock").read_text("utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("redis=="))
    end = next(i for i in range(start + 1, len(lines)) if lines[i][0] not in " \t")
    (tmp_path / "cut.lock").write_text("".join(lines[:start] + lines[end:]) + "extra==1.0\n")
    cut = read_lock(tmp_path / "cut.lock")
    assert "redis" not in cut and cut["extra"] == ("1.0", [])
