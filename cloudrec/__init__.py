"""cloudrec: self-hosted, event-sourced cloud recording for real-time audio/video channels."""

__version__ = "0.1.0"
