"""Training utilities shared by ``encoder.pretrain`` and ``alignment.train``.

No pickles anywhere: tensors go to safetensors, everything else to JSON.

Checkpoints (atomic: written into a temp dir, then renamed; the previous one survives until the new
one is complete)::

    with atomic_directory(run_dir / "encoder") as tmp:           # any directory, atomically
        encoder.save_pretrained(tmp)
    save_checkpoint(run_dir, step=100, modules={"objective": obj}, optimizer=opt,
                    state={"scheduler": {...}, "data": {...}})   # -> run_dir/checkpoint/
    ckpt = find_checkpoint(run_dir)                               # Path or None
    state = load_checkpoint(ckpt, modules={"objective": obj}, optimizer=opt)   # state["step"] == 100

    Layout of ``run_dir/checkpoint/``: ``<module>.safetensors`` per module, ``optimizer.safetensors``
    + ``optimizer.json`` (the optimizer state dict flattened: tensors / the rest), ``rng.safetensors``
    (torch CPU/CUDA RNG as uint8) + ``rng.json`` (python ``random`` and numpy), ``state.json`` (step,
    scheduler, data order, anything JSON), and ``COMPLETE`` (written last).

Logging and plots::

    log = MetricsLogger(run_dir / "metrics.jsonl", enabled=is_main, resume_step=state["step"])
    log.log(step, loss=0.5, lr=1e-3)
    plot_metrics(run_dir / "metrics.jsonl", run_dir / "curves.png", ["loss", "lr"])

Optimisation helpers::

    set_seed(0)
    lr = warmup_cosine(step, total_steps=1000, base_lr=1e-3, warmup_steps=50, final_lr_ratio=0.01)
    opt = torch.optim.AdamW(decay_param_groups(model.named_parameters(), weight_decay=0.05), lr=lr)
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from jepa_vqa.atomic import atomic_directory  # noqa: F401 - re-exported: the checkpoint writer
from jepa_vqa.errors import UserError

CHECKPOINT_DIR = "checkpoint"
_COMPLETE = "COMPLETE"


# ----------------------------------------------------------------------------------------------
# Seeding and schedules


def set_seed(seed: int) -> None:
    """Seed python ``random``, numpy and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def warmup_cosine(
    step: int, total_steps: int, base_lr: float, warmup_steps: int = 0, final_lr_ratio: float = 0.0
) -> float:
    """Learning rate at ``step`` (0-based): linear warm-up to ``base_lr``, then cosine decay.

    Pure function of its arguments, so resuming needs only the step. The cosine ends at
    ``base_lr * final_lr_ratio`` on the last step.
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps - 1)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    final = base_lr * final_lr_ratio
    return final + (base_lr - final) * 0.5 * (1.0 + math.cos(math.pi * progress))


def decay_param_groups(
    named_parameters: Iterable[tuple[str, torch.nn.Parameter]],
    weight_decay: float,
    no_decay_names: Iterable[str] = (),
) -> list[dict]:
    """AdamW groups: weight decay on matrices, none on biases, norms (any 0/1-D tensor) and on
    parameters whose name contains one of ``no_decay_names``. Frozen parameters are skipped."""
    skip = tuple(no_decay_names)
    decay, no_decay = [], []
    for name, p in named_parameters:
        if not p.requires_grad:
            continue
        if p.ndim <= 1 or any(s in name for s in skip):
            no_decay.append(p)
        else:
            decay.append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


# ----------------------------------------------------------------------------------------------
# Flattening: tensors to safetensors, the rest to JSON


def _plain_tensors(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU tensors; storage shared between entries is cloned (safetensors
    refuses shared storage)."""
    out, seen = {}, set()
    for key, t in tensors.items():
        t = t.detach().to("cpu").contiguous()
        ptr = (t.untyped_storage().data_ptr(), t.storage_offset()) if t.numel() else None
        if ptr is not None and ptr in seen:
            t = t.clone()
        elif ptr is not None:
            seen.add(ptr)
        out[key] = t
    return out


