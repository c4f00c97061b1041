"""Layers the zoo's networks are built from: blocks, global statistics, the noise filter,
the highlight shoulder, the bracket fusion."""
