"""The audio mix: real tones in, fixed frames out, checked by FFT and by an AAC encoder."""

import io
from fractions import Fraction

import av
import numpy as np
import pytest

from cloudrec.actors.recorder.mixer import (
    CEILING,
    FADE_IN,
    RELEASE_FRAMES,
    AudioMixer,
)

RATE = 48000
FRAME = 1024


def tone(freq, seconds=1.0, amplitude=0.5, rate=RATE):
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def samples_of(frames):
    return np.concatenate([frame.to_ndarray()[0] for frame in frames])


def spectrum_peaks(signal, count):
    magnitude = np.abs(np.fft.rfft(signal))
    freqs = np.fft.rfftfreq(len(signal), 1 / RATE)
    return sorted(round(freqs[i]) for i in np.argsort(magnitude)[-count:])


def test_two_tones_are_both_in_the_mix():
    mixer = AudioMixer()
    mixer.add(1, tone(440), 0)
    mixer.add(2, tone(1000), 0)
    mix = samples_of(mixer.pop_until(RATE))
    assert len(mix) == (RATE // FRAME) * FRAME
    assert spectrum_peaks(mix[: RATE // 2], 2) == [440, 1000]


def test_frames_are_fixed_size_with_sample_position_pts():
    mixer = AudioMixer()
    mixer.add(1, tone(440, 0.1), 0)
    frames = mixer.pop_until(4 * FRAME + 10)
    assert [f.pts for f in frames] == [0, FRAME, 2 * FRAME, 3 * FRAME]
    assert all(f.samples == FRAME and f.sample_rate == RATE for f in frames)
    assert all(f.time_base == Fraction(1, RATE) for f in frames)
    assert all(f.format.name == "fltp" and f.layout.name == "mono" for f in frames)
    assert mixer.position == 4 * FRAME
    assert mixer.pop_until(4 * FRAME + 500) == []


def test_loud_sum_is_scaled_not_clipped():
    mixer = AudioMixer()
    mixer.add(1, tone(500, amplitude=0.8), 0)
    mixer.add(2, tone(500, amplitude=0.8), 0)
    mix = samples_of(mixer.pop_until(RATE))
    assert np.max(np.abs(mix)) <= CEILING + 1e-6
    assert np.max(np.abs(mix)) > CEILING - 0.01
    # a hard-clipped 1.6 sine sits at the ceiling ~40% of the time; a scaled one only at its peaks
    assert np.sum(np.abs(mix) >= CEILING - 1e-3) < len(mix) // 20
    block = mix[:FRAME]
    expected = tone(500, amplitude=1.6)[:FRAME]
    np.testing.assert_allclose(block, CEILING * expected / np.max(np.abs(expected)), atol=1e-5)


def test_quiet_sum_is_untouched():
    mixer = AudioMixer()
    quiet = tone(300, amplitude=0.3)
    mixer.add(1, quiet, 0)
    mix = samples_of(mixer.pop_until(RATE))
    np.testing.assert_array_equal(mix, quiet[: (RATE // FRAME) * FRAME])


def test_gain_turns_down_a_frame_early_and_recovers_smoothly():
    mixer = AudioMixer()  # 375 Hz: 4 frames are whole periods, so the two tones add up
    mixer.add(1, tone(375, amplitude=0.5), 0)
    mixer.add(2, tone(375, amplitude=0.8)[: 2 * FRAME], 4 * FRAME)  # loud for two frames
    mix = samples_of(mixer.pop_until(RATE))
    assert np.max(np.abs(mix)) <= CEILING + 1e-6
    gain = mix / np.where(np.abs(tone(375, amplitude=0.5)[: len(mix)]) > 0.05,
                          tone(375, amplitude=0.5)[: len(mix)], np.nan)
    assert np.nanmax(np.abs(gain[: 3 * FRAME] - 1.0)) < 1e-4  # untouched until the frame before
    assert np.nanmin(gain[3 * FRAME : 4 * FRAME]) < 0.95  # turning down ahead of the loud frames
    steps = np.abs(np.diff(gain[3 * FRAME : (7 + RELEASE_FRAMES) * FRAME]))
    assert np.nanmax(steps) < 0.02  # no gain step: the envelope is a ramp, not a click
    assert np.nanmax(np.abs(gain[(7 + RELEASE_FRAMES) * FRAME :] - 1.0)) < 1e-4  # back to unity


def test_audio_whose_head_came_too_late_fades_in():
    mixer = AudioMixer()
    mixer.pop_until(2 * FRAME)  # emitted while user 1's first chunk was on its way
    mixer.add(1, np.full(4 * FRAME, 0.5, np.float32), FRAME)
    mix = samples_of(mixer.pop_until(5 * FRAME))
    assert mix[0] == 0.0 and np.all(np.diff(mix[:FADE_IN]) > 0)
    np.testing.assert_allclose(mix[FADE_IN:], 0.5)


def test_gap_is_silence():
    mixer = AudioMixer()
    mixer.add(1, tone(440, FRAME / RATE), 0)
    mixer.add(1, tone(440, FRAME / RATE), 3 * FRAME)
    frames = mixer.pop_until(4 * FRAME)
    levels = [np.max(np.abs(f.to_ndarray())) for f in frames]
    assert levels[0] > 0.4 and levels[3] > 0.4
    assert levels[1] == 0.0 and levels[2] == 0.0


def test_nothing_added_is_silence():
    frames = AudioMixer().pop_until(2 * FRAME)
    assert len(frames) == 2 and not samples_of(frames).any()


def test_late_and_overlapping_audio_is_not_mixed_twice():
    mixer = AudioMixer()
    ones = np.ones(FRAME, np.float32) * 0.25
    mixer.add(1, ones, 0)
    mixer.add(1, ones, FRAME // 2)  # first half overlaps user 1's previous chunk
    mixer.pop_until(FRAME)
    mixer.add(2, ones, 0)  # entirely before the emitted position
    second = samples_of(mixer.pop_until(2 * FRAME))
    np.testing.assert_allclose(second[FADE_IN : FRAME // 2], 0.25)
    assert np.all(np.diff(second[:FADE_IN]) > 0)  # the cut head fades in: no step
    assert not second[FRAME // 2 :].any()


def test_flush_pads_the_last_frame():
    mixer = AudioMixer()
    mixer.add(1, np.full(FRAME + 10, 0.5, np.float32), 0)
    frames = mixer.flush()
    assert [f.pts for f in frames] == [0, FRAME]
    last = frames[1].to_ndarray()[0]
    assert last[:10].tolist() == [0.5] * 10 and not last[10:].any()


def test_stereo_output_duplicates_the_mix():
    mixer = AudioMixer(channels=2)
    mixer.add(1, tone(440, 0.05), 0)
    frame = mixer.pop_until(FRAME)[0]
    planes = frame.to_ndarray()
    assert frame.layout.name == "stereo"
    np.testing.assert_array_equal(planes[0], planes[1])


def test_invalid_channel_count():
    with pytest.raises(ValueError):
        AudioMixer(channels=6)


def encode_aac(frames):
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="adts") as container:
        stream = container.add_stream("aac", rate=RATE, layout="mono")
        for frame in frames + [None]:
            container.mux(stream.encode(frame))
    buffer.seek(0)
    return buffer


def test_mix_encodes_as_aac_and_decodes_to_the_tone():
    mixer = AudioMixer()
    mixer.add(1, tone(1000), 0)
    with av.open(encode_aac(mixer.pop_until(RATE))) as container:
        decoded = samples_of(container.decode(audio=0))
    assert abs(len(decoded) - RATE) < 3 * FRAME
    assert spectrum_peaks(decoded[4096:28672], 1) == [1000]


def user_frame(freq, rate, samples):
    t = np.arange(samples) / rate
    wave = (0.5 * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)
    frame = av.AudioFrame.from_ndarray(
        np.stack([wave, wave]).T.reshape(1, -1), format="s16", layout="stereo"
    )
    frame.sample_rate = rate
    return frame


