"""Infrastructure every layer uses: devices, checkpoints, files, logs, CLIs.

* `parallel`: the device mesh, shard_map / pmap wrappers, multi-host start.
* `checkpointing`: the one orbax wrapper (pytrees and training checkpoints).
* `files`: atomic file and directory writes, file and pytree hashes.
* `metric_writer`: TensorBoard events plus `metrics.jsonl`.
* `loop`: the one training loop (progress, NaN guard, checkpoints, metrics).
* `pictures`: the class palette, overlays and PNG grids.
* `cli`: the bootstrap shared by every binary (flags, errors, exit codes).

Nothing here knows about StyleGAN2, the method or the toy domain.
"""
