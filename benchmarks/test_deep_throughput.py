"""Training throughput of each deep contender: Treeline's shared loop vs a bare PyTorch loop of
the same model and batch size, and vs a `DataLoader(TensorDataset)` loop, in one process.
The CNN's bare loops take float images normalized once up front; Treeline keeps uint8 on the
device and converts each batch, as it does in a real cell. The sequence networks (MNIST-1D) take
the same padded series and lengths in both.

Same preprocessed tensors, same network, optimizer, batch size and number of epochs; samples/s
counts training steps only (Treeline's per-epoch validation is excluded from its figure, and
the bare loops do none). Single-threaded, interleaved rounds, medians, reported as ratios.
Run: `pytest benchmarks/test_deep_throughput.py -s`.
"""

from __future__ import annotations

import math
import statistics
import time

import pytest

DEEP = ["mlp", "resnet", "ft-transformer", "tabm"]
IMAGE = ["cnn"]
SEQUENCE = ["cnn1d", "gru"]
EPOCHS = 2
ROUNDS = 3


@pytest.fixture(scope="module")
def data():
    import torch

    from treeline.data import get_dataset

    torch.set_num_threads(1)
    return get_dataset("adult").bundle(10_000, 0).fitdata()


@pytest.fixture(scope="module")
def images():
    import torch

    from treeline.data import get_dataset

    torch.set_num_threads(1)
    return get_dataset("mnist").bundle(4_000, 0).fitdata()


@pytest.fixture(scope="module")
def sequences():
    import torch

    from treeline.data import get_dataset

    torch.set_num_threads(1)
    return get_dataset("mnist1d").bundle(4_000, 0).fitdata()


def _setup(name: str, data, device: str = "cpu"):
    from treeline.contenders import load
    from treeline.contenders.base import FitContext
    from treeline.execute.budget import BudgetClock

    c = load(name)
    ctx = FitContext(device, 1, 0, BudgetClock(math.inf), lambda s, v: None)
    return c, ctx, c.prepare(data, ctx), {**c.default_params(data), "max_epochs": EPOCHS}


def treeline(c, ctx, prepared, params, data) -> float:
    model = c.fit(data, prepared, params, ctx)
    return model.samples / model.train_seconds


def bare(c, prepared, params, data, dataloader: bool) -> float:
    import torch

    from treeline.contenders.deep.loop import _loss, batch_size_for

    torch.manual_seed(0)
    d_out = 1 if data.task == "regression" else data.n_classes
    device = prepared.device
    net = c.on_device(c.build(params, prepared.pre, d_out, prepared.train), device)
    opt = torch.optim.AdamW(net.parameters(), lr=params["lr"], weight_decay=params["weight_decay"])
    loss_fn = _loss(data.task)
    t = prepared.train
    is_image = hasattr(t, "pixels")
    is_padded = hasattr(t, "lengths")
    if is_image:  # normalized floats, prepared before the clock
        n, bs = len(t), c.batch_size(len(t), params)
        tensors = [t.batch(slice(None))[0].clone(), t.y]
    elif is_padded:  # sequences: padded series and their lengths
        n, bs = len(t), c.batch_size(len(t), params)
        tensors = [t.x, t.y, t.lengths]
    else:
        n, bs = len(t.x_num), batch_size_for(len(t.x_num))
        tensors = [t.x_num, t.y] + ([t.x_cat] if t.x_cat is not None else [])
    net.train()
    samples, t0 = 0, time.perf_counter()
    for _ in range(EPOCHS):
        if dataloader:
            batches = torch.utils.data.DataLoader(
                torch.utils.data.TensorDataset(*tensors), batch_size=bs, shuffle=True
            )
        else:
            perm = torch.randperm(n, device=device)
            batches = ([x[perm[i : i + bs]] for x in tensors] for i in range(0, n, bs))
        for batch in batches:
            x, y, *rest = batch
            inputs = (x,) if is_image else (x, rest[0] if rest else None)  # (x, lengths) too
            # CUDA: the same bf16 autocast as the shared loop (channels-last comes with `t`).
            with torch.autocast("cuda", torch.bfloat16, enabled=device == "cuda"):
                out = c.forward(net, *inputs)
            loss = loss_fn(out.float(), y, c.ensemble)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            samples += len(y)
    if device == "cuda":
        torch.cuda.synchronize()
    return samples / (time.perf_counter() - t0)


@pytest.mark.parametrize("name", DEEP + IMAGE + SEQUENCE)
def test_deep_training_throughput(name: str, request, benchmark) -> None:
    kind = "images" if name in IMAGE else "sequences" if name in SEQUENCE else "data"
    data = request.getfixturevalue(kind)
    c, ctx, prepared, params = _setup(name, data)
    rates: dict[str, list[float]] = {"treeline": [], "bare": [], "dataloader": []}

    def one_round() -> None:
        rates["treeline"].append(treeline(c, ctx, prepared, params, data))
        rates["bare"].append(bare(c, prepared, params, data, dataloader=False))
        rates["dataloader"].append(bare(c, prepared, params, data, dataloader=True))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    med = {k: statistics.median(v) for k, v in rates.items()}
    info = {f"{k}_samples_per_s": v for k, v in med.items()}
    info["ratio_vs_bare"] = med["treeline"] / med["bare"]
    info["ratio_vs_dataloader"] = med["treeline"] / med["dataloader"]
    benchmark.extra_info.update(info)
    print(f"\n{name}: " + ", ".join(f"{k}={v:.3g}" for k, v in info.items()))
    assert info["ratio_vs_bare"] >= 0.9  # goal 0.95; looser for a shared, noisy machine


@pytest.mark.parametrize("name", IMAGE)
def test_image_training_throughput_on_gpu(name: str, images, benchmark) -> None:
    """The CNN on CUDA: Treeline's loop against the bare loop there (bf16, channels-last in
    both), and samples/s GPU ÷ CPU (Treeline's loop on each)."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible: the GPU ratio and GPU ÷ CPU need one")
    c, ctx, prepared, params = _setup(name, images, "cuda")
    rates: dict[str, list[float]] = {"treeline": [], "bare": []}

    def one_round() -> None:
        rates["treeline"].append(treeline(c, ctx, prepared, params, images))
        rates["bare"].append(bare(c, prepared, params, images, dataloader=False))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    cpu = _setup(name, images)
    cpu_rate = statistics.median(treeline(*cpu, images) for _ in range(ROUNDS))
    med = {k: statistics.median(v) for k, v in rates.items()}
    info = {f"{k}_samples_per_s": v for k, v in med.items()}
    info["ratio_vs_bare"] = med["treeline"] / med["bare"]
    info["gpu_over_cpu"] = med["treeline"] / cpu_rate
    benchmark.extra_info.update(info)
    print(f"\n{name} on CUDA: " + ", ".join(f"{k}={v:.3g}" for k, v in info.items()))
    assert info["ratio_vs_bare"] >= 0.9
