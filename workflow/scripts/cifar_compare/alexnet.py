"""The layout of AlexNet for 32x32 inputs, which cifar_compare.pytorch.models and
cifar_compare.keras.models both build: framework-neutral, so the two cannot drift apart."""

CONVS = ((64, True), (192, True), (384, False), (256, False), (256, True))  # (filters, pool)
DENSE = (1024, 512)  # the hidden dense layers, before the 10-class head
# The pooled head (alexnet_cifar_bn_gap) replaces the dense layers: each of the last
# conv's channels averaged over the image, then the 10-class layer.
POOLED_FEATURES = CONVS[-1][0]
# 32 px halved by each pool, times the last conv's filters: what the first dense layer sees.
FLAT_FEATURES = CONVS[-1][0] * (32 >> sum(pool for _, pool in CONVS)) ** 2

# PyTorch's BatchNorm2d defaults: the Keras variant uses the same (Keras' momentum is
# 1 - this; its own defaults, 0.99 and 1e-3, would train differently).
BN_MOMENTUM, BN_EPS = 0.1, 1e-5

# Local response normalisation after the first LRN_CONVS convs' ReLU, as Krizhevsky et al.
# (2012), section 3.3: k=2, n=5, alpha=1e-4 on the window's sum of squares, beta=0.75.
# Both frameworks' layers take alpha on the window's mean (PyTorch's), hence n x 1e-4.
LRN_CONVS = 2
LRN = {"size": 5, "alpha": 5e-4, "beta": 0.75, "k": 2.0}
