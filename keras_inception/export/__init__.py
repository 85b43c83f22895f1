"""Export for serving and mobile: SavedModel and TFLite, verified with the LiteRT interpreter."""

from keras_inception.export.graph import export_graph
from keras_inception.export.job import ExportResult, export_model
from keras_inception.export.tflite import MODES, convert

__all__ = ["MODES", "ExportResult", "convert", "export_graph", "export_model"]
