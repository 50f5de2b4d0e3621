"""tutor: an offline terminal tutor for "Eight Things to Know about Large Language Models"."""
import os as _os

# ONNX Runtime 1.29+ sends usage telemetry on Linux unless this is set before it initialises
# (measured: DNS look-ups of its collector during the first embedding). The tutor never talks
# to the network, so it is off for every entry point: the CLI, the TUI, tests and benchmarks.
_os.environ["ORT_DISABLE_TELEMETRY"] = "1"

__version__ = "0.1.0"
