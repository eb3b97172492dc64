"""The downstream segmenter: a network trained on a generated dataset.

The product's datasets are for training ordinary segmentation networks that
then run on images the generator did not make. This package holds that
network (`network`: a compact U-Net trained from scratch), its input
pipeline (`input_pipeline`: a generated or labelled TFDS dataset, streamed
in a seeded order, uncertainty filtering, on-device augmentation) and
`predict` (a folder of images to masks and overlays). The training stage is
`stages.downstream`.
"""
