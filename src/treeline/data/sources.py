"""Where a dataset's raw file comes from: an installed package, a system file, or the network.

Sources are tried in order; the first that is present locally wins, and only then are the
online ones (a URL with a SHA-256, or Debian's `apt-get download`) used, into the cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import tempfile
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path

from treeline.errors import TreelineError


class DataUnavailable(TreelineError):
    """No source of a dataset could be used."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Source(ABC):
    """One place a raw data file may come from."""

    online = False

    @property
    @abstractmethod
    def label(self) -> str:
        """Shown in `treeline ls datasets`."""

    @property
    @abstractmethod
    def hint(self) -> str:
        """How a user makes this source available."""

    @abstractmethod
    def locate(self, cache: Path) -> Path | None:
        """The local file if it is already here; never touches the network."""

    def fetch(self, cache: Path) -> Path:
        """Make the file available (may download); raises DataUnavailable."""
        found = self.locate(cache)
        if found is None:
            raise DataUnavailable(f"{self.label}: not available ({self.hint})")
        return found


class PackageFile(Source):
    """A file shipped inside an installed Python package (found without importing it)."""

    def __init__(self, package: str, relpath: str, pip_name: str | None = None):
        self.package, self.relpath, self.pip_name = package, relpath, pip_name or package

    @property
    def label(self) -> str:
        return f"PyPI package {self.pip_name}"

    @property
    def hint(self) -> str:
        return f"pip install {self.pip_name}"

    def locate(self, cache: Path) -> Path | None:
        try:
            spec = importlib.util.find_spec(self.package)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        for root in spec.submodule_search_locations:
            path = Path(root) / self.relpath
            if path.exists():
                return path
        return None


class SystemFile(Source):
    """A file installed by a system package (e.g. Debian's r-cran-* data packages)."""

    def __init__(self, path: str, apt_package: str):
        self.path, self.apt_package = Path(path), apt_package

    @property
    def label(self) -> str:
        return f"Debian package {self.apt_package}"

    @property
    def hint(self) -> str:
        return f"apt-get install {self.apt_package}"

    def locate(self, cache: Path) -> Path | None:
        return self.path if self.path.exists() else None


class _Verified(Source):
    """An online source whose file is kept in the cache once its SHA-256 matched."""

    online = True

    def __init__(self, filename: str, sha256: str):
        self.filename, self.sha256 = filename, sha256

    def _target(self, cache: Path) -> Path:
        return cache / "downloads" / self.filename

    def locate(self, cache: Path) -> Path | None:
        target = self._target(cache)
        return target if target.exists() else None

    def _verify_into(self, tmp: Path, cache: Path) -> Path:
        got = sha256_of(tmp)
        if got != self.sha256:
            raise DataUnavailable(
                f"{self.label}: checksum mismatch for {self.filename}: "
                f"expected sha256 {self.sha256}, got {got}; the file was not kept"
            )
        target = self._target(cache)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.replace(target)  # atomic: a half-written file is never taken for a good one
        return target


class Url(_Verified):
    """The original file on the web, checked against a pinned SHA-256 (http(s) or file://)."""

    def __init__(self, url: str, sha256: str, filename: str | None = None):
        super().__init__(filename or url.rsplit("/", 1)[-1], sha256)
        self.url = url

    @property
    def label(self) -> str:
        return f"download {self.url}"

    @property
    def hint(self) -> str:
        return f"needs network access to {self.url}"

    def fetch(self, cache: Path) -> Path:
        found = self.locate(cache)
        if found:
            return found
        (cache / "downloads").mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache / "downloads", delete=False) as tmp:
            tmp_path = Path(tmp.name)
            try:
                with urllib.request.urlopen(self.url, timeout=60) as resp:
                    shutil.copyfileobj(resp, tmp)
            except (OSError, ValueError) as exc:
                tmp_path.unlink(missing_ok=True)
                raise DataUnavailable(f"{self.label}: {exc}") from None
        try:
            return self._verify_into(tmp_path, cache)
        finally:
            tmp_path.unlink(missing_ok=True)


class AptDownload(_Verified):
    """One file out of a Debian package, via `apt-get download` (no install, no R needed)."""

    def __init__(self, apt_package: str, member: str, sha256: str):
        super().__init__(f"{apt_package}--{Path(member).name}", sha256)
        self.apt_package, self.member = apt_package, member

    @property
    def label(self) -> str:
        return f"apt-get download {self.apt_package}"

    @property
    def hint(self) -> str:
        return "needs apt-get and dpkg-deb with Debian's package lists (apt-get update)"

    def fetch(self, cache: Path) -> Path:
        found = self.locate(cache)
        if found:
            return found
        if not (shutil.which("apt-get") and shutil.which("dpkg-deb")):
            raise DataUnavailable(f"{self.label}: apt-get/dpkg-deb not found")
        (cache / "downloads").mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache / "downloads") as work:
            try:
                subprocess.run(
                    ["apt-get", "download", self.apt_package],
                    cwd=work,
                    check=True,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                debs = list(Path(work).glob("*.deb"))
                subprocess.run(
                    ["dpkg-deb", "-x", str(debs[0]), str(Path(work) / "x")],
                    check=True,
                    capture_output=True,
                    timeout=300,
                )
            except (subprocess.SubprocessError, OSError, IndexError) as exc:
                detail = getattr(exc, "stderr", "") or exc
                raise DataUnavailable(f"{self.label}: {str(detail).strip()[-300:]}") from None
            member = Path(work) / "x" / self.member
            if not member.exists():
                raise DataUnavailable(f"{self.label}: {self.member} is not in the package")
            tmp = Path(work) / "member.tmp"
            shutil.copyfile(member, tmp)
            return self._verify_into(tmp, cache)


def first_available(sources: list[Source], cache: Path) -> tuple[Source, Path]:
    """The first source present locally, else the first online one that can be fetched."""
    for src in sources:
        path = src.locate(cache)
        if path is not None:
            return src, path
    errors = []
    for src in sources:
        if src.online:
            try:
                return src, src.fetch(cache)
            except DataUnavailable as exc:
                errors.append(str(exc))
    hints = "; or ".join(s.hint for s in sources if not s.online)
    detail = f" (online sources failed: {'; '.join(errors)})" if errors else ""
    raise DataUnavailable(f"no source available: {hints}{detail}")
