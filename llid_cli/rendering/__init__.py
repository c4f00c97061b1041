"""How a photo's pixels are rendered: the pipeline (the one orchestrator) and its steps.

Read -> tone, night look, model, exposure where the model cannot, light colours, whites,
strength -> write. Nothing here knows how a network runs: that is `llid_cli.engine`.
"""
