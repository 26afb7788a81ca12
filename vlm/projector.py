"""Projector: encoder tokens ``(B, t*h*w, D)`` -> K LLM-width embeddings ``(B, K, W)``.

Four kinds behind one interface (``forward(tokens, grid)``, ``num_tokens(grid)``):

- all first standardise every encoder channel with dataset statistics
  (:meth:`Projector.set_input_statistics`): raw JEPA tokens share a large common component, so
  without it two clips' projected tokens differ by a few percent and the LLM reads a constant;
- all end with an RMSNorm whose gain starts at the per-channel RMS of the LLM's word embeddings
  (:meth:`Projector.match_embedding_scale`), so video tokens enter the LLM at the scale of words;

- ``pool-mlp``: adaptive average pooling over space, per time step, down to a token budget (time
  order survives: K = t x (ph*pw)), an optional learned time embedding, then a 2-layer GELU MLP;
- ``mlp-pool``: the MLP on every encoder token first, then the same pooling (as LLaVA-Video pools
  after its projector): a small object that covers one token of a 2 x 2 cell becomes a nonlinear
  feature before the average, instead of a quarter of a linear mix; with ``local_mix``, every token
  is first mixed with its neighbours in the frame (a residual 2-D convolution; on raw pixels it did
  not help shape, README); with ``count_token``, one more token after the cells, a deep-sets count of
  what the cells show (grounded to the clip's number of objects), and with ``count_words`` one more
  per colour and shape word (how many objects have it; ``count_word_identity`` tells them apart);
  with ``object_words``, the LLM is handed words instead of cells: per time step the cells most
  likely to show an object, each read out as one token per word group ("small red triangle left"),
  an object list as a description gives it (:meth:`MLPPoolProjector.read_words`);
- ``attentive``: K learned queries cross-attend to all tokens (with the time embedding), then the MLP;
- ``slots``: object slots over the ``mlp-pool`` cell tokens: K / ``tokens_per_slot`` slots share
  out the cells (each with its time, row and column embedding) by slot attention, whose softmax
  over the slots makes them compete for each cell, so each takes one object; each slot becomes
  ``tokens_per_slot`` video tokens (the slot plus a learned embedding of the token's place, through
  an MLP). Trained grounded (``alignment.grounding``), a slot's tokens say one object's size,
  colour, shape and directions, as a description lists each object once: what counting needs.

::

    proj = build_projector(ProjectorConfig(tokens=32), encoder_dim=192, llm_dim=576)
    video_embeds = proj(tokens, grid=(8, 4, 4))  # (B, 32, 576)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class ProjectorConfig:
    """Projector settings; saved in the model's config.json."""

    kind: Literal["pool-mlp", "mlp-pool", "attentive", "slots"] = "pool-mlp"
    tokens: int = 32  # budget K of video tokens per clip
    time_steps: int | None = None  # pool kinds: at most this many time steps (None: all the budget allows)
    # pool kinds: how a cell's tokens become one. "max" keeps a small object's feature at full
    # strength (encoder.readout_probe: colour presence 99% after a per-token MLP and max, 89% after
    # the MLP and mean, 67% from the mean of the tokens); "mean" averages it with the background
    pool: Literal["mean", "max"] = "mean"
    normalize_input: bool = True  # standardise encoder channels with dataset statistics
    # >0: the statistics are per token position (this many encoder tokens, e.g. 512 = 8 x 8 x 8), so
    # what every clip shares at a position (walls, floor, the occluder's place) is subtracted and
    # what differs between clips (the objects) is what the projector passes on
    input_positions: int = 0
    match_embedding_scale: bool = True  # output RMSNorm at the scale of the LLM's word embeddings
    hidden_size: int | None = None  # MLP hidden width; None: the LLM width
    time_embedding: bool = True  # learned embedding per encoder time step
    max_time_steps: int = 64
    num_heads: int = 4  # attentive only
    tokens_per_slot: int = 5  # slots only: video tokens per slot (K / this many slots)
    cells: int = 64  # slots only: the budget of the cell tokens that the slots read
    # mlp-pool only: one more video token after the cells, grounded to the number of objects
    count_token: bool = False
    # with count_token: this many more tokens after it, one per colour and shape word of the world,
    # each grounded to that word and to how many objects have it ("how many red objects?")
    count_words: int = 0
    # with count_token: the count tokens read the cells without sending their gradient back, so that
    # their loss does not reshape the cells (with it, stage-1 shape on unseen clips fell 78% -> 57%)
    count_detach: bool = False
    # with count_words: each per-word token also gets a learned vector of its own after the readout
    # MLP, so that it says which word it counts (added before the MLP's LayerNorm, the word embedding
    # was normalised away: the tokens named their word on 11% of unseen clips, chance)
    count_word_identity: bool = False
    # with count_words: each word also scales the channels of the count sum by a learned gate of its
    # own before its readout, so that it reads the channels that count its word (an added embedding,
    # normalised by the readout's LayerNorm, cannot select channels)
    count_word_gate: bool = False
    slot_iterations: int = 3  # slots only: rounds of slot attention
    # mlp-pool and slots: >0 mixes every encoder token with its neighbours in its frame's (h, w) grid
    # before the per-token MLP (a residual 2-D convolution of this odd kernel size per time step,
    # starting at zero), so a cell's token can see an object's outline across patches, not one patch
    local_mix: int = 0
    # mlp-pool only: >0 hands the LLM words instead of cells: per time step, the this-many cells most
    # likely to show an object (in reading order), each as one token per group of ``words``: the mean
    # of the group's word embeddings weighted by the softmax of the cell's cosines with them (what
    # grounded stage 1 trains). Binding a colour to a shape is then reading adjacent words, as in text
    object_words: int = 0
    # with object_words: the word groups in the order a cell is read out; "shape" ends with the word
    # of an empty cell. Left empty, alignment fills it from the world (worlds.grounding.vocabulary)
    words: dict[str, list[str]] = field(default_factory=dict)
    # with object_words: one word before each time step's objects (as many as time steps), so that
    # the LLM can tell the start from the end ("first ... then ... last"); empty: none
    step_words: list[str] = field(default_factory=list)
    # with object_words: two more tokens per colour and shape word, the word and the number of
    # objects the cells show with it (per time step the sum over its cells of the chance that the
    # cell shows such an object, then the median over the time steps, rounded): counts read straight
    # off the grounded cells, no parameters (benchmarks/derived_counts.py: of a colour 85% right on
    # unseen clips, of a shape 59%, against 61% and 43% for the learned per-word count tokens)
    cell_counts: bool = False
    # with object_words: each object read once. An object crossing a cell border shows in both
    # cells; per time step, cells that share a side, likely show an object (chance > 0.5) and have the
    # same likeliest colour are one object, read out at its first cell in reading order (their word
    # weights averaged, weighted by each cell's chance); every other cell reads as empty.
    # ``cell_counts`` then counts each object as its likeliest colour and shape and takes the most
    # objects any time step shows, not the median (benchmarks/derived_counts.py: of a colour 94.8%
    # right on unseen clips, of a shape 65.2%; but the LLM does not read them: benchmarks/count_use.py)
    merge_cells: bool = False
    # with cell_counts: a counting question that names one colour or shape word ("Count the
    # squares.") gets, right after it, a line "square count: N" whose N is that word's number token
    # of the cell counts (the processor fills the slot): a count conditioned on the question, with
    # nothing to look up (benchmarks/count_use.py: the LLM ignores per-word counts in the video)
    asked_count: bool = False
    # with merge_cells: a motion question ("which way", "moving", "heading") that names an object by
    # any of its size, colour and shape words gets, right after it, a line "direction: D" whose D is
    # the direction word the cells read for that object at the time asked (the start: the first time
    # step it is seen; the end: the last; else all of them). The LLM would otherwise have to find the
    # object among the word tokens and pick its time step (vlm.read_out: an object read "up" at the
    # start and "down" after its bounce was answered "down" for the start). The projector appends
    # the table of every such answer after its K video tokens; only these slots read it
    asked_direction: bool = False

    def __post_init__(self) -> None:
        if self.tokens < 1:
            raise ValueError(f"tokens must be >= 1, got {self.tokens}")
        if self.input_positions < 0:
            raise ValueError(f"input_positions must be >= 0, got {self.input_positions}")
        if self.hidden_size is not None and self.hidden_size < 1:
            raise ValueError(f"hidden_size must be >= 1, got {self.hidden_size}")
        if self.pool not in ("mean", "max"):
            raise ValueError(f"pool must be 'mean' or 'max', got {self.pool!r}")
        if self.time_steps is not None and self.time_steps < 1:
            raise ValueError(f"time_steps must be >= 1, got {self.time_steps}")
        if self.num_heads < 1 or self.max_time_steps < 1:
            raise ValueError("num_heads and max_time_steps must be >= 1")
        if self.tokens_per_slot < 1 or self.slot_iterations < 1:
            raise ValueError("tokens_per_slot and slot_iterations must be >= 1")
        if self.local_mix < 0 or (self.local_mix and self.local_mix % 2 == 0):
            raise ValueError(f"local_mix must be 0 or an odd kernel size, got {self.local_mix}")
        if self.local_mix and self.kind not in ("mlp-pool", "slots"):
            raise ValueError(f"local_mix needs kind mlp-pool or slots, not {self.kind}")
        if self.count_words < 0 or (self.count_words and not self.count_token):
            raise ValueError(f"count_words={self.count_words} needs count_token and must be >= 0")
        if (self.count_word_identity or self.count_word_gate) and not self.count_words:
            raise ValueError("count_word_identity and count_word_gate need count_words > 0")
        if self.count_token and self.kind != "mlp-pool":
            raise ValueError(f"count_token needs kind mlp-pool, not {self.kind}")
        if self.object_words < 0 or (self.object_words and self.kind != "mlp-pool"):
            raise ValueError(f"object_words={self.object_words} needs kind mlp-pool and must be >= 0")
        if self.cell_counts and not self.object_words:
            raise ValueError("cell_counts needs object_words > 0 (it reads the same word weights)")
        if self.asked_count and not self.cell_counts:
            raise ValueError("asked_count needs cell_counts (it hands the LLM one of their numbers)")
        if self.asked_direction and not self.merge_cells:
            raise ValueError("asked_direction needs merge_cells (it reads each object once)")
        if self.merge_cells and not self.object_words:
            raise ValueError("merge_cells needs object_words > 0 (it merges the cells' word weights)")
        if self.words and (len(self.words.get("shape", [])) < 2 or any(not w for w in self.words.values())):
            raise ValueError(
                f"words needs a 'shape' group (with the empty cell's word last), got {self.words}"
            )
        if self.kind == "slots" and self.tokens % self.tokens_per_slot:
            raise ValueError(f"tokens={self.tokens} is not a whole number of slots of {self.tokens_per_slot}")


