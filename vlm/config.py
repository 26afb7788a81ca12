"""The model dir's facts: ``VideoQAConfig`` (config.json) and ``LoraSettings``.

    config = from_dict(VideoQAConfig, json.loads(Path("runs/my-model/config.json").read_text()))

Everything needed to rebuild a :class:`~vlm.model.VideoQAModel` from its dir alone; alignment's
YAML (``stage2.lora``) fills the same ``LoraSettings``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jepa_vqa.config import from_dict
from vlm.processor import PromptConfig
from vlm.projector import ProjectorConfig

FORMAT_VERSION = 1
PERCEPTIONS = ("video", "description", "none")
DEFAULT_LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class LoraSettings:
    """LoRA on the LLM (peft): the same shape in the alignment YAML (``stage2.lora``), the model
    dir's config.json and ``VideoQAModel.add_lora``."""

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: list(DEFAULT_LORA_TARGETS))

    def __post_init__(self) -> None:
        if self.rank < 1 or self.alpha < 1:
            raise ValueError("LoRA rank and alpha must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"LoRA dropout must be in [0, 1), got {self.dropout}")
        if not self.target_modules:
            raise ValueError("LoRA target_modules must name at least one module")


@dataclass
class VideoQAConfig:
    """Everything needed to rebuild a model; written to the model dir's config.json."""

    encoder: str  # spec for encoder.load_encoder
    llm: str  # base LLM spec for vlm.llm.load_llm
    num_frames: int
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    lora: LoraSettings | None = None
    unfreeze_encoder_blocks: int = 0
    encoder_config: dict = field(default_factory=dict)  # informational copy of the encoder's config
    bundled_llm: bool = False  # the LLM weights sit in the model dir's llm/ (export)
    # What the LLM is given about the clip: "video" (encoder tokens); "description" (the ground-truth
    # scene description in words: the perfect-perception bound); "none" (nothing: the blind-trained control)
    perception: str = "video"
    card: dict = field(default_factory=dict)  # model-card facts: training data, results...
    version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {self.num_frames}")
        if self.unfreeze_encoder_blocks < 0:
            raise ValueError("unfreeze_encoder_blocks must be >= 0")
        if self.perception not in PERCEPTIONS:
            raise ValueError(f"perception must be one of {PERCEPTIONS}, got {self.perception!r}")
        if self.version > FORMAT_VERSION:
            raise ValueError(
                f"model format version {self.version} is newer than this code ({FORMAT_VERSION})"
            )


def lora_settings(lora) -> LoraSettings | None:
    """``None``/``False`` -> no LoRA, ``True`` -> the defaults, a dict or ``LoraSettings`` -> settings."""
    if lora is None or lora is False:
        return None
    if lora is True:
        return LoraSettings()
    if isinstance(lora, LoraSettings):
        return lora
    return from_dict(LoraSettings, dict(lora))
