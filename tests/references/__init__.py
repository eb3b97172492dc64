"""Test-only references: PyTorch re-creations and the original generators."""
