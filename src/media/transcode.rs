//! The media processor: any accepted audio (WAV, MP3, Ogg Vorbis, FLAC) in,
//! a telephony-ready mono WAV out.
//!
//! symphonia decodes, channels are averaged to mono, rubato resamples (FFT
//! resampler: exact for the fixed ratios telephony needs, and fast), and hound
//! writes 16-bit PCM. hound cannot write G.711, so the µ-law variant writes
//! its small header here and encodes each sample with the G.711 formula.

use std::io::Cursor;

use rubato::{FftFixedIn, Resampler};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// The telephony format a media file is produced in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// 8 kHz mono 16-bit linear PCM: what every SIP leg can take (the default).
    Pcm8k,
    /// 16 kHz mono 16-bit linear PCM, for wideband (G.722, Opus) legs.
    Pcm16k,
    /// 8 kHz mono G.711 µ-law, half the size; FreeSWITCH plays it natively.
    Ulaw,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Pcm8k, Format::Pcm16k, Format::Ulaw];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pcm8k => "pcm8k",
            Format::Pcm16k => "pcm16k",
            Format::Ulaw => "ulaw",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }

    pub fn sample_rate(self) -> u32 {
        match self {
            Format::Pcm8k | Format::Ulaw => 8_000,
            Format::Pcm16k => 16_000,
        }
    }
}

/// A finished telephony file, still in memory.
#[derive(Debug, Clone)]
pub struct Transcoded {
    pub wav: Vec<u8>,
    pub frames: u64,
    pub format: Format,
}

impl Transcoded {
    pub fn duration_ms(&self) -> u64 {
        self.frames * 1000 / u64::from(self.format.sample_rate())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    #[error("not a supported audio stream: {0}")]
    Unsupported(String),
    #[error("the audio is corrupt: {0}")]
    Corrupt(String),
    #[error("the audio holds no samples")]
    Empty,
}

/// Decodes `input` (its container guessed from the bytes, helped by
/// `mime_type`) and writes it in `format`. CPU-bound: run it off the async runtime.
pub fn transcode(
    input: Vec<u8>,
    mime_type: Option<&str>,
    format: Format,
) -> Result<Transcoded, TranscodeError> {
    let mut hint = Hint::new();
    if let Some(mime) = mime_type {
        hint.mime_type(mime);
    }
    let stream = MediaSourceStream::new(Box::new(Cursor::new(input)), Default::default());
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            // Trims encoder delay and padding (LAME/Vorbis), so durations are exact.
            &FormatOptions {
                enable_gapless: true,
                ..FormatOptions::default()
            },
            &MetadataOptions::default(),
        )
        .map_err(|e| TranscodeError::Unsupported(e.to_string()))?;
    let mut reader = probed.format;
    let track = reader
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| TranscodeError::Unsupported("no audio track".into()))?;
    let track_id = track.id;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| TranscodeError::Unsupported(e.to_string()))?;

    let mut sink: Option<MonoSink> = None;
    let mut interleaved: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match reader.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            Err(e) => return Err(TranscodeError::Corrupt(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(decoded) => decoded,
            // One damaged frame (common at the start of MP3s) is skipped, as players do.
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(e) => return Err(TranscodeError::Corrupt(e.to_string())),
        };
        let spec = *decoded.spec();
        let channels = spec.channels.count().max(1);
        if decoded.frames() == 0 {
            continue;
        }
        let buffer = match &mut interleaved {
            Some(buffer) if buffer.capacity() >= decoded.capacity() * channels => buffer,
            slot => slot.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
        };
        buffer.copy_interleaved_ref(decoded);
        let sink = match &mut sink {
            Some(sink) => sink,
            slot => slot.insert(MonoSink::new(spec.rate, format)?),
        };
        sink.push_interleaved(buffer.samples(), channels)?;
    }
    let sink = sink.ok_or(TranscodeError::Empty)?;
    sink.finish()
}

