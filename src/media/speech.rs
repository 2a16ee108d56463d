//! Text-to-speech: Twilio voice names mapped onto local engines run as
//! subprocesses (Debian's `flite` for English, `espeak-ng` for everything
//! else), behind a trait so a hosted engine can be added beside them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::process::Command;

use super::MediaError;

/// Twilio's `<Say>` limit.
pub const MAX_TEXT_CHARS: usize = 4_096;
const SYNTHESIS_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    Female,
    Male,
}

/// A Twilio voice name reduced to what local engines can honour.
pub fn gender_of(voice: &str) -> Result<Gender, MediaError> {
    let invalid = || MediaError::InvalidVoice {
        voice: voice.to_owned(),
    };
    match voice {
        "" | "woman" | "alice" => return Ok(Gender::Female),
        "man" => return Ok(Gender::Male),
        _ => {}
    }
    if let Some(name) = voice.strip_prefix("Polly.") {
        // `Polly.Matthew-Neural`, `Polly.Joanna-Generative`: the person is the first part.
        let person = name.split('-').next().unwrap_or_default();
        if person.is_empty() {
            return Err(invalid());
        }
        return Ok(if POLLY_MALE.contains(&person) {
            Gender::Male
        } else {
            Gender::Female
        });
    }
    if let Some(name) = voice.strip_prefix("Google.") {
        // `Google.en-US-Standard-J`: Google's letter picks the speaker.
        let letter = name.rsplit('-').next().unwrap_or_default();
        if name.split('-').count() < 4 || letter.len() != 1 {
            return Err(invalid());
        }
        return Ok(if GOOGLE_MALE_LETTERS.contains(&letter) {
            Gender::Male
        } else {
            Gender::Female
        });
    }
    Err(invalid())
}

/// Amazon Polly's male voices; every other Polly voice is female.
const POLLY_MALE: &[&str] = &[
    "Matthew",
    "Joey",
    "Justin",
    "Kevin",
    "Stephen",
    "Gregory",
    "Brian",
    "Arthur",
    "Russell",
    "Geraint",
    "Mathieu",
    "Remi",
    "Liam",
    "Hans",
    "Daniel",
    "Giorgio",
    "Adriano",
    "Takumi",
    "Enrique",
    "Miguel",
    "Andres",
    "Pedro",
    "Sergio",
    "Ricardo",
    "Thiago",
    "Cristiano",
    "Maxim",
    "Jacek",
    "Jan",
    "Ruben",
    "Mads",
    "Karl",
    "Hyunsoo",
    "Zayd",
];

/// Google's en-US and most other locales use these letters for male speakers.
const GOOGLE_MALE_LETTERS: &[&str] = &["A", "B", "D", "I", "J"];

/// A speech synthesiser. `name` and the chosen voice go into every cache key,
/// so a change of engine never serves another engine's audio.
pub trait SpeechEngine: Send + Sync {
    fn name(&self) -> &str;
    /// The engine's voice for this gender and BCP-47 language, or `None` when
    /// it cannot speak the language.
    fn voice(&self, gender: Gender, language: &str) -> Option<String>;
    /// Speaks `text` in `voice`; the answer is a WAV (or any format the media
    /// processor decodes). `scratch` is a private directory for temporary files.
    fn synthesize<'a>(
        &'a self,
        text: &'a str,
        voice: &'a str,
        scratch: &'a Path,
    ) -> BoxFuture<'a, Result<Vec<u8>, MediaError>>;
}

/// CMU Flite: small, fast, English only.
pub struct Flite;

impl SpeechEngine for Flite {
    fn name(&self) -> &str {
        "flite"
    }

    fn voice(&self, gender: Gender, language: &str) -> Option<String> {
        let english = language.is_empty() || language.to_ascii_lowercase().starts_with("en");
        english.then(|| {
            match gender {
                Gender::Female => "slt",
                Gender::Male => "rms",
            }
            .to_owned()
        })
    }

    fn synthesize<'a>(
        &'a self,
        text: &'a str,
        voice: &'a str,
        scratch: &'a Path,
    ) -> BoxFuture<'a, Result<Vec<u8>, MediaError>> {
        Box::pin(async move {
            let files = Scratch::new(scratch);
            tokio::fs::write(&files.text, text)
                .await
                .map_err(|e| speech_error("flite", e))?;
            let mut command = Command::new("flite");
            command
                .arg("-voice")
                .arg(voice)
                .arg("-f")
                .arg(&files.text)
                .arg("-o")
                .arg(&files.audio);
            run("flite", command).await?;
            tokio::fs::read(&files.audio)
                .await
                .map_err(|e| speech_error("flite", e))
        })
    }
}

/// eSpeak NG: robotic but speaks about a hundred languages.
pub struct EspeakNg {
    languages: Vec<String>,
}

impl EspeakNg {
    /// Asks the installed `espeak-ng` which languages it has; none when it is missing.
    pub async fn detect() -> EspeakNg {
        let listed = Command::new("espeak-ng")
            .arg("--voices")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await;
        let languages = match listed {
            Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
                .lines()
                .skip(1)
                .filter_map(|line| line.split_whitespace().nth(1).map(str::to_ascii_lowercase))
                .collect(),
            _ => Vec::new(),
        };
        EspeakNg { languages }
    }

    fn language(&self, language: &str) -> Option<String> {
        let wanted = language.to_ascii_lowercase();
        let primary = wanted.split('-').next().unwrap_or_default();
        let alias = match primary {
            "zh" if wanted.ends_with("-hk") => "yue",
            "zh" => "cmn",
            "" => "en-us",
            other => other,
        };
        let found = [wanted.as_str(), alias]
            .into_iter()
            .find(|l| self.languages.iter().any(|known| known == l))
            .map(str::to_owned);
        found
    }
}

