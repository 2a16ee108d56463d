//! Trims a recording's leading and trailing silence: Twilio's
//! `trim-silence`, for `<Record>`, `<Dial record>` and recorded API calls.
//!
//! Silence is what FreeSWITCH's `record` takes for silence when it ends a
//! recording on it: frames whose mean absolute amplitude is under a
//! threshold ([`SILENCE_THRESHOLD`], the one the router passes to `record`).
//! A frame is voiced when any channel is, so a two-party recording keeps
//! whichever side speaks first and last.

use std::io::BufWriter;
use std::path::Path;

/// Mean absolute amplitude (of 32767) under which a frame is silent.
pub const SILENCE_THRESHOLD: u32 = 200;

/// The frame silence is judged over, in milliseconds.
const FRAME_MS: u32 = 20;

/// Cuts the leading and trailing silence out of the 16-bit PCM WAV at `path`,
/// in place, and answers how many sample frames are left (0 when it was all
/// silence). Another kind of WAV is left as it is.
pub fn trim_silence(path: &Path) -> Result<u32, hound::Error> {
    let mut reader = hound::WavReader::open(path)?;
    let spec = reader.spec();
    if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 {
        return Ok(reader.duration());
    }
    let samples = reader
        .samples::<i16>()
        .collect::<Result<Vec<i16>, hound::Error>>()?;
    let channels = usize::from(spec.channels.max(1));
    let Some(voiced) = voiced_span(&samples, channels, spec.sample_rate) else {
        return rewrite(path, spec, &[]).map(|()| 0);
    };
    if voiced.len() == samples.len() {
        return Ok(reader.duration());
    }
    let kept = &samples[voiced];
    rewrite(path, spec, kept)?;
    Ok((kept.len() / channels) as u32)
}

/// The interleaved samples from the first voiced frame to the end of the
/// last, or `None` when no frame is voiced.
fn voiced_span(
    samples: &[i16],
    channels: usize,
    sample_rate: u32,
) -> Option<std::ops::Range<usize>> {
    let frame = (sample_rate * FRAME_MS / 1000).max(1) as usize * channels;
    let voiced = |chunk: &[i16]| {
        (0..channels).any(|c| {
            let (sum, count) = chunk
                .iter()
                .skip(c)
                .step_by(channels)
                .fold((0u64, 0u64), |(sum, count), s| {
                    (sum + u64::from(s.unsigned_abs()), count + 1)
                });
            count > 0 && sum >= u64::from(SILENCE_THRESHOLD) * count
        })
    };
    let frames = samples.len().div_ceil(frame);
    let first = (0..frames).find(|&i| voiced(frame_at(samples, frame, i)))?;
    let last = (first..frames)
        .rev()
        .find(|&i| voiced(frame_at(samples, frame, i)))?;
    Some(first * frame..((last + 1) * frame).min(samples.len()))
}

fn frame_at(samples: &[i16], frame: usize, i: usize) -> &[i16] {
    &samples[i * frame..((i + 1) * frame).min(samples.len())]
}

/// Replaces the file with `samples`, through a sibling file renamed over it
/// so a reader never sees half a recording.
fn rewrite(path: &Path, spec: hound::WavSpec, samples: &[i16]) -> Result<(), hound::Error> {
    let partial = path.with_extension("trim.wav");
    let written = (|| {
        let file = BufWriter::new(std::fs::File::create(&partial)?);
        let mut writer = hound::WavWriter::new(file, spec)?;
        let mut pcm = writer.get_i16_writer(samples.len() as u32);
        for &s in samples {
            pcm.write_sample(s);
        }
        pcm.flush()?;
        writer.finalize()?;
        std::fs::rename(&partial, path)?;
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 8000;

    fn tone(ms: u32, amplitude: f64) -> Vec<i16> {
        (0..RATE * ms / 1000)
            .map(|i| {
                let t = f64::from(i) / f64::from(RATE);
                ((t * 440.0 * std::f64::consts::TAU).sin() * amplitude) as i16
            })
            .collect()
    }

    fn silence(ms: u32) -> Vec<i16> {
        vec![0; (RATE * ms / 1000) as usize]
    }

    fn write(path: &Path, channels: u16, samples: &[i16]) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for &s in samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
    }

    fn read(path: &Path) -> (hound::WavSpec, Vec<i16>) {
        let mut r = hound::WavReader::open(path).unwrap();
        let samples = r.samples::<i16>().map(Result::unwrap).collect();
        (r.spec(), samples)
    }

    #[test]
    fn silence_before_and_after_the_voice_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("RE1.wav");
        let voice = tone(1000, 8000.0);
        let samples = [silence(1500), voice.clone(), silence(2000)].concat();
        write(&path, 1, &samples);

        let frames = trim_silence(&path).unwrap();

        let (spec, kept) = read(&path);
        assert_eq!(spec.sample_rate, RATE);
        assert_eq!(frames as usize, kept.len());
        // Whole frames around the voice: at most one frame of slack each side.
        let slack = (RATE * FRAME_MS / 1000) as usize;
        assert!(kept.len() >= voice.len() - slack, "{}", kept.len());
        assert!(kept.len() <= voice.len() + 2 * slack, "{}", kept.len());
        assert!(!dir.path().join("RE1.trim.wav").exists());
    }

    #[test]
    fn quiet_noise_counts_as_silence_and_an_all_silent_file_becomes_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("RE2.wav");
        // Line noise well under the threshold.
        write(&path, 1, &tone(3000, 100.0));
        assert_eq!(trim_silence(&path).unwrap(), 0);
        let (_, kept) = read(&path);
        assert!(kept.is_empty());
    }

    #[test]
    fn a_recording_without_silence_is_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("RE3.wav");
        let voice = tone(500, 8000.0);
        write(&path, 1, &voice);
        let before = std::fs::read(&path).unwrap();
        assert_eq!(trim_silence(&path).unwrap() as usize, voice.len());
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn a_stereo_recording_keeps_from_either_side_first_voiced_to_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("RE4.wav");
        // Left speaks 1-2 s, right 2.5-3 s; silence around both.
        let left = [silence(1000), tone(1000, 8000.0), silence(2000)].concat();
        let right = [silence(2500), tone(500, 8000.0), silence(1000)].concat();
        let interleaved: Vec<i16> = left
            .iter()
            .zip(&right)
            .flat_map(|(l, r)| [*l, *r])
            .collect();
        write(&path, 2, &interleaved);

        let frames = trim_silence(&path).unwrap();

        let (spec, kept) = read(&path);
        assert_eq!(spec.channels, 2);
        assert_eq!(kept.len(), 2 * frames as usize);
        let ms = frames * 1000 / RATE;
        assert!((1980..=2040).contains(&ms), "{ms} ms kept");
        // Channels stay paired: the left voice opens the recording.
        assert!(kept
            .iter()
            .step_by(2)
            .take(160)
            .any(|s| s.unsigned_abs() > 1000));
    }
}
