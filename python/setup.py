"""Build the gloss Python package: build_py runs `make lib` in the gloss
repository and puts libgloss.so inside the package (gloss/_lib/libgloss.so).

The repository is found, in order, at $GLOSS_SOURCE_DIR, at the directory
holding this python/ folder (pip >= 21.3 builds a local directory in place),
and at the path recorded in gloss_source_dir.txt, which an sdist made from the
repository carries (so a wheel built from that sdist in a temporary copy still
finds it). $GLOSS_LIBRARY names a libgloss.so to package instead of building
one. make writes its objects to build/python/ in the repository, or to a
temporary directory where the repository is read-only; it runs as many jobs as
there are CPUs ($GLOSS_MAKE_JOBS to choose), or shares a parent make's."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
RECORD = "gloss_source_dir.txt"


def is_repo(path):
    return (path / "Makefile").is_file() and (path / "include" / "gloss.h").is_file() and (path / "src").is_dir()


def find_repo(required=True):
    env = os.environ.get("GLOSS_SOURCE_DIR")
    if env:
        path = Path(env).resolve()
        if not is_repo(path):
            sys.exit(f"gloss: GLOSS_SOURCE_DIR={env} is not the gloss repository (no Makefile, include/gloss.h, src/)")
        return path
    if is_repo(HERE.parent):
        return HERE.parent
    record = HERE / RECORD
    if record.is_file():
        path = Path(record.read_text(encoding="utf-8").strip())
        if is_repo(path):
            return path
    if required:
        sys.exit(f"gloss: cannot find the gloss repository to build libgloss.so from: {HERE} is not inside it "
                 f"and no {RECORD} names it. Install from the repository (pip install ./python) or set "
                 "GLOSS_SOURCE_DIR to the repository (or GLOSS_LIBRARY to a built libgloss.so)")
    return None


def version():
    repo = find_repo(required=False)
    if repo is not None:
        m = re.search(r'#define\s+GLOSS_VERSION\s+"([^"]+)"', (repo / "include" / "gloss.h").read_text())
        if m:
            return m.group(1)
    return "0.0.0"


def build_library():
    """Run make and return the path of the libgloss.so it built."""
    prebuilt = os.environ.get("GLOSS_LIBRARY")
    if prebuilt:
        if not os.path.isfile(prebuilt):
            sys.exit(f"gloss: GLOSS_LIBRARY={prebuilt}: no such file")
        return Path(prebuilt)
    repo = find_repo()
    make = shutil.which("make")
    if make is None:
        sys.exit("gloss: building libgloss.so needs make and a C compiler: run `sh tools/setup.sh` in the "
                 "repository first (Debian: build-essential and the C libraries)")
    build_dir = repo / "build" / "python"
    try:
        build_dir.mkdir(parents=True, exist_ok=True)
        writable = os.access(build_dir, os.W_OK)
    except OSError:
        writable = False
    if not writable:
        build_dir = Path(tempfile.mkdtemp(prefix="gloss-build-"))
    cmd = [make, "-C", str(repo), f"BUILD={build_dir}", "lib"]
    makeflags = os.environ.get("MAKEFLAGS", "")
    if "-j" not in makeflags and "jobserver" not in makeflags:  # else a parent make shares its job slots
        cmd.insert(1, "-j" + (os.environ.get("GLOSS_MAKE_JOBS") or str(max(1, os.cpu_count() or 1))))
    print("gloss: " + " ".join(cmd), flush=True)
    rc = subprocess.call(cmd)
    if rc != 0:
        sys.exit(f"gloss: `{' '.join(cmd)}` failed (exit status {rc}); the C libraries it needs are installed "
                 "by `sh tools/setup.sh`")
    return build_dir / "libgloss.so"


class build_py_with_library(build_py):
    def run(self):
        super().run()
        lib = build_library()
        targets = [Path(self.build_lib) / "gloss" / "_lib"]
        if getattr(self, "editable_mode", False):  # pip install -e: the package is imported from the source tree
            targets.append(HERE / "gloss" / "_lib")
        for target in targets:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(lib, target / "libgloss.so")


class sdist_recording_source(sdist):
    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        (Path(base_dir) / RECORD).write_text(str(find_repo()) + "\n", encoding="utf-8")


class BinaryDistribution(Distribution):
    """The wheel holds a shared library: platform-specific, not pure Python."""

    def has_ext_modules(self):
        return True


cmdclass = {"build_py": build_py_with_library, "sdist": sdist_recording_source}

try:  # tag the wheel py3-none-PLATFORM: ctypes needs no particular Python ABI
    try:
        from setuptools.command.bdist_wheel import bdist_wheel as _bdist_wheel
    except ImportError:
        from wheel.bdist_wheel import bdist_wheel as _bdist_wheel

    class bdist_wheel_any_python(_bdist_wheel):
        def finalize_options(self):
            super().finalize_options()
            self.root_is_pure = False

        def get_tag(self):
            return ("py3", "none", super().get_tag()[2])

    cmdclass["bdist_wheel"] = bdist_wheel_any_python
except ImportError:
    pass

setup(version=version(), cmdclass=cmdclass, distclass=BinaryDistribution)
