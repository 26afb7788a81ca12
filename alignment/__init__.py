"""Alignment: train the projector (stage 1) and projector + LoRA (stage 2) on video-QA data.

config.py   AlignConfig: the strict, typed run configuration (configs/align/*.yaml)
data.py     QA datasets as HF `datasets` (load_qa), stage-1 scene descriptions (load_descriptions)
cache.py    FeatureCache: frozen-encoder tokens per clip, in memory and on disk
batches.py  Batches: prompts tokenised once + cached tokens; the projector's input statistics
model.py    build the VideoQAModel with LoRA; which parameters train in each stage
train.py    the loop (accelerate, checkpoints, metrics, model dir + card); train(cfg, out_dir)
cli.py      `jepa-vqa align --config F --out DIR [k=v ...]`
"""
