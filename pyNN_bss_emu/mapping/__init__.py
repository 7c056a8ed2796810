"""The mapper: places a PyNN network on the emulated wafer in marocco's stages.

Stages work on flat arrays (:mod:`.types`); :mod:`.pipeline` runs them in order.
"""
