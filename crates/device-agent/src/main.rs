//! `mi-device-agent`: plays a phone against identity and the device registry. A thin command
//! line over [`mi_device_agent::Agent`]; `--help` lists the commands.

mod prompt;
mod screen;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use mi_device_agent::{
    ActionKind, Agent, Endpoints, PhoneDescription, Position, RunEnd, RunOptions, Walk,
};
use mi_proto::device::v1::{Device, NetworkType};
use secrecy::SecretString;

#[derive(Debug, Parser)]
#[command(
    name = "mi-device-agent",
    version,
    about = "The reference device agent: plays a phone for Find Device",
    long_about = "The reference device agent: plays a phone for Find Device. It signs in with a \
                  device key it makes, enrolls, turns Find Device on or off, reports where it is, \
                  and keeps the command channel open, obeying each command as a phone would. \
                  Passwords come from an environment variable or a prompt, never the command line."
)]
struct Cli {
    /// The state file: session, device id, private key, acknowledged commands (created 0600).
    #[arg(long, env = "MI_AGENT_STATE")]
    state: PathBuf,
    /// Identity's URL.
    #[arg(
        long,
        global = true,
        env = "MI_AGENT_IDENTITY",
        default_value = "http://127.0.0.1:50051"
    )]
    identity: String,
    /// The device registry's URL.
    #[arg(
        long,
        global = true,
        env = "MI_AGENT_REGISTRY",
        default_value = "http://127.0.0.1:50054"
    )]
    registry: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Signs in with a new device key (or the state's) and saves the session.
    SignIn {
        /// A Mi ID, a phone number with its country code, or an email address.
        #[arg(long)]
        identifier: String,
        /// The environment variable holding the password; without it, a prompt asks.
        #[arg(long)]
        password_env: Option<String>,
        /// The environment variable holding the second-factor code (an authenticator code, a
        /// recovery code or a verification token); without it, a prompt asks if needed.
        #[arg(long)]
        code_env: Option<String>,
        /// The device model.
        #[arg(long, default_value = "Mi Device Agent")]
        model: String,
        /// The operating system.
        #[arg(long, default_value = concat!("mi-device-agent ", env!("CARGO_PKG_VERSION")))]
        os: String,
        /// The device's name.
        #[arg(long, default_value = "My phone")]
        name: String,
        /// The serial number; only its SHA-256 is sent, as the hardware id.
        #[arg(long)]
        serial: Option<String>,
        /// The push provider's token.
        #[arg(long, default_value = "")]
        push_token: String,
    },
    /// Enrolls the device key again with EnrollDevice (proves the password first).
    Enroll {
        /// The environment variable holding the password; without it, a prompt asks.
        #[arg(long)]
        password_env: Option<String>,
    },
    /// Tells the registry the device is alive, with its battery and network.
    ReportStatus {
        /// Battery level, 0 to 100.
        #[arg(long)]
        battery: Option<u32>,
        /// How the device reaches the network.
        #[arg(long, value_enum, default_value = "wifi")]
        network: Network,
    },
    /// Turns Find Device on, or off (which needs the password).
    FindDevice {
        /// On or off.
        #[arg(value_enum)]
        switch: Switch,
        /// For off: the environment variable holding the password; without it, a prompt asks.
        #[arg(long)]
        password_env: Option<String>,
    },
    /// Moves the phone to a place and reports it.
    ReportLocation {
        /// Latitude, -90 to 90.
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        /// Longitude, -180 to 180.
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
        /// Accuracy in metres.
        #[arg(long, default_value_t = 10.0)]
        accuracy: f64,
    },
    /// Walks in a line, reporting a location every few seconds.
    Walk {
        /// Where to start (default: where the phone is).
        #[arg(long, allow_hyphen_values = true, requires = "from_lon")]
        from_lat: Option<f64>,
        /// Where to start (default: where the phone is).
        #[arg(long, allow_hyphen_values = true, requires = "from_lat")]
        from_lon: Option<f64>,
        /// Where to go.
        #[arg(long, allow_hyphen_values = true)]
        to_lat: f64,
        /// Where to go.
        #[arg(long, allow_hyphen_values = true)]
        to_lon: f64,
        /// How many reports.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
        steps: u32,
        /// Seconds between two reports.
        #[arg(long, default_value_t = 5)]
        every: u64,
        /// Accuracy in metres.
        #[arg(long, default_value_t = 10.0)]
        accuracy: f64,
    },
    /// Keeps the command channel open and obeys commands until Ctrl-C or an erase.
    Run {
        /// Answer NOT_NOW once to the first command of this kind (repeatable).
        #[arg(long, value_enum)]
        not_now: Vec<ActionKind>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Switch {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Network {
    Wifi,
    Cellular,
    Ethernet,
}

impl From<Network> for NetworkType {
    fn from(network: Network) -> Self {
        match network {
            Network::Wifi => Self::Wifi,
            Network::Cellular => Self::Cellular,
            Network::Ethernet => Self::Ethernet,
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let agent = Agent::new(
        &cli.state,
        Endpoints {
            identity: cli.identity,
            registry: cli.registry,
        },
    );
    match cli.command {
        Command::SignIn {
            identifier,
            password_env,
            code_env,
            model,
            os,
            name,
            serial,
            push_token,
        } => {
            let password = password(password_env.as_deref())?;
            let phone = PhoneDescription {
                model,
                os,
                name,
                serial,
                push_token,
            };
            let state = agent
                .sign_in(&identifier, &password, &phone, |challenge| async move {
                    let methods: Vec<String> = challenge
                        .methods()
                        .map(|method| format!("{method:?}"))
                        .collect();
                    secret_or_prompt(
                        code_env.as_deref(),
                        &format!("second factor ({}): ", methods.join(", ")),
                    )
                    .map(|code| secrecy::ExposeSecret::expose_secret(&code).to_owned())
                })
                .await?;
            say(&format!(
                "signed in to Mi ID {} as device {}; state saved in {}",
                state.mi_id,
                state.device.device_id,
                cli.state.display()
            ));
        }
        Command::Enroll { password_env } => {
            let device = agent.enroll(&password(password_env.as_deref())?).await?;
            say(&format!("enrolled: {}", describe(&device)));
        }
        Command::ReportStatus { battery, network } => {
            let seen = agent.report_status(battery, network.into()).await?;
            let seen_secs = seen.last_seen_time.map_or(0, |time| time.seconds);
            say(&format!(
                "status reported; the registry saw the device at {seen_secs} (Unix seconds)"
            ));
        }
        Command::FindDevice {
            switch,
            password_env,
        } => {
            let device = match switch {
                Switch::On => agent.set_find_device(true, None).await?,
                Switch::Off => {
                    let password = password(password_env.as_deref())?;
                    agent.set_find_device(false, Some(&password)).await?
                }
            };
            say(&format!("Find Device switched: {}", describe(&device)));
        }
        Command::ReportLocation { lat, lon, accuracy } => {
            let accepted = agent
                .report_location(Position {
                    latitude: lat,
                    longitude: lon,
                    accuracy_meters: accuracy,
                })
                .await?;
            say(&format!("location reported; the registry kept {accepted}"));
        }
        Command::Walk {
            from_lat,
            from_lon,
            to_lat,
            to_lon,
            steps,
            every,
            accuracy,
        } => {
            let from = match from_lat.zip(from_lon) {
                Some((latitude, longitude)) => Position {
                    latitude,
                    longitude,
                    accuracy_meters: accuracy,
                },
                None => agent
                    .state_file()
                    .load()?
                    .position
                    .context("the phone has no position yet: give --from-lat and --from-lon")?,
            };
            let walk = Walk {
                from,
                to: Position {
                    latitude: to_lat,
                    longitude: to_lon,
                    accuracy_meters: accuracy,
                },
                steps,
                every: Duration::from_secs(every),
            };
            agent
                .walk(walk, |position| {
                    say(&format!(
                        "walked to {}, {}",
                        position.latitude, position.longitude
                    ));
                })
                .await?;
        }
        Command::Run { not_now } => {
            let (did, done) = tokio::sync::mpsc::unbounded_channel::<mi_device_agent::Did>();
            let printer = tokio::spawn(screen::show(done));
            let options = RunOptions {
                not_now,
                ..RunOptions::default()
            };
            let stop = async {
                // Without a Ctrl-C handler the agent runs until killed, which is fine too.
                let _ = tokio::signal::ctrl_c().await;
            };
            let end = agent.run_until(&options, stop, did).await?;
            printer.await.context("the printer stopped")?;
            if end == RunEnd::Erased {
                say("erased; exiting");
            }
        }
    }
    Ok(())
}

/// What a phone shows: this program's output.
#[allow(clippy::print_stdout)]
fn say(line: &str) {
    println!("{line}");
}

fn describe(device: &Device) -> String {
    let id = device
        .info
        .as_ref()
        .map_or("?", |info| info.device_id.as_str());
    format!(
        "device {id}, enrolled {}, Find Device {}",
        device.enrolled,
        if device.find_device_enabled {
            "on"
        } else {
            "off"
        }
    )
}

fn password(env: Option<&str>) -> anyhow::Result<SecretString> {
    secret_or_prompt(env, "password: ")
}

/// The value of the environment variable `env` if named, else what the person types after
/// `question` (without echo on a terminal).
fn secret_or_prompt(env: Option<&str>, question: &str) -> anyhow::Result<SecretString> {
    match env {
        Some(name) => std::env::var(name)
            .map(SecretString::from)
            .with_context(|| format!("the environment variable {name} is not set")),
        None => prompt::hidden(question).map(SecretString::from),
    }
}
