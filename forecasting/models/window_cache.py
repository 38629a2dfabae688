"""Training windows cut once per training instead of once per epoch.

darts cuts every training window from its TimeSeries in Python, per window and per epoch (target, covariates
and static covariates looked up one sample at a time): about a sixth of a small network's training time on the
CPU. With `max_samples_per_ts` the windows are the same every epoch (the last ones of each series), so the
first epoch's windows are kept and later epochs only reshuffle them. The arrays kept are darts' own (mostly
views of the series' values), so the cache costs little memory; the batches are stacked copies, as before.

Imported inside `NeuralForecaster.fit`, like darts and Lightning (see neural.py).
"""

from __future__ import annotations

from typing import Any

from darts.utils.data.torch_datasets.training_dataset import (
    SequentialTorchTrainingDataset,
    ShiftedTorchTrainingDataset,
    TorchTrainingDataset,
)

# darts' datasets whose windows depend on the index alone (a subclass may sample differently: not cached).
CACHEABLE = (ShiftedTorchTrainingDataset, SequentialTorchTrainingDataset)


class CachedWindows(TorchTrainingDataset):
    """Wraps darts' training dataset: each window is cut by darts once, then kept."""

    def __init__(self, dataset: TorchTrainingDataset) -> None:
        super().__init__()
        self.dataset = dataset
        self._windows: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        window = self._windows.get(index)
        if window is None:
            window = self._windows[index] = self.dataset[index]
        return window

    def __getattr__(self, name: str):  # darts reads the dataset's chunk lengths and covariate flags
        if name == "dataset":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.dataset, name)


class CachingDatasetBuilder:
    """Stands in for a darts model's `_build_train_dataset` (darts' hook for a custom training dataset): builds
    darts' dataset, then lets it keep its windows. A class, not a closure, so darts can pickle the model."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __call__(self, *args, **kwargs):
        dataset = type(self.model)._build_train_dataset(self.model, *args, **kwargs)
        return CachedWindows(dataset) if type(dataset) in CACHEABLE else dataset


def cache_windows(model: Any) -> Any:
    """Make a darts torch model keep its training and validation windows across epochs."""
    model._build_train_dataset = CachingDatasetBuilder(model)
    return model


def uncache_windows(model: Any) -> Any:
    """Back to darts' own dataset builder (a model reloaded from its checkpoint carries the stand-in), so a
    saved model holds nothing that darts' safe loader does not know."""
    model.__dict__.pop("_build_train_dataset", None)
    return model
