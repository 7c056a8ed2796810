"""In-the-loop training of rate-coded spiking networks (Schmitt et al. 2017) through the
standard PyNN API: it runs on ``pyNN.bss_emu`` (the emulated wafer) and on any other PyNN
backend such as ``pyNN.nest``.  This package imports nothing from the rest of
``pyNN_bss_emu``.

Typical use::

    data = load_digits_dataset()
    ann = ReLUNetwork.initialise((64, 64, 32, 10), seed=0)
    train_ann(ann, data.x_train, data.y_train)
    weights, _ = normalise_weights(ann, data.x_train)
    sim.setup(timestep=0.1)
    net = SpikingNetwork(sim, ann.sizes)
    trainer = InTheLoopTrainer(net, weights, data)
    trainer.characterise()
    trainer.train(50)
"""
from .ann import Adam, ReLUNetwork, accuracy, cross_entropy, softmax, train_ann
from .conversion import Quantiser, normalise_weights
from .datasets import Dataset, load_digits_dataset, yin_yang_dataset, yin_yang_samples
from .spiking import BackendError, SpikingConfig, SpikingNetwork
from .trainer import CheckpointError, InTheLoopTrainer, TrainerConfig

__all__ = ["Adam", "ReLUNetwork", "accuracy", "cross_entropy", "softmax", "train_ann",
           "Quantiser", "normalise_weights", "Dataset", "load_digits_dataset",
           "yin_yang_dataset", "yin_yang_samples", "BackendError", "SpikingConfig",
           "SpikingNetwork", "CheckpointError", "InTheLoopTrainer", "TrainerConfig"]
