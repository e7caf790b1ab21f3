"""Developer tools: benchmarks against naive baselines (:mod:`devtools.bench`), the load
generator, the demo and its scene, face-engine calibration, attack videos, and a local
mosquitto for the demo and the tests.

May import everything: :mod:`terminal`, :mod:`central`, :mod:`common`, :mod:`models`,
:mod:`drivers`; nothing of ours imports it but :mod:`cli`.
"""
