"""The emulated BrainScaleS-1 wafer: geometry, resources, defects (no PyNN objects)."""
