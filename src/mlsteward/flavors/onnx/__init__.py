"""The ONNX flavor: load and run ONNX graphs, convert scikit-learn to ONNX.

:mod:`.flavor` holds the flavor, :mod:`.inputs` the conversion of request
values into input tensors, :mod:`.convert` the scikit-learn converter with its
parity check, :mod:`.graph` the wire-format reader that lets serving load a
graph without importing ``onnx``.
"""
