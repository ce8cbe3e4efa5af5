"""Fetching datasets with torchvision, only when the config sets data.download: true."""

from __future__ import annotations

from pathlib import Path


def download(name: str, directory: Path) -> None:
    """Download `name` into `directory` in torchvision's layout (which lira.workflow.datasets reads)."""
    from torchvision import datasets as tv

    classes = {"fashion_mnist": tv.FashionMNIST, "cifar10": tv.CIFAR10, "cifar100": tv.CIFAR100}
    for train in (True, False):
        classes[name](root=str(directory), train=train, download=True)
