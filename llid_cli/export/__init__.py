"""ONNX export: tracing a network with its controls as graph inputs, the graphs shipped beside
the weights, and the user cache of exports. Needs torch and onnx."""
