"""calibtic's lookup tables for tau_refrac (I_pl) and tau_syn (V_syntcx, V_syntci).

Expected numbers are the tables' own entries, copied from electronicvisions/calibtic
``include/calibtic/data/HMF/{i_pl,v_syntcx,v_syntci}_lookup.dat`` (loaded by
``src/HMF/NeuronCalibration.cpp`` as ``Lookup::create(table, 10)`` for I_pl and
``Lookup::create(table, 226)`` for V_syntc), and the reference's "Audit 2026-12" numbers
(shared/reference/brainscales1.md): tau_syn = 5 ms is DAC 321 at 0.89 %/LSB; domains
tau_syn 1.3-15.1 ms (DAC 226..1022), tau_refrac 17.3..0.15 ms (DAC 10..1022) at speed-up 1e4.
"""
from __future__ import annotations

import configparser
from pathlib import Path

import numpy as np
import pytest

from pyNN_bss_emu.hardware import parameter_transform as T
from pyNN_bss_emu.hardware.parameter_transform import (
    ParameterRangeError, TransformSettings, transform_parameters)

#: entries of calibtic's tables (DAC: seconds), copied from the .dat files
I_PL_ENTRIES = {10: 1.73228307659e-06, 11: 1.58005556747e-06, 12: 1.45122325652e-06,
                1022: 1.47476076544e-08}
V_SYNTC_ENTRIES = {226: 1.51090529701e-06, 227: 1.48725279539e-06, 229: 1.44149753584e-06,
                   230: 1.44149753584e-06, 231: 1.44149753584e-06, 232: 1.42128969005e-06,
                   320: 5.03984084637e-07, 321: 4.99484380178e-07, 1022: 1.29895057839e-07}
N_I_PL, N_V_SYNTC = 1013, 797               # values in the .dat files (DAC 10..1022, 226..1022)
IF_PARAMS = {"cm": 0.2, "e_rev_E": 0.0, "e_rev_I": -80.0, "tau_m": 10.0, "tau_refrac": 2.0,
             "tau_syn_E": 5.0, "tau_syn_I": 5.0, "v_reset": -65.0, "v_rest": -65.0,
             "v_thresh": -50.0}
SPEEDUP = 1e4                                # default; ms bio = s hw * 1e3 * 1e4


def test_bundled_tables_are_calibtics():
    i_pl, x, i = (T.FG_CELLS[n].lookup for n in ("I_pl", "V_syntcx", "V_syntci"))
    assert (i_pl.first_dac, i_pl.last_dac, i_pl.values.size) == (10, 1022, N_I_PL)
    assert (x.first_dac, x.last_dac, x.values.size) == (226, 1022, N_V_SYNTC)
    np.testing.assert_array_equal(x.values, i.values)        # calibtic ships one table twice
    for table, entries in ((i_pl, I_PL_ENTRIES), (x, V_SYNTC_ENTRIES)):
        for dac, value in entries.items():
            assert table.values[dac - table.first_dac] == value, (table.name, dac)


@pytest.mark.parametrize("cell, entries", [("I_pl", I_PL_ENTRIES),
                                           ("V_syntcx", V_SYNTC_ENTRIES),
                                           ("V_syntci", V_SYNTC_ENTRIES)])
def test_reverse_transform_is_the_table_at_integer_dacs(cell, entries):
    c = T.FG_CELLS[cell]
    dacs = np.array(list(entries))
    np.testing.assert_allclose(c.from_dac(dacs), list(entries.values()), rtol=1e-12)
    # and the bio value of the reverse default transform (dac_to_bio) at 1e4
    bio = {"I_pl": "tau_refrac", "V_syntcx": "tau_syn_E", "V_syntci": "tau_syn_I"}[cell]
    dac = {k: np.array([5]) for k in ("E_l", "E_synx", "E_syni", "V_t", "V_reset",
                                      "I_gl_bigcap_normal", "I_pl", "V_syntcx", "V_syntci")}
    dac[cell] = dacs
    got = T.dac_to_bio(dac, TransformSettings())[bio]
    np.testing.assert_allclose(got, np.array(list(entries.values())) * 1e3 * SPEEDUP,
                               rtol=1e-12)


def test_five_ms_synaptic_time_constant_is_dac_321():
    """Audit 2026-12: tau_syn = 5 ms is DAC 321 at 0.89 %/LSB (the nearest entry: 0.4995 µs;
    calibtic's own search, the last DAC still >= 0.5 µs, would give 320)."""
    hp = transform_parameters(IF_PARAMS)
    assert hp.dac["V_syntcx"][0] == 321 and hp.dac["V_syntci"][0] == 321
    t320, t321 = V_SYNTC_ENTRIES[320], V_SYNTC_ENTRIES[321]
    assert (t320 - t321) / t320 == pytest.approx(0.0089, abs=0.00005)
    assert abs(t321 - 0.5e-6) < abs(t320 - 0.5e-6)


