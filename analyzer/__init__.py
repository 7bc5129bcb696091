"""shapeproof's analyzer: .nn text -> syntax IR -> analysed models (shapes, params, MACs, receptive fields).

    from shapeproof import analyzer
    program = analyzer.load("examples/seeds.nn", set={"n_features": 50})
    model = program.models["ConvModel"]
    model.total_params, model.nodes[0].output_shape
"""
from .errors import ShapeproofError, Span
from .graph import Model, Node
from .program import Program, load, loads

__all__ = ["ShapeproofError", "Span", "Model", "Node", "Program", "load", "loads"]
