"""The torch side: building, training, querying and storing the neural networks.

The only part of lira that imports torch. architectures (the models), images (augmentation and
queries on tensors), training (one model's recipe, with checkpoints), querying (logits under every
query), devices (which GPU a job takes), weights (tensors-only files of a block of models) and
jobs (a block of models trained or queried, as one workflow job does it).
"""
