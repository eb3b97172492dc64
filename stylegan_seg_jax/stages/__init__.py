"""What runs on a workdir: the training stages, evaluation, dataset generation.

* `config`: the stages and the generator a config names; `ConfigError`.
* `swav`: the self-supervised stage (state, per-device step, training run).
* `oneshot`: the one-shot stage (every method's head on one labelled
  example; restoring a trained method).
* `runner`: the configured training stages in order (the training binary).
* `evaluation`: every trained method scored on the test set (the evaluation
  binary).
* `generation`: an annotated dataset from a trained method (the generation
  binary).

The toy generator is trained by the same runner (`toy_generator` stage,
`toy.generator_training`).
"""
