"""Performance figures for the encoder: pretraining throughput and one-clip embedding.

    jepa-vqa bench pretrain --config configs/pretrain/tiny.yaml [--steps 10] [k=v ...]
    jepa-vqa embed --encoder runs/jepa-tiny clip.mp4

``bench_pretrain`` runs the real objective and optimiser on the config's data, with an
instrumented step that syncs the device around each phase (data, target forward, context
forward, predictor, backward, optimizer+EMA) and reports: clips/s (median step time after
warm-up), the per-phase median times, peak memory (RSS on CPU, max allocated on GPU), and model
FLOP/s (counted by ``FlopCounterMode`` on one step, CPU flash attention included) as a fraction of a large fp32 matmul's
measured FLOP/s in the same process.
"""

from __future__ import annotations

import contextlib
import resource
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterator

import torch
from torch import nn

from jepa_vqa.precision import autocast, hardware_info, resolve_precision

PHASES = (
    "data",
    "target forward",
    "context forward",
    "predictor",
    "other forward",
    "backward",
    "optimizer+EMA",
)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ----------------------------------------------------------------------------------------------
# embed


def embed_video(spec: str, video: str) -> dict:
    """Encode one clip: ``{"tokens": N, "dim": D, "seconds": decode + forward time}``."""
    from encoder import load_encoder
    from encoder.video import read_frames

    enc = load_encoder(spec)
    start = time.perf_counter()
    frames = read_frames(video, num_frames=enc.num_frames, size=enc.image_size)  # (T, C, H, W) uint8
    with torch.inference_mode():
        tokens = enc(enc.prepare(frames)[None])  # (1, N, D)
    seconds = time.perf_counter() - start
    return {"tokens": int(tokens.shape[1]), "dim": int(tokens.shape[2]), "seconds": round(seconds, 4)}


# ----------------------------------------------------------------------------------------------
# Phase timing through module hooks


def phase_of(child_name: str) -> str:
    """Which phase a top-level child of an objective belongs to."""
    if "target" in child_name:
        return "target forward"
    if "predictor" in child_name or "decoder" in child_name:
        return "predictor"
    return "context forward"


class PhaseTimer:
    """Accumulates, per phase, the time spent inside that phase's modules (outermost hooked call
    only, with a device sync at both ends)."""

    def __init__(self, phases: dict[str, list[nn.Module]], device: torch.device):
        self.device = device
        self.times: dict[str, float] = defaultdict(float)
        self._depth: dict[str, int] = defaultdict(int)
        self._start: dict[str, float] = {}
        self._handles = []
        for phase, modules in phases.items():
            for module in modules:
                self._handles.append(module.register_forward_pre_hook(self._pre(phase)))
                self._handles.append(module.register_forward_hook(self._post(phase)))

    @classmethod
    def of_objective(cls, objective: nn.Module, device: torch.device) -> PhaseTimer:
        """Every module of each top-level child of a pretraining objective, under ``phase_of``."""
        phases: dict[str, list[nn.Module]] = defaultdict(list)
        for name, child in objective.named_children():
            phases[phase_of(name)].extend(child.modules())
        return cls(phases, device)

    def _pre(self, phase: str):
        def hook(module, args):
            if self._depth[phase] == 0:
                _sync(self.device)
                self._start[phase] = time.perf_counter()
            self._depth[phase] += 1

        return hook

    def _post(self, phase: str):
        def hook(module, args, output):
            self._depth[phase] -= 1
            if self._depth[phase] == 0:
                _sync(self.device)
                self.times[phase] += time.perf_counter() - self._start[phase]

        return hook

    def take(self) -> dict[str, float]:
        """The accumulated times, then reset."""
        out, self.times = dict(self.times), defaultdict(float)
        return out

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


@contextlib.contextmanager
def timed(times: dict, phase: str, device: torch.device) -> Iterator[None]:
    """Add the wall time of the block (synced at both ends) to ``times[phase]``."""
    _sync(device)
    t0 = time.perf_counter()
    yield
    _sync(device)
    times[phase] = times.get(phase, 0.0) + time.perf_counter() - t0


