"""Our JEPA pretraining step against the OFFICIAL V-JEPA 2 step (facebookresearch/vjepa2), interleaved.

    mkdir -p /tmp/vjepa2-official
    git --git-dir=/work/.mirror/facebookresearch+vjepa2/repo archive HEAD | tar -x -C /tmp/vjepa2-official
    .venv/bin/python benchmarks/official_vjepa2.py --official /tmp/vjepa2-official \
        --precision fp32 --threads 2 --rounds 3 --steps 5 --data runs/quickstart/world
    # ours in bf16 against the official code in fp32, in the same run:
    ... --precision bf16 --official-precision fp32

No official code is copied here: ``--official`` is a checkout imported at run time; it needs ``pip
install einops`` (not a project dependency), and its one timm import (``drop_path``, unused at rate 0)
gets a stand-in where timm is missing (pip's timm would replace this torch). Same torch, model size
(``--config``, default tiny), batch, clips and masks (our masker's, as the official index lists) on
both sides; the official step is ``train_step`` of ``app/vjepa/train.py`` (no DDP, GradScaler or
activation checkpointing). Each round times ``--steps`` steps of ours, then of the official. CPU only.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import itertools
import json
import statistics
import sys
import time
import types
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs/pretrain/tiny.yaml"


def import_official(root: str) -> types.SimpleNamespace:
    """The official classes from checkout ``root``, put at the end of sys.path (``app/vjepa/utils.py``
    by file path: our repo has an ``app`` package too). A timm stand-in lives only for the imports."""
    root_path = Path(root).resolve()
    if not (root_path / "src/models/vision_transformer.py").is_file():
        raise SystemExit(f"--official {root}: no src/models/vision_transformer.py (not a vjepa2 checkout)")
    if str(root_path) not in sys.path:
        sys.path.append(str(root_path))
    stubs = {}
    try:
        import timm.models.layers  # noqa: F401
    except ImportError:
        stub = types.ModuleType("timm.models.layers")
        stub.drop_path = None  # only DropPath calls it, built at drop-path rate > 0 (here 0)
        stubs = {n: types.ModuleType(n) for n in ("timm", "timm.models")} | {stub.__name__: stub}
        sys.modules.update(stubs)
    from src.masks.utils import apply_masks
    from src.models.predictor import VisionTransformerPredictor
    from src.models.vision_transformer import VisionTransformer
    from src.utils.wrappers import MultiSeqWrapper, PredictorMultiSeqWrapper

    for name in stubs:  # so that no later find_spec("timm") meets a module without a spec
        del sys.modules[name]
    spec = importlib.util.spec_from_file_location("vjepa2_app_utils", root_path / "app/vjepa/utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    classes = (VisionTransformer, VisionTransformerPredictor, MultiSeqWrapper, PredictorMultiSeqWrapper)
    return types.SimpleNamespace(**{c.__name__: c for c in classes}, apply_masks=apply_masks, utils=utils)


def load_clips(cfg, data: str | None, batch: int) -> tuple[torch.Tensor, str]:
    """One normalised batch (B, T, C, H, W), reused every step: ``data``'s first clips, or random."""
    from encoder.data import VideoClips, find_videos
    from encoder.prepare import IMAGENET_MEAN, IMAGENET_STD

    vit = cfg.model.vit
    if data:
        paths = find_videos(data, cfg.data.split)
        clips = VideoClips(paths, vit.num_frames, vit.img_size, IMAGENET_MEAN, IMAGENET_STD)
        return torch.stack([clips[i % len(paths)] for i in range(batch)]), f"{data} ({batch} clips)"
    g = torch.Generator().manual_seed(cfg.seed)
    u8 = torch.randint(0, 256, (batch, vit.num_frames, 3, vit.img_size, vit.img_size), generator=g)
    mean, std = (torch.tensor(v).view(1, 1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
    return (u8.float() / 255.0 - mean) / std, "random uint8 clips"


def build_ours(cfg) -> tuple[nn.Module, torch.optim.Optimizer]:
    """Our JEPA objective and its AdamW, as ``encoder.pretrain`` builds them."""
    from encoder.objective import build_objective

    torch.manual_seed(cfg.seed)
    obj = build_objective("jepa", cfg.model).train()
    opt = torch.optim.AdamW(obj.param_groups(cfg.train.weight_decay), lr=cfg.train.lr, betas=(0.9, 0.95))
    return obj, opt


def our_step(ours, cfg, video, masks, step: int, total: int, precision: str) -> float:
    """``encoder.bench._train_step`` (the maths of ``encoder.pretrain``) on the given masks."""
    from encoder.bench import _train_step

    args = (video, step, total, cfg, torch.device("cpu"), precision, None, {})
    return float(_train_step(*ours, lambda b, g: masks, *args).detach())


def build_official(off, cfg, total: int) -> types.SimpleNamespace:
    """Encoder, predictor, EMA target, optimiser as in ``app/vjepa/train.py``, at our sizes."""
    vit, p, tc = cfg.model.vit, cfg.model.predictor, cfg.train
    ln, rope = partial(nn.LayerNorm, eps=1e-6), vit.pos_embed == "rope"
    geo = dict(img_size=vit.img_size, patch_size=vit.patch_size, num_frames=vit.num_frames, norm_layer=ln)
    geo.update(tubelet_size=vit.tubelet, use_rope=rope, use_sdpa=True, uniform_power=True)
    sizes = dict(embed_dim=vit.embed_dim, depth=vit.depth, num_heads=vit.num_heads, mlp_ratio=vit.mlp_ratio)
    torch.manual_seed(cfg.seed)
    encoder = off.MultiSeqWrapper(off.VisionTransformer(qkv_bias=vit.qkv_bias, **sizes, **geo))
    sizes = dict(predictor_embed_dim=p.embed_dim, depth=p.depth, num_heads=p.num_heads, mlp_ratio=p.mlp_ratio)
    tokens = dict(use_mask_tokens=True, num_mask_tokens=len(cfg.model.masks.specs))  # official config
    predictor = off.VisionTransformerPredictor(embed_dim=vit.embed_dim, **sizes, **tokens, **geo)
    o = types.SimpleNamespace(off=off, encoder=encoder, predictor=off.PredictorMultiSeqWrapper(predictor))
    o.target = copy.deepcopy(o.encoder).requires_grad_(False)
    lrs = dict(start_lr=tc.lr, ref_lr=tc.lr, final_lr=tc.lr * tc.final_lr_ratio, betas=(0.9, 0.95))
    wds = dict(wd=tc.weight_decay, final_wd=tc.weight_decay, warmup=tc.warmup_steps / total, num_epochs=1)
    o.opt, _, o.sched, o.wd_sched = off.utils.init_opt(False, o.encoder, o.predictor, total, **lrs, **wds)
    o.momentum = itertools.repeat(cfg.model.jepa.momentum)  # ema: [m, m] as in the official configs
    return o


def official_step(o, clips, masks_enc, masks_pred, precision: str) -> float:
    """``train_step`` of ``app/vjepa/train.py``: clips [(B, C, T, H, W)], masks [[(B, K) per mask]]."""
    o.sched.step()
    o.wd_sched.step()

    def forward_target(c):
        with torch.no_grad():
            h = o.target(c)  # [(B, N, D)]
            return [F.layer_norm(hi, (hi.size(-1),)) for hi in h]

    def forward_context(c):
        z = o.encoder(c, masks_enc)  # [[(B, Nc, D) per mask]]
        return o.predictor(z, masks_enc, masks_pred)  # [[(B, Nt, D) per mask]]

    def loss_fn(z, h):
        h = [o.off.apply_masks(hi, mi, concat=False) for hi, mi in zip(h, masks_pred)]
        loss, n = 0, 0
        for zi, hi in zip(z, h):
            for zij, hij in zip(zi, hi):
                loss += torch.mean(torch.abs(zij - hij) ** 1.0) / 1.0  # loss_exp = 1
                n += 1
        return loss / n

    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        h = forward_target(clips)
        z = forward_context(clips)
        loss = loss_fn(z, h)
    loss.backward()
    o.opt.step()
    o.opt.zero_grad()
    m = next(o.momentum)
    with torch.no_grad():
        params_k, params_q = list(o.target.parameters()), list(o.encoder.parameters())
        torch._foreach_mul_(params_k, m)
        torch._foreach_add_(params_k, params_q, alpha=1 - m)
    return float(loss.detach())


def interleave(ours_at, official_at, rounds: int, n: int, first: int, batch: int) -> dict[str, list[float]]:
    """Per round, ``n`` steps of ours then ``n`` of the official on the same masks: times (s) per side."""
    times: dict[str, list[float]] = {"ours": [], "official": []}
    for r in range(rounds):
        for side, make in (("ours", ours_at), ("official", official_at)):
            for k in range(n):
                step = make(first + r * n + k)
                t0 = time.perf_counter()
                step()
                times[side].append(time.perf_counter() - t0)
            med = statistics.median(times[side][-n:])
            print(f"round {r + 1}/{rounds} {side:>8}: {batch / med:7.2f} clips/s", file=sys.stderr)
    return times


def run(args) -> dict:
    """Build both sides, count FLOPs (on the first step), warm up, time them interleaved: the report."""
    from encoder.bench import flop_counter
    from encoder.pretrain import PretrainConfig, mask_generator
    from jepa_vqa.config import load_config, to_dict
    from jepa_vqa.precision import hardware_info

    torch.set_num_threads(args.threads)
    data = f"data.path={args.data or 'random'}"  # any non-empty path: --data alone decides the clips
    batch = [f"train.batch_size={args.batch}"] if args.batch else []
    cfg = load_config(PretrainConfig, args.config, [data, *batch, *args.overrides])
    B, n, prec = cfg.train.batch_size, args.steps, args.precision
    official_prec = args.official_precision or prec
    video, source = load_clips(cfg, args.data, B)  # (B, T, C, H, W)
    clips = [video.permute(0, 2, 1, 3, 4).contiguous()]  # official layout: [(B, C, T, H, W)]
    total = 1 + args.warmup + args.rounds * n
    ours, o = build_ours(cfg), build_official(import_official(args.official), cfg, total)
    masks = [ours[0].masker()(B, mask_generator(cfg.seed, s, 0)) for s in range(total)]  # [[MaskPair]]
    as_official = [([[m.context for m in ms]], [[m.target for m in ms]]) for ms in masks]

    def ours_at(s):
        return lambda: our_step(ours, cfg, video, masks[s], s, total, prec)

    def official_at(s):
        return lambda: official_step(o, clips, *as_official[s], official_prec)

    counts = {}  # side -> (loss, FLOPs) of its first step
    for side, make in (("ours", ours_at), ("official", official_at)):
        with flop_counter() as counter:
            loss = make(0)()
        counts[side] = (loss, counter.get_total_flops())
    for s in range(1, 1 + args.warmup):
        ours_at(s)()
        official_at(s)()
    times = interleave(ours_at, official_at, args.rounds, n, 1 + args.warmup, B)

    report = dict(
        precision=prec,
        official_precision=official_prec,
        threads=args.threads,
        hardware=hardware_info(),
        torch=torch.__version__,
    )
    report["model"] = {"vit": to_dict(cfg.model.vit), "predictor": to_dict(cfg.model.predictor)}
    report.update(batch_size=B, masks=len(masks[0]), data=source, rounds=args.rounds, steps_per_round=n)
    modules = {"ours": [ours[0]], "official": [o.encoder, o.predictor]}
    for side, (loss, flops) in counts.items():
        med = statistics.median(times[side])
        report.update({f"{side}_clips_per_s": B / med, f"{side}_step_ms": 1000 * med})
        report.update({f"{side}_flops_per_step": flops, f"{side}_first_loss": loss})
        trainable = (q.numel() for m in modules[side] for q in m.parameters() if q.requires_grad)
        report[f"{side}_trainable_params"] = sum(trainable)
    report["ratio_ours_over_official"] = report["ours_clips_per_s"] / report["official_clips_per_s"]
    report["flop_ratio_ours_over_official"] = counts["ours"][1] / counts["official"][1]
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--official", required=True, help="a facebookresearch/vjepa2 checkout")
    ap.add_argument("--config", default=str(DEFAULT_CONFIG), help="our pretrain config (model, masks, batch)")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    ap.add_argument(
        "--official-precision",
        choices=("fp32", "bf16"),
        default="",
        help="the official side's (default: --precision)",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=5, help="timed steps per side per round")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps per side after the FLOP step")
    ap.add_argument("--batch", type=int, default=0, help="batch size (default: the config's)")
    ap.add_argument("--data", default="", help="clips dir / worlds dataset (default: random clips)")
    ap.add_argument("overrides", nargs="*", help="config overrides k=v, e.g. model.predictor.depth=12")
    args = ap.parse_args(argv)
    if min(args.threads, args.rounds, args.steps) <= 0 or args.warmup < 0 or args.batch < 0:
        ap.error("--threads, --rounds and --steps must be positive, --warmup and --batch >= 0")
    return args


def main(argv: list[str] | None = None) -> dict:
    print(json.dumps(report := run(parse_args(argv))))
    return report


if __name__ == "__main__":
    main()
