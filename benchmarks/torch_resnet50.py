"""A plain PyTorch eager ResNet50: keras.applications.ResNet50's architecture written as torch.nn modules.

    port = from_keras(keras_model)          # weights copied, eval mode
    logits = port(x_nchw)                   # same numbers as keras_model.predict(x_nhwc)

What a PyTorch user would write by hand (torchvision's shape, Keras's details): bottleneck blocks with
the stride on the first 1×1 convolution (Keras's v1 block, not torchvision's v1.5), biases on every
convolution (Keras's use_bias=True), BatchNorm2d with Keras's epsilon in eval mode, NCHW tensors.
benchmarks/real_models.py times it against the generated kernels.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

EPSILON = 1.001e-5  # keras.applications.resnet's BatchNormalization epsilon
STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # (bottleneck filters, blocks, first stride)


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=EPSILON)


class Bottleneck(nn.Module):
    """1×1 (stride) -> 3×3 -> 1×1 (4×filters), BatchNorm after each, plus the shortcut, then ReLU."""

    def __init__(self, channels: int, filters: int, stride: int, projection: bool):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(channels, filters, 1, stride), batch_norm(filters)
        self.conv2, self.bn2 = nn.Conv2d(filters, filters, 3, padding=1), batch_norm(filters)
        self.conv3, self.bn3 = nn.Conv2d(filters, 4 * filters, 1), batch_norm(4 * filters)
        # The first block of a stage projects the shortcut; the others add their input as it is.
        self.shortcut = nn.Sequential(nn.Conv2d(channels, 4 * filters, 1, stride),
                                      batch_norm(4 * filters)) if projection else nn.Identity()

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        return F.relu(self.shortcut(x) + self.bn3(self.conv3(y)))


class ResNet50(nn.Module):
    """NCHW images in, logits out (Keras's classifier_activation=None)."""

    def __init__(self, classes: int = 1000):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, padding=3), batch_norm(64)
        # Keras pads with zeros before a valid max pool; after ReLU every value is >= 0, so that equals
        # PyTorch's padding (which never wins the max).
        self.pool = nn.MaxPool2d(3, 2, padding=1)
        blocks, channels = [], 64
        for filters, count, stride in STAGES:
            for i in range(count):
                blocks.append(Bottleneck(channels, filters, stride if i == 0 else 1, projection=i == 0))
                channels = 4 * filters
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        return self.fc(self.blocks(x).mean(dim=(2, 3)))


def keras_names():
    """The Keras layer-name prefix of each bottleneck block in order: conv2_block1 ... conv5_block3."""
    for stage, (_, count, _) in enumerate(STAGES, start=2):
        for i in range(1, count + 1):
            yield f"conv{stage}_block{i}"


def from_keras(model) -> ResNet50:
    """A port of a keras.applications.ResNet50 (include_top) with its weights, in eval mode."""
    port = ResNet50(model.get_layer("predictions").units)

    def copy(module: nn.Module, name: str):
        weights = [np.asarray(w, np.float32) for w in model.get_layer(name).get_weights()]
        if isinstance(module, nn.Conv2d):  # Keras (kh, kw, in, out) -> PyTorch (out, in, kh, kw)
            weights[0] = weights[0].transpose(3, 2, 0, 1)
        elif isinstance(module, nn.Linear):  # Keras (in, out) -> PyTorch (out, in)
            weights[0] = weights[0].T
        targets = ([module.weight, module.bias, module.running_mean, module.running_var]
                   if isinstance(module, nn.BatchNorm2d) else [module.weight, module.bias])
        for target, w in zip(targets, weights, strict=True):
            target.copy_(torch.from_numpy(np.ascontiguousarray(w)))

    with torch.no_grad():
        copy(port.conv1, "conv1_conv")
        copy(port.bn1, "conv1_bn")
        for block, name in zip(port.blocks, keras_names(), strict=True):
            for i in (1, 2, 3):
                copy(getattr(block, f"conv{i}"), f"{name}_{i}_conv")
                copy(getattr(block, f"bn{i}"), f"{name}_{i}_bn")
            if isinstance(block.shortcut, nn.Sequential):
                copy(block.shortcut[0], f"{name}_0_conv")
                copy(block.shortcut[1], f"{name}_0_bn")
        copy(port.fc, "predictions")
    return port.eval()