/// Takes mono samples at the source rate, resamples them in fixed chunks, and
/// collects 16-bit output.
struct MonoSink {
    resampler: Option<FftFixedIn<f32>>,
    pending: Vec<f32>,
    resampled: Vec<Vec<f32>>,
    output: Vec<i16>,
    input_frames: u64,
    input_rate: u32,
    format: Format,
}

const CHUNK: usize = 1024;

impl MonoSink {
    fn new(input_rate: u32, format: Format) -> Result<MonoSink, TranscodeError> {
        let output_rate = format.sample_rate();
        let resampler = if input_rate == output_rate {
            None
        } else {
            Some(
                FftFixedIn::<f32>::new(input_rate as usize, output_rate as usize, CHUNK, 2, 1)
                    .map_err(|e| TranscodeError::Unsupported(e.to_string()))?,
            )
        };
        let out_max = resampler.as_ref().map_or(0, |r| r.output_frames_max());
        Ok(MonoSink {
            resampler,
            pending: Vec::with_capacity(CHUNK * 2),
            resampled: vec![vec![0.0; out_max]],
            output: Vec::new(),
            input_frames: 0,
            input_rate,
            format,
        })
    }

    fn push_interleaved(&mut self, samples: &[f32], channels: usize) -> Result<(), TranscodeError> {
        let scale = 1.0 / channels as f32;
        self.pending.extend(
            samples
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() * scale),
        );
        self.input_frames += (samples.len() / channels) as u64;
        self.drain(false)
    }

    fn drain(&mut self, last: bool) -> Result<(), TranscodeError> {
        let Some(resampler) = &mut self.resampler else {
            self.output.extend(self.pending.drain(..).map(to_i16));
            return Ok(());
        };
        let mut used = 0;
        while self.pending.len() - used >= CHUNK || (last && used < self.pending.len()) {
            let chunk = &self.pending[used..(used + CHUNK).min(self.pending.len())];
            let (_, written) = if chunk.len() == CHUNK {
                resampler.process_into_buffer(&[chunk], &mut self.resampled, None)
            } else {
                resampler.process_partial_into_buffer(Some(&[chunk]), &mut self.resampled, None)
            }
            .map_err(|e| TranscodeError::Corrupt(e.to_string()))?;
            self.output
                .extend(self.resampled[0][..written].iter().copied().map(to_i16));
            used += chunk.len();
        }
        self.pending.drain(..used);
        Ok(())
    }

    fn finish(mut self) -> Result<Transcoded, TranscodeError> {
        self.drain(true)?;
        let output_rate = u64::from(self.format.sample_rate());
        let wanted =
            (self.input_frames * output_rate).div_ceil(u64::from(self.input_rate)) as usize;
        if let Some(resampler) = &mut self.resampler {
            // The resampler lags by its delay: flush it, then drop the lead-in.
            let delay = resampler.output_delay();
            while self.output.len() < wanted + delay {
                let (_, written) = resampler
                    .process_partial_into_buffer(None::<&[Vec<f32>]>, &mut self.resampled, None)
                    .map_err(|e| TranscodeError::Corrupt(e.to_string()))?;
                if written == 0 {
                    break;
                }
                self.output
                    .extend(self.resampled[0][..written].iter().copied().map(to_i16));
            }
            self.output.drain(..delay.min(self.output.len()));
        }
        self.output.truncate(wanted);
        if self.output.is_empty() {
            return Err(TranscodeError::Empty);
        }
        let wav = match self.format {
            Format::Pcm8k | Format::Pcm16k => write_pcm(&self.output, self.format.sample_rate()),
            Format::Ulaw => write_ulaw(&self.output),
        };
        Ok(Transcoded {
            wav,
            frames: self.output.len() as u64,
            format: self.format,
        })
    }
}