def matmul_flops_per_s(
    device: torch.device, n: int | None = None, repeat: int = 3, dtype: torch.dtype = torch.float32
) -> float:
    """Best measured FLOP/s of an ``n x n`` matmul in ``dtype`` on ``device`` (n: 8192 GPU, 1024 CPU)."""
    n = n or (8192 if device.type == "cuda" else 1024)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeat):
        _sync(device)
        t0 = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def _cpu_sdpa_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    from torch.utils.flop_counter import sdpa_flop_count

    return sdpa_flop_count(query, key, value)


def _cpu_sdpa_backward_flops(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
    from torch.utils.flop_counter import sdpa_backward_flop_count

    return sdpa_backward_flop_count(grad_out, query, key, value)


def flop_counter():
    """``FlopCounterMode`` that also counts CPU flash attention (not in torch's registry)."""
    from torch.utils.flop_counter import FlopCounterMode

    aten = torch.ops.aten
    custom = {}
    if hasattr(aten, "_scaled_dot_product_flash_attention_for_cpu"):
        custom[aten._scaled_dot_product_flash_attention_for_cpu] = _cpu_sdpa_flops
        custom[aten._scaled_dot_product_flash_attention_for_cpu_backward] = _cpu_sdpa_backward_flops
    return FlopCounterMode(display=False, custom_mapping=custom)


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory of this process: CUDA max allocated, else the peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss_kb / (2**20 if sys.platform == "darwin" else 2**10)


# ----------------------------------------------------------------------------------------------
# bench pretrain


def _train_step(obj, optimizer, masker, video, step, total, cfg, device, precision, timer, times):
    """One pretraining step, phase by phase (the same maths as ``encoder.pretrain``)."""
    from encoder.pretrain import mask_generator, set_lr
    from jepa_vqa.training import warmup_cosine

    masks = masker(video.shape[0], mask_generator(cfg.seed, step, 0))
    tc = cfg.train
    set_lr(optimizer, warmup_cosine(step, total, tc.lr, tc.warmup_steps, tc.final_lr_ratio))
    with timed(times, "forward", device), autocast(precision, device):
        loss, _ = obj(video, masks, step)
    optimizer.zero_grad(set_to_none=True)
    with timed(times, "backward", device):
        loss.backward()
    with timed(times, "optimizer+EMA", device):
        if cfg.train.grad_clip > 0:
            nn.utils.clip_grad_norm_(obj.parameters(), cfg.train.grad_clip)
        optimizer.step()
        obj.update_target(step, total)
    if timer is not None:
        times.update(timer.take())
        times["other forward"] = times.pop("forward") - sum(times.get(p, 0.0) for p in PHASES[1:4])
    return loss


def _arm(cfg, precision: str, device: torch.device):
    """A freshly seeded objective, its optimiser and its masker (arms of one bench start equal)."""
    from encoder.objective import build_objective
    from jepa_vqa.training import set_seed

    set_seed(cfg.seed)
    obj = build_objective(cfg.objective, cfg.model).to(device).train()
    optimizer = torch.optim.AdamW(
        obj.param_groups(cfg.train.weight_decay), lr=cfg.train.lr, betas=(0.9, 0.95)
    )
    return {"precision": precision, "obj": obj, "optimizer": optimizer, "masker": obj.masker()}


def _arm_step(arm: dict, video, step, total, cfg, device, timer, times) -> None:
    args = (arm["obj"], arm["optimizer"], arm["masker"], video, step, total, cfg, device, arm["precision"])
    _train_step(*args, timer, times)


def bench_pretrain(
    config: str,
    overrides: list[str] | None = None,
    steps: int = 10,
    warmup: int = 2,
    threads: int = 2,
    vs: str = "",
) -> dict:
    """Measure pretraining speed for a config; returns the report dict (see module docstring).

    ``vs``: a second precision (e.g. ``fp32``) stepped in the same process, interleaved step by step
    with the config's on the same clips, so that the ratio ``speedup_vs`` holds on a noisy machine.
    """
    from encoder.data import build_loader
    from encoder.pretrain import PretrainConfig, build_data
    from jepa_vqa.config import load_config
    from jepa_vqa.errors import UserError

    if steps <= 0 or warmup < 0 or threads <= 0:
        raise UserError("--steps and --threads must be positive and --warmup >= 0")
    torch.set_num_threads(threads)
    cfg = load_config(PretrainConfig, config, overrides)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    precision = resolve_precision(cfg.train.precision, device)
    peak = matmul_flops_per_s(device, dtype=torch.bfloat16 if precision == "bf16" else torch.float32)
    arms = [_arm(cfg, precision, device)]
    if vs:
        arms.append(_arm(cfg, resolve_precision(vs, device), device))
    main = arms[0]
    total = warmup + steps + 1
    dataset = build_data(cfg, progress=True)
    loader = iter(
        build_loader(dataset, cfg.train.batch_size, cfg.seed, 0, total, num_workers=cfg.data.num_workers)
    )

    # One untimed step under the FLOP counter (forward + backward + optimizer), every arm.
    video = next(loader).to(device)  # (B, T, C, H, W)
    for arm in arms:
        with flop_counter() as counter:
            _arm_step(arm, video, 0, total, cfg, device, None, {})
        arm["flops_per_step"] = counter.get_total_flops()
        arm["timer"] = PhaseTimer.of_objective(arm["obj"], device)
        arm["rows"] = []

    for step in range(1, total):
        data_times: dict[str, float] = {}
        with timed(data_times, "data", device):
            video = next(loader).to(device, non_blocking=True)
        for arm in arms:
            times = dict(data_times)
            _sync(device)
            t0 = time.perf_counter()
            _arm_step(arm, video, step, total, cfg, device, arm["timer"], times)
            _sync(device)
            times["step"] = time.perf_counter() - t0 + times["data"]
            if step > warmup:
                arm["rows"].append(times)
    for arm in arms:
        arm["timer"].remove()
        arm["step_s"] = statistics.median(r["step"] for r in arm["rows"])

    rows, step_s, flops_per_step = main["rows"], main["step_s"], main["flops_per_step"]
    phases = {p: statistics.median(r.get(p, 0.0) for r in rows) * 1000 for p in PHASES}
    vit = cfg.model.vit
    report = {
        "objective": cfg.objective,
        "device": str(device),
        "threads": threads,
        "model": f"{vit.preset}: width {vit.embed_dim}, depth {vit.depth}, {vit.img_size}px, "
        f"{vit.num_frames} frames, patch {vit.patch_size}, tubelet {vit.tubelet}",
        "batch_size": cfg.train.batch_size,
        "precision": precision,
        "hardware": hardware_info(),
        "steps_timed": len(rows),
        "clips_per_s": cfg.train.batch_size / step_s,
        "step_ms": step_s * 1000,
        "phase_ms": phases,
        "peak_memory_mb": peak_memory_mb(device),
        "flops_per_step": flops_per_step,
        "model_flops_per_s": flops_per_step / step_s,
        "matmul_flops_per_s": peak,
        "flops_fraction_of_matmul": flops_per_step / step_s / peak,
    }
    if vs:
        other = arms[1]
        report["vs"] = {
            "precision": other["precision"],
            "clips_per_s": cfg.train.batch_size / other["step_s"],
            "step_ms": other["step_s"] * 1000,
        }
        report["speedup_vs"] = other["step_s"] / step_s
    return report


def format_report(r: dict) -> str:
    """A human-readable table of :func:`bench_pretrain`'s report."""
    lines = [
        f"bench pretrain ({r['objective']}) on {r['device']} ({r['hardware']['cpu']}, "
        f"{' '.join(r['hardware']['cpu_flags'])}), {r['threads']} threads, {r['precision']}",
        f"  model: {r['model']}, batch {r['batch_size']}",
        f"  clips/s (median of {r['steps_timed']} steps): {r['clips_per_s']:.2f}   step: {r['step_ms']:.1f} ms",
        "  per step (median ms):",
    ]
    lines += [f"    {name:<16} {ms:8.1f}" for name, ms in r["phase_ms"].items()]
    lines += [
        f"  peak memory: {r['peak_memory_mb']:.0f} MiB",
        f"  model FLOP/s: {r['model_flops_per_s'] / 1e9:.1f} G ({r['flops_per_step'] / 1e9:.2f} GFLOP/step) = "
        f"{100 * r['flops_fraction_of_matmul']:.1f}% of measured {r['precision']} matmul {r['matmul_flops_per_s'] / 1e9:.1f} G",
    ]
    if "vs" in r:
        v = r["vs"]
        lines.append(
            f"  vs {v['precision']} in the same run (interleaved): {v['clips_per_s']:.2f} clips/s, "
            f"step {v['step_ms']:.1f} ms -> {r['precision']} is {r['speedup_vs']:.2f}x"
        )
    return "\n".join(lines)
