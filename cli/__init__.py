"""The entry package on top of every other: the ``jepa-vqa`` console script and its whole-pipeline commands.

- ``main.py``: ``jepa-vqa <command>``; each package contributes commands from its own ``cli.py``
- ``quickstart.py``: ``jepa-vqa quickstart`` (world -> pretrain -> align -> eval, the default model)
- ``results.py``: ``jepa-vqa results`` (one recipe on several inputs, one table with controls)
- ``examples.py``: ``python -m cli.examples`` renders the app's example clips from the world

``python -m cli`` is the same as ``jepa-vqa``. Nothing in the library packages imports this one.
"""
