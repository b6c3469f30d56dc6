"""The Keras side: model registry, layers, training loop, backend runtime."""
