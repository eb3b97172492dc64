"""Labelled data: formats, the experiment's labelled samples, labelling.

* `labelled_set`: labelled generator samples as a TFDS ArrayRecord dataset,
  and the one-shot example file.
* `experiment`: the one-shot example and the test set a config names
  (`config.data`), including the toy domain's test set.
* `labelling`: export a sample to paint, import the painted mask, import
  the reference code's test data.
* `generated_set`: the annotated dataset written by `generate` (shards,
  settings record, TFDS metadata).
"""
