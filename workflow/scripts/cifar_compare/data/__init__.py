"""CIFAR-10: download, archive reading, the prepared data file."""
