# SPDX-License-Identifier: GPL-2.0-or-later
"""sPyNNaker end to end against `spinn serve`: a synfire ring of IF_curr_exp populations. One
stimulus spike starts population 0; each population excites the next all-to-all, and the last
excites the first again, so activity travels round the ring for the whole run.

Usage: synfire.py OUT.json   (the board is named in ./.spynnaker.cfg)
Writes {"spikes": [[(neuron, time), ...] per population]}.
"""
import json
import sys

import pyNN.spiNNaker as sim

POPULATIONS = 4
NEURONS = 10
RUN_MS = 150


def main():
    out = sys.argv[1]
    sim.setup(timestep=1.0)
    stim = sim.Population(1, sim.SpikeSourceArray(spike_times=[5.0]), label="stimulus")
    pops = [sim.Population(NEURONS, sim.IF_curr_exp(), label="pop%d" % i)
            for i in range(POPULATIONS)]
    sim.Projection(stim, pops[0], sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=5.0, delay=1.0))
    for i, pop in enumerate(pops):
        sim.Projection(pop, pops[(i + 1) % POPULATIONS], sim.AllToAllConnector(),
                       sim.StaticSynapse(weight=0.5, delay=5.0))
        pop.record("spikes")
    sim.run(RUN_MS)
    spikes = []
    for pop in pops:
        trains = pop.get_data("spikes").segments[0].spiketrains
        spikes.append(sorted((i, float(t)) for i, train in enumerate(trains)
                             for t in train.magnitude))
    sim.end()
    with open(out, "w") as f:
        json.dump({"spikes": spikes}, f)
    for i, s in enumerate(spikes):
        print("pop%d: %d spikes, first at %s" % (i, len(s), min((t for _, t in s), default=None)))


if __name__ == "__main__":
    main()
