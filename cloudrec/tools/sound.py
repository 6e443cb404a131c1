"""Audio of an output file: decoded frames placed on its timeline, silence where nothing was sent.

`AudioEncoder` resamples whatever it gets to the encoder's format and feeds it whole frames;
`SoundTrack` puts each decoded frame at its output position, fills gaps with silence and trims
overlaps, so audio stays where the UTC timeline says it belongs.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream

RATE = 48000
TOLERANCE = RATE // 100  # samples (10 ms): closer than this a frame simply follows the last one
CHUNK = RATE  # samples of silence written at a time


class AudioEncoder:
    """Encodes a stream of samples of any format into `stream`, in encoder-sized frames."""

    def __init__(self, container: OutputContainer, codec: str, layout: str) -> None:
        self._container = container
        stream = container.add_stream(codec, rate=RATE, layout=layout)
        assert isinstance(stream, AudioStream)
        self.stream = stream
        context = self.stream.codec_context
        context.open()  # frame_size is known once the encoder is open
        self._resampler = av.AudioResampler(format=context.format, layout=layout, rate=RATE)
        self._fifo = av.AudioFifo()
        self._size = context.frame_size or 1024
        self.samples = 0  # samples encoded or waiting in the fifo

    def write(self, frame: AudioFrame) -> None:
        frame.pts = None
        for piece in self._resampler.resample(frame):
            piece.pts = None
            self.samples += piece.samples
            self._fifo.write(piece)
        self._drain(self._size)

    def close(self) -> None:
        self._drain(1)
        self._mux(self.stream.encode(None))

    def _drain(self, least: int) -> None:
        while self._fifo.samples >= least:
            frame = self._fifo.read(min(self._size, self._fifo.samples))
            assert frame is not None
            frame.pts = self.samples - self._fifo.samples - frame.samples
            frame.time_base = Fraction(1, RATE)
            self._mux(self.stream.encode(frame))

    def _mux(self, packets: list[Packet[Stream]]) -> None:
        for packet in packets:
            self._container.mux(packet)


class SoundTrack:
    """Places decoded audio at output positions (seconds) on a sample-exact timeline."""

    def __init__(self, encoder: AudioEncoder, layout: str) -> None:
        self._encoder = encoder
        self._layout = layout
        self._channels = av.AudioLayout(layout).nb_channels
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=RATE)

    def add(self, frame: AudioFrame, at: float) -> None:
        frame.pts = None
        for piece in self._resampler.resample(frame):
            self._place(piece.to_ndarray(), round(at * RATE))
            at += piece.samples / RATE

    def finish(self, duration: float) -> None:
        self._silence(round(duration * RATE) - self._encoder.samples)
        self._encoder.close()

    def _place(self, samples: np.ndarray, position: int) -> None:
        late = position - self._encoder.samples
        if late > TOLERANCE:
            self._silence(late)
        elif late < -TOLERANCE:
            samples = samples[:, -late:]
        if samples.shape[1]:
            self._encoder.write(self._frame(samples))

    def _silence(self, samples: int) -> None:
        while samples > 0:
            count = min(samples, CHUNK)
            self._encoder.write(self._frame(np.zeros((self._channels, count), np.float32)))
            samples -= count

    def _frame(self, samples: np.ndarray) -> AudioFrame:
        frame = AudioFrame.from_ndarray(np.ascontiguousarray(samples, np.float32), format="fltp",
                                        layout=self._layout)
        frame.sample_rate = RATE
        return frame
