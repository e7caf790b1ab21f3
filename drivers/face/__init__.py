"""Face engines behind one interface (``base.FaceEngine``)."""

from drivers.face.base import Box, FaceEmbedding, FaceEngine, FaceEngineUnavailable

__all__ = ["Box", "FaceEmbedding", "FaceEngine", "FaceEngineUnavailable"]
