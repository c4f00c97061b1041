"""`clahe`: the classical path (CLAHE on LAB L, then linear brightening) as a zoo entry.

It has no network and no weights; `llid_cli.classical` does the work. Registering it here lets
`llid models list` show every way llid can enhance a photo in one table.
"""

from llid_cli.models.registry import ModelSpec, add_spec

add_spec(ModelSpec(
    name="clahe",
    description="CLAHE on CIELAB L, then linear brightening to a target mean luma (no learning).",
    origin="classical: Zuiderveld, 'Contrast Limited Adaptive Histogram Equalization', Graphics Gems IV, 1994",
    builder=None,
    global_ops=("mean-luma gain",),
))
