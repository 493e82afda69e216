"""A Keras-style table of a torch module's layers, output shapes and parameters."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = ["ModelSummary", "summarize"]


@dataclass
class ModelSummary:
    """Layers of a network with their output shapes and parameter counts.

    ``str(summary)`` is the table; ``rows`` holds ``(name, type, output
    shape, parameters)`` for the input and every layer, in the order a
    forward pass runs them, then any module whose own parameters were used
    without calling it (output shape ``None``, shown as "-").
    """

    title: str
    rows: list = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0

    def __str__(self) -> str:
        header = ("Layer (type)", "Output Shape", "Param #")
        cells = [
            (name if kind is None else f"{name} ({kind})", _shape_text(shape), f"{n:,}")
            for name, kind, shape, n in self.rows
        ]
        widths = [max(len(row[i]) for row in [header, *cells]) + 2 for i in range(3)]
        rule_width = sum(widths)

        def line(row):
            return (row[0].ljust(widths[0]) + row[1].ljust(widths[1]) + row[2]).rstrip()

        lines = [self.title, "_" * rule_width, line(header), "=" * rule_width]
        lines += [line(row) for row in cells]
        lines += [
            "=" * rule_width,
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.total_params - self.trainable_params:,}",
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"<ModelSummary of {self.title!r}: {len(self.rows) - 1} layers, "
            f"{self.total_params:,} parameters>"
        )


def _shape_text(shape) -> str:
    if shape is None:
        return "-"
    return "(" + ", ".join(["None", *(str(s) for s in shape)]) + ")"


def _first_tensor(output):
    while isinstance(output, (tuple, list)) and output:
        output = output[0]
    return output if isinstance(output, torch.Tensor) else None


@torch.no_grad()
def summarize(module: nn.Module, n_features: int, *, title: str, device="cpu") -> ModelSummary:
    """Run two zero samples of ``n_features`` through ``module`` and tabulate its layers.

    Every leaf module (and every module holding parameters of its own) is
    hooked; a layer run twice appears twice. The module runs in evaluation
    mode and is restored to its previous mode afterwards.
    """
    summary = ModelSummary(title=title, rows=[("input", None, (n_features,), 0)])
    hooks, ran = [], set()

    def own_params(layer):
        return sum(p.numel() for p in layer.parameters(recurse=False))

    def record(name):
        def hook(layer, inputs, output):
            out = _first_tensor(output)
            shape = None if out is None else tuple(out.shape[1:])
            summary.rows.append((name, type(layer).__name__, shape, own_params(layer)))
            ran.add(name)

        return hook

    hooked = [
        (name, layer)
        for name, layer in module.named_modules()
        if name and (own_params(layer) or not any(True for _ in layer.children()))
    ]
    for name, layer in hooked:
        hooks.append(layer.register_forward_hook(record(name)))
    was_training = module.training
    module.eval()
    try:
        module(torch.zeros(2, n_features, device=device))
    finally:
        module.train(was_training)
        for handle in hooks:
            handle.remove()
    # parameters used without calling their module (e.g. tied weights, a bias)
    summary.rows += [
        (name, type(layer).__name__, None, own_params(layer))
        for name, layer in hooked
        if name not in ran and own_params(layer)
    ]
    summary.total_params = sum(p.numel() for p in module.parameters())
    summary.trainable_params = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return summary
