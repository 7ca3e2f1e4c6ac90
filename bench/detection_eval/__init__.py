"""Detection evaluation: how well a detector finds the people and vehicles labelled by hand on real footage.

The package is small on purpose, each module one concern: :mod:`.labels` reads the labelled frames,
:mod:`.metrics` holds the pure rules (matching at an IoU, precision/recall/F1/AP, count error, the threshold
sweep and the operating-point rule), :mod:`.evaluate` runs a detector on the frames and applies the rules,
:mod:`.report` writes the tables and the plot, and :mod:`.crossings` and :mod:`.tracks` run the whole camera
pipeline on the excerpt (line counts; MOTA/IDF1 against labelled identities). ``bench/detection_eval.py`` is the
command; the regression guards in ``tests/test_detection_eval.py`` run the same code on subsets.
"""
