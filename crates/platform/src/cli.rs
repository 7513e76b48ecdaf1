//! The command line every service binary takes: `--help`, `--version`, and `migrate`, which
//! runs the database migrations and exits (a Kubernetes Job before a rollout). Settings come
//! from `MI_*` variables and `mi-account.toml`, not from arguments.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// What the binary was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum Action {
    /// Serve until SIGINT or SIGTERM (the default).
    Serve,
    /// Run the database migrations, then exit.
    Migrate,
}

#[derive(Debug, Parser)]
struct Arguments {
    #[command(subcommand)]
    action: Option<Action>,
}

/// Reads the command line of `process_name`; prints help or the version and exits when asked
/// to, or exits with a usage error on an unknown argument.
pub fn parse(process_name: &'static str) -> Action {
    // The binary's file name (`mi-verification`), which the service name (`verification`) is not.
    let binary = std::env::args_os()
        .next()
        .and_then(|path| {
            std::path::Path::new(&path)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| process_name.to_owned());
    let command = Arguments::command()
        .display_name(binary.clone())
        .bin_name(binary)
        .version(env!("CARGO_PKG_VERSION"))
        .about(format!(
            "{process_name}, part of mi-account. Configured by MI_* environment variables and \
             the file MI_CONFIG names (default mi-account.toml); see the README's Configuration."
        ));
    let matches = command.get_matches();
    match Arguments::from_arg_matches(&matches) {
        Ok(arguments) => arguments.action.unwrap_or(Action::Serve),
        Err(error) => error.exit(),
    }
}
