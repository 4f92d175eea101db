"""Sequence and audio datasets and their featurizers, on the real data (UCR/UEA sets from aeon's
wheel, MNIST-1D from its generator, spoken digits from espeak-ng)."""

from __future__ import annotations

import numpy as np
import pytest
from modal_data import need_espeak

from treeline.data import DatasetRef, get_dataset
from treeline.data.inputs import Sequences
from treeline.featurize import featurizer_class
from treeline.featurize.apply import featurize

UCR = {  # official train + test rows, classes, channels, lengths
    "ucr/ItalyPowerDemand": (67, 1029, 2, 1, (24, 24)),
    "ucr/GunPoint": (50, 150, 2, 1, (150, 150)),
    "ucr/ArrowHead": (36, 175, 3, 1, (251, 251)),
    "ucr/BasicMotions": (40, 40, 4, 6, (100, 100)),
    "ucr/JapaneseVowels": (270, 370, 9, 12, (7, 29)),
}


@pytest.mark.parametrize("name", sorted(UCR))
def test_ucr_sets_keep_the_official_split(name: str) -> None:
    train, test, classes, channels, (shortest, longest) = UCR[name]
    d = get_dataset(name)
    assert (d.rows, len(d.test())) == (train, test)
    assert len(d.classes()) == classes and d.task == ("binary" if classes == 2 else "multiclass")
    X = d.test().X
    assert isinstance(X, Sequences) and X.channels == channels
    assert (X.lengths.min(), X.lengths.max()) == (shortest, longest) or name.endswith("Vowels")
    b = d.bundle(train, 0)  # n = every official training series
    assert len(b.train) + len(b.val) == train and len(b.test) == test


def test_japanese_vowels_stay_ragged_and_pad_to_a_length() -> None:
    X = get_dataset("ucr/JapaneseVowels").pool().X
    assert X.dense is None and len(set(X.lengths.tolist())) > 5
    padded = X.padded(40, fill=np.nan)
    i = int(np.argmin(X.lengths))
    assert padded.shape == (270, 12, 40)
    np.testing.assert_array_equal(padded[i, :, : X.lengths[i]], X.row(i).T)
    assert np.isnan(padded[i, :, X.lengths[i] :]).all()


def test_mnist1d_tests_on_the_papers_test_set() -> None:
    """The paper's 1,000 test signals (seed 42's last fifth), whatever n and seed."""
    from mnist1d.data import get_dataset_args, make_dataset

    d = get_dataset("mnist1d")
    paper = make_dataset(get_dataset_args())
    test = d.test()
    np.testing.assert_allclose(test.X.padded()[:, 0], paper["x_test"], rtol=1e-6)
    assert [d.classes()[k] for k in test.y] == [str(v) for v in paper["y_test"]]
    a, b = d.bundle(500, 0), d.bundle(4000, 1)
    assert len(a.train) + len(a.val) == 500 and len(b.train) + len(b.val) == 4000
    assert a.test.X.padded().shape == (1000, 1, 40)


def test_catch22_is_the_c_implementation_with_no_missing_values() -> None:
    """aeon's numba fallback gives NaN in two features on length-24 series; pycatch22 does not."""
    d = get_dataset("ucr/ItalyPowerDemand")
    f = featurizer_class("catch22")()
    f.setup()
    table = f.transform(d.test().X)
    assert table.frame.shape == (1029, 22) and np.isfinite(table.frame.to_numpy()).all()


def test_catch22_and_minirocket_take_ragged_multichannel_series() -> None:
    d = get_dataset("ucr/JapaneseVowels")
    bundle = d.bundle(100, 0)
    c22, _ = featurize(featurizer_class("catch22")(), d, bundle)
    assert c22.train.X.frame.shape == (len(bundle.train), 22 * 12)
    f = featurizer_class("minirocket")()
    f.setup()
    mr, cost = featurize(f, d, bundle)
    assert mr.test.X.frame.shape[1] == mr.train.X.frame.shape[1] > 1000
    assert cost.cached and cost.fit_seconds > 0
    again, _ = featurize(featurizer_class("minirocket")(), d, d.bundle(100, 1))
    assert again.test.X.frame.equals(mr.test.X.frame)  # one fit on the pool, cached


def test_raw_values_pad_ragged_series_and_refuse_long_ones() -> None:
    d = get_dataset("ucr/JapaneseVowels")
    out, _ = featurize(featurizer_class("raw")(), d, d.bundle(100, 0))
    frame = out.train.X.frame
    longest = int(d.pool().X.lengths.max())  # 26; the test set's longest (29) is cut to it
    assert frame.shape[1] == 12 * longest and frame.isna().to_numpy().any()
    assert out.test.X.frame.shape[1] == frame.shape[1]
    long = Sequences.from_array(np.zeros((3, 2, 3000), dtype=np.float32))
    with pytest.raises(ValueError, match="catch22 or minirocket"):
        featurizer_class("raw")().fit(long, None)


def _spoken(**options) -> object:
    need_espeak()
    return DatasetRef("spoken", "spoken-digits", {"rows": 60, "test_rows": 30, **options}).build()


def test_spoken_digits_are_deterministic_balanced_and_noisy_at_the_stated_snr() -> None:
    from treeline.data.audio.spoken_digits import synthesize

    d = _spoken()
    pool = d.pool()
    assert pool.X.sample_rate == 16_000 and len(pool) == 60 and len(d.test()) == 30
    assert d.classes() == ("zero", "one", "two", "three", "four", "five", "six", "seven",
                           "eight", "nine")  # fmt: skip
    assert np.bincount(pool.y, minlength=10).tolist() == [6] * 10
    lengths = pool.X.lengths / 16_000
    assert lengths.min() > 0.3 and lengths.max() < 2.5
    a, b = synthesize("espeak-ng", 1, 7, 10.0), synthesize("espeak-ng", 1, 7, 10.0)
    np.testing.assert_array_equal(a, b)
    quiet = synthesize("espeak-ng", 1, 7, 60.0)
    noise = a - quiet
    snr = 10 * np.log10(np.mean(quiet**2) / np.mean(noise**2))
    assert 8 < snr < 12  # 10 dB against the speech (the clip includes its silent delay)


def test_spoken_digits_say_how_to_install_espeak(monkeypatch: pytest.MonkeyPatch) -> None:
    from treeline.data.sources import DataUnavailable

    monkeypatch.setenv("PATH", "/nonexistent")
    d = DatasetRef("spoken", "spoken-digits", {"rows": 40, "test_rows": 20, "snr_db": 3.0})
    with pytest.raises(DataUnavailable, match="apt-get install espeak-ng"):
        d.build().prepare()


def test_mfcc_gives_120_finite_statistics_per_clip() -> None:
    d = _spoken()
    f = featurizer_class("mfcc")()
    f.setup()
    table = f.transform(d.test().X)
    assert table.frame.shape == (30, 120) and np.isfinite(table.frame.to_numpy()).all()