COSINE_SCALE = 10.0  # grounded cosine -> logit: a margin of 0.3 in cosine is 3 nats
NUMBERS = [str(n) for n in range(10)]  # the number words of ``cell_counts``
SPANS = ("whole", "start", "end")  # the times a motion question asks about (``asked_direction``)
NAMING_GROUPS = ("size", "colour", "shape")  # the word groups a question names an object by


def word_embeddings(tokenizer, embeddings: torch.Tensor, words: list[str]) -> torch.Tensor:
    """(V, W): each word's input embedding as it follows a space (the mean of its tokens' when it
    splits), from the LLM's embedding matrix ``embeddings`` (vocab, W)."""
    ids = [tokenizer(" " + w, add_special_tokens=False)["input_ids"] for w in words]
    return torch.stack([embeddings[i].detach().float().mean(0) for i in ids])


def pooled_grid(
    grid: tuple[int, int, int], budget: int, time_steps: int | None = None
) -> tuple[int, int, int]:
    """The ``(t', ph, pw)`` a token grid is pooled to: keep time (at most ``time_steps``) if the
    budget allows, then the most square spatial grid with ``ph*pw <= budget // t'``."""
    t, h, w = grid
    t = min(t, time_steps) if time_steps else t
    if budget < t:
        return budget, 1, 1
    per_step = min(budget // t, h * w)
    best = (1, 1)
    for ph in range(1, h + 1):
        pw = min(w, per_step // ph)
        if pw < 1:
            break
        better_area = ph * pw > best[0] * best[1]
        same_area_squarer = ph * pw == best[0] * best[1] and abs(ph - pw) < abs(best[0] - best[1])
        if better_area or same_area_squarer:
            best = (ph, pw)
    return t, best[0], best[1]


def component_labels(on: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """Connected components on grids: ``on`` (N, h, w) bool, ``key`` (N, h, w) -> (N, h, w) long.
    Each ``on`` cell gets the reading-order index of the first cell of its component (``on`` cells
    joined through shared sides, each pair with equal keys); every other cell its own index."""
    n, h, w = on.shape
    own = torch.arange(h * w, device=on.device).view(1, h, w).expand(n, h, w)
    label = torch.where(on, own, h * w)
    vertical = on[:, 1:] & on[:, :-1] & (key[:, 1:] == key[:, :-1])  # (N, h-1, w): a cell and the one above
    across = on[:, :, 1:] & on[:, :, :-1] & (key[:, :, 1:] == key[:, :, :-1])  # (N, h, w-1): and its left
    for _ in range(h * w):  # each round spreads a component's smallest index one cell further
        new = label.clone()
        new[:, 1:] = torch.where(vertical, torch.minimum(new[:, 1:], label[:, :-1]), new[:, 1:])
        new[:, :-1] = torch.where(vertical, torch.minimum(new[:, :-1], label[:, 1:]), new[:, :-1])
        new[:, :, 1:] = torch.where(across, torch.minimum(new[:, :, 1:], label[:, :, :-1]), new[:, :, 1:])
        new[:, :, :-1] = torch.where(across, torch.minimum(new[:, :, :-1], label[:, :, 1:]), new[:, :, :-1])
        if torch.equal(new, label):
            break
        label = new
    return torch.where(on, label, own)


def check_grid(tokens: torch.Tensor, grid: tuple[int, int, int]) -> tuple[int, int, int]:
    """``tokens`` (B, N, D) must hold one token per cell of ``grid`` (t, h, w); returns (B, N, D)."""
    b, n, d = tokens.shape
    if n != grid[0] * grid[1] * grid[2]:
        raise ValueError(f"{n} tokens do not match the grid {grid}")
    return b, n, d


class _MLP(nn.Sequential):
    def __init__(self, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__(
            nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim)
        )


class Projector(nn.Module):
    """Shared parts: the config, the time embedding and the output MLP."""

    def __init__(self, cfg: ProjectorConfig, encoder_dim: int, llm_dim: int) -> None:
        super().__init__()
        self.cfg, self.encoder_dim, self.llm_dim = cfg, encoder_dim, llm_dim
        self.time_embed = (
            nn.Parameter(torch.zeros(cfg.max_time_steps, encoder_dim)) if cfg.time_embedding else None
        )
        self.mlp = _MLP(encoder_dim, cfg.hidden_size or llm_dim, llm_dim)
        if cfg.normalize_input:
            shape = (cfg.input_positions, encoder_dim) if cfg.input_positions else (encoder_dim,)
            self.register_buffer("input_mean", torch.zeros(shape))
            self.register_buffer("input_std", torch.ones(shape))
        self.out_norm = nn.RMSNorm(llm_dim, eps=1e-6) if cfg.match_embedding_scale else nn.Identity()

    @torch.no_grad()
    def set_input_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """``mean`` and ``std`` of encoder tokens over the training clips: per channel (D,), or per
        position and channel (N, D) when ``input_positions`` is set."""
        if self.cfg.normalize_input:
            self.input_mean.copy_(mean)
            self.input_std.copy_(std.clamp_min(1e-6))

    @torch.no_grad()
    def match_embedding_scale(self, embeddings: torch.Tensor) -> None:
        """Start the output gain at the per-channel RMS of the word ``embeddings`` (V, W)."""
        if self.cfg.match_embedding_scale:
            rms = embeddings.detach().double().pow(2).mean(0).sqrt()  # (W,)
            self.out_norm.weight.copy_(rms.float())

    def standardise(self, tokens: torch.Tensor) -> torch.Tensor:
        """``tokens`` (B, N, D) -> standardised tokens (B, N, D)."""
        if not self.cfg.normalize_input:
            return tokens
        if self.cfg.input_positions and tokens.shape[1] != self.cfg.input_positions:
            raise ValueError(
                f"{tokens.shape[1]} encoder tokens, but the projector's statistics are for "
                f"{self.cfg.input_positions} positions (frames and size must match training)"
            )
        return (tokens - self.input_mean) / self.input_std

    def output(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled tokens (B, K, D) -> LLM-width embeddings at word-embedding scale (B, K, W)."""
        return self.out_norm(self.mlp(x))

    def add_time(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, t, S, D): add the embedding of each time step."""
        if self.time_embed is None:
            return x
        t = x.shape[1]
        if t > self.cfg.max_time_steps:
            raise ValueError(
                f"{t} time steps exceed the projector's max_time_steps={self.cfg.max_time_steps}"
            )
        return x + self.time_embed[:t, None, :]  # (B, t, S, D)

    def num_tokens(self, grid: tuple[int, int, int]) -> int:
        raise NotImplementedError


class PoolMLPProjector(Projector):
    """Adaptive average (or max) pool over (h, w) per time step, then the MLP."""

    def cells(self, grid: tuple[int, int, int]) -> tuple[int, int, int]:
        """The ``(t', ph, pw)`` cells an encoder ``grid`` is pooled to: one video token each."""
        return pooled_grid(grid, self.cfg.tokens, self.cfg.time_steps)

    def num_tokens(self, grid: tuple[int, int, int]) -> int:
        t, ph, pw = self.cells(grid)
        return t * ph * pw

    def pool(self, x: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        """``x`` (B, t*h*w, C) on ``grid`` -> cell means or maxima (B, t', ph*pw, C), time order kept."""
        b, _, c = x.shape
        x = x.transpose(1, 2).reshape(b, c, *grid)  # (B, C, t, h, w)
        pool = F.adaptive_max_pool3d if self.cfg.pool == "max" else F.adaptive_avg_pool3d
        x = pool(x, self.cells(grid))  # (B, C, t', ph, pw)
        return x.flatten(3).permute(0, 2, 3, 1)  # (B, t', ph*pw, C)

    def forward(self, tokens: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        check_grid(tokens, grid)
        x = self.pool(self.standardise(tokens), grid)  # (B, t', ph*pw, D)
        x = self.add_time(x).flatten(1, 2)  # (B, K, D)
        return self.output(x)  # (B, K, W)


class MLPPoolProjector(PoolMLPProjector):
    """The MLP on every (time-embedded) token, then adaptive average (or max) pooling over (t, h, w);
    with ``count_token``, one more token after the cells: how many objects the clip shows."""

    def __init__(self, cfg: ProjectorConfig, encoder_dim: int, llm_dim: int) -> None:
        super().__init__(cfg, encoder_dim, llm_dim)
        self.local = None
        if cfg.local_mix:  # a residual convolution that starts as the identity
            self.local = nn.Conv2d(encoder_dim, encoder_dim, cfg.local_mix, padding=cfg.local_mix // 2)
            nn.init.zeros_(self.local.weight)
            nn.init.zeros_(self.local.bias)
        if cfg.count_token:  # deep sets: a feature per cell, summed over a time step's cells
            hidden = cfg.hidden_size or llm_dim
            self.count_cell = _MLP(llm_dim, hidden, hidden)
            self.count_out = _MLP(2 * hidden, hidden, llm_dim)
        if cfg.count_words:  # the same counts, read out once per word (its embedding added first)
            self.count_word = nn.Parameter(torch.randn(cfg.count_words, 2 * hidden) * 0.1)
            self.word_count_out = _MLP(2 * hidden, hidden, llm_dim)
        self.word_identity = self.word_gate = None
        if cfg.count_word_identity:  # zero at first: the word loss moves it towards its word
            self.word_identity = nn.Parameter(torch.zeros(cfg.count_words, llm_dim))
        if cfg.count_word_gate:  # zero at first: every word reads the sum as it is
            self.word_gate = nn.Parameter(torch.zeros(cfg.count_words, 2 * hidden))
        if cfg.object_words:
            if not cfg.words:
                raise ValueError("object_words needs the word groups (projector.words)")
            vocab = len(self.table_words())
            self.register_buffer("word_table", torch.zeros(vocab, llm_dim))  # set_word_table
        if cfg.asked_direction and "direction" not in cfg.words:
            raise ValueError(f"asked_direction needs a 'direction' word group, got {list(cfg.words)}")

    def table_words(self) -> list[str]:
        """The words of ``word_table``, in its order: every group's, then the step words."""
        numbers = NUMBERS if self.cfg.cell_counts else []
        return [w for group in self.cfg.words.values() for w in group] + list(self.cfg.step_words) + numbers

    @torch.no_grad()
    def set_word_table(self, table: torch.Tensor) -> None:
        """The LLM's input embeddings of :meth:`table_words` (V, W)."""
        self.word_table.copy_(table)

    def num_tokens(self, grid: tuple[int, int, int]) -> int:
        t, ph, pw = self.cells(grid)
        cfg = self.cfg
        if cfg.step_words and len(cfg.step_words) != t:
            raise ValueError(f"step_words has {len(cfg.step_words)} words for {t} time steps")
        video = self.word_tokens(grid) + (2 * len(self.counted_words()) if cfg.cell_counts else 0)
        return (video if cfg.object_words else t * ph * pw) + int(cfg.count_token) + cfg.count_words

    def word_tokens(self, grid: tuple[int, int, int]) -> int:
        """How many tokens :meth:`read_words` hands the LLM."""
        t, ph, pw = self.cells(grid)
        return t * (min(self.cfg.object_words, ph * pw) * len(self.cfg.words) + bool(self.cfg.step_words))

    def asked_counts(self, grid: tuple[int, int, int]) -> dict[str, int]:
        """Each counted word -> the index among the video tokens of its number (:meth:`read_counts`
        follows :meth:`read_words`: word, number, word, number...), for ``asked_count``."""
        first = self.word_tokens(grid)
        return {word: first + 2 * i + 1 for i, word in enumerate(self.counted_words())}

    def direction_keys(self) -> list[tuple]:
        """The keys of the ``asked_direction`` table, in its order: (size, colour, shape, span), each
        word ``None`` where the question does not name that group (the shapes without "nothing")."""
        named = [[None, *self.cfg.words.get(g, [])] for g in NAMING_GROUPS]
        named[-1] = named[-1][:-1]  # the shapes' table ends with the empty cell's word
        return [(*words, span) for words in itertools.product(*named) for span in SPANS]

    def asked_directions(self, grid: tuple[int, int, int]) -> dict[tuple, int]:
        """Each :meth:`direction_keys` key -> the index of its answer among the projector's outputs
        (the table follows the K video tokens), for ``asked_direction``."""
        first = self.num_tokens(grid)
        return {key: first + i for i, key in enumerate(self.direction_keys())}

    def mix(self, x: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        """``x`` (B, t, h*w, D) -> the same with every token mixed with its neighbours in the frame."""
        if self.local is None:
            return x
        b, t, n, d = x.shape
        frames = x.reshape(b * t, *grid[1:], d).permute(0, 3, 1, 2)  # (B*t, D, h, w)
        mixed = self.local(frames).permute(0, 2, 3, 1).reshape(b, t, n, d)  # (B, t, h*w, D)
        return x + mixed

    def cell_tokens(self, tokens: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        """Encoder tokens (B, N, D) -> one token per cell (B, C, W)."""
        b, n, d = check_grid(tokens, grid)
        x = self.add_time(self.standardise(tokens).reshape(b, grid[0], n // grid[0], d))  # (B, t, h*w, D)
        x = self.mlp(self.mix(x, grid)).flatten(1, 2)  # (B, t*h*w, W)
        return self.out_norm(self.pool(x, grid).flatten(1, 2))  # (B, C, W)

    def count(self, cells: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        """Cell tokens (B, C, W) -> the count token, then the per-word ones (B, 1+count_words, W):
        per time step the sum of a feature of each cell (a count of what the cells show), then its
        maximum and mean over the time steps, through an MLP (per word: with the word's embedding)."""
        steps = self.count_cell(cells).unflatten(1, (self.cells(grid)[0], -1)).sum(2)  # (B, t, H)
        pooled = torch.cat([steps.amax(1), steps.mean(1)], -1)  # (B, 2H)
        out = self.count_out(pooled)[:, None]  # (B, 1, W)
        if self.cfg.count_words:
            per_word = pooled[:, None] + self.count_word  # (B, count_words, 2H)
            if self.word_gate is not None:
                per_word = per_word * (1 + self.word_gate)
            words = self.word_count_out(per_word)  # (B, count_words, W)
            if self.word_identity is not None:
                words = words + self.word_identity
            out = torch.cat([out, words], 1)
        return self.out_norm(out)  # (B, 1+count_words, W)

    def group_tables(self) -> list[torch.Tensor]:
        """The word embeddings of each group of ``cfg.words``: G x (V_g, W)."""
        sizes = [len(w) for w in self.cfg.words.values()]
        return list(self.word_table[: sum(sizes)].split(sizes))

    def word_weights(self, cells: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Cell tokens (B, C, W) -> per word group the softmax weights of its words, G x (B, C, V_g)
        (of the cell's scaled cosines with their embeddings), and the chance that each cell shows
        an object (B, C, 1): 1 - the weight of the empty cell's word among the shapes."""
        unit = F.normalize(cells.float(), dim=-1)  # (B, C, W)
        probs = [(COSINE_SCALE * unit @ F.normalize(tb, dim=-1).T).softmax(-1) for tb in self.group_tables()]
        full = 1 - probs[list(self.cfg.words).index("shape")][..., -1:]  # (B, C, 1)
        return probs, full

    def merged_weights(self, weights, grid: tuple[int, int, int]):
        """:meth:`word_weights` -> the same with each object read once (``merge_cells``): per time
        step, the cells of one object (:func:`component_labels` of the cells likely to show an
        object, keyed by their likeliest colour) give their first cell the average of their word
        weights, weighted by each cell's chance; every other cell reads as empty."""
        probs, full = weights
        t, h, w = self.cells(grid)
        b = full.shape[0]
        groups = list(self.cfg.words)
        on = full[..., 0] > 0.5  # (B, C)
        key = (
            probs[groups.index("colour")].argmax(-1)
            if "colour" in groups
            else torch.zeros_like(on, dtype=torch.long)
        )
        label = component_labels(on.view(b * t, h, w), key.view(b * t, h, w)).view(b, t, h * w)
        weight = (full[..., 0] * on).view(b, t, h * w, 1)  # (B, t, hw, 1): each cell's say in its object
        member = F.one_hot(label, h * w).to(full.dtype) * weight  # (B, t, cell, first cell)
        total = member.sum(2)[..., None]  # (B, t, hw, 1): > 0 at each object's first cell only
        first = (total > 0).view(b, -1, 1)  # (B, C, 1)
        merged = [
            (member.transpose(2, 3) @ p.view(b, t, h * w, -1) / total.clamp_min(1e-6)).view_as(p)
            for p in probs
        ]  # G x (B, C, V_g)
        shape = groups.index("shape")
        empty = F.one_hot(torch.tensor(probs[shape].shape[-1] - 1), probs[shape].shape[-1]).to(full)
        probs = [
            torch.where(first, m, empty if g == shape else p) for g, (m, p) in enumerate(zip(merged, probs))
        ]
        return probs, torch.where(first, 1 - probs[shape][..., -1:], 0)

    def read_weights(self, cells: torch.Tensor, grid: tuple[int, int, int]):
        """What the word read-out reads: :meth:`word_weights`, each object once with ``merge_cells``."""
        weights = self.word_weights(cells)
        return self.merged_weights(weights, grid) if self.cfg.merge_cells else weights

    def picked_cells(self, full: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        """The ``object_words`` cells of each time step most likely to show an object, in reading
        order: (B, t, M) indices within the time step (``full``: (B, C, 1))."""
        per_step = full[..., 0].unflatten(1, (self.cells(grid)[0], -1))  # (B, t, hw)
        keep = min(self.cfg.object_words, per_step.shape[2])
        return per_step.topk(keep, -1).indices.sort(-1).values

    def counted_words(self) -> list[str]:
        """The words ``cell_counts`` counts: the colours, then the shapes."""
        return [*self.cfg.words.get("colour", []), *self.cfg.words["shape"][:-1]]

    def step_counts(self, probs: list[torch.Tensor], full: torch.Tensor, grid) -> torch.Tensor:
        """Per time step the expected number of objects of each counted word (B, t, K): the sum
        over the step's cells of the chance that the cell shows an object of that colour or shape
        (``probs``, ``full``: :meth:`word_weights`)."""
        groups = list(self.cfg.words)
        parts = [full * probs[groups.index("colour")]] if "colour" in groups else []
        per_cell = torch.cat([*parts, probs[groups.index("shape")][..., :-1]], -1)  # (B, C, K)
        return per_cell.unflatten(1, (self.cells(grid)[0], -1)).sum(2)  # (B, t, K)

    def counts_from_cells(self, weights, grid: tuple[int, int, int]) -> torch.Tensor:
        """:meth:`read_weights` of the cells -> the number of objects of each counted word (B, K):
        over the time steps of :meth:`step_counts` the (lower) median, rounded; with ``merge_cells``
        (each object read once) the maximum, each object counted as its likeliest words
        (:meth:`hard_weights`: three objects each 0.7 square are three squares, not 2.1)."""
        if self.cfg.merge_cells:
            per_step = self.step_counts(*self.hard_weights(weights), grid)  # (B, t, K)
            counts = per_step.amax(1)  # (B, K)
        else:
            counts = self.step_counts(*weights, grid).median(1).values  # (B, K)
        return counts.round().clamp(0, len(NUMBERS) - 1).long()

    def hard_weights(self, weights):
        """Word weights -> the same, each cell either an object (chance > 0.5) with its likeliest word
        of every group (of the shapes, the likeliest object shape) or empty: G x (B, C, V_g), (B, C, 1)."""
        probs, full = weights
        on = (full > 0.5).to(full.dtype)  # (B, C, 1)
        hard = [F.one_hot(p.argmax(-1), p.shape[-1]).to(p.dtype) for p in probs]
        shape = list(self.cfg.words).index("shape")
        objects = probs[shape][..., :-1]  # (B, C, V_shape - 1): the shapes an object can have
        hard[shape] = torch.cat([F.one_hot(objects.argmax(-1), objects.shape[-1]).to(on) * on, 1 - on], -1)
        return hard, on

    def read_counts(self, weights, grid: tuple[int, int, int]) -> torch.Tensor:
        """:meth:`read_weights` of the cells -> per counted word its embedding, then its number's
        (B, 2K, W) (:meth:`counts_from_cells`; no gradient flows through them)."""
        counts = self.counts_from_cells(weights, grid)  # (B, K)
        k, start = len(self.counted_words()), len(self.table_words()) - len(NUMBERS)
        groups = list(self.cfg.words)
        words = torch.cat([self.group_tables()[groups.index(g)] for g in ("colour", "shape") if g in groups])
        words = words[:k].expand(counts.shape[0], -1, -1)  # (B, K, W): the shapes' table ends with "nothing"
        numbers = self.word_table[start + counts]  # (B, K, W)
        return torch.stack([words, numbers], 2).flatten(1, 2)  # (B, 2K, W)

    def read_directions(self, weights, grid: tuple[int, int, int]) -> torch.Tensor:
        """:meth:`read_weights` (merged) -> per :meth:`direction_keys` key the embedding of the
        direction word of the objects that match its words (each cell its likeliest words): the
        largest summed direction weight over the time steps of its span (B, Q, W). No object matches:
        the empty cell's word. No gradient flows through it (a word is picked)."""
        hard, on = self.hard_weights(weights)  # G x (B, C, V_g), (B, C, 1)
        groups, t = list(self.cfg.words), self.cells(grid)[0]
        named = []  # per naming group (B, C, 1 + V): "not named" matches every object
        for g in NAMING_GROUPS:
            words = hard[groups.index(g)] * on if g in groups else on[..., :0]
            named.append(torch.cat([on, words[..., :-1] if g == "shape" else words], -1))
        size, colour, shape = named
        match = size[..., :, None, None] * colour[..., None, :, None] * shape[..., None, None, :]
        match = match.flatten(2).unflatten(1, (t, -1))  # (B, t, hw, Q0): cell matches key
        direction = weights[0][groups.index("direction")].unflatten(1, (t, -1))  # (B, t, hw, D)
        mass = torch.einsum("btcq,btcd->bqtd", match, direction)  # (B, Q0, t, D)
        seen = match.amax(2).transpose(1, 2) > 0  # (B, Q0, t)
        steps = torch.arange(t, device=seen.device)
        first = torch.where(seen, steps, t - 1).amin(-1)  # (B, Q0)
        last = torch.where(seen, steps, 0).amax(-1)  # (B, Q0)

        def at(step: torch.Tensor) -> torch.Tensor:  # (B, Q0) -> (B, Q0, D)
            return mass.gather(2, step[..., None, None].expand(-1, -1, 1, mass.shape[-1]))[:, :, 0]

        spans = torch.stack([mass.sum(2), at(first), at(last)], 2)  # (B, Q0, 3, D), SPANS' order
        tables = self.group_tables()
        words = tables[groups.index("direction")][spans.argmax(-1)]  # (B, Q0, 3, W)
        found = seen.any(-1)[..., None, None]  # (B, Q0, 1, 1)
        return torch.where(found, words, tables[groups.index("shape")][-1]).flatten(1, 2)  # (B, Q, W)

    def read_words(self, cells: torch.Tensor, grid: tuple[int, int, int], weights=None) -> torch.Tensor:
        """Cell tokens (B, C, W) -> per time step its step word (if any), then the ``object_words``
        cells most likely to show an object, in reading order, each as one token per word group
        (B, t*(1+M*G), W). A group's token is the mean of its words' embeddings weighted by the
        softmax of the cell's scaled cosines with them; besides "shape", a token leans to the empty
        cell's word as far as the cell is empty. ``weights``: the cells' :meth:`read_weights`, if
        already computed."""
        probs, full = weights or self.read_weights(cells, grid)
        tables = self.group_tables()
        shape = list(self.cfg.words).index("shape")
        empty_word = tables[shape][-1]  # (W,)
        tokens = [
            p @ tb if g == shape else full * (p @ tb) + (1 - full) * empty_word
            for g, (p, tb) in enumerate(zip(probs, tables))
        ]
        tokens = torch.stack(tokens, 2).unflatten(1, (self.cells(grid)[0], -1))  # (B, t, hw, G, W)
        pick = self.picked_cells(full, grid)  # (B, t, M)
        picked = tokens.gather(2, pick[..., None, None].expand(-1, -1, -1, *tokens.shape[3:]))
        picked = picked.flatten(2, 3)  # (B, t, M*G, W)
        if self.cfg.step_words:
            first = sum(len(w) for w in self.cfg.words.values())
            steps = self.word_table[first : first + len(self.cfg.step_words)]  # (t, W)
            picked = torch.cat([steps.expand(picked.shape[0], -1, -1)[:, :, None], picked], 2)
        return picked.flatten(1, 2).to(cells.dtype)  # (B, t*(1+M*G), W)

    def forward(self, tokens: torch.Tensor, grid: tuple[int, int, int], parts: bool = False):
        """Encoder tokens (B, N, D) -> video tokens (B, K, W): the cells (or their words), then the
        count tokens; with ``asked_direction`` then its table (B, K + Q, W: the Q reach the LLM only
        through a question's slot); ``parts``: {"cells", "count", "word counts"} apart instead
        (grounding)."""
        cells = self.cell_tokens(tokens, grid)  # (B, C, W)
        counted = cells.detach() if self.cfg.count_detach else cells
        counts = self.count(counted, grid) if self.cfg.count_token else None  # (B, 1 + count_words, W)
        if parts:  # grounding reads the cells themselves: no word read-out (stage 1's hot loop)
            if counts is None:
                return {"cells": cells}
            out = {"cells": cells, "count": counts[:, :1]}
            return {**out, "word counts": counts[:, 1:]} if self.cfg.count_words else out
        video, table = [cells], []
        if self.cfg.object_words:
            weights = self.read_weights(cells, grid)  # computed once for every read-out
            video = [self.read_words(cells, grid, weights)]
            if self.cfg.cell_counts:  # needs object_words (ProjectorConfig checks)
                video.append(self.read_counts(weights, grid))
            if self.cfg.asked_direction:  # needs merge_cells, so object_words
                table.append(self.read_directions(weights, grid))
        video += [] if counts is None else [counts]
        return torch.cat([v.to(video[0].dtype) for v in video + table], 1)


class AttentiveProjector(Projector):
    """K learned queries cross-attending to the (time-embedded) tokens, then the MLP."""

    def __init__(self, cfg: ProjectorConfig, encoder_dim: int, llm_dim: int) -> None:
        super().__init__(cfg, encoder_dim, llm_dim)
        heads = math.gcd(cfg.num_heads, encoder_dim)
        self.queries = nn.Parameter(torch.randn(cfg.tokens, encoder_dim) * 0.02)
        self.norm = nn.LayerNorm(encoder_dim)
        self.attn = nn.MultiheadAttention(encoder_dim, heads, batch_first=True)

    def num_tokens(self, grid: tuple[int, int, int]) -> int:
        return self.cfg.tokens

    def forward(self, tokens: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        b, n, d = check_grid(tokens, grid)
        t = grid[0]
        x = self.standardise(tokens).reshape(b, t, n // t, d)  # (B, t, h*w, D)
        kv = self.norm(self.add_time(x).flatten(1, 2))  # (B, N, D)
        q = self.queries.expand(b, -1, -1)  # (B, K, D)
        x, _ = self.attn(q, kv, kv, need_weights=False)  # (B, K, D)
        return self.output(x + q)  # (B, K, W)


class SlotProjector(MLPPoolProjector):
    """Object slots over cells: the ``mlp-pool`` cell tokens (``cells`` of them), then slot
    attention (Locatello et al. 2020; learned, distinct starting slots, so answers are
    deterministic) shares the cells (each with its time, row and column embedding) out between the
    slots, and every slot becomes ``tokens_per_slot`` video tokens, slot by slot. Only the slot
    tokens reach the LLM; the cell tokens are there to be grounded too (``alignment.grounding``
    trains both), which gives the slots word-like cells to share out from the first steps."""

    def __init__(self, cfg: ProjectorConfig, encoder_dim: int, llm_dim: int) -> None:
        super().__init__(cfg, encoder_dim, llm_dim)
        d = encoder_dim
        self.num_slots = cfg.tokens // cfg.tokens_per_slot
        # one more slot than the LLM sees: the background's, which takes the empty cells so that the
        # object slots' means are not diluted by them
        self.queries = nn.Parameter(torch.randn(self.num_slots + 1, d))
        self.cell_in = nn.Sequential(nn.LayerNorm(llm_dim), nn.Linear(llm_dim, d))
        self.positions = nn.ParameterDict(
            {
                name: nn.Parameter(torch.randn(cfg.max_time_steps, d) * 0.1)
                for name in ("time", "row", "column")
            }
        )
        self.norm_cells, self.norm_slots = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k = (nn.Linear(d, d, bias=False) for _ in range(2))
        self.v = _MLP(d, 2 * d, d)  # nonlinear in (cell, time, place): a slot's mean can hold its path
        self.gru = nn.GRUCell(d, d)
        self.refine = _MLP(d, 2 * d, d)
        self.place = nn.Parameter(torch.randn(cfg.tokens_per_slot, d) * 0.1)  # a token's place in its slot
        self.slot_mlp = _MLP(d, cfg.hidden_size or llm_dim, llm_dim)

    def cells(self, grid: tuple[int, int, int]) -> tuple[int, int, int]:
        return pooled_grid(grid, self.cfg.cells, self.cfg.time_steps)

    def num_tokens(self, grid: tuple[int, int, int]) -> int:
        return self.cfg.tokens

    def position_embedding(self, cells: tuple[int, int, int]) -> torch.Tensor:
        """(t*h*w, D): the sum of each cell's time, row and column embeddings."""
        t, h, w = cells
        if max(cells) > self.cfg.max_time_steps:
            raise ValueError(f"the cell grid {cells} exceeds the slot projector's max_time_steps")
        p = self.positions
        pos = p["time"][:t, None, None] + p["row"][None, :h, None] + p["column"][None, None, :w]
        return pos.reshape(t * h * w, -1)

    def attend(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Slot attention over the cells ``x`` (B, C, D): each round, the cells are shared out
        between the slots (softmax over the slots, so slots compete for a cell), each slot takes the
        weighted mean of its cells' values and updates itself with a GRU and an MLP. Returns the
        slots (B, S+1, D) and the last round's share of every slot in each cell (B, C, S+1); the
        last slot is the background's."""
        b, _, d = x.shape
        k, v = self.k(x), self.v(x)  # (B, C, D)
        slots = self.queries.expand(b, -1, -1)  # (B, S+1, D)
        for _ in range(self.cfg.slot_iterations):
            q = self.q(self.norm_slots(slots))  # (B, S+1, D)
            share = torch.softmax(k @ q.transpose(1, 2) / math.sqrt(d), dim=-1)  # (B, C, S+1)
            weights = share / (share.sum(1, keepdim=True) + 1e-8)  # each slot's weights sum to 1
            updates = weights.transpose(1, 2) @ v  # (B, S+1, D)
            slots = self.gru(updates.reshape(-1, d), slots.reshape(-1, d)).view(b, -1, d)
            slots = slots + self.refine(slots)  # (B, S+1, D)
        return slots, share

    def forward(self, tokens: torch.Tensor, grid: tuple[int, int, int], with_cells: bool = False):
        """Slot tokens (B, K, W); with ``with_cells``, also the cell tokens (B, C, W) and each cell's
        share of every slot, the background's last (B, C, S+1)."""
        cells = self.cell_tokens(tokens, grid)  # (B, C, W)
        x = self.norm_cells(self.cell_in(cells) + self.position_embedding(self.cells(grid)))  # (B, C, D)
        slots, share = self.attend(x)  # (B, S+1, D), (B, C, S+1)
        x = (slots[:, :-1, None, :] + self.place).flatten(1, 2)  # (B, S*P, D): the object slots
        out = self.out_norm(self.slot_mlp(x))  # (B, K, W)
        return (out, cells, share) if with_cells else out


PROJECTORS = {
    "pool-mlp": PoolMLPProjector,
    "mlp-pool": MLPPoolProjector,
    "attentive": AttentiveProjector,
    "slots": SlotProjector,
}


def build_projector(cfg: ProjectorConfig, encoder_dim: int, llm_dim: int) -> Projector:
    """The projector of ``cfg.kind``."""
    return PROJECTORS[cfg.kind](cfg, encoder_dim, llm_dim)
