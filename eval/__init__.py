"""eval: one benchmark harness with a task registry and honest controls.

    jepa-vqa eval --model runs/align --task world-qa --data data/world-tiny --out runs/eval
    jepa-vqa eval --list | --compare runs/a runs/b

Files:
    run.py          evaluate_task(): pick the task's runner, write results.json/samples.jsonl/report.md
    cli.py          the `eval` command (also `python -m eval.run`, `accelerate launch -m eval.run`)
    config.py       EvalConfig (configs/eval/*.yaml)
    registry.py     Task, register_task, get_task; tasks.py registers the built-in tasks
    example.py      Example: one question; answer kinds and canonical answers
    loaders.py      qa.jsonl and table/Hub loading; adapters.py: MVBench, NExT-QA, PerceptionTest, MSVD/MSRVTT-QA
    parsing.py      letter/option-text, number, yes/no and open-ended answer parsing
    qa.py           batched generation under each condition, then scoring
    controls.py     blind / shuffled / single-frame inputs; chance and majority baselines
    scoring.py      accuracy through the local `evaluate` module (metrics/vqa_accuracy) + bootstrap CIs
    voe.py          violation-of-expectation pairs scored by surprise; probes.py: attentive-probe tasks
    distributed.py  batch sharding across processes and gathering
    report.py       results files, markdown tables, --compare; plots.py: PNG plots
    testing.py      tiny fixtures in each public format (tests and smoke runs)
"""
