"""Placing users' audio on the mix clock: anchoring, gaps as silence, fades at both ends."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from cloudrec.actors.recorder.audio import AudioTimeline
from cloudrec.actors.recorder.decoder import TimedFrame
from cloudrec.actors.recorder.mixer import AudioMixer

T0 = 1_000_000_000


def tone(start: int, count: int, hz: float = 500.0, level: float = 0.5) -> av.AudioFrame:
    t = (np.arange(start, start + count) / 48_000).astype(np.float32)
    samples = (level * np.sin(2 * np.pi * hz * t)).astype(np.float32).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
    frame.sample_rate, frame.pts, frame.time_base = 48_000, start, Fraction(1, 48_000)
    return frame


def feed(timeline: AudioTimeline, uid: int, start_s: float, seconds: float) -> None:
    for i in range(int(seconds * 50)):
        at_us = T0 + int((start_s + i * 0.02) * 1_000_000)
        timeline.add(uid, 1, TimedFrame(at_us, tone(int(start_s * 48_000) + i * 960, 960)))


def mixed(mixer: AudioMixer, until_s: float) -> np.ndarray:
    frames = mixer.pop_until(int(until_s * 48_000))
    return np.concatenate([f.to_ndarray()[0] for f in frames])


def test_audio_lands_at_its_channel_time_with_silence_before() -> None:
    mixer = AudioMixer()
    timeline = AudioTimeline(mixer, T0)
    feed(timeline, 7, 0.5, 0.5)
    out = mixed(mixer, 1.2)
    assert np.abs(out[: 24_000 - 10]).max() == 0.0
    assert np.abs(out[24_500:47_000]).max() > 0.45
    assert np.abs(out[49_000:]).max() == 0.0


def test_a_run_fades_in_and_a_removed_track_fades_out() -> None:
    mixer = AudioMixer()
    timeline = AudioTimeline(mixer, T0, fade_ms=10)
    feed(timeline, 7, 0.0, 0.5)
    timeline.forget(7)  # the user left: the last 10 ms are ramped down before emission
    out = mixed(mixer, 0.6)
    assert np.abs(out[:48]).max() < 0.05  # first millisecond: nearly silent
    assert np.abs(out[23_950:24_000]).max() < 0.05  # last millisecond: nearly silent
    assert np.abs(out[10_000:20_000]).max() > 0.45


def test_a_gap_re_anchors_instead_of_shifting_time() -> None:
    mixer = AudioMixer()
    timeline = AudioTimeline(mixer, T0)
    feed(timeline, 7, 0.0, 0.2)
    feed(timeline, 7, 0.6, 0.2)  # 400 ms missing: silence, then the audio at 0.6 s
    out = mixed(mixer, 1.0)
    assert np.abs(out[int(0.25 * 48_000) : int(0.55 * 48_000)]).max() == 0.0
    assert np.abs(out[int(0.62 * 48_000) : int(0.78 * 48_000)]).max() > 0.45


def test_a_late_first_packet_still_fades_in_on_what_is_heard() -> None:
    mixer = AudioMixer()
    timeline = AudioTimeline(mixer, T0, fade_ms=10)
    mixed(mixer, 0.3)  # the mix has already been emitted up to ~0.3 s
    feed(timeline, 7, 0.2, 0.4)  # audio that starts at 0.2 s arrives too late for its head
    out = mixed(mixer, 0.7)
    assert np.abs(out[:48]).max() < 0.05  # the first audible millisecond is nearly silent
    assert np.abs(out[2_000:10_000]).max() > 0.45


def test_the_end_of_the_recording_fades_out() -> None:
    mixer = AudioMixer()
    timeline = AudioTimeline(mixer, T0, fade_ms=10)
    feed(timeline, 7, 0.0, 1.0)
    mixer.fade_out_until(int(0.5 * 48_000), 480)
    out = mixed(mixer, 0.5)
    assert np.abs(out[-48:]).max() < 0.05
    assert np.abs(out[-2_000:-600]).max() > 0.45


def test_a_stalled_user_fades_out_before_the_mix_passes_their_end() -> None:
    mixer = AudioMixer()
    timeline = AudioTimeline(mixer, T0, fade_ms=10)
    feed(timeline, 7, 0.0, 0.5)  # then nothing: the user's packets stop (no leave yet)
    timeline.close_runs_before(int(0.8 * 48_000))
    out = mixed(mixer, 0.8)
    assert np.abs(out[23_950:24_000]).max() < 0.05
    feed(timeline, 7, 0.5, 0.5)  # the rest arrives late, part of it already emitted
    out = mixed(mixer, 1.0)
    assert np.abs(out[:48]).max() < 0.05  # resumes with a fade-in, never a step
    assert np.abs(out[2_000:8_000]).max() > 0.45


def sine(rate: int, layout: str, seconds: float, hz: float = 500.0) -> av.AudioFrame:
    t = np.arange(int(rate * seconds)) / rate
    planes = np.tile((0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32),
                     (2 if layout == "stereo" else 1, 1))
    frame = av.AudioFrame.from_ndarray(planes, format="fltp", layout=layout)
    frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
    return frame


def test_stereo_and_mono_at_any_rate_mix_at_their_own_level() -> None:
    """The same 0.3 sine from a 44.1 kHz stereo user and a 16 kHz mono user: both mixed at 0.3
    (a stereo→mono downmix that adds the channels at -3 dB each made stereo 3 dB louder)."""
    for rate, layout in [(44_100, "stereo"), (16_000, "mono"), (48_000, "stereo")]:
        mixer = AudioMixer()
        AudioTimeline(mixer, T0).add(7, 1, TimedFrame(T0, sine(rate, layout, 0.5)))
        out = mixed(mixer, 0.4)
        assert abs(np.abs(out[4_800:]).max() - 0.3) < 0.01, (rate, layout)
