"""Dropout for darts' networks that does not spend a TCN's training time drawing random numbers on the CPU.

torch's CPU dropout draws one Bernoulli variable per element from a generator that is slow per number: on a
256-window TCN batch each of its eight dropout layers costs more than a dilated convolution, and dropout made
up about a fifth of the TCN's training time. Here one 64-bit draw gives four 15-bit uniforms, so the mask costs
a quarter of the draws; the rate is kept exactly (to 1/32768) and kept values are scaled by 1/(1-p) as usual.
On a GPU torch's own dropout is already fast and is left alone.

Imported inside `NeuralForecaster.fit`, like darts and Lightning (see neural.py).
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from darts.utils.torch import MonteCarloDropout

_LEVELS = 1 << 15


def dropout_mask(shape: torch.Size, p: float, device: torch.device) -> torch.Tensor:
    """True where an element is kept: each element is kept with probability 1 - p (p rounded to 1/32768)."""
    n = shape.numel()
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_()
    # random_() fills 63 bits, so the top 16-bit lane of a word has one bit fewer: keep 15 bits of every lane.
    lanes = words.view(torch.int16)[:n].view(shape) & (_LEVELS - 1)
    return lanes >= round(p * _LEVELS)


class FastMonteCarloDropout(MonteCarloDropout):
    """darts' MonteCarloDropout (active in training, and at prediction when MC dropout is on) with the cheaper
    mask on the CPU. Same parameters and state, so a checkpoint does not know which class trained it."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.mc_dropout_enabled or self.p == 0 or input.device.type != "cpu":
            return super().forward(input)
        if self.p >= 1:
            return torch.zeros_like(input)
        # One multiply by a pre-scaled mask, forward and backward: torch.where cost twice that (three selects
        # per element, two of them in the backward pass).
        scaled_mask = dropout_mask(input.shape, self.p, input.device).to(input.dtype).mul_(1.0 / (1.0 - self.p))
        return input * scaled_mask


class CheaperDropout(pl.Callback):
    """Swaps darts' dropout layers for FastMonteCarloDropout once the network exists (darts builds it inside
    `fit`, so a callback is the first place that sees it)."""

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for module in pl_module.modules():
            if type(module) is MonteCarloDropout:
                module.__class__ = FastMonteCarloDropout
