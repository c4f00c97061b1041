"""Write the ONNX graphs that ship beside the zoo's weights (what a torch-free install runs).

    python scripts/ship_graphs.py            # every zoo model with shipped weights
    python scripts/ship_graphs.py lynx unet  # some of them
    python scripts/ship_graphs.py --descriptions  # only the descriptions, for the graphs already there

Run it after committing new weights: the graphs of weights that changed are refused at run time
(their description records the weights' sha256), and tests/test_shipped_weights.py fails until they are
written again. Needs torch and onnx (`pip install '.[cpu]'`).
"""

from __future__ import annotations

import sys

from llid_cli.export.shipped import write_graphs
from llid_cli.models import all_specs
from llid_cli.models.locations import weights_dir


def main() -> None:
    if {"-h", "--help"} & set(sys.argv[1:]):
        raise SystemExit(__doc__)
    shipped = {spec.name: spec for spec in all_specs() if spec.weights and (weights_dir() / spec.weights).is_file()}
    arguments = [a for a in sys.argv[1:] if a != "--descriptions"]
    description_only = len(arguments) < len(sys.argv[1:])
    names = arguments or list(shipped)
    for name in names:
        if name not in shipped:
            raise SystemExit(f"'{name}' is not a zoo model with shipped weights (those: {', '.join(shipped)})")
        spec = shipped[name]
        description = write_graphs(name, weights_dir() / spec.weights, description_only=description_only)
        files = sorted(p.name for p in weights_dir().glob(f"{name}.*onnx"))
        size = sum((weights_dir() / f).stat().st_size for f in files)
        print(f"{name:12} {description.name}  {', '.join(files)}  ({size / 1024:.0f} KiB of graphs)")


if __name__ == "__main__":
    main()
