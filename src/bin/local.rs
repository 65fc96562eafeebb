//! Runs the real handler on one event file with embedded adapters: profiles from a JSON
//! fixture, tokens in a JSON file, and the email written to an outbox folder. No AWS
//! account, no emulator and no network are involved.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::Value;

use reset_mailer::embedded::{demo_settings, FixtureProfiles, MemoryTokens, Outbox, DEFAULT_PROFILES};
use reset_mailer::reset::App;
use reset_mailer::trigger::handle_event;

const USAGE: &str = "\
Usage: reset-mailer-local [--profiles FILE] [--out DIR] EVENT_FILE

Runs the reset-mailer handler on EVENT_FILE (any file in events/) with local stand-ins for
DynamoDB and SES, prints the function result and shows the email that was sent.

Options:
  --profiles FILE  profiles fixture, {\"profiles\": [...]} (default: the built-in fixtures/profiles.json)
  --out DIR        folder for tokens.json and the sent emails (default: out/demo)

Settings come from EMAIL_FROM, RESET_URL_BASE, APP_NAME and MAX_TTL_MINUTES when set,
with demo values otherwise.";

struct Options {
    event_file: PathBuf,
    profiles_file: Option<PathBuf>,
    out_dir: PathBuf,
}

fn parse_args() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut event_file = None;
    let mut profiles_file = None;
    let mut out_dir = PathBuf::from("out/demo");

    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--profiles" => profiles_file = Some(PathBuf::from(args.next().ok_or("--profiles needs a file")?)),
            "--out" => out_dir = PathBuf::from(args.next().ok_or("--out needs a folder")?),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            _ if event_file.is_some() => return Err("give exactly one event file".into()),
            _ => event_file = Some(PathBuf::from(arg)),
        }
    }
    let event_file = event_file.ok_or("missing EVENT_FILE")?;
    Ok(Options { event_file, profiles_file, out_dir })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(problem) if problem.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("error: {problem}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("error: {problem}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> Result<(), String> {
    reset_mailer::telemetry::init();

    let event_text = std::fs::read_to_string(&options.event_file)
        .map_err(|err| format!("cannot read {}: {err}", options.event_file.display()))?;
    let event: Value = serde_json::from_str(&event_text)
        .map_err(|err| format!("{} is not valid JSON: {err}", options.event_file.display()))?;

    let profiles_json = match &options.profiles_file {
        Some(file) => std::fs::read_to_string(file).map_err(|err| format!("cannot read {}: {err}", file.display()))?,
        None => DEFAULT_PROFILES.to_string(),
    };
    let profiles = FixtureProfiles::from_json(&profiles_json)?;

    std::fs::create_dir_all(&options.out_dir)
        .map_err(|err| format!("cannot create {}: {err}", options.out_dir.display()))?;
    let tokens = Arc::new(MemoryTokens::with_file(options.out_dir.join("tokens.json"))?);
    let outbox = Arc::new(Outbox::with_folder(options.out_dir.clone()));

    let settings = demo_settings().map_err(|err| err.to_string())?;
    let link_prefix = settings.reset_url_base.as_str().to_owned();
    let app = App::new(settings, Arc::new(profiles), tokens, outbox.clone());

    match handle_event(&app, event).await {
        Ok(result) => println!("Function result:\n{}", serde_json::to_string_pretty(&result).unwrap_or_default()),
        Err(failure) => println!("Invocation error (Lambda would retry this event):\n{failure}"),
    }

    let sent = outbox.sent();
    if sent.is_empty() {
        println!("\nNo email was sent.");
    }
    for (index, email) in sent.iter().enumerate() {
        let eml = Outbox::message_path(&options.out_dir, index + 1, "eml");
        let html = Outbox::message_path(&options.out_dir, index + 1, "html");
        let link = email.text.lines().find(|line| line.starts_with(&link_prefix)).unwrap_or("");
        println!("\nEmail sent to {} (saved as {} and {})", email.to.as_str(), eml.display(), html.display());
        println!("Subject: {}\n\n{}", email.subject, email.text);
        println!("Reset link: {link}");
        println!("Token item: {}", options.out_dir.join("tokens.json").display());
    }
    Ok(())
}
