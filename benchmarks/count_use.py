"""Does the LLM answer a count question with the count it is handed?

A model with ``projector.cell_counts`` reads, after its object list, each colour and shape word with
the number of objects its cells show (:meth:`MLPPoolProjector.counts_from_cells`). For every "how many
<colour / shape>" question of an eval's samples (the model condition), this compares three numbers:
the truth, the count in the model's input, and the model's choice. If the LLM read its input, its
choice would follow the handed count, right or wrong. The choices come from the eval; with
``--truth`` the LLM also answers each question again (likelihood choice, as the eval) once with the
counts it is handed and once with the true counts in their place: perfect counting, the same LLM::

    python benchmarks/count_use.py --model runs/lever-merged-counts --data runs/world-seed7 \\
        --samples runs/lever-merged-counts-eval/samples.jsonl --truth
"""

from __future__ import annotations

import argparse
import json

import torch

from vlm.model import VideoQAModel
from vlm.processor import asked_word as processor_asked_word
from worlds.formats import read_clips


def handed_counts(model, video: str) -> dict[str, int]:
    """The number the model's input gives each counted word for one clip."""
    proj = model.projector
    cells = proj.cell_tokens(model.encode_tokens(model.load_frames(video)[None]).float(), model.grid)
    counts = proj.counts_from_cells(proj.read_weights(cells, model.grid), model.grid)[0]
    return dict(zip(proj.counted_words(), counts.tolist()))


def true_counts(clip: dict, words: list[str]) -> dict[str, int]:
    """How many of the clip's objects have each colour or shape word."""
    return {w: sum(w in (o["colour"], o["shape"]) for o in clip["objects"]) for w in words}


def ask(model, video: str, prompt: str, options: list[str], method: str = "", value=None) -> str:
    """The option the model chooses for the question of ``prompt``; with ``method``, that projector
    method answers ``value`` for this one call (the counts handed in place of the clip's own)."""
    proj = model.projector
    if method:
        setattr(proj, method, lambda *args: value)
    try:
        return model.answer(video, prompt.split("\n")[0], options=options)
    finally:
        proj.__dict__.pop(method, None)


def forced_counts(model, counts: dict[str, int]) -> torch.Tensor:
    """``counts`` as ``counts_from_cells`` returns them (1, K)."""
    return torch.tensor([[counts[w] for w in model.projector.counted_words()]])


def asked_word(prompt: str, words: list[str]) -> str | None:
    """The colour or shape a counting prompt asks about ("squares" -> "square"), if any: the
    processor's reading of its question line (the options after it name no word)."""
    return processor_asked_word(prompt.split("\n")[0], words)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a model dir with projector.cell_counts")
    parser.add_argument("--data", required=True, help="the worlds dataset the samples were asked on")
    parser.add_argument("--samples", required=True, help="an eval's samples.jsonl")
    parser.add_argument("--truth", action="store_true", help="ask again, handed counts and true counts")
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    model = VideoQAModel.from_pretrained(args.model).eval()
    if not model.projector.cfg.cell_counts:
        parser.error(f"{args.model} hands its LLM no cell counts (projector.cell_counts is false)")
    clips = {c["id"]: c for c in read_clips(args.data)}
    words = model.projector.counted_words()
    rows, cache, asked = [], {}, []
    for line in open(args.samples):
        s = json.loads(line)
        word = asked_word(s["prompt"], words)
        if s["condition"] != "model" or s["type"] != "count" or word is None:
            continue
        clip = s["id"].rsplit("-q", 1)[0]
        video, options = clips[clip]["video"], s["options"]
        handed = cache.setdefault(clip, handed_counts(model, video))[word]
        chosen = options[ord(s["choice"]) - ord("A")]
        rows.append((int(s["answer_text"]), handed, int(chosen), str(handed) in options))
        if args.truth:
            truth = forced_counts(model, true_counts(clips[clip], words))
            asked.append(
                [
                    int(ask(model, video, s["prompt"], options, *how))
                    for how in ((), ("counts_from_cells", truth))
                ]
            )
    n = len(rows)
    right = [r for r in rows if r[1] == r[0]]
    wrong_offered = [r for r in rows if r[1] != r[0] and r[3]]
    pct = lambda part, whole: f"{100 * len(part) / max(len(whole), 1):.1f}"  # noqa: E731
    print(f"{n} colour and shape count questions; {args.model}")
    print(
        f"handed count right: {pct(right, rows)}%; model right: {pct([r for r in rows if r[2] == r[0]], rows)}%"
    )
    print(f"model chose the handed count: {pct([r for r in rows if r[2] == r[1]], rows)}%")
    print(
        f"when the handed count is right ({len(right)}): model right {pct([r for r in right if r[2] == r[0]], right)}%"
    )
    print(
        f"when it is wrong and among the options ({len(wrong_offered)}): model chose it "
        f"{pct([r for r in wrong_offered if r[2] == r[1]], wrong_offered)}%, "
        f"the truth {pct([r for r in wrong_offered if r[2] == r[0]], wrong_offered)}%"
    )
    if asked:
        again = [r[0] == a[0] for r, a in zip(rows, asked)]
        told = [r[0] == a[1] for r, a in zip(rows, asked)]
        print(
            f"asked again: with the handed counts right {100 * sum(again) / n:.1f}%; "
            f"with the true counts in their place right {100 * sum(told) / n:.1f}% "
            f"({sum(a[0] != a[1] for a in asked)} choices changed)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
