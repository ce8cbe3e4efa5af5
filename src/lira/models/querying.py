"""Querying a trained model (torch): its logits under every query, and its accuracy."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lira.core.queries import Query
from lira.models.images import apply_query


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, queries: list[Query], pad_mode: str, batch_size: int) -> np.ndarray:
    """Logits of every example under every query, float32 [N, Q, classes], model in eval mode."""
    model.eval()
    per_query = []
    for query in queries:
        chunks = [model(apply_query(images[i : i + batch_size], query, pad_mode)) for i in range(0, images.shape[0], batch_size)]
        per_query.append(torch.cat(chunks).float().cpu())
    return torch.stack(per_query, dim=1).numpy()


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int) -> float:
    model.eval()
    correct = sum(
        int((model(images[i : i + batch_size]).argmax(1) == labels[i : i + batch_size]).sum())
        for i in range(0, images.shape[0], batch_size)
    )
    return correct / max(images.shape[0], 1)