impl SpeechEngine for EspeakNg {
    fn name(&self) -> &str {
        "espeak-ng"
    }

    fn voice(&self, gender: Gender, language: &str) -> Option<String> {
        let variant = match gender {
            Gender::Female => "f3",
            Gender::Male => "m3",
        };
        self.language(language).map(|l| format!("{l}+{variant}"))
    }

    fn synthesize<'a>(
        &'a self,
        text: &'a str,
        voice: &'a str,
        scratch: &'a Path,
    ) -> BoxFuture<'a, Result<Vec<u8>, MediaError>> {
        Box::pin(async move {
            let files = Scratch::new(scratch);
            tokio::fs::write(&files.text, text)
                .await
                .map_err(|e| speech_error("espeak-ng", e))?;
            let mut command = Command::new("espeak-ng");
            command
                .arg("-v")
                .arg(voice)
                .arg("-f")
                .arg(&files.text)
                .arg("-w")
                .arg(&files.audio);
            run("espeak-ng", command).await?;
            tokio::fs::read(&files.audio)
                .await
                .map_err(|e| speech_error("espeak-ng", e))
        })
    }
}

/// Runs a synthesiser with a deadline; the child dies with the future.
async fn run(engine: &str, mut command: Command) -> Result<(), MediaError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().map_err(|e| speech_error(engine, e))?;
    let output = tokio::time::timeout(SYNTHESIS_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| MediaError::Speech {
            engine: engine.to_owned(),
            reason: format!("no answer within {} s", SYNTHESIS_TIMEOUT.as_secs()),
        })?
        .map_err(|e| speech_error(engine, e))?;
    if !output.status.success() {
        return Err(MediaError::Speech {
            engine: engine.to_owned(),
            reason: format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(())
}

fn speech_error(engine: &str, err: std::io::Error) -> MediaError {
    let reason = if err.kind() == std::io::ErrorKind::NotFound {
        format!("{engine} is not installed")
    } else {
        err.to_string()
    };
    MediaError::Speech {
        engine: engine.to_owned(),
        reason,
    }
}

/// A text file and an audio file for one synthesis, removed when dropped.
struct Scratch {
    text: PathBuf,
    audio: PathBuf,
}

impl Scratch {
    fn new(dir: &Path) -> Scratch {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Scratch {
            text: dir.join(format!("{id}.txt")),
            audio: dir.join(format!("{id}.tts.wav")),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.text);
        let _ = std::fs::remove_file(&self.audio);
    }
}

/// The configured engines, asked in order for a language.
pub struct Speech {
    engines: Vec<Box<dyn SpeechEngine>>,
}

impl Speech {
    pub fn new(engines: Vec<Box<dyn SpeechEngine>>) -> Speech {
        Speech { engines }
    }

    /// Builds the engines named in the configuration (`flite`, `espeak-ng`).
    pub async fn from_names(names: &[String]) -> Speech {
        let mut engines: Vec<Box<dyn SpeechEngine>> = Vec::new();
        for name in names {
            match name.as_str() {
                "flite" => engines.push(Box::new(Flite)),
                "espeak-ng" => engines.push(Box::new(EspeakNg::detect().await)),
                other => tracing::warn!(engine = other, "unknown speech engine ignored"),
            }
        }
        Speech { engines }
    }

    /// The first engine that speaks `language`: its index and its voice.
    pub fn choose(&self, gender: Gender, language: &str) -> Option<(usize, String)> {
        self.engines
            .iter()
            .enumerate()
            .find_map(|(i, e)| e.voice(gender, language).map(|v| (i, v)))
    }

    /// The engine at `index`, as returned by [`Speech::choose`].
    pub fn engine(&self, index: usize) -> &dyn SpeechEngine {
        self.engines[index].as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_voice_names_map_to_a_gender() {
        assert_eq!(gender_of("man").unwrap(), Gender::Male);
        assert_eq!(gender_of("woman").unwrap(), Gender::Female);
        assert_eq!(gender_of("alice").unwrap(), Gender::Female);
        assert_eq!(gender_of("Polly.Matthew-Neural").unwrap(), Gender::Male);
        assert_eq!(gender_of("Polly.Joanna").unwrap(), Gender::Female);
        assert_eq!(gender_of("Google.en-US-Standard-J").unwrap(), Gender::Male);
        assert_eq!(gender_of("Google.en-US-Neural2-F").unwrap(), Gender::Female);
        for bad in ["robot", "Polly.", "Google.x", "MAN"] {
            let err = gender_of(bad).unwrap_err();
            assert_eq!(err.code(), 13511, "{bad}");
        }
    }

    #[test]
    fn flite_speaks_english_only_and_espeak_finds_regional_languages() {
        assert_eq!(Flite.voice(Gender::Male, "en-GB").as_deref(), Some("rms"));
        assert_eq!(Flite.voice(Gender::Female, "fr-FR"), None);
        let espeak = EspeakNg {
            languages: vec!["en-us".into(), "fr-fr".into(), "de".into(), "cmn".into()],
        };
        assert_eq!(
            espeak.voice(Gender::Female, "fr-FR").as_deref(),
            Some("fr-fr+f3")
        );
        assert_eq!(
            espeak.voice(Gender::Male, "de-DE").as_deref(),
            Some("de+m3")
        );
        assert_eq!(
            espeak.voice(Gender::Male, "zh-CN").as_deref(),
            Some("cmn+m3")
        );
        assert_eq!(espeak.voice(Gender::Male, "xx-YY"), None);
    }
}
