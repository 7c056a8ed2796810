"""Rates and resolutions of the wafer's event paths (brainscales1.md sections 6-8), in
hardware time; the backend scales them to bio time by the speed-up."""
from __future__ import annotations

#: stimulus playback and recording: events per second of one FPGA and of one HICANN link
#: (brainscales1.md 7.2)
FPGA_EVENT_RATE_HZ = 125e6
HICANN_LINK_EVENT_RATE_HZ = 17.8e6
#: the priority encoder of a neuron block serves one event per ``ENCODER_CYCLES`` cycles of
#: the 125 MHz PLL (6.2/6.3)
PLL_HZ = 125e6
ENCODER_CYCLES = 2
#: a DNC merger driving a sending repeater runs in slow mode, in which it blocks every other
#: PLL cycle (ESS ``systemsim/merger_timed.cpp``; marocco puts the output mergers in slow mode,
#: ``InputPlacement.cpp``, at its 125 MHz PLL default): 62.5 MHz, the rate of one priority
#: encoder ("Audit 2026-12", corrections)
MERGER_SLOW_RATE_HZ = PLL_HZ / 2
#: resolution of the FPGA/DNC spike timestamps (250 MHz DNC clock, 7.1), seconds
TIMESTAMP_S = 4e-9
#: trial-independent spread (sigma, bio ms) of a route's delay around the distance formula,
#: from the 2023 delay calibration on wafer 30 (section 8)
DELAY_JITTER_MS = 0.1
#: most wafer modules of a BrainScaleS-1 system (5 racks; brainscales1.md 1.1) [V]
MAX_WAFERS = 20
#: a spike's latency from one wafer to another (hardware time, s) [E]: HICANN -> FPGA
#: (taken equal to the FPGA -> HICANN 496-500 ns [V], 7.1), the FPGA-to-FPGA link and
#: FPGA -> HICANN.  BSS-1's wafer-to-wafer link (Extoll/Gigabit Ethernet between the
#: FPGAs) was planned but never characterised in print; the 1.3 µs is the measured
#: chip-to-chip latency of BrainScaleS-2's FPGA network (4 hops over 3 FPGAs, arXiv
#: 2512.03781), a comparable path.  At speed-up 1e4: 13 ms of biological time.
OFFWAFER_LATENCY_S = 1.3e-6
#: expected firing rate (Hz, bio) of a neuron whose spikes enter another wafer: the input
#: placement of that wafer budgets this much of an input link's bandwidth per relayed
#: neuron [E] (the neurons' rates are not known before the run)
RELAYED_NEURON_RATE_HZ = 10.0
