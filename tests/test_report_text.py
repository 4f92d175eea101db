"""The report's text: each of the four questions answers its own, the HTML keeps no raw
Markdown, and a metric prints one way within a table or paragraph. Results are built as the
store gives them back (CellResult → results_frame → write_report)."""

from __future__ import annotations

import re
from pathlib import Path

from cells import a_cell

from treeline.analysis.content import Block
from treeline.analysis.frame import results_frame
from treeline.analysis.render import render_html
from treeline.analysis.report import write_report
from treeline.data import DatasetRef
from treeline.execute.result import AnytimePoint, CellResult, Measurements

FAMILY = {"xgboost": "tree", "lightgbm+pixels": "tree", "mlp": "deep", "cnn": "deep"}


def _result(
    dataset: str,
    contender: str,
    n: int,
    seed: int,
    score: float,
    *,
    modality: str = "tabular",
    metric: str = "accuracy",
    baseline: float = 0.5,
    runner: str = "cpu",
    price: float = 0.1,
) -> CellResult:
    cell = a_cell(
        contender,
        FAMILY[contender],
        suite="s",
        dataset=DatasetRef(label=dataset, name=dataset),
        modality=modality,
        task="regression" if metric == "rmse" else "binary",
        n=n,
        runner=runner,
        device="cpu" if runner == "cpu" else "cuda",
        price_per_hour=price,
        seed=seed,
        budget=8.0,
    )
    m = Measurements(
        test_score=score,
        test_metric=-score if metric == "rmse" else score,
        val_score=score,
        baseline_test_score=baseline,
        fit_seconds=8.0,
        cost_usd=8.0 * price / 3600,
        wall_seconds=9.0,
        overhead_seconds=1.0,
        peak_rss_mb=300.0,
        peak_vram_mb=0.0,
        n_trials=12,
        converged=1.0,
        contended=0.0,
    )
    curve = [AnytimePoint(1.0 + seed, 0, score, score)]
    return CellResult(cell, "ok", metric=metric, measurements=m, anytime=curve)


def _report(tmp_path: Path, results: list[CellResult], description: str = "constructed") -> str:
    return write_report("s", description, results_frame(results), tmp_path).read_text()


def _paragraph(md: str, head: str) -> str:
    return next(line for line in md.splitlines() if line.startswith(f"**{head}**"))


def test_modality_compares_the_modalities_and_data_size_reads_the_trend_along_n(
    tmp_path: Path,
) -> None:
    """Two modalities, two sizes each: trees lead the table, the CNN the images. The Modality
    paragraph names each modality with its count and leader; Data size gives the gap at the
    smallest and largest n and the crossover; the two are not the same text."""
    rows = []
    for seed in range(3):
        eps = seed * 1e-3
        for n, gap in ((1000, -0.02), (20000, -0.04)):
            rows += [
                _result("adult", "xgboost", n, seed, 0.85 + eps),
                _result("adult", "mlp", n, seed, 0.85 + gap + eps),
            ]
        for n, gap in ((1000, -0.03), (5000, 0.05)):  # a crossover along n
            kw = {"modality": "image", "baseline": 0.1}
            rows += [
                _result("fashion-mnist", "lightgbm+pixels", n, seed, 0.80 + eps, **kw),
                _result("fashion-mnist", "cnn", n, seed, 0.80 + gap + eps, **kw),
            ]
    md = _report(tmp_path, rows)
    modality, size = _paragraph(md, "Modality"), _paragraph(md, "Data size")
    assert modality.split("—", 1)[1] != size.split("—", 1)[1]
    assert "image (1 dataset) — networks ahead: fashion-mnist at n = 5,000" in modality
    assert "tabular (1 dataset) — trees ahead: adult at n = 20,000" in modality
    assert "→" not in modality  # the trend along n is Data size's question
    assert "image (" not in size and "tabular (" not in size  # and modality is not its
    assert "at n = 1,000 →" in size and "at n = 20,000" in size and "at n = 5,000" in size
    assert "crossover: networks ahead from n* ≈" in size


def test_the_html_turns_backticks_into_code_and_escapes_html_first(tmp_path: Path) -> None:
    page = render_html(
        [
            Block("p", "run `treeline report` on <your> suite & **read** it"),
            Block("table", (["`n`", "x"], [["`a<b`", "1"]])),
        ]
    )
    assert "`" not in page and "**" not in page
    assert "<code>treeline report</code>" in page and "&lt;your&gt;" in page
    assert "<th><code>n</code></th>" in page and "<td><code>a&lt;b</code></td>" in page
    assert "<b>read</b>" in page
    rows = [_result("adult", c, 1000, s, 0.8) for c in ("xgboost", "mlp") for s in range(3)]
    _report(tmp_path, rows, description="Run it with `treeline run s`.")
    full = (tmp_path / "index.html").read_text()
    assert "`" not in full and "<code>treeline run s</code>" in full


def _decimals(text: str) -> set[int]:
    """Decimals of every number in `text` that is not a count, a size or a price."""
    found = set()
    for x in re.findall(r"(?<![\w$.,=])[+-]?\d[\d,]*(?:\.\d+)?(?![\w,.]*\s?(?:s\b|/))", text):
        found.add(len(x.split(".")[1]) if "." in x else 0)
    return found


def test_an_rmse_table_prints_every_number_with_one_number_of_decimals(tmp_path: Path) -> None:
    """RMSEs of 879 and 555.8 (and a baseline of 3,950) in one table: all with one decimal,
    as are the gaps, the targets and the Pareto front; the hardware table's score Δ too."""
    rows = []
    for seed in range(3):
        for runner, price in (("cpu", 0.1), ("gpu", 1.0)):
            kw = {"metric": "rmse", "baseline": -3950.0, "runner": runner, "price": price}
            rows += [
                _result("diamonds", "xgboost", 1000, seed, -879.2 - seed, **kw),
                _result("diamonds", "mlp", 1000, seed, -555.83 - seed, **kw),
                _result("diamonds", "xgboost", 20000, seed, -555.8 - seed, **kw),
                _result("diamonds", "mlp", 20000, seed, -1234.5 - seed, **kw),
            ]
    md = _report(tmp_path, rows)
    table = md.split("## diamonds on cpu")[1].split("Verdict:")[0]
    body = [
        [cell.strip() for cell in line.split("|")[1:-1]]
        for line in table.splitlines()
        if re.match(r"\| [\d,]+ \|", line)
    ]
    numbers = [cell for row in body for i, cell in enumerate(row) if i in (2, 4, 5, 6)]
    assert "880.2" in numbers and "556.8" in numbers and "3,950.0" in numbers
    assert {len(x.split(" ")[0].split(".")[1]) for x in numbers} == {1}, numbers
    for head in ("Pareto front per size", "**Data size**"):
        text = next(line for line in md.splitlines() if line.startswith(head))
        assert _decimals(re.sub(r"\$[\d.]+|n = [\d,]+|n\* ≈ [\d,]+", "", text)) == {1}, text
    targets = md.split("| n | target (RMSE ↓) |")[1].split("\n\n")[0]
    assert {len(line.split("|")[2].strip().split(".")[1]) for line in targets.splitlines()[2:]} == {
        1
    }
    hardware = md.split("## Hardware")[1].split("\n\n")[1]
    deltas = [line.split("|")[7].strip() for line in hardware.splitlines()[2:]]
    assert deltas and all(re.fullmatch(r"[+-][\d,]+\.\d", d) for d in deltas), deltas
