"""worlds: a procedural 2D physics world rendered to mp4, with full ground truth and questions.

Files: `config.py` (WorldConfig), `palette.py` (colours, shapes), `scene.py` (initial conditions),
`physics.py` (simulation), `annotate.py` (world.json ground truth), `render.py` (anti-aliased frames),
`video.py` (h264 mp4), `clip.py` (one clip end to end), `templates.py` (question wording),
`options.py` (answer options), `questions.py` (question generators), `balance.py` (answer balancing),
`qa.py` (qa records, describe_clip), `voe.py` (violation-of-expectation pairs), `generate.py` (the
dataset), `preview.py` (contact sheet), `bench.py`, `cli.py`.

    jepa-vqa world --config configs/world/tiny.yaml --out data/world-tiny --preview

A leaf package: it imports no other project package (only `cli.py` uses jepa_vqa's config loader).
"""
