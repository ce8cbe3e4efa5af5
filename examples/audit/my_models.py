"""Your own architecture, as the workflow takes it (model.arch: "examples.audit.my_models:small_cnn").

The workflow calls small_cnn(input_shape, num_classes) with input_shape (C, H, W) of the pool's
images and uses the module it returns as it is: the module gets float images in [0, 1],
[B, C, H, W], and returns logits [B, num_classes]. Normalise inside the module, as here, so that
the weights you save are the whole model.
"""

from torch import nn


class SmallCNN(nn.Module):
    """4x4 patches to `width` channels, a 3x3 convolution, a linear head."""

    def __init__(self, input_shape, num_classes: int, width: int = 32):
        super().__init__()
        channels, height, breadth = input_shape
        self.layers = nn.Sequential(
            nn.Conv2d(channels, width, 4, stride=4),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(width * (height // 4) * (breadth // 4), num_classes),
        )

    def forward(self, images):
        return self.layers((images - 0.5) / 0.25)


def small_cnn(input_shape, num_classes):
    return SmallCNN(input_shape, num_classes)
