//! The errmap binary: parse the settings, then run ([`errmap::app::run`]).

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    errmap::app::run(errmap::app::config::Config::from_env_and_args())
}