def flatten_optimizer_state(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """An optimizer ``state_dict()`` as (tensors ``"state.<param>.<name>"``, JSON-able rest)."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, pstate in state_dict["state"].items():
        for name, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{pid}.{name}"] = value
            else:
                scalars.setdefault(str(pid), {})[name] = value
    meta = {"param_groups": state_dict["param_groups"], "scalars": scalars}
    return tensors, meta


def unflatten_optimizer_state(tensors: Mapping[str, torch.Tensor], meta: dict) -> dict:
    """Inverse of :func:`flatten_optimizer_state`."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, pid, name = key.split(".", 2)
        state.setdefault(int(pid), {})[name] = value
    for pid, values in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(values)
    # JSON turned tuples (e.g. AdamW ``betas``) into lists; hyper-parameters are tuples again.
    groups = [
        {k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()}
        for g in meta["param_groups"]
    ]
    return {"state": state, "param_groups": groups}


def rng_state() -> tuple[dict[str, torch.Tensor], dict]:
    """Every global RNG as (uint8 tensors for torch, JSON for python ``random`` and numpy)."""
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch_cuda.{i}"] = s
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    meta = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
    }
    return tensors, meta


def set_rng_state(tensors: Mapping[str, torch.Tensor], meta: dict) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(tensors["torch_cpu"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("torch_cuda."))]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


# ----------------------------------------------------------------------------------------------
# Atomic checkpoints


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1))


def save_checkpoint(
    run_dir: str | Path,
    step: int,
    modules: Mapping[str, torch.nn.Module | Mapping[str, torch.Tensor]],
    optimizer: torch.optim.Optimizer | None = None,
    state: Mapping[str, Any] | None = None,
    name: str = CHECKPOINT_DIR,
) -> Path:
    """Write ``run_dir/<name>/`` atomically (see :func:`atomic_directory`) and return its path.

    ``modules`` maps a file stem to a module (its ``state_dict``) or a dict of tensors. ``state``
    is anything JSON (scheduler, data order, ...); ``step`` is stored with it. A crash at any
    point leaves a loadable checkpoint (see :func:`find_checkpoint`).
    """
    final = Path(run_dir) / name
    with atomic_directory(final) as tmp:
        for stem, module in modules.items():
            sd = module.state_dict() if isinstance(module, torch.nn.Module) else module
            save_file(_plain_tensors(sd), str(tmp / f"{stem}.safetensors"))
        if optimizer is not None:
            opt_tensors, opt_meta = flatten_optimizer_state(optimizer.state_dict())
            save_file(_plain_tensors(opt_tensors), str(tmp / "optimizer.safetensors"))
            _write_json(tmp / "optimizer.json", opt_meta)
        rng_tensors, rng_meta = rng_state()
        save_file(_plain_tensors(rng_tensors), str(tmp / "rng.safetensors"))
        _write_json(tmp / "rng.json", rng_meta)
        _write_json(tmp / "state.json", {"step": int(step), **dict(state or {})})
        (tmp / _COMPLETE).write_text(str(step))
    return final


