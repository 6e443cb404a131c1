"""x264 runs one thread up to 1280x720@30 (a recorder shares the machine with many), and its
slice threads beyond, where one core cannot keep a camera-like canvas in real time."""

from __future__ import annotations

from cloudrec.actors.recorder.encoder import VideoEncoder, encoder_threads


def test_one_thread_up_to_720p30_slice_threads_beyond() -> None:
    assert encoder_threads(360, 640, 15) == 1  # the API's default canvas
    assert encoder_threads(1280, 720, 30) == 1
    assert encoder_threads(1920, 1080, 30) == 0
    assert encoder_threads(1920, 1080, 60) == 0
    small, large = VideoEncoder(360, 640, 15, 500), VideoEncoder(1920, 1080, 60, 6500)
    try:
        assert small.stream.codec_context.thread_count == 1
        assert large.stream.codec_context.thread_count == 0
    finally:
        small.close()
        large.close()
