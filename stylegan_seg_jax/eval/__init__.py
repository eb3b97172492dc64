"""Scoring: metrics, on-the-fly segmentation, the evaluator, summaries.

* `metrics`: the paper's metrics as coded and their corrected variants.
* `segmentation`: latents -> (images, masks, uncertainty) in one jitted
  call, sharded over the devices.
* `evaluator`: one trained method scored on a labelled test set, and the
  files the evaluation binary writes.
* `summary`: mean and spread of evaluations over several runs.
"""
