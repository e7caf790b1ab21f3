"""Cameras: an OpenCV capture (device, RTSP, file) and a replay of a file or image folder."""

from drivers.camera.base import Camera, CameraUnavailable, Frame

__all__ = ["Camera", "CameraUnavailable", "Frame"]
