"""What runs on a workdir: the training stages, evaluation, dataset generation.

* `config`: the stages and the generator a config names; `ConfigError`.
* `view_pairs`: a self-supervised step's inputs (two W+ views per image).
* `swav`: the self-supervised stage (state, per-device step, training run).
* `simclr`: the HFC+SimCLR baseline's projection, trained the same way.
* `replicated`: the run of a data-parallel stage (shared by both).
* `oneshot`: the one-shot stage (every method's head on one labelled
  example; restoring a trained method).
* `runner`: the configured training stages in order (the training binary).
* `evaluation`: every trained method scored on the test set (the evaluation
  binary).
* `generation`: an annotated dataset from a trained method (the generation
  binary).

The toy generator is trained by the same runner (`toy_generator` stage,
`domains.generator_training`).
"""
