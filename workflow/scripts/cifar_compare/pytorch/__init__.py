"""The PyTorch side: model registry, training loop, data pipeline, checkpoints."""
