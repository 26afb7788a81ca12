"""Per-clip cache of frozen-encoder tokens, in memory and on disk (``OUT/cache/<key>.safetensors``).

With a frozen encoder the tokens of a clip never change, so they are computed once (batched,
with a progress bar) and the training loop runs only projector + LLM. The key covers the encoder
(spec, config and a fingerprint of its weights), the video file (path, size, mtime) and the
frame count, so a different encoder or re-rendered video never hits a stale entry::

    cache = FeatureCache(model, out_dir / "cache")   # model: a VideoQAModel
    cache.build(videos, batch_size=8)      # encodes only the clips not cached yet
    tokens = cache.get(videos[0])          # (N, D) float32
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from jepa_vqa.atomic import atomic_write


def encoder_fingerprint(encoder: torch.nn.Module) -> str:
    """A short hash of the encoder's identity: spec, config and a strided sample of every weight."""
    h = hashlib.sha1()
    h.update(str(getattr(encoder, "spec", type(encoder).__name__)).encode())
    config = encoder.config_dict() if hasattr(encoder, "config_dict") else {}
    h.update(json.dumps(config, sort_keys=True, default=str).encode())
    with torch.no_grad():
        for name, tensor in sorted(encoder.state_dict().items()):
            flat = tensor.detach().flatten().float().cpu()
            sample = flat[:: max(1, flat.numel() // 256)]
            h.update(name.encode())
            h.update(sample.numpy().tobytes())
    return h.hexdigest()[:16]


class FeatureCache:
    """Encoder tokens per video; ``encoded`` counts clips that actually ran through the encoder."""

    def __init__(self, model, cache_dir: str | Path | None) -> None:
        self.model = model  # a VideoQAModel: load_frames(path), encode_tokens(frames), encoder
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.num_frames = model.config.num_frames
        self.fingerprint = encoder_fingerprint(model.encoder)
        self.memory: dict[str, torch.Tensor] = {}
        self.encoded = 0
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)

    def key(self, video: str) -> str:
        """Cache key of ``video`` under this encoder and frame count."""
        st = os.stat(video)
        ident = f"{self.fingerprint}|{os.path.abspath(video)}|{st.st_size}|{st.st_mtime_ns}|{self.num_frames}"
        return hashlib.sha1(ident.encode()).hexdigest()[:24]

    def _path(self, video: str) -> Path | None:
        return self.cache_dir / f"{self.key(video)}.safetensors" if self.cache_dir else None

    def _load_disk(self, video: str) -> torch.Tensor | None:
        path = self._path(video)
        if path is None or not path.is_file():
            return None
        return load_file(str(path))["tokens"]

    @torch.no_grad()
    def _encode(self, videos: Sequence[str]) -> torch.Tensor:
        """Run the encoder on a batch of clips -> (B, N, D) on CPU, float32."""
        frames = torch.stack([self.model.load_frames(v) for v in videos])  # (B, T, C, H, W) uint8
        return self.model.encode_tokens(frames).float().cpu()  # (B, N, D)

    def build(
        self,
        videos: Sequence[str],
        batch_size: int = 8,
        rank: int = 0,
        world_size: int = 1,
        barrier: Callable[[], None] | None = None,
        progress: bool = True,
    ) -> int:
        """Make sure every video is cached; returns how many this process encoded.

        Under several processes each encodes its shard of the missing clips and writes it to
        disk; after ``barrier`` every process reads the others' files.
        """
        videos = list(dict.fromkeys(videos))
        missing = [v for v in videos if v not in self.memory]
        todo = []
        for video in missing:
            tokens = self._load_disk(video)
            if tokens is None:
                todo.append(video)
            else:
                self.memory[video] = tokens
        # Each clip belongs to one rank by its place in the full list (the same on every rank); sharding
        # `todo` instead would race with files another rank is already writing.
        owned = set(videos[rank::world_size])
        mine = [v for v in todo if v in owned]
        encoder = self.model.encoder
        was_training = encoder.training
        encoder.eval()
        bar = tqdm(total=len(mine), desc="encode clips", unit="clip", disable=not progress or rank != 0)
        for start in range(0, len(mine), batch_size):
            chunk = mine[start : start + batch_size]
            tokens = self._encode(chunk)  # (B, N, D)
            for video, tok in zip(chunk, tokens):
                tok = tok.contiguous()
                self.memory[video] = tok
                path = self._path(video)
                if path is not None:
                    atomic_write(path, lambda tmp, tok=tok: save_file({"tokens": tok}, str(tmp)))
            bar.update(len(chunk))
        bar.close()
        encoder.train(was_training)
        self.encoded += len(mine)
        if world_size > 1 and barrier is not None:
            barrier()
            for video in todo:
                if video not in self.memory:
                    tokens = self._load_disk(video)
                    if tokens is None:
                        raise RuntimeError(f"feature cache: no tokens for {video} after the barrier")
                    self.memory[video] = tokens
        return len(mine)

    def get(self, video: str) -> torch.Tensor:
        """Tokens (N, D) of a cached video (encodes it on a miss)."""
        if video not in self.memory:
            self.build([video], progress=False)
        return self.memory[video]

    def batch(self, videos: Sequence[str]) -> torch.Tensor:
        """Stacked tokens (B, N, D) for ``videos``."""
        return torch.stack([self.get(v) for v in videos])
