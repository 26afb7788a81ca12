"""Grounded stage 1: per-cell and per-object word targets from a world's tracks, and projectors
(pooling, slots) that learn them."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
import torch

from alignment.config import AlignConfig
from alignment.grounding import GroundingBatches, grounding_accuracy, grounding_loss, match_slots
from alignment.model import build_model
from alignment.train import train
from jepa_vqa.config import load_config
from jepa_vqa.errors import UserError
from jepa_vqa.training import read_metrics
from worlds.grounding import NOTHING, cell_words, object_words, slot_vocabulary, vocabulary

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent


def _clip(x0: float, x1: float, y: float, visible: float = 1.0) -> dict:
    """One small red circle crossing 16 frames in a straight line at height ``y``."""
    xs = [x0 + (x1 - x0) * f / 15 for f in range(16)]
    return {
        "num_frames": 16,
        "objects": [{"id": 0, "shape": "circle", "colour": "red", "size": "small"}],
        "tracks": [{"object": 0, "x": xs, "y": [y] * 16, "visible": [visible] * 16}],
        "events": [],
        "future": {},
    }


def test_object_words_name_each_object_once_with_its_directions_at_start_and_end():
    assert object_words(_clip(0.1, 0.9, 0.6)) == [
        {"size": "small", "colour": "red", "shape": "circle", "start": "right", "end": "right"}
    ]
    bounced = _clip(0.1, 0.9, 0.6)
    bounced["tracks"][0]["x"] = [0.1 + 0.1 * f for f in range(8)] + [
        0.8 - 0.1 * (f - 8) for f in range(8, 16)
    ]
    bounced["events"] = [{"type": "bounce", "frame": 7, "object": 0}]
    assert [(w["start"], w["end"]) for w in object_words(bounced)] == [("right", "left")]
    assert object_words(_clip(0.5, 0.5, 0.1))[0]["start"] == NOTHING  # no clear direction
    groups = slot_vocabulary(["red"], ["circle"])
    assert list(groups) == ["size", "colour", "shape", "start", "end"]
    assert all(words[-1] == NOTHING for words in groups.values())


def test_match_slots_gives_each_object_the_slot_that_predicts_it_best():
    import torch

    # 3 slots, 2 groups of 3 words (the last is "nothing"); objects: (0, 1) and (1, 0)
    logits = [torch.full((1, 3, 3), -5.0), torch.full((1, 3, 3), -5.0)]
    logits[0][0, 2, 0] = logits[1][0, 2, 1] = 5.0  # slot 2 says object 0's words
    logits[0][0, 0, 1] = logits[1][0, 0, 0] = 5.0  # slot 0 says object 1's words
    targets = torch.tensor([[[0, 1], [1, 0], [-100, -100]]])
    matched, slot_of = match_slots(logits, targets)
    assert matched.tolist() == [[[1, 0], [2, 2], [0, 1]]]
    assert slot_of.tolist() == [[2, 0, -100]]


def test_cell_words_follow_the_object_through_its_cells():
    cells = cell_words(_clip(0.1, 0.9, 0.6), grid=(4, 4, 4))  # 4 time steps of 4 frames, 4 x 4 cells
    assert len(cells) == 64
    occupied = [k for k, c in enumerate(cells) if c["shape"] != NOTHING]
    # row int(0.6 * 4) = 2 throughout; each time step holds it in the one or two cells it crosses
    assert sorted({k // 16 for k in occupied}) == [0, 1, 2, 3]
    assert all((k % 16) // 4 == 2 for k in occupied)
    assert [k % 4 for k in occupied] == sorted(k % 4 for k in occupied)  # left to right over time
    assert occupied[0] % 4 == 0 and occupied[-1] % 4 == 3
    for k in occupied:
        assert cells[k] == {"shape": "circle", "colour": "red", "size": "small", "direction": "right"}


def test_hidden_or_still_objects():
    assert all(c == {"shape": NOTHING} for c in cell_words(_clip(0.1, 0.9, 0.6, visible=0.2), (4, 4, 4)))
    still = [c for c in cell_words(_clip(0.5, 0.5, 0.1), (2, 2, 2)) if c["shape"] != NOTHING]
    assert len(still) == 2 and all("direction" not in c for c in still)  # no move, no direction word


@pytest.fixture(scope="module")
def world_and_llm(tmp_path_factory):
    from vlm.testing import make_tiny_llm
    from worlds.config import WorldConfig
    from worlds.generate import generate_dataset

    root = tmp_path_factory.mktemp("grounding")
    cfg = load_config(WorldConfig, ROOT / "configs/world/tiny.yaml", ["num_clips=12", "voe.pairs=0"])
    return generate_dataset(cfg, root / "world", progress=False), make_tiny_llm(root / "llm")


def _cfg(world_and_llm, *overrides: str) -> AlignConfig:
    world, llm = world_and_llm
    return load_config(
        AlignConfig,
        ROOT / "configs/align/test.yaml",
        [f"data.path={world}", f"llm={llm}", "stage1.data=grounding", "projector.tokens=16", *overrides],
    )


def test_real_clips_label_only_their_own_objects(world_and_llm):
    from worlds.formats import read_clips

    for clip in read_clips(world_and_llm[0], "train"):
        cells = cell_words(clip, (4, 4, 4))
        seen = {c["colour"] for c in cells if c["shape"] != NOTHING}
        assert seen <= {o["colour"] for o in clip["objects"]}
    assert vocabulary(["red"], ["circle"])["shape"] == ["circle", NOTHING]


def test_grounding_stage_trains_the_projector_without_the_llm(world_and_llm, tmp_path):
    cfg = _cfg(world_and_llm, "stage1.steps=30", "train.steps=32", "stage1.lr=3e-3", "stage1.batch_size=4")
    out = train(cfg, tmp_path / "run")
    metrics = [m for m in read_metrics(out / "metrics.jsonl") if m["stage"] == 1]
    assert len(metrics) == 30
    first, last = sum(m["loss"] for m in metrics[:3]) / 3, sum(m["loss"] for m in metrics[-3:]) / 3
    assert last < 0.8 * first, (first, last)
    card = json.loads((out / "config.json").read_text())
    assert "clips, every cell's object words" in json.dumps(card)


def test_grounding_loss_reaches_only_the_projector_and_accuracy_is_a_fraction(world_and_llm, tmp_path):
    from alignment.cache import FeatureCache
    from alignment.data import load_qa

    cfg = _cfg(world_and_llm)
    model = build_model(cfg)
    videos = list(dict.fromkeys(load_qa(cfg.data.path, "train")["video"]))
    cache = FeatureCache(model, tmp_path / "cache")
    batches = GroundingBatches(model, videos, cfg.data.path, "train", cache)
    assert batches.targets["cells"].shape == (len(videos), 16, 4)  # clips x cells x word groups
    loss = grounding_loss(model, batches([0, 1]), batches.word_tables)
    loss.backward()
    assert all(p.grad is not None for p in model.projector.mlp.parameters())
    assert all(p.grad is None for p in model.llm.parameters())
    accuracy = grounding_accuracy(model, batches)
    assert set(accuracy["cells"]) == {"shape", "object shape", "which shape", "colour", "size", "direction"}
    assert all(0.0 <= a <= 1.0 for a in accuracy["cells"].values())


def test_empty_cells_apart_move_nothing_into_a_group_of_its_own(world_and_llm, tmp_path):
    from alignment.cache import FeatureCache
    from alignment.data import load_qa

    model = build_model(_cfg(world_and_llm))
    videos = list(dict.fromkeys(load_qa(str(world_and_llm[0]), "train")["video"]))
    cache = FeatureCache(model, tmp_path / "cache")
    joint = GroundingBatches(model, videos, str(world_and_llm[0]), "train", cache)
    apart = GroundingBatches(model, videos, str(world_and_llm[0]), "train", cache, empty_apart=True)
    assert list(apart.groups["cells"]) == ["shape", "colour", "size", "direction", "empty"]
    nothing = len(joint.groups["cells"]["shape"]) - 1
    shape, empty = apart.targets["cells"][..., 0], apart.targets["cells"][..., 4]  # (C, K)
    assert (shape != nothing).all() and ((empty == nothing) | (empty == -100)).all()
    assert ((shape >= 0) ^ (empty >= 0)).all()  # every cell is in exactly one of the two groups
    assert (shape.clamp_min(0) + empty.clamp_min(0) == joint.targets["cells"][..., 0]).all()
    assert (apart.targets["cells"][..., 1:4] == joint.targets["cells"][..., 1:]).all()
    assert grounding_loss(model, apart([0, 1]), apart.word_tables).isfinite()


def test_count_token_is_grounded_to_the_number_of_objects(world_and_llm, tmp_path):
    from alignment.cache import FeatureCache
    from alignment.data import load_qa
    from worlds.formats import read_clips

    cfg = _cfg(world_and_llm, "projector.kind=mlp-pool", "projector.count_token=true")
    model = build_model(cfg)
    assert model.num_video_tokens == 17  # 16 cells and the count
    videos = list(dict.fromkeys(load_qa(cfg.data.path, "train")["video"]))
    batches = GroundingBatches(model, videos, cfg.data.path, "train", FeatureCache(model, tmp_path / "cache"))
    objects = {c["video"]: len(c["objects"]) for c in read_clips(cfg.data.path)}
    assert batches.targets["count"][:, 0, 0].tolist() == [objects[v] for v in videos]
    assert batches.groups["count"]["count"][:3] == ["0", "1", "2"]
    loss = grounding_loss(model, batches([0, 1]), batches.word_tables)
    loss.backward()
    assert all(p.grad is not None for p in model.projector.count_out.parameters())
    assert set(grounding_accuracy(model, batches)) == {"cells", "count"}


def test_word_counts_are_grounded_to_each_word_and_its_number(world_and_llm, tmp_path):
    from alignment.cache import FeatureCache
    from alignment.data import load_qa
    from worlds.formats import read_clips

    every = read_clips(str(world_and_llm[0]))
    colours = sorted({o["colour"] for c in every for o in c["objects"]})
    shapes = sorted({o["shape"] for c in every for o in c["objects"]})
    words = len(colours) + len(shapes)
    counts = ("projector.kind=mlp-pool", "projector.count_token=true", f"projector.count_words={words}")
    model = build_model(_cfg(world_and_llm, *counts))
    assert model.num_video_tokens == 17 + words
    videos = list(dict.fromkeys(load_qa(str(world_and_llm[0]), "train")["video"]))
    cache = FeatureCache(model, tmp_path / "cache")
    batches = GroundingBatches(model, videos, str(world_and_llm[0]), "train", cache)
    assert batches.groups["word counts"]["word"] == colours + shapes
    clip = {c["video"]: c for c in every}[videos[0]]
    red = sum(o["colour"] == colours[0] for o in clip["objects"])
    assert batches.targets["word counts"][0, 0].tolist() == [red, 0]  # (number, word) of the 1st word
    assert batches.targets["word counts"][0, -1, 1] == words - 1
    loss = grounding_loss(model, batches([0, 1]), batches.word_tables)
    loss.backward()
    assert model.projector.count_word.grad is not None
    assert set(grounding_accuracy(model, batches)["word counts"]) == {"count", "word"}
    wrong = build_model(_cfg(world_and_llm, *counts[:2], f"projector.count_words={words + 1}"))
    with pytest.raises(UserError, match="colour and shape words"):
        GroundingBatches(wrong, videos, str(world_and_llm[0]), "train", FeatureCache(wrong, None))


def test_slot_grounding_learns_objects_and_counts_them(world_and_llm, tmp_path):
    from alignment.cache import FeatureCache
    from alignment.data import load_qa

    slots = ("projector.kind=slots", "projector.tokens=30", "projector.cells=16")
    cfg = _cfg(
        world_and_llm, *slots, "stage1.steps=30", "train.steps=30", "stage1.lr=3e-3", "stage1.batch_size=4"
    )
    out = train(cfg, tmp_path / "run")
    metrics = [m for m in read_metrics(out / "metrics.jsonl") if m["stage"] == 1]
    first, last = sum(m["loss"] for m in metrics[:3]) / 3, sum(m["loss"] for m in metrics[-3:]) / 3
    assert last < 0.8 * first, (first, last)
    model = build_model(_cfg(world_and_llm, *slots))
    videos = list(dict.fromkeys(load_qa(cfg.data.path, "train")["video"]))
    batches = GroundingBatches(model, videos, cfg.data.path, "train", FeatureCache(model, tmp_path / "cache"))
    assert batches.targets["slots"].shape == (len(videos), 6, 5)  # clips x slots x word groups
    assert batches.targets["cells"].shape == (len(videos), 16, 4)  # the cells are grounded too
    accuracy = grounding_accuracy(model, batches)
    assert set(accuracy["slots"]) == {"size", "colour", "shape", "start", "end", "empty", "count"}
    assert all(0.0 <= a <= 1.0 for a in accuracy["slots"].values())
    few = build_model(
        _cfg(world_and_llm, "projector.kind=slots", "projector.tokens=5", "projector.tokens_per_slot=5")
    )
    crowded = max(range(len(videos)), key=lambda i: int((batches.targets["slots"][i, :, 0] >= 0).sum()))
    assert (batches.targets["slots"][crowded, :, 0] >= 0).sum() > 1
    with pytest.raises(UserError, match="objects but the projector only 1 slots"):
        GroundingBatches(few, [videos[crowded]], cfg.data.path, "train", FeatureCache(few, None))
    wrong = build_model(
        _cfg(world_and_llm, "projector.kind=slots", "projector.tokens=8", "projector.tokens_per_slot=4")
    )
    with pytest.raises(UserError, match="tokens_per_slot=5"):
        GroundingBatches(wrong, videos, cfg.data.path, "train", FeatureCache(wrong, None))


def test_grounding_needs_a_pooling_projector_and_ground_truth(world_and_llm, tmp_path):
    from alignment.cache import FeatureCache

    model = build_model(_cfg(world_and_llm, "projector.kind=attentive"))
    with pytest.raises(UserError, match="pooling projector"):
        GroundingBatches(model, [], str(world_and_llm[0]), "train", FeatureCache(model, None))
    model = build_model(_cfg(world_and_llm))
    with pytest.raises(UserError, match="no ground truth"):
        GroundingBatches(model, ["/nowhere.mp4"], str(world_and_llm[0]), "train", FeatureCache(model, None))
    with pytest.raises(UserError, match="feature cache"):
        GroundingBatches(model, [], str(world_and_llm[0]), "train", None)


def test_bench_align_refuses_the_grounded_stage_with_a_one_line_reason(world_and_llm, capsys):
    from cli.main import main as cli_main

    world, llm = world_and_llm
    args = ["--config", str(ROOT / "configs/align/test.yaml"), "--stage", "1", "--steps", "1"]
    overrides = [f"data.path={world}", f"llm={llm}", "stage1.data=grounding"]
    assert cli_main(["bench", "align", *args, *overrides]) == 2
    assert "runs no LLM" in capsys.readouterr().err


def test_object_words_come_from_the_world_and_survive_save_and_load(world_and_llm, tmp_path):
    from alignment.cache import FeatureCache
    from alignment.data import load_qa
    from vlm.model import VideoQAModel
    from vlm.projector import word_embeddings

    words = ("projector.kind=mlp-pool", "projector.object_words=3", "projector.time_steps=4")
    words += ("projector.step_words=[start,then,then,end]",)
    cfg = _cfg(world_and_llm, *words, "stage1.steps=4", "train.steps=6", "stage1.batch_size=4")
    model = VideoQAModel.from_pretrained(train(cfg, tmp_path / "run"))
    read_out = model.config.projector.words  # filled from the world's objects
    assert list(read_out) == ["size", "colour", "shape", "direction"] and read_out["shape"][-1] == NOTHING
    flat = [w for group in read_out.values() for w in group] + ["start", "then", "then", "end"]
    table = word_embeddings(model.tokenizer, model.llm.get_input_embeddings().weight, flat)
    assert torch.allclose(
        model.projector.word_table, table, rtol=1e-2, atol=1e-3
    )  # saved (bf16 LLM: rounded)
    assert model.num_video_tokens == 4 * (1 + 3 * 4)  # time steps x (step word + cells kept x groups)
    card = (tmp_path / "run" / "README.md").read_text()
    assert "the 3 likeliest object cells per time step read out as words, a word opening each" in card
    assert model.project(torch.randn(1, 128, model.encoder.embed_dim)).shape[1] == model.num_video_tokens
    other = dataclasses.replace(model.config.projector, words={**read_out, "colour": ["mauve"]})
    model.projector.cfg = other
    videos = list(dict.fromkeys(load_qa(cfg.data.path, "train")["video"]))[:2]
    with pytest.raises(UserError, match="not the words of the world"):
        GroundingBatches(model, videos, cfg.data.path, "train", FeatureCache(model, tmp_path / "cache"))


def test_cell_counts_the_asked_count_and_direction_survive_save_and_load_and_read_out_shows_them(
    world_and_llm, tmp_path, capsys
):
    from vlm.model import VideoQAModel
    from vlm.projector import word_embeddings
    from vlm.read_out import counts, main, object_list

    words = ("projector.kind=mlp-pool", "projector.object_words=3", "projector.time_steps=4")
    words += ("projector.cell_counts=true", "projector.count_token=true", "projector.asked_count=true")
    words += ("projector.merge_cells=true", "projector.asked_direction=true")
    cfg = _cfg(world_and_llm, *words, "stage1.steps=4", "train.steps=6", "stage1.batch_size=4")
    model = VideoQAModel.from_pretrained(train(cfg, tmp_path / "run"))
    counted = model.projector.counted_words()  # the world's colours, then its shapes
    assert counted == [*model.config.projector.words["colour"], *model.config.projector.words["shape"][:-1]]
    assert model.num_video_tokens == 4 * 3 * 4 + 2 * len(counted) + 1  # object words, word counts, count
    video = str(world_and_llm[0] / "videos" / "train-000000.mp4")
    steps = object_list(model, video)
    assert len(steps) == 4 and all(len(rows) == 3 for rows in steps)
    assert set(steps[0][0]) == {"row", "col", "object", *model.config.projector.words}
    numbers = counts(model, video)
    assert set(numbers) == {"all"} | {f"{w} (cells)" for w in counted}
    assert all(n.isdigit() for n in numbers.values())
    assert main(["--model", str(tmp_path / "run"), video]) == 0
    assert "time step 4:" in capsys.readouterr().out
    assert "the count a question asks for placed after it" in (tmp_path / "run" / "README.md").read_text()
    question = f"How many {counted[0]} objects are there?"  # the slot holds the number read off the cells
    batch = model.processor.collate([model.processor.encode(question)])
    with torch.no_grad():
        video_embeds = model.encode_videos([video])  # (1, K, W)
        embeds = model.embed_inputs(
            batch["input_ids"], batch["video_mask"], video_embeds, batch["asked_slots"]
        )
    ((_, slot),) = (batch["asked_slots"] >= 0).nonzero().tolist()
    number = numbers[f"{counted[0]} (cells)"]
    table = model.llm.get_input_embeddings().weight
    expected = word_embeddings(model.tokenizer, table, [number])[0].to(embeds)
    assert torch.allclose(embeds[0, slot], expected, rtol=1e-2, atol=1e-2)  # bf16 LLM: rounded
    assert model.answer(video, question, options=["0", "1", "2"]) in ("0", "1", "2")
    assert (
        "the direction a motion question asks for placed after it"
        in (tmp_path / "run" / "README.md").read_text()
    )
    colour = model.config.projector.words["colour"][0]
    motion = f"Which way does the {colour} object move at the start?"  # the slot holds a word of the table
    batch = model.processor.collate([model.processor.encode(motion)])
    ((_, slot),) = (batch["asked_slots"] >= 0).nonzero().tolist()
    index = int(batch["asked_slots"][0, slot])
    assert index == model.projector.asked_directions(model.grid)[(None, colour, None, "start")]
    with torch.no_grad():
        embeds = model.embed_inputs(
            batch["input_ids"], batch["video_mask"], video_embeds, batch["asked_slots"]
        )
    assert video_embeds.shape[1] > index >= model.num_video_tokens  # the table follows the video tokens
    assert torch.allclose(embeds[0, slot], video_embeds[0, index].to(embeds), rtol=1e-2, atol=1e-2)
    assert model.answer(video, motion, options=["left", "up"]) in ("left", "up")
    plain = _cfg(world_and_llm, "stage1.steps=1", "train.steps=2")
    assert main(["--model", str(train(plain, tmp_path / "plain")), video]) == 2
    assert "cell tokens, not words" in capsys.readouterr().err
