"""The generated sample case: a realistic two-host intrusion with its ground truth.

``python -m forensics.samples --out DIR [--seed N] [--scale K]`` writes every artifact (see
``story`` for the story, ``generate`` for the layout). Same seed, byte-identical output.
"""
