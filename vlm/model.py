"""VideoQAModel: JEPA video encoder -> projector -> causal LLM (+ LoRA), answering questions.

::

    from vlm.model import VideoQAModel
    model = VideoQAModel.build("random:tiny", "embedded:smollm2-135m-instruct")
    model.add_lora(rank=16)
    print(model.answer("clip.mp4", "Which way does the red ball move?", options=["left", "right"]))
    for piece in model.stream_answer("clip.mp4", "What happens?"):
        print(piece, end="", flush=True)
    model.save_pretrained("runs/my-model")       # config.json, *.safetensors, adapter/, README.md
    model = VideoQAModel.from_pretrained("runs/my-model")

    jepa-vqa ask --model runs/my-model clip.mp4 "What colour is the ball?"
    jepa-vqa export --model runs/my-model --out runs/merged --merge

The model dir's config is :mod:`vlm.config`, its files are written by :mod:`vlm.persistence`;
answering (prompts, option scoring, generation) is :class:`vlm.answering.Answering`.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from jepa_vqa.errors import UserError
from vlm.answering import Answering, distinct_videos
from vlm.config import (  # noqa: F401 - VideoQAConfig and LoraSettings are re-exported
    DEFAULT_LORA_TARGETS,
    LoraSettings,
    VideoQAConfig,
    lora_settings,
)
from vlm.inference import drop_fast_decoder, llm_dtype, merge_lora, unmerge_lora
from vlm.persistence import export_model, load_model, push_model, save_model
from vlm.processor import PromptConfig, VideoQAProcessor
from vlm.projector import ProjectorConfig, build_projector, word_embeddings

REPO_ROOT = Path(__file__).resolve().parent.parent


def default_model_path() -> Path:
    """The shipped default model dir (``checkpoints/default/`` in the repo), used by ask/eval/app."""
    return REPO_ROOT / "checkpoints" / "default"


def resolve_model(spec: str | Path | None) -> str:
    """``None`` (or the default path) -> the default model dir, with a clear error if it was not
    built; anything else -> ``spec`` unchanged."""
    path = default_model_path()
    if spec is not None and Path(spec).expanduser().resolve() != path.resolve():
        return str(spec)
    if not (path / "config.json").is_file():
        raise UserError(
            f"no default model at {path}: build it with `make default-model`, or pass --model DIR_OR_HUB_ID"
        )
    return str(path)


def encoder_blocks(encoder: nn.Module) -> nn.ModuleList:
    """The encoder's transformer blocks: its longest ModuleList named ``blocks``/``layer``/``layers``."""
    lists = [
        m
        for name, m in encoder.named_modules()
        if isinstance(m, nn.ModuleList) and name.rsplit(".", 1)[-1] in ("blocks", "layer", "layers")
    ]
    if not lists:
        raise UserError(f"cannot find the transformer blocks of encoder {type(encoder).__name__}")
    return max(lists, key=len)


