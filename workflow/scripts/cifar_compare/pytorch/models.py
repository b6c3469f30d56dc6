"""PyTorch models, built from the registry (cifar_compare.pytorch.architectures). Model
code does no I/O: pretrained weights arrive as a state dict."""

import torch
from torch import nn

from cifar_compare import alexnet
from cifar_compare.pytorch.architectures import get_spec


class Float32Linear(nn.Linear):
    """A Linear layer that computes in float32 even under autocast: the output layer,
    kept in float32 as Keras keeps its `head` (state dict keys as nn.Linear's)."""

    summary_name = "Linear"  # what layer_summary() calls it

    def forward(self, x):
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x.float())


def conv_block(in_channels, out_channels, batch_norm):
    """3x3 conv and ReLU, with BatchNorm between them (conv bias dropped) under batch_norm."""
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=not batch_norm)
    if not batch_norm:
        return [conv, nn.ReLU(inplace=True)]
    norm = nn.BatchNorm2d(out_channels, eps=alexnet.BN_EPS, momentum=alexnet.BN_MOMENTUM)
    return [conv, norm, nn.ReLU(inplace=True)]


def dense_classifier(num_classes, dropout):
    return nn.Sequential(
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(alexnet.FLAT_FEATURES, alexnet.DENSE[0]),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(*alexnet.DENSE),
        nn.ReLU(inplace=True),
        Float32Linear(alexnet.DENSE[1], num_classes),
    )


def pooled_classifier(num_classes, dropout):
    return nn.Sequential(
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(dropout),
        Float32Linear(alexnet.POOLED_FEATURES, num_classes),
    )


class AlexNetCifar(nn.Module):
    """AlexNet for 32x32 inputs: 5 conv, 3 max-pool, 3 dense layers, ReLU, dense dropout;
    `batch_norm` (alexnet_cifar_bn) adds BatchNorm after every conv, the modern stand-in
    for AlexNet's local response normalisation, which `local_response_norm`
    (alexnet_cifar_lrn) adds as the 2012 paper did: after the first two convs' ReLU.
    `pooled_head` (alexnet_cifar_bn_gap) replaces the dense layers with a global average
    pool before the 10-class layer, as all-convolutional CIFAR networks end."""

    def __init__(
        self,
        num_classes=10,
        dropout=0.5,
        batch_norm=False,
        local_response_norm=False,
        pooled_head=False,
    ):
        super().__init__()
        layers, in_channels = [], 3
        for index, (out_channels, pool) in enumerate(alexnet.CONVS):
            layers += conv_block(in_channels, out_channels, batch_norm)
            if local_response_norm and index < alexnet.LRN_CONVS:
                layers += [nn.LocalResponseNorm(**alexnet.LRN)]
            layers += [nn.MaxPool2d(2)] if pool else []
            in_channels = out_channels
        self.features = nn.Sequential(*layers)
        self.classifier = (
            pooled_classifier(num_classes, dropout)
            if pooled_head
            else dense_classifier(num_classes, dropout)
        )
        self.reset_parameters()

    def reset_parameters(self):
        # He initialisation: without BatchNorm, PyTorch's default init shrinks the
        # signal through the 8 weight layers and SGD sits at chance for epochs.
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        # A small output layer starts the loss at ln(10) instead of with large logits.
        nn.init.normal_(self.classifier[-1].weight, std=0.01)

    def forward(self, x):
        return self.classifier(self.features(x))


def _torchvision_model(spec, num_classes, state_dict, dropout):
    """The torchvision model with its ImageNet weights (if given), then a new head."""
    import torchvision.models

    model = getattr(torchvision.models, spec.torchvision)(weights=None, dropout=dropout)
    if state_dict is not None:
        model.load_state_dict(state_dict)
    parent, _, index = spec.head.rpartition(".")
    head = model.get_submodule(spec.head)
    model.get_submodule(parent)[int(index)] = Float32Linear(head.in_features, num_classes)
    return model


def get_model(name, num_classes=10, state_dict=None, dropout=None):
    """A fresh model; `dropout` None keeps the architecture's own rate."""
    spec = get_spec(name)
    dropout = spec.dropout if dropout is None else dropout
    if spec.torchvision is not None:
        return _torchvision_model(spec, num_classes, state_dict, dropout)
    if state_dict is not None:
        raise ValueError(f"{name} is trained from scratch; it takes no weights")
    return AlexNetCifar(
        num_classes, dropout, spec.batch_norm, spec.local_response_norm, spec.pooled_head
    )


def freeze_all_but(model, head):
    """Stop gradients everywhere except in the module named `head`."""
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name.startswith(head + ".")


def count_parameters(model):
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable}


def set_batchnorm_eval(model):
    """Keep BatchNorm statistics frozen while fine-tuning a pretrained model."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def layer_summary(model, input_size):
    """(layer type, output shape, parameters) for every leaf module, in order."""
    rows = []

    def record(module, _inputs, output):
        params = sum(p.numel() for p in module.parameters(recurse=False))
        kind = getattr(module, "summary_name", type(module).__name__)
        rows.append((kind, tuple(output.shape[1:]), params))

    hooks = [m.register_forward_hook(record) for m in model.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, input_size, input_size))
    finally:
        for hook in hooks:
            hook.remove()
    return rows
