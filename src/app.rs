//! The application: settings, the commands besides serving (catalog,
//! resolve, inject), and serving itself with its catalog reloads, runtime
//! and signals. The binary's
//! `main` parses the settings and calls [`run`].

pub mod cli;
pub mod config;
mod diff;
pub mod inject;
mod json;
pub mod reload;
pub mod runtime;
mod serve;
mod signals;

use config::{Command, Config};
use std::process::ExitCode;

/// Runs a command, or serves (on a runtime sized to the CPUs errmap may
/// use) until a shutdown signal.
pub fn run(config: Config) -> ExitCode {
    match &config.command {
        Some(Command::Catalog(command)) => return cli::catalog(&config, command),
        Some(Command::Resolve(command)) => return cli::resolve(&config, command),
        Some(Command::Inject(args)) => return inject::run(args, config.catalog.as_deref()),
        None => {}
    }
    match runtime::build(config.worker_threads) {
        Ok(runtime) => runtime.block_on(serve::serve(config)),
        Err(err) => {
            eprintln!(
                "errmap: cannot start the runtime ({}): {err}",
                config::setting("worker_threads")
            );
            ExitCode::FAILURE
        }
    }
}
