"""initlab: measure how weight initialization and activation choice decide whether a deep
multilayer perceptron trains.

Modules: :mod:`~initlab.initializers`, :mod:`~initlab.activations`, :mod:`~initlab.model`,
:mod:`~initlab.stats`, :mod:`~initlab.train`, :mod:`~initlab.theory`, :mod:`~initlab.data`.
"""

__version__ = "0.1.0"
