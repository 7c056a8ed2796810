"""The wafer's report: where the emulated wafer changed the experiment materially.

After a mapping (synapses lost, 4-bit weights clipped at the top of their row's range,
rounded to the lowest level or below the floor of the synaptic input) and after a run
(recorded spikes missing for want of upward bandwidth, neuron spikes lost at priority
encoders and DNC mergers, stimulus dropped before the run), each line with the numbers,
where it happened, the call that gives details and the setting that helps.  A line appears
only above :data:`MATERIAL_SHARE` (or for any lost synapse): the report is for changes that
can alter a result, not for every rounding.  A loop of many runs (the in-the-loop trainer)
is warned about a kind of change once, and again only when its share grows to
:data:`REPEAT_FACTOR` times what was reported;
``sim.get_wafer_report()`` always has the latest lines.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..hardware.synapse_weights import INPUT_THRESHOLD_NS

#: a change is reported from this share of the affected items on (1 %)
MATERIAL_SHARE = 0.01
#: a kind of change already warned about is warned about again from this factor on
REPEAT_FACTOR = 2.0


class WaferReportWarning(UserWarning):
    """The emulated wafer changed the experiment materially (see :mod:`.report`)."""


@dataclass(frozen=True)
class ReportLine:
    """One line of the report: its ``kind`` (what changed), the affected ``share`` (0..1)
    and the ``text``."""
    kind: str
    share: float
    text: str


@dataclass
class WeightSummary:
    """4-bit weight realisation of one projection: synapses realised, clipped at the top of
    the row's range, rounded to the lowest level (digital 0 of a non-zero weight), and the
    largest requested and realised weight (the user's unit).  Of its synapses requested
    below their row's floor: the number, their mean requested and mean realised weight and
    their median floor (the user's unit; NaN without any)."""
    label: str
    unit: str
    realised: int
    clipped: int
    rounded_to_zero: int
    requested_max: float
    realised_max: float
    below_floor: int = 0
    floor_requested: float = float("nan")
    floor_realised: float = float("nan")
    floor: float = float("nan")


def _share(n: int, total: int) -> str:
    return f"{n} of {total} ({100.0 * n / total:.1f} %)" if total else f"{n}"


def _names(items: list[str], limit: int = 5) -> str:
    out = ", ".join(repr(x) for x in items[:limit])
    return out + (f" and {len(items) - limit} more" if len(items) > limit else "")


#: what raises a weight's hardware conductance (w x speed-up x C_hw / cm), the setting that
#: lifts weights off the floor
FLOOR_REMEDY = ("Helps: a larger neuron_size, the big capacitors (setup(big_capacitors=True), "
                "13 x the small ones) or a higher setup(speedup=...), each of which raises the "
                "hardware conductance of a weight (weight x speed-up x C_hw / cm); or larger "
                "weights")


def _floor_text(weights: list[WeightSummary], total: int) -> str:
    """The sentence about weights below the floor, with the worst projections."""
    below = sorted((w for w in weights if w.below_floor), key=lambda w: -w.below_floor)
    n = sum(w.below_floor for w in below)
    detail = "; ".join(
        f"{w.label!r}: {w.below_floor} of {w.realised}, requested {w.floor_requested:.3g} "
        f"{w.unit} on average, realised {w.floor_realised:.3g} {w.unit} "
        f"({100.0 * w.floor_realised / w.floor_requested:.0f} %), floor {w.floor:.3g} {w.unit}"
        for w in below[:5])
    more = f" and {len(below) - 5} more projections" if len(below) > 5 else ""
    return (f"weights below the floor of the synaptic input: {_share(n, total)} ({detail}"
            f"{more}). A denmem's synaptic input responds only to the part of a pulse above "
            f"its offset (about {INPUT_THRESHOLD_NS:g} nS of hardware conductance), so weights "
            "whose hardware conductance is not well above it act much more weakly than asked. "
            "Details: "
            f"Projection.get('weight'), sim.plot_weights(projection). {FLOOR_REMEDY}")


def floor_error(weights: list[WeightSummary]) -> str | None:
    """The error for ``setup(strict=True)`` if any weight is below its row's floor."""
    total = sum(w.realised for w in weights)
    if not any(w.below_floor for w in weights):
        return None
    return _floor_text(weights, total) + " (an error because of setup(strict=True); " \
        "without it the wafer runs with the weak weights and reports them)"


def mapping_lines(statistics, weights: list[WeightSummary]) -> list[ReportLine]:
    """Report lines after a mapping (or after weights were written again)."""
    lines = []
    if statistics is not None and statistics.synapses_lost:
        worst = sorted((p for p in statistics.per_projection if p.lost),
                       key=lambda p: -p.lost)
        lines.append(ReportLine(
            "synapse loss", statistics.synapse_loss,
            "synapses lost in the mapping: "
            f"{_share(statistics.synapses_lost, statistics.synapses_requested)}"
            f" ({statistics.synapses_lost_l1} on failed L1 routes, "
            f"{statistics.synapses_lost_drivers} for want of synapse drivers, "
            f"{statistics.synapses_lost_synapse_array} for want of synapse slots, "
            f"{statistics.synapses_lost_multapse} multapses"
            + (f", {statistics.synapses_lost_input} from other wafers for want of input "
               "bandwidth" if statistics.synapses_lost_input else "")
            + f"), most in "
            f"{_names([f'{p.label}: {p.lost}' for p in worst])}; they transmit nothing "
            "(Projection.get gives NaN). Details: sim.get_mapping_statistics(), "
            "sim.plot_wafer_map(). Helps: a larger neuron_size (more synaptic inputs per "
            "neuron), a longer driver_chain_length, fewer connections"
            + ("; across wafers: fewer wafers (a higher wafer_fill) or connections that "
               "stay within a wafer" if statistics.synapses_lost_input
               else "") + "; setup(strict=True) makes it an error"))
    total = sum(w.realised for w in weights)
    clipped = [w for w in weights if w.clipped]
    n_clipped = sum(w.clipped for w in clipped)
    if total and n_clipped >= MATERIAL_SHARE * total:
        detail = "; ".join(f"{w.label!r}: {w.clipped} of {w.realised}, requested up to "
                           f"{w.requested_max:.4g} {w.unit}, realised up to "
                           f"{w.realised_max:.4g} {w.unit}"
                           for w in sorted(clipped, key=lambda w: -w.clipped)[:5])
        lines.append(ReportLine(
            "weights clipped", n_clipped / total,
            f"weights clipped at the top of the 4-bit range: {_share(n_clipped, total)} "
            f"({detail}). Details: sim.plot_weights(projection), Projection.get('weight'). "
            "Helps: a smaller neuron_size or setup(big_capacitors=False) (a smaller membrane "
            "capacitance needs less conductance for the same effect), or smaller weights"))
    zero = [w for w in weights if w.rounded_to_zero]
    n_zero = sum(w.rounded_to_zero for w in zero)
    if total and n_zero >= MATERIAL_SHARE * total:
        lines.append(ReportLine(
            "weights rounded to zero", n_zero / total,
            f"weights rounded to the lowest 4-bit level: {_share(n_zero, total)} (in "
            f"{_names([w.label for w in sorted(zero, key=lambda w: -w.rounded_to_zero)])}; "
            "a row's 16 levels span up to its largest weight, and digital 0 still conducts a "
            "little). Details: sim.plot_weights(projection). Helps: weights of a row closer "
            "to each other, or setup(weight_rounding='stochastic') (unbiased on average)"))
    n_floor = sum(w.below_floor for w in weights)
    if total and n_floor >= MATERIAL_SHARE * total:
        lines.append(ReportLine("weights below the floor", n_floor / total,
                                _floor_text(weights, total) +
                                "; setup(strict=True) makes it an error"))
    return lines


def run_lines(pulses: dict, recorded_missing: dict[str, int], recorded_total: int
              ) -> list[ReportLine]:
    """Report lines after a run, from the pulse counts of this run (the differences of
    ``get_pulse_statistics()``) and the recorded spikes missing per population."""
    lines = []
    missing = sum(recorded_missing.values())
    if missing and missing >= MATERIAL_SHARE * (recorded_total + missing):
        worst = sorted(recorded_missing.items(), key=lambda kv: -kv[1])
        lines.append(ReportLine(
            "recorded spikes missing", missing / (recorded_total + missing),
            f"recorded spikes missing for want of upward bandwidth (HICANN link 17.8 MHz, "
            f"FPGA 125 MHz): {_share(missing, recorded_total + missing)} (in "
            f"{_names([f'{k}: {v}' for k, v in worst if v])}); the neurons fired them and "
            "their targets received them, but get_data() does not have them, so rates from "
            "the recording are too low. Details: sim.get_pulse_statistics()['l2_up_lost']. "
            "Helps: record fewer neurons, spread the recorded populations over more HICANNs "
            "(sim.place_on_hicann), or a lower setup(speedup=...)"))
    sent = pulses.get("l1_neuron_sent", 0)
    lost = pulses.get("l1_neuron_lost", 0)
    if lost and lost >= MATERIAL_SHARE * (sent + lost):
        lines.append(ReportLine(
            "neuron spikes lost", lost / (sent + lost),
            f"neuron spikes lost on the wafer: {_share(lost, sent + lost)} "
            f"({pulses.get('l1_encoder_lost', 0)} at priority encoders, "
            f"{pulses.get('l1_merger_lost', 0)} at DNC mergers); they reached no target and "
            "are not recorded. Details: sim.get_pulse_statistics(). Helps: "
            "setup(merger_routing='one_to_one'), less synchronous firing, a lower speed-up"))
    down = pulses.get("l2_down_before_sim", 0)
    dropped = pulses.get("l2_down_dropped_before_sim", 0)
    if dropped and dropped >= MATERIAL_SHARE * down:
        lines.append(ReportLine(
            "stimulus dropped", dropped / down,
            f"stimulus events dropped before the wafer for want of input bandwidth: "
            f"{_share(dropped, down)}. Details: sim.get_pulse_statistics(). Helps: lower "
            "source rates, spread the sources over more HICANNs, or a lower speed-up"))
    r_sent = pulses.get("l2_relay_sent", 0)
    r_lost = pulses.get("l2_relay_lost", 0)
    if r_lost and r_lost >= MATERIAL_SHARE * (r_sent + r_lost):
        lines.append(ReportLine(
            "relayed spikes lost", r_lost / (r_sent + r_lost),
            f"spikes between wafers lost for want of off-wafer bandwidth (HICANN link 17.8 "
            f"MHz, FPGA 125 MHz, up and down): {_share(r_lost, r_sent + r_lost)}; they did "
            "not reach their targets on the other wafer. Details: "
            "sim.get_pulse_statistics()['l2_relay_lost']. Helps: fewer wafers (keep "
            "connected populations on one), lower rates, or a lower speed-up"))
    return lines


class Reporter:
    """Decides which report lines are warned about (see the module docstring) and keeps the
    latest lines of each part."""

    def __init__(self) -> None:
        self.latest: dict[str, list[str]] = {"mapping": [], "run": []}
        self._warned: dict[str, float] = {}

    def report(self, part: str, lines: list[ReportLine], when: str,
               stacklevel: int = 4) -> None:
        """Record ``lines`` as the latest of ``part`` and warn about the new or grown ones."""
        self.latest[part] = [line.text for line in lines]
        fresh = [line for line in lines if line.kind not in self._warned
                 or line.share >= REPEAT_FACTOR * self._warned[line.kind]]
        if not fresh:
            return
        for line in fresh:
            self._warned[line.kind] = line.share
        text = f"the emulated wafer changed the experiment materially ({when}):\n" + \
            "\n".join(f"  - {line.text}" for line in fresh) + \
            "\n  (each kind is reported once and again when it grows; " \
            "sim.get_wafer_report() has the latest numbers)"
        warnings.warn(text, WaferReportWarning, stacklevel=stacklevel + 1)


def weight_summaries(labels: list[str], units: list[str], realized: list[np.ndarray],
                     requested: list[np.ndarray], realised: list[np.ndarray],
                     clipped: list[np.ndarray], rounded: list[np.ndarray],
                     below_floor: list[np.ndarray] | None = None,
                     floors: list[np.ndarray] | None = None) -> list[WeightSummary]:
    """:class:`WeightSummary` per projection from per-synapse arrays (user units);
    ``below_floor`` / ``floors`` (per projection, optional) the synapses requested below
    their row's floor and the floors."""
    out = []
    n_prj = len(labels)
    below_floor = below_floor if below_floor is not None else [None] * n_prj
    floors = floors if floors is not None else [None] * n_prj
    for label, unit, ok, req, real, clip, zero, low, fl in zip(
            labels, units, realized, requested, realised, clipped, rounded, below_floor,
            floors):
        n = int(ok.sum())
        if not n:
            continue
        summary = WeightSummary(label, unit, n, int((clip & ok).sum()), int((zero & ok).sum()),
                                float(np.max(np.abs(req[ok]))),
                                float(np.nanmax(np.abs(real[ok]))))
        low = ok & low if low is not None else None
        if low is not None and np.any(low):
            summary.below_floor = int(low.sum())
            summary.floor_requested = float(np.mean(np.abs(req[low])))
            summary.floor_realised = float(np.mean(np.abs(real[low])))
            summary.floor = float(np.median(np.abs(fl[low]))) if fl is not None \
                else float("nan")
        out.append(summary)
    return out