class VideoQAModel(Answering, nn.Module):
    """Encoder (frozen by default) + trainable projector + LLM (frozen base, optional LoRA)."""

    def __init__(self, config: VideoQAConfig, encoder: nn.Module, llm: nn.Module, tokenizer) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder
        self.llm = llm
        self.tokenizer = tokenizer
        self.name = f"{config.encoder} + {config.llm}"
        llm_dim = llm.get_input_embeddings().embedding_dim
        self.projector = build_projector(config.projector, encoder.embed_dim, llm_dim)
        size = encoder.image_size
        self.grid = tuple(encoder.grid(config.num_frames, size, size))  # (t, h, w)
        self.num_video_tokens = self.projector.num_tokens(self.grid)
        context = getattr(llm.config, "max_position_embeddings", None) or config.prompt.max_length
        prompt = replace(config.prompt, max_length=min(config.prompt.max_length, context))
        counts = self.projector.asked_counts(self.grid) if config.projector.asked_count else {}
        directions = self.projector.asked_directions(self.grid) if config.projector.asked_direction else {}
        self.processor = VideoQAProcessor(tokenizer, self.num_video_tokens, prompt, counts, directions)
        self._freeze()

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        encoder_spec: str,
        llm_spec: str,
        projector: ProjectorConfig | None = None,
        num_frames: int | None = None,
        lora=None,
        prompt: PromptConfig | None = None,
        unfreeze_encoder_blocks: int = 0,
        dtype=None,
        perception: str = "video",
    ) -> VideoQAModel:
        """A fresh model: the encoder and LLM loaded from their specs, a new projector."""
        from encoder import load_encoder
        from vlm.llm import load_llm

        encoder = load_encoder(encoder_spec)
        llm, tokenizer = load_llm(llm_spec, dtype=dtype)
        config = VideoQAConfig(
            encoder=encoder.spec,
            llm=llm_spec,
            num_frames=num_frames or encoder.num_frames,
            projector=projector or ProjectorConfig(),
            prompt=prompt or PromptConfig(),
            unfreeze_encoder_blocks=unfreeze_encoder_blocks,
            encoder_config=encoder.config_dict(),
            perception=perception,
        )
        model = cls(config, encoder, llm, tokenizer)
        model.projector.match_embedding_scale(llm.get_input_embeddings().weight)  # a new projector only
        if config.projector.object_words:  # the words it reads cells out as, in the LLM's embeddings
            words = model.projector.table_words()  # every group's words, then the step words
            model.projector.set_word_table(
                word_embeddings(tokenizer, llm.get_input_embeddings().weight, words)
            )
        settings = lora_settings(lora)
        if settings is not None:
            model.add_lora(settings.rank, settings.alpha, settings.dropout, settings.target_modules)
        return model

    @classmethod
    def from_pretrained(
        cls,
        path_or_id: str | Path | None = None,
        dtype=None,
        trainable: bool = False,
        precision: str | None = None,
    ) -> VideoQAModel:
        """Load a model dir written by :meth:`save_pretrained` (or a Hub repo holding one);
        ``None``: the shipped default model. For inference (not ``trainable``) LoRA is merged into
        the LLM (see vlm.inference). ``precision`` (auto | fp32 | bf16) picks the LLM's dtype for
        this machine (instead of ``dtype``)."""
        if precision is not None:
            if dtype is not None:
                raise UserError("give one of precision and dtype")
            dtype = llm_dtype(precision)
        model = load_model(cls, resolve_model(path_or_id), dtype=dtype, trainable=trainable)
        if not trainable:
            merge_lora(model)
        return model

    def save_pretrained(self, out_dir: str | Path, card: dict | None = None) -> Path:
        """Write the model dir atomically; ``card`` (training data, results...) goes to README.md."""
        if card is not None:
            self.config.card = dict(card)
        return save_model(self, out_dir)

    def export(self, out_dir: str | Path, merge: bool = True) -> Path:
        """A standalone dir with the LLM weights inside (``llm/``); ``merge`` folds LoRA into them."""
        return export_model(self, out_dir, merge=merge)

    def push_to_hub(self, repo_id: str, private: bool = False, token: str | None = None) -> str:
        """Save to a temp dir and upload it to the Hub repo ``repo_id``; returns the commit URL."""
        return push_model(self, repo_id, private=private, token=token)

    # -- trainable parts ---------------------------------------------------------------------------
    @property
    def is_lora(self) -> bool:
        return self.config.lora is not None

    def _freeze(self) -> None:
        """Encoder frozen except its last N blocks; LLM base frozen; projector trainable."""
        self.encoder.requires_grad_(False)
        n = self.config.unfreeze_encoder_blocks
        if n:
            blocks = encoder_blocks(self.encoder)
            if n > len(blocks):
                raise UserError(f"cannot unfreeze {n} encoder blocks: it has {len(blocks)}")
            for block in list(blocks)[-n:]:
                block.requires_grad_(True)
        for name, param in self.llm.named_parameters():
            param.requires_grad_("lora_" in name)
        self.projector.requires_grad_(True)

    def add_lora(self, rank: int = 16, alpha: int = 32, dropout: float = 0.05, target_modules=None) -> None:
        """Wrap the LLM with peft LoRA adapters (attention + MLP projections by default)."""
        from peft import LoraConfig, get_peft_model

        if self.is_lora:
            raise UserError("the model already has LoRA adapters")
        wanted = list(target_modules or DEFAULT_LORA_TARGETS)
        present = {name.rsplit(".", 1)[-1] for name, _ in self.llm.named_modules()}
        targets = [t for t in wanted if t in present]
        if not targets:
            raise UserError(f"none of the LoRA target modules {wanted} exist in the LLM")
        settings = LoraSettings(rank, alpha, dropout, targets)
        peft_config = LoraConfig(
            r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, task_type="CAUSAL_LM"
        )
        self.llm = get_peft_model(self.llm, peft_config)
        self.config.lora = settings
        self._freeze()

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The parameters an optimizer should update (projector, LoRA, unfrozen encoder blocks)."""
        return [p for p in self.parameters() if p.requires_grad]

    def train(self, mode: bool = True) -> VideoQAModel:
        """Like ``nn.Module.train``, but a fully frozen encoder stays in eval mode, and training mode
        takes merged LoRA back out of the base weights (so that the adapter gets gradients)."""
        if mode:
            unmerge_lora(self)
            drop_fast_decoder(self)
        super().train(mode)
        if not self.config.unfreeze_encoder_blocks:
            self.encoder.eval()
        return self

    # -- video -> embeddings -----------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.projector.parameters()).device

    def load_frames(self, video, fps: float | None = None) -> torch.Tensor:
        """Decode ``video`` (a path, or an already probed ``VideoFile``) at the model's frame count and
        size -> uint8 (T, C, H, W): spread over the clip (``fps`` None or 0), or ``1/fps`` s apart
        around its middle."""
        from encoder.video import VideoFile, read_frames

        read = video.read_frames if isinstance(video, VideoFile) else functools.partial(read_frames, video)
        return read(num_frames=self.config.num_frames, size=self.encoder.image_size, fps=fps or None)

    def _fit_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Check a uint8 (T, C, H, W) clip and resample it uniformly to the model's frame count."""
        if frames.ndim != 4 or frames.shape[1] != 3:
            raise UserError(f"frames must be uint8 (T, 3, H, W), got shape {tuple(frames.shape)}")
        if frames.shape[0] != self.config.num_frames:
            idx = torch.linspace(0, frames.shape[0] - 1, self.config.num_frames).round().long()
            frames = frames[idx]
        return frames

    def encode_tokens(self, frames: torch.Tensor) -> torch.Tensor:
        """Encoder tokens of clips -> (B, N, D). ``frames``: uint8 (T, C, H, W) / (B, T, C, H, W), or
        float (B, T, C, H, W) already through ``encoder.prepare``. Gradients flow into the encoder only
        when blocks are unfrozen (feature caching calls this on a frozen encoder)."""
        clips = frames[None] if frames.ndim == 4 else frames
        if clips.ndim != 5:
            raise UserError(f"frames must be (T, C, H, W) or (B, T, C, H, W), got {tuple(frames.shape)}")
        if clips.dtype == torch.uint8:
            video = torch.stack([self.encoder.prepare(self._fit_frames(c)) for c in clips])  # (B, T, C, H, W)
        elif clips.is_floating_point():
            video = clips  # (B, T, C, H, W), prepared
        else:
            raise UserError(f"frames must be uint8 or prepared float, got {frames.dtype}")
        with torch.set_grad_enabled(torch.is_grad_enabled() and bool(self.config.unfreeze_encoder_blocks)):
            return self.encoder(video.to(self.device))  # (B, N, D)

    def project(self, tokens: torch.Tensor, **projector_options):
        """Encoder tokens (B, N, D) -> video embeddings (B, K, W), followed by the ``asked_direction``
        table (B, K + Q, W) where the projector has one; ``projector_options`` go to the projector
        (``with_cells=True``: a slot projector's cells and shares too)."""
        n = self.grid[0] * self.grid[1] * self.grid[2]
        if tokens.ndim != 3 or tokens.shape[1] != n or tokens.shape[2] != self.encoder.embed_dim:
            raise UserError(
                f"encoder tokens must be (B, {n}, {self.encoder.embed_dim}), got {tuple(tokens.shape)}"
            )
        return self.projector(
            tokens.to(self.device, torch.float32), self.grid, **projector_options
        )  # (B, K, W)

    def _video_tokens(self, video) -> torch.Tensor:
        """One video as uint8 frames (T, C, H, W) or float encoder tokens (N, D)."""
        if isinstance(video, (str, Path)):
            return self.load_frames(video)
        if not isinstance(video, torch.Tensor):
            raise UserError(f"video must be a path or a tensor, got {type(video).__name__}")
        if video.dtype == torch.uint8:
            return self._fit_frames(video)
        if video.is_floating_point() and video.ndim == 2:
            return video
        raise UserError(
            f"video tensor must be uint8 frames or float tokens, got {video.dtype} {tuple(video.shape)}"
        )

    def encode_videos(self, videos: list) -> torch.Tensor:
        """Paths / uint8 frames (T, C, H, W) / encoder tokens (N, D) -> video embeddings (Bv, K, W);
        all frames go through the encoder in one batch, each distinct clip once."""
        firsts, place = distinct_videos(videos)
        embeds = self._encode_distinct([videos[i] for i in firsts])  # (distinct, K, W)
        return embeds[torch.tensor(place, device=embeds.device)]  # (Bv, K, W)

    def _encode_distinct(self, videos: list) -> torch.Tensor:
        inputs = [self._video_tokens(v) for v in videos]
        is_frames = [x.dtype == torch.uint8 for x in inputs]
        encoded = iter(
            self.encode_tokens(torch.stack([x for x, f in zip(inputs, is_frames) if f]))
            if any(is_frames)
            else []
        )
        tokens = [next(encoded) if f else x.to(self.device) for x, f in zip(inputs, is_frames)]
        return self.project(torch.stack(tokens))  # (Bv, K, W)

    def encode_video(self, video) -> torch.Tensor:
        """A path, uint8 frames (T, C, H, W) or encoder tokens (N, D) -> video embeddings (K, W)."""
        return self.encode_videos([video])[0]

    # -- the LLM side ------------------------------------------------------------------------------
    def embed_inputs(self, input_ids, video_mask, video_embeds=None, asked_slots=None) -> torch.Tensor:
        """Token embeddings with the video embeddings (Bv, K, W) spliced in at ``video_mask``, and
        at an asked count's or direction's slot (``asked_slots`` (B, L) >= 0) the projector output
        it names (the K video tokens, then the ``asked_direction`` table: Bv, K + Q, W)."""
        embeds = self.llm.get_input_embeddings()(input_ids.to(self.device))  # (B, L, W)
        slots = int(video_mask.sum())
        given = 0 if video_embeds is None else video_embeds.shape[0] * self.num_video_tokens
        if slots != given:
            raise ValueError(f"{slots} video slots in the prompts but {given} video embeddings")
        if slots:
            mask = video_mask.to(self.device)[..., None]  # (B, L, 1)
            video = video_embeds[:, : self.num_video_tokens]  # (Bv, K, W)
            embeds = embeds.masked_scatter(mask, video.to(embeds.dtype))
        if asked_slots is not None and bool((asked_slots >= 0).any()):
            rows, cols = (asked_slots >= 0).nonzero(as_tuple=True)  # (S,), (S,)
            clip = video_mask.any(1).long().cumsum(0) - 1  # (B,): each row's video among the Bv
            picked = video_embeds[clip[rows].to(self.device), asked_slots[rows, cols].to(self.device)]
            embeds = embeds.index_put((rows.to(self.device), cols.to(self.device)), picked.to(embeds.dtype))
        return embeds  # (B, L, W)

    def forward(self, batch: dict) -> torch.Tensor:
        """Training loss of a right-padded batch from the processor, plus ``encoder_tokens``
        (Bv, N, D) or uint8 ``frames`` (Bv, T, C, H, W) for the Bv rows that have a video slot."""
        if "encoder_tokens" in batch:
            tokens = batch["encoder_tokens"]
        elif "frames" in batch:
            tokens = self.encode_tokens(batch["frames"])
        else:
            tokens = None
        video_embeds = None if tokens is None else self.project(tokens)  # (Bv, K, W)
        embeds = self.embed_inputs(
            batch["input_ids"], batch["video_mask"], video_embeds, batch.get("asked_slots")
        )
        labels = batch["labels"].to(self.device)  # (B, L)
        targets = labels[:, 1:]  # position p predicts token p + 1
        keep = (targets != -100).any(dim=0).nonzero().squeeze(1)  # (P,) positions that predict answers
        extra = {"position_ids": batch["position_ids"].to(self.device)} if "position_ids" in batch else {}
        out = self.llm(  # logits only where an answer token is predicted: the LM head is ~20% of a step
            inputs_embeds=embeds,
            attention_mask=batch["attention_mask"].to(self.device),  # (B, L), or (B, 1, L, L) grouped
            logits_to_keep=keep,
            use_cache=False,
            **extra,
        )
        logits = out.logits.float()  # (B, P, V)
        return torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), targets[:, keep].flatten(), ignore_index=-100
        )

    def training_loss(self, video, questions, answers, options=None, histories=None) -> torch.Tensor:
        """Loss of a batch of QA pairs. ``video``: encoder tokens (B, N, D), frames (B, T, C, H, W)
        (uint8, or float prepared), or ``None`` for blind examples."""
        n = len(questions)
        options = [None] * n if options is None else list(options)
        histories = [None] * n if histories is None else list(histories)
        if not (len(answers) == len(options) == len(histories) == n):
            raise UserError("questions, answers, options and histories must have the same length")
        items = [
            self.processor.encode(q, history=h, options=o or None, has_video=video is not None, answer=a)
            for q, a, o, h in zip(questions, answers, options, histories)
        ]
        batch = self.processor.collate(items, padding_side="right")
        if video is not None:
            key = "encoder_tokens" if video.ndim == 3 else "frames"
            batch[key] = video
        return self(batch)

    def describe(self) -> dict:
        """Names and sizes for the app and reports."""
        total = sum(p.numel() for p in self.parameters())
        return {
            "model": self.name,
            "encoder": self.config.encoder,
            "llm": self.config.llm,
            "projector": self.config.projector.kind,
            "video_tokens": self.num_video_tokens,
            "frames": self.config.num_frames,
            "image_size": self.encoder.image_size,
            "lora": self.is_lora,
            "parameters": total,
            "trainable_parameters": sum(p.numel() for p in self.trainable_parameters()),
        }