def flat_config(tree: Mapping[str, Any], ignore: tuple[str, ...] = ()) -> dict[str, Any]:
    """A nested config dict as ``{"a.b": value}``, minus the dotted keys in ``ignore``."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update({f"{key}.{k}": v for k, v in flat_config(value).items()})
        else:
            flat[key] = value
    return {k: v for k, v in flat.items() if k not in ignore}


def check_resumable(saved: Mapping[str, Any], now: Mapping[str, Any], where: str | Path) -> None:
    """Resume only the same run: a ``UserError`` naming the first setting (a dotted key) that differs
    between the config that wrote the checkpoint in ``where`` (``saved``) and this one (``now``)."""
    saved, now = flat_config(saved), flat_config(now)
    for key in sorted(set(saved) | set(now)):
        if saved.get(key) != now.get(key):
            raise UserError(
                f"cannot resume {where}: '{key}' was {saved.get(key)!r}, now {now.get(key)!r} (a "
                f"different '{key}' from the checkpoint's run; use another --out, or the same settings)"
            )


def find_checkpoint(run_dir: str | Path, name: str = CHECKPOINT_DIR) -> Path | None:
    """The newest complete checkpoint in ``run_dir`` (``<name>/``, else ``<name>.old/`` left by a
    crash mid-swap), or None."""
    run_dir = Path(run_dir)
    for cand in (run_dir / name, run_dir / f"{name}.old"):
        if (cand / _COMPLETE).is_file():
            return cand
    return None


def load_checkpoint(
    ckpt_dir: str | Path,
    modules: Mapping[str, torch.nn.Module],
    optimizer: torch.optim.Optimizer | None = None,
    restore_rng: bool = True,
) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` into ``modules`` (strictly) and
    ``optimizer``; restore the global RNGs; return the JSON ``state`` (with ``"step"``)."""
    ckpt_dir = Path(ckpt_dir)
    if not (ckpt_dir / _COMPLETE).is_file():
        raise UserError(f"not a complete checkpoint: {ckpt_dir}")
    for stem, module in modules.items():
        path = ckpt_dir / f"{stem}.safetensors"
        if not path.is_file():
            raise UserError(f"checkpoint {ckpt_dir} has no '{stem}' weights")
        device = next((p.device for p in module.parameters()), torch.device("cpu"))
        try:
            module.load_state_dict(load_file(str(path), device=str(device)), strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise UserError(f"checkpoint {path} does not match the model: {first}") from None
    if optimizer is not None:
        tensors = load_file(str(ckpt_dir / "optimizer.safetensors"))
        meta = json.loads((ckpt_dir / "optimizer.json").read_text())
        optimizer.load_state_dict(unflatten_optimizer_state(tensors, meta))
    if restore_rng:
        set_rng_state(
            load_file(str(ckpt_dir / "rng.safetensors")), json.loads((ckpt_dir / "rng.json").read_text())
        )
    return json.loads((ckpt_dir / "state.json").read_text())


# ----------------------------------------------------------------------------------------------
# Metrics


class MetricsLogger:
    """Append one JSON object per call to a JSONL file; a no-op unless ``enabled`` (rank 0).

    With ``resume_step``, lines with a larger ``step`` (logged by an interrupted run after its last
    checkpoint) are dropped first, so the file reads as one uninterrupted run.
    """

    def __init__(self, path: str | Path, enabled: bool = True, resume_step: int | None = None):
        self.path = Path(path)
        self.enabled = enabled
        self._fh = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            self.path.write_text("")
        elif self.path.exists():
            keep = [line for line in self.path.read_text().splitlines() if line.strip()]
            keep = [line for line in keep if json.loads(line).get("step", -1) <= resume_step]
            self.path.write_text("".join(line + "\n" for line in keep))
        self._fh = self.path.open("a")

    def log(self, step: int, **metrics: float) -> None:
        """Write ``{"step": step, **metrics}`` and flush."""
        if self._fh is None:
            return
        self._fh.write(json.dumps({"step": int(step), **metrics}) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> MetricsLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_metrics(path: str | Path) -> list[dict]:
    """All records of a metrics JSONL file."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def plot_metrics(jsonl: str | Path, png: str | Path, keys: Iterable[str]) -> Path:
    """One panel per key (against step) from a metrics JSONL file, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(jsonl)
    keys = [k for k in keys if any(k in r for r in records)]
    fig, axes = plt.subplots(len(keys) or 1, 1, figsize=(7, 2.2 * max(1, len(keys))), squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        pts = [(r["step"], r[key]) for r in records if key in r and r[key] is not None]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=1)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png
