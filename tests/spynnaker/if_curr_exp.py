# SPDX-License-Identifier: GPL-2.0-or-later
"""sPyNNaker end to end against `spinn serve`: a SpikeSourceArray drives one IF_curr_exp
neuron through a one-to-one projection; spikes and membrane voltage are recorded, read back
and compared with an independent computation of the same neuron model.

The reference integrates IF_curr_exp exactly over each 1 ms step, as sPyNNaker documents its
LIF model (neuron_model_lif_impl: V <- alpha - exp(-dt/tau_m) * (alpha - V) with
alpha = V_rest + R * I, R = tau_m / cm) with exponentially shaped synaptic current (a spike of
weight w adds w * (tau_syn/dt) * (1 - exp(-dt/tau_syn)), the current decays by
exp(-dt/tau_syn) per step). A spike sent at t with delay d acts from step t + d; the voltage
recorded at step n is the one the neuron starts step n with; after a spike the neuron is held
at V_reset for ceil(tau_refrac / dt) steps.

Usage: if_curr_exp.py OUT.json   (the board is named in ./.spynnaker.cfg)
Writes {"spikes": [...], "v": [...], "reference_spikes": [...], "reference_v": [...]}.
"""
import json
import math
import sys

import numpy as np
import pyNN.spiNNaker as sim

RUN_MS = 60
DT = 1.0
INPUT = [5.0, 15.0, 25.0, 40.0]
WEIGHT = 5.0
DELAY = 1.0
PARAMS = dict(cm=1.0, tau_m=20.0, v_rest=-65.0, v_reset=-65.0, v_thresh=-50.0,
              tau_refrac=0.1, tau_syn_E=5.0, tau_syn_I=5.0, i_offset=0.0)


def reference():
    """The neuron, integrated in floating point as described above."""
    p = PARAMS
    r = p["tau_m"] / p["cm"]
    decay_m = math.exp(-DT / p["tau_m"])
    decay_s = math.exp(-DT / p["tau_syn_E"])
    init = p["tau_syn_E"] / DT * (1.0 - decay_s)
    arrivals = [round((t + DELAY) / DT) for t in INPUT]
    refractory = math.ceil(p["tau_refrac"] / DT)
    v, current, hold = p["v_rest"], 0.0, 0
    vs, spikes = [], []
    for n in range(int(RUN_MS / DT)):
        vs.append(v)
        current = current * decay_s + WEIGHT * init * arrivals.count(n)
        if hold > 0:
            hold -= 1
            continue
        alpha = p["v_rest"] + r * (current + p["i_offset"])
        v = alpha - decay_m * (alpha - v)
        if v > p["v_thresh"]:
            spikes.append(n * DT)
            v = p["v_reset"]
            hold = refractory
    return spikes, vs


def main():
    out = sys.argv[1]
    sim.setup(timestep=DT)
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=INPUT), label="input")
    pop = sim.Population(1, sim.IF_curr_exp(**PARAMS), label="neuron")
    sim.Projection(src, pop, sim.OneToOneConnector(),
                   sim.StaticSynapse(weight=WEIGHT, delay=DELAY))
    pop.record(["spikes", "v"])
    sim.run(RUN_MS)
    seg = pop.get_data().segments[0]
    spikes = [float(t) for t in seg.spiketrains[0].magnitude]
    v = [float(x) for x in np.asarray(seg.filter(name="v")[0]).flatten()]
    sim.end()
    ref_spikes, ref_v = reference()
    with open(out, "w") as f:
        json.dump({"spikes": spikes, "v": v, "reference_spikes": ref_spikes,
                   "reference_v": ref_v}, f)
    print("spikes", spikes, "reference", ref_spikes)
    worst = max(abs(a - b) for a, b in zip(v, ref_v))
    print("largest voltage difference %.6f mV over %d steps" % (worst, len(v)))


if __name__ == "__main__":
    main()