def test_inverse_is_monotone_and_round_trips():
    rng = np.random.default_rng(7)
    for name in ("I_pl", "V_syntcx"):
        c = T.FG_CELLS[name]
        lo, hi = c.domain
        x = np.sort(np.exp(rng.uniform(np.log(lo), np.log(hi), 20_000)))
        d = c.to_dac(x)
        assert np.all(np.diff(d) <= 0), name           # longer time constant, lower DAC
        assert d.min() >= c.dac_range[0] - 1e-9 and d.max() <= c.dac_range[1] + 1e-9
        np.testing.assert_allclose(c.from_dac(d), x, rtol=1e-9)
        # integer DACs come back, except inside a plateau (equal neighbouring entries)
        tab = c.lookup.values
        dacs = np.arange(c.dac_range[0], c.dac_range[1] + 1)
        flat = np.r_[False, tab[1:] == tab[:-1]] | np.r_[tab[:-1] == tab[1:], False]
        back = c.to_dac(c.from_dac(dacs))
        np.testing.assert_allclose(back[~flat], dacs[~flat], atol=1e-9)
        # a plateau's value maps onto the plateau
        plateau_value = c.from_dac(dacs[flat])
        assert np.all(c.from_dac(np.rint(c.to_dac(plateau_value))) == plateau_value)
    # V_syntc has plateaus (229-231, 511-512, 681-685, 851-860); I_pl has none
    assert np.all(np.diff(T.FG_CELLS["I_pl"].lookup.values) < 0)


def test_domain_ends():
    """Audit 2026-12 / 10.3: tau_syn 1.3-15.1 ms (DAC 226..1022), tau_refrac 17.3..0.15 ms
    (DAC 10..1022) at 1e4; 10x shorter in bio time at speed-up 1e3."""
    r = T.parameter_ranges(TransformSettings())
    assert r["tau_syn_E"][:2] == pytest.approx((1.29895057839, 15.1090529701), rel=1e-9)
    assert r["tau_syn_I"][:2] == pytest.approx((1.29895057839, 15.1090529701), rel=1e-9)
    assert r["tau_refrac"][:2] == pytest.approx((0.147476076544, 17.3228307659), rel=1e-9)
    r3 = T.parameter_ranges(TransformSettings(speedup=1e3))
    assert r3["tau_refrac"][1] == pytest.approx(1.73228307659, rel=1e-9)
    # the ends are the end DACs, inside the range is an error outside it
    hp = transform_parameters(dict(IF_PARAMS, tau_syn_E=15.1090529701, tau_syn_I=1.29895057839,
                                   tau_refrac=17.3228307659))
    assert (hp.dac["V_syntcx"][0], hp.dac["V_syntci"][0], hp.dac["I_pl"][0]) == (226, 1022, 10)
    with pytest.raises(ParameterRangeError, match=r"'tau_syn_E' = 1\.2 ms.*1\.299\.\.15\.11"):
        transform_parameters(dict(IF_PARAMS, tau_syn_E=1.2))
    with pytest.raises(ParameterRangeError, match=r"'tau_refrac' = 20 ms.*0\.1475\.\.17\.32"):
        transform_parameters(dict(IF_PARAMS, tau_refrac=20.0))
    # clip=True puts them on the end DACs (as calibtic's CLIP does)
    with pytest.warns(T.HardwareParameterWarning):
        hp = transform_parameters(dict(IF_PARAMS, tau_syn_E=1.2, tau_refrac=20.0), clip=True)
    assert hp.dac["V_syntcx"][0] == 1022 and hp.dac["I_pl"][0] == 10
    assert {c.name for c in hp.clipped_details} == {"tau_syn_E", "tau_refrac"}


def test_tables_ship_with_the_package():
    """A non-editable install needs the tables: setup.cfg lists them as package data."""
    root = Path(__file__).resolve().parents[1]
    cfg = configparser.ConfigParser()
    cfg.read(root / "setup.cfg")
    pattern = cfg["options.package_data"]["pyNN_bss_emu.hardware"].strip()
    data = Path(T.__file__).with_name("data")
    names = sorted(p.name for p in data.glob(pattern.split("/", 1)[1]))
    assert names == ["calibtic_i_pl_lookup.txt", "calibtic_v_syntci_lookup.txt",
                     "calibtic_v_syntcx_lookup.txt"]
