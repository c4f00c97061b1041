"""Training: configs, data (real and synthetic pairs), losses and the loop."""
