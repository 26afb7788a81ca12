"""``AlignConfig``: the typed, strict configuration of an alignment run (filled from YAML).

Two stages share one step counter: the first ``stage1.steps`` steps train the projector alone on
scene descriptions (encoder and LLM frozen); the remaining ``train.steps - stage1.steps`` steps
train projector + LoRA on the QA train split. See ``configs/align/*.yaml``::

    cfg = load_config(AlignConfig, "configs/align/tiny.yaml", ["train.steps=50"])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vlm.config import LoraSettings
from vlm.projector import ProjectorConfig


@dataclass
class DataConfig:
    path: str = ""  # a worlds dir (qa.jsonl + world.json), a .jsonl file, or an HF dataset dir/id
    split: str = "train"  # the QA split stage 2 trains on (and whose clips stage 1 describes)
    max_clips: int = 0  # train on the first N distinct videos of the split only (0 = all): less to encode

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("data.path is required (a dataset dir, a qa.jsonl file, or an HF dataset)")
        if self.max_clips < 0:
            raise ValueError("data.max_clips must be >= 0")


@dataclass
class Stage1Config:
    steps: int = 100  # projector-only steps at the start of the run (0 = skip stage 1)
    lr: float = 1e-3
    batch_size: int = 0  # per process (0 = train.batch_size); descriptions are ~4x longer than QA
    # descriptions: the LLM learns each clip's description; grounding: each video token is pulled
    # towards the LLM's words for its cell's object (no LLM forward; alignment.grounding); qa: answers.
    # descriptions and grounding need world.json
    data: Literal["descriptions", "grounding", "qa"] = "descriptions"
    # grounding: the empty cells' "nothing" is a word group of its own, so that the shape of the cells
    # that show an object weighs as much as their colour (else ~50 empty cells of 64 outweigh them)
    empty_apart: bool = False

    def __post_init__(self) -> None:
        if self.steps < 0 or self.lr <= 0 or self.batch_size < 0:
            raise ValueError("stage1.steps and stage1.batch_size must be >= 0 and stage1.lr > 0")


@dataclass
class Stage2Config:
    lr: float = 2e-4  # LoRA and projector learning rate in stage 2
    projector_lr: float = 0.0  # >0: the projector's own stage-2 peak lr (same schedule); 0: stage2.lr
    lora: LoraSettings = field(default_factory=LoraSettings)
    # >1: up to N questions about one clip share a row (and its video prefix), each attending only to
    # the prefix and itself: the losses of separate rows at a fraction of the compute. The batch
    # size then counts rows.
    questions_per_row: int = 1
    # share of the multiple-choice questions asked without their options (open form, as in a chat);
    # the target is the same answer text
    open_fraction: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.open_fraction <= 1.0:
            raise ValueError(f"stage2.open_fraction must be in [0, 1], got {self.open_fraction}")
        if self.lr <= 0 or self.projector_lr < 0:
            raise ValueError("stage2.lr must be > 0 and stage2.projector_lr >= 0")
        if self.questions_per_row < 1:
            raise ValueError("stage2.questions_per_row must be >= 1")


@dataclass
class EncoderTuning:
    last_blocks: int = 0  # >0: also train the encoder's last N blocks (disables the feature cache)
    lr: float = 1e-5


@dataclass
class TrainSettings:
    steps: int = 300  # total optimiser steps (stage 1 + stage 2)
    batch_size: int = 8  # per process
    warmup: int = 10  # warmup steps at the start of each stage
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    log_every: int = 5
    checkpoint_every: int = 100
    stop_at: int = 0  # end this run after this step, checkpointed, to resume later (0 = run to the end)
    cache_features: bool = True  # cache frozen-encoder tokens per clip (in memory + cache_dir)
    cache_dir: str = ""  # where cached tokens live ("" = OUT/cache); share it between runs
    encode_batch_size: int = 8
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 on CUDA or a CPU with bf16 units
    # stage rows padded to a multiple of this many tokens: few distinct shapes, so the CPU's kernel
    # caches hit and the allocator reuses blocks (the loss is the same: padding is masked)
    pad_multiple: int = 64

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.warmup < 0:
            raise ValueError("train.steps and train.batch_size must be >= 1, train.warmup >= 0")
        if not 0 <= self.stop_at <= self.steps:
            raise ValueError(f"train.stop_at must be in [0, train.steps], got {self.stop_at}")
        if min(self.log_every, self.checkpoint_every, self.encode_batch_size, self.pad_multiple) < 1:
            raise ValueError(
                "train.log_every, checkpoint_every, encode_batch_size and pad_multiple must be >= 1"
            )


@dataclass
class AlignConfig:
    data: DataConfig
    encoder: str = "random:test"  # a checkpoint dir, `random:<preset>`, or `vjepa2:<hub id or dir>`
    llm: str = "embedded:smollm2-135m-instruct"  # as in vlm.llm.load_llm
    num_frames: int = 0  # frames per clip (0 = the encoder's default)
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)  # kind, tokens (K), hidden_size, ...
    stage1: Stage1Config = field(default_factory=Stage1Config)
    stage2: Stage2Config = field(default_factory=Stage2Config)
    encoder_tuning: EncoderTuning = field(default_factory=EncoderTuning)
    train: TrainSettings = field(default_factory=TrainSettings)
    seed: int = 0
    # What the LLM is given about each clip: "video"; "description", the ground-truth scene in words
    # (the perfect-perception bound; needs world.json); "none", nothing (the blind-trained control).
    # Without a video, stage 1 (which trains the projector) is skipped.
    perception: Literal["video", "description", "none"] = "video"

    def __post_init__(self) -> None:
        if self.stage1.steps > self.train.steps:
            raise ValueError(f"stage1.steps ({self.stage1.steps}) exceeds train.steps ({self.train.steps})")
        if self.num_frames < 0:
            raise ValueError("num_frames must be >= 0")

    @property
    def use_cache(self) -> bool:
        """Cache encoder tokens only when the encoder is frozen (and the LLM sees the video)."""
        return self.train.cache_features and self.encoder_tuning.last_blocks == 0 and self.sees_video

    def questions_per_row(self, stage: int) -> int:
        """Questions sharing a row in ``stage``: QA rows (stage 2, and stage 1 on QA) group a
        clip's questions as ``stage2.questions_per_row`` says; a description is a row of its own."""
        return self.stage2.questions_per_row if stage == 2 or self.stage1.data == "qa" else 1

    @property
    def sees_video(self) -> bool:
        return self.perception == "video"

    @property
    def first_step(self) -> int:
        """Where the loop starts: without a video there is no projector to train, so stage 1 is
        skipped and stage 2 runs its usual steps (the same recipe as the video model's)."""
        return 0 if self.sees_video else self.stage1.steps
