"""Detection evaluation: how well a detector finds the people and vehicles labelled by hand on real footage.

The package is small on purpose, each module one concern: :mod:`.labels` reads the labelled frames,
:mod:`.metrics` holds the pure rules (matching at an IoU, precision/recall/F1/AP, count error, the threshold
sweep and the operating-point rule), :mod:`.evaluate` runs a detector on the frames and applies the rules, and
:mod:`.report` writes the tables and the plot. ``bench/detection_eval.py`` is the command; the regression guard
in ``tests/test_detection_eval.py`` runs the same code on a subset.
"""