fn to_i16(sample: f32) -> i16 {
    (sample.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16
}

fn write_pcm(samples: &[i16], rate: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    {
        let mut writer = hound::WavWriter::new(&mut out, spec).expect("writing to memory");
        let mut fast = writer.get_i16_writer(samples.len() as u32);
        for &s in samples {
            fast.write_sample(s);
        }
        fast.flush().expect("writing to memory");
        writer.finalize().expect("writing to memory");
    }
    out.into_inner()
}

/// A WAVE_FORMAT_MULAW file: `fmt ` with cbSize, the `fact` chunk the format
/// requires for non-PCM data, then one byte per sample.
fn write_ulaw(samples: &[i16]) -> Vec<u8> {
    let data_len = samples.len() as u32;
    let pad = data_len % 2;
    let mut out = Vec::with_capacity(58 + samples.len() + 1);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(4 + 26 + 12 + 8 + data_len + pad).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&18u32.to_le_bytes());
    out.extend_from_slice(&7u16.to_le_bytes()); // WAVE_FORMAT_MULAW
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&8_000u32.to_le_bytes());
    out.extend_from_slice(&8_000u32.to_le_bytes()); // bytes per second
    out.extend_from_slice(&1u16.to_le_bytes()); // block align
    out.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(&0u16.to_le_bytes()); // cbSize
    out.extend_from_slice(b"fact");
    out.extend_from_slice(&4u32.to_le_bytes());
    out.extend_from_slice(&data_len.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    out.extend(samples.iter().map(|&s| linear_to_ulaw(s)));
    if pad == 1 {
        out.push(0);
    }
    out
}

/// G.711 µ-law encoding of one 16-bit sample.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32_635;
    let mut value = i32::from(sample);
    let sign = if value < 0 {
        value = -value;
        0x80
    } else {
        0
    };
    value = value.min(CLIP) + BIAS;
    // The segment is the position of the highest set bit above bit 7.
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && value & mask == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (value >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The G.711 µ-law decoder from the standard, to check the encoder against.
    fn ulaw_to_linear(byte: u8) -> i32 {
        let byte = !byte;
        let sign = byte & 0x80;
        let exponent = i32::from((byte >> 4) & 0x07);
        let mantissa = i32::from(byte & 0x0F);
        let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
        if sign != 0 {
            -magnitude
        } else {
            magnitude
        }
    }

    #[test]
    fn mu_law_matches_the_g711_reference_points() {
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_ulaw(-1), 0x7F);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        // Encoding then decoding stays within the quantisation step of each segment.
        for sample in (-32_000..32_000).step_by(97) {
            let back = ulaw_to_linear(linear_to_ulaw(sample as i16));
            let step = (i32::abs(sample) / 16).max(8);
            assert!((back - sample).abs() <= step, "{sample} -> {back}");
        }
    }

    #[test]
    fn a_44k_stereo_wav_becomes_8k_mono_of_the_same_length() {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut input = Cursor::new(Vec::new());
        {
            let mut w = hound::WavWriter::new(&mut input, spec).unwrap();
            for n in 0..44_100 {
                let s =
                    ((n as f32 * 440.0 * std::f32::consts::TAU / 44_100.0).sin() * 16_000.0) as i16;
                w.write_sample(s).unwrap();
                w.write_sample(s).unwrap();
            }
            w.finalize().unwrap();
        }
        let out = transcode(input.into_inner(), Some("audio/wav"), Format::Pcm8k).unwrap();
        assert_eq!(out.frames, 8_000);
        assert_eq!(out.duration_ms(), 1_000);
        let reader = hound::WavReader::new(Cursor::new(out.wav)).unwrap();
        assert_eq!(reader.spec().sample_rate, 8_000);
        assert_eq!(reader.spec().channels, 1);
        let samples: Vec<i16> = reader.into_samples().map(Result::unwrap).collect();
        let peak = samples[800..7_200]
            .iter()
            .map(|s| s.unsigned_abs())
            .max()
            .unwrap();
        assert!((15_000..17_000).contains(&peak), "peak {peak}");
    }

    #[test]
    fn garbage_is_refused_as_unsupported() {
        let err = transcode(b"<html>nope</html>".to_vec(), None, Format::Pcm8k).unwrap_err();
        assert!(matches!(err, TranscodeError::Unsupported(_)), "{err}");
    }
}
