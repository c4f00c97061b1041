"""The shared core every layer may use: typed errors, the config schema base, optional extras."""
