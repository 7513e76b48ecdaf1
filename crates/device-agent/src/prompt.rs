//! Asking for a secret on the terminal, without echoing it.

use std::io::{BufRead, Write};

use anyhow::Context;
use rustix::termios::{LocalModes, OptionalActions, isatty, tcgetattr, tcsetattr};

/// Asks `question` on stderr and reads one line from stdin; on a terminal, with echo off for
/// the line. Blocking: the agent does nothing else while it waits for the person.
pub(crate) fn hidden(question: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    eprint!("{question}");
    std::io::stderr()
        .flush()
        .context("cannot write the prompt")?;
    let saved = if isatty(&stdin) {
        let saved = tcgetattr(&stdin).context("cannot read the terminal's settings")?;
        let mut silent = saved.clone();
        silent.local_modes.remove(LocalModes::ECHO);
        tcsetattr(&stdin, OptionalActions::Now, &silent).context("cannot turn echo off")?;
        Some(saved)
    } else {
        None
    };
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(saved) = saved {
        // Echo back on even when reading failed; the person's Enter was not echoed either.
        let _ = tcsetattr(&stdin, OptionalActions::Now, &saved);
        eprintln!();
    }
    read.context("cannot read the answer")?;
    let answer = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!answer.is_empty(), "no answer given");
    Ok(answer)
}
