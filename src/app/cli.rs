//! The commands besides serving: catalog checks and exports, and one-off
//! resolutions with the server's engine.

use crate::app::config::{CatalogCommand, Config, ExportFormat, ProfileArg, ResolveCommand};
use crate::catalog::{Catalog, CatalogError};
use crate::engine;
use crate::pb::errmap::v1 as pb;
use crate::pb::google::rpc::Code;
use crate::service::error;
use std::path::Path;
use std::process::ExitCode;

/// Reads the `--catalog` file, if any, laid over the embedded catalog.
pub fn load_catalog(path: Option<&Path>) -> Result<Catalog, String> {
    match path {
        None => Catalog::embedded(),
        Some(path) => Catalog::load_file(path),
    }
    .map_err(|e| e.to_string())
}

pub fn catalog(config: &Config, command: &CatalogCommand) -> ExitCode {
    match command {
        CatalogCommand::Check { path } => check(path),
        CatalogCommand::Export { format } => match load_catalog(config.catalog.as_deref()) {
            Ok(catalog) => export(&catalog, *format),
            Err(err) => fail(&err),
        },
        CatalogCommand::Diff {
            old,
            new,
            format,
            quiet,
        } => super::diff::run(old, new, *format, *quiet),
    }
}

fn check(path: &Path) -> ExitCode {
    let name = path.display().to_string();
    match Catalog::load_file(path) {
        Ok(catalog) => emit(
            &format!(
                "{name}: ok ({} entries in effect, version {})\n",
                catalog.entries().len(),
                catalog.version()
            ),
            ExitCode::SUCCESS,
        ),
        Err(CatalogError::Invalid(problems)) => {
            let mut text = String::new();
            for problem in &problems {
                text.push_str(&format!("{problem}\n"));
            }
            text.push_str(&format!("{name}: {} problem(s)\n", problems.len()));
            emit(&text, ExitCode::FAILURE)
        }
        Err(err @ CatalogError::Read { .. }) => fail(&err.to_string()),
        Err(err) => emit(&format!("{err}\n"), ExitCode::FAILURE),
    }
}

fn export(catalog: &Catalog, format: ExportFormat) -> ExitCode {
    match format {
        ExportFormat::Markdown => emit(&markdown(catalog), ExitCode::SUCCESS),
        ExportFormat::Json => {
            let proto = pb::Catalog {
                entries: catalog.entries().to_vec(),
            };
            match crate::app::json::to_json(&proto, crate::catalog::CATALOG_MESSAGE) {
                Some(json) => emit(&format!("{json}\n"), ExitCode::SUCCESS),
                None => fail("cannot render the catalog as JSON"),
            }
        }
    }
}

/// The catalog as a Markdown table.
pub fn markdown(catalog: &Catalog) -> String {
    let mut out = String::from(
        "| Code | HTTP | Table | gRPC | Message (zh-CN) | Message (en-US) | Aliases | Retry |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for e in catalog.entries() {
        let table = pb::Table::try_from(e.table).map_or("", |t| t.as_str_name());
        let grpc = Code::try_from(e.grpc_code).map_or("", |c| c.as_str_name());
        let retry = e
            .retry_delay
            .map(|d| format!("{}s", d.seconds))
            .unwrap_or_default();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
            e.code,
            e.http_status,
            table.trim_start_matches("TABLE_"),
            grpc,
            cell(&e.message),
            cell(&e.message_en),
            e.aliases
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(" "),
            retry
        ));
    }
    out
}

/// Table cells may not hold `|`; the catalog's text is kept otherwise.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

pub fn resolve(config: &Config, command: &ResolveCommand) -> ExitCode {
    let catalog = match load_catalog(config.catalog.as_deref()) {
        Ok(catalog) => catalog,
        Err(err) => return fail(&err),
    };
    let options = config.service_options();
    let ctx = options.context(&catalog, None, None);
    let answer = match command {
        ResolveCommand::Gateway {
            code_arg,
            code,
            http_status,
            params,
            locale,
            profile,
        } => engine::resolve_gateway(
            &ctx,
            &pb::ResolveGatewayErrorRequest {
                code: code_arg.clone().unwrap_or_else(|| code.clone()),
                http_status: *http_status,
                params: params.iter().cloned().collect(),
                locale: locale.clone(),
                profile: match profile {
                    ProfileArg::Google => pb::Profile::Google,
                    ProfileArg::GrpcProxy => pb::Profile::GrpcProxy,
                } as i32,
                ..Default::default()
            },
        ),
        ResolveCommand::Grpc {
            code_arg,
            code,
            reason,
            params,
            locale,
        } => {
            let code = code_arg.as_deref().or(code.as_deref()).unwrap_or_default();
            let number = code.trim().parse::<i32>().ok().or_else(|| {
                Code::from_str_name(&code.trim().to_ascii_uppercase()).map(|c| c as i32)
            });
            let Some(number) = number else {
                return fail(&format!(
                    "the code must be a gRPC code name or number 0-16, got {code:?}"
                ));
            };
            engine::resolve_grpc(
                &ctx,
                &pb::ResolveGrpcStatusRequest {
                    code: number,
                    reason: reason.clone(),
                    params: params.iter().cloned().collect(),
                    locale: locale.clone(),
                    ..Default::default()
                },
            )
        }
    };
    match answer {
        Ok(resolution) => match crate::app::json::to_json(&resolution, "errmap.v1.Resolution") {
            Some(json) => emit(&format!("{json}\n"), ExitCode::SUCCESS),
            None => fail("cannot render the resolution as JSON"),
        },
        Err(err) => {
            let status = error::status(&err);
            fail(&format!("{:?}: {}", status.code(), status.message()))
        }
    }
}

/// Writes a command's output, then ends with `code`. A reader that has
/// gone away (`errmap catalog export | head`) ends the command quietly with
/// `code`, as other Unix tools do; any other write error is a failure.
fn emit(text: &str, code: ExitCode) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => code,
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => code,
        Err(err) => fail(&format!("cannot write the output: {err}")),
    }
}

fn fail(message: &str) -> ExitCode {
    use std::io::Write;
    // Nowhere to say it if standard error is closed too.
    let _ = writeln!(std::io::stderr(), "errmap: {message}");
    ExitCode::FAILURE
}
