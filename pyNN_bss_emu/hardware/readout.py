"""Membrane readout: a neuron's analog output through the ADC (brainscales1.md section 9).

The membrane (bio mV) is mapped to the hardware voltage (``V_hw = alpha * V_bio * 1e-3 +
shift``), shifted by the neuron's readout offset (fixed per denmem and wafer: the residual of the
"ReadoutShift" calibration), disturbed by readout noise (new every trial), quantised by a 12-bit
ADC over 0..1.8 V and mapped back to bio mV.
"""
from __future__ import annotations

import numpy as np

from . import wafer

ADC_BITS = 12
ADC_RANGE_V = 1.8
#: [E] residual readout offset after calibration, hardware mV (the hardware test allows +-80 mV
#: *uncalibrated* FG readout error; calibration measures the shift per neuron)
READOUT_OFFSET_SIGMA_MV_HW = 2.0
#: [E] readout noise, hardware mV (the AnaRM hardware test requires <= 10 mV std)
READOUT_NOISE_SIGMA_MV_HW = 5.0
#: analog outputs per reticle (2 per HICANN, shared by the reticle's 8 HICANNs)
ANALOG_OUTPUTS_PER_RETICLE = 2


def readout_offsets_mV_hw(wafer_seed: int, denmem_key: np.ndarray) -> np.ndarray:
    """Readout offset (hardware mV) of the denmems ``hicann * 512 + denmem``; fixed per wafer
    seed and denmem, independent of the network."""
    rng = np.random.default_rng([int(wafer_seed), 0xAD0])
    table = rng.normal(0.0, READOUT_OFFSET_SIGMA_MV_HW, size=wafer.N_HICANN
                       * wafer.DENMEMS_PER_HICANN)
    return table[np.asarray(denmem_key, dtype=np.int64)]


def read_membrane(v_bio_mV: np.ndarray, offset_mV_hw: np.ndarray, rng: np.random.Generator,
                  alpha: float = 10.0, shift_V: float = 1.2) -> np.ndarray:
    """Membrane samples (n_samples, n_neurons) in bio mV as the ADC delivers them; NaN stays
    NaN (samples not recorded)."""
    v = np.asarray(v_bio_mV, dtype=float)
    v_hw = alpha * v * 1e-3 + shift_V + np.asarray(offset_mV_hw) * 1e-3
    v_hw = v_hw + rng.normal(0.0, READOUT_NOISE_SIGMA_MV_HW * 1e-3, size=v.shape)
    lsb = ADC_RANGE_V / (2 ** ADC_BITS)
    v_hw = np.clip(np.round(v_hw / lsb), 0, 2 ** ADC_BITS - 1) * lsb
    return np.where(np.isnan(v), np.nan, (v_hw - shift_V) / (alpha * 1e-3))


def check_analog_outputs(reticle_of_recorded: np.ndarray) -> None:
    """At most 2 membranes per reticle can be recorded at once: raise naming the reticle."""
    counts = np.bincount(np.asarray(reticle_of_recorded, dtype=np.int64),
                         minlength=wafer.N_RETICLES)
    over = np.flatnonzero(counts > ANALOG_OUTPUTS_PER_RETICLE)
    if over.size:
        raise ValueError(
            f"{int(counts[over[0]])} membranes are recorded on reticle {int(over[0])}, but a "
            f"reticle has only {ANALOG_OUTPUTS_PER_RETICLE} analog outputs "
            f"({over.size} reticle(s) over the limit); record fewer neurons, place them on "
            "other reticles, or setup(analog_recording_limit=False)")
