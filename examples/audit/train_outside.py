"""Train a model outside the workflow, as you would your own, for the worked audit example.

    .venv/bin/python examples/audit/train_outside.py     # then: snakemake --configfile config/audit.yaml

Writes under results/outside/:
  fashion-2000.npz    2,000 Fashion-MNIST training images and their labels: "your own data" in the
                      generic format (images uint8 [N, 1, 28, 28], labels int64 [N]; docs/datasets.md)
  members.txt         the rows of fashion-2000.npz the model trained on: a seeded random half
  model.safetensors   its weights (architecture examples/audit/my_models.py:small_cnn)

It trains with the recipe config/audit.yaml gives the shadow models (the workflow's own training
loop, lira.models.training.train), so the audit declares no mismatch. A model trained with another
recipe is audited the same way, with target.train saying how and target.mismatch: [train].
"""

import argparse
from pathlib import Path

import numpy as np
import torch
import yaml
from safetensors.torch import save_file

from lira.models.images import to_float_images
from lira.models.training import train
from lira.workflow.datasets import DEBIAN_FASHION_MNIST, load_fashion_mnist

from my_models import small_cnn

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--fashion-mnist", type=Path, default=DEBIAN_FASHION_MNIST, help="folder of the IDX files")
parser.add_argument("--out", type=Path, default=Path("results/outside"))
parser.add_argument("--config", type=Path, default=Path("config/audit.yaml"), help="its train section is the recipe")
parser.add_argument("--examples", type=int, default=2000)
parser.add_argument("--seed", type=int, default=7)
arguments = parser.parse_args()

recipe = yaml.safe_load(arguments.config.read_text())["train"]
train_split = load_fashion_mnist(arguments.fashion_mnist).train
rng = np.random.default_rng(arguments.seed)
rows = np.sort(rng.choice(len(train_split.labels), arguments.examples, replace=False))
images, labels = train_split.images[rows], train_split.labels[rows]  # uint8 [N, 1, 28, 28], int64 [N]
members = np.sort(rng.choice(arguments.examples, arguments.examples // 2, replace=False))

torch.manual_seed(arguments.seed)
torch.set_num_threads(1)
model = small_cnn(images.shape[1:], 10)
train(model, to_float_images(images[members], torch.device("cpu")), torch.from_numpy(labels[members]), recipe, seed=arguments.seed)

arguments.out.mkdir(parents=True, exist_ok=True)
np.savez(arguments.out / "fashion-2000.npz", images=images, labels=labels)
(arguments.out / "members.txt").write_text("".join(f"{row}\n" for row in members))
save_file({name: tensor.contiguous() for name, tensor in model.state_dict().items()}, arguments.out / "model.safetensors")
print(f"trained on {len(members)} of {len(labels)} examples; wrote {arguments.out}/fashion-2000.npz, members.txt, model.safetensors")
