//! The commands besides serving: catalog checks and exports, and one-off
//! resolutions with the server's engine.

use crate::catalog::{Catalog, CatalogError};
use crate::config::{CatalogCommand, Config, ExportFormat, ProfileArg, ResolveCommand};
use crate::pb::errmap::v1 as pb;
use crate::pb::google::rpc::Code;
use crate::service::resolve::{self, CallContext};
use std::path::Path;
use std::process::ExitCode;

/// Reads the `--catalog` file, if any, laid over the embedded catalog.
pub fn load_catalog(path: Option<&Path>) -> Result<Catalog, String> {
    match path {
        None => Catalog::embedded(),
        Some(path) => crate::catalog::file::load(path),
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
    }
}

fn check(path: &Path) -> ExitCode {
    let name = path.display().to_string();
    match crate::catalog::file::load(path) {
        Ok(catalog) => {
            println!(
                "{name}: ok ({} entries in effect, version {})",
                catalog.entries().len(),
                catalog.version()
            );
            ExitCode::SUCCESS
        }
        Err(CatalogError::Invalid(problems)) => {
            for problem in &problems {
                println!("{problem}");
            }
            println!("{name}: {} problem(s)", problems.len());
            ExitCode::FAILURE
        }
        Err(err @ CatalogError::Read { .. }) => fail(&err.to_string()),
        Err(err) => {
            println!("{err}");
            ExitCode::FAILURE
        }
    }
}

fn export(catalog: &Catalog, format: ExportFormat) -> ExitCode {
    match format {
        ExportFormat::Markdown => {
            print!("{}", markdown(catalog));
            ExitCode::SUCCESS
        }
        ExportFormat::Json => {
            let proto = pb::Catalog {
                entries: catalog.entries().to_vec(),
            };
            match crate::json::to_json(&proto, crate::catalog::CATALOG_MESSAGE) {
                Some(json) => {
                    println!("{json}");
                    ExitCode::SUCCESS
                }
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
    let ctx = CallContext {
        catalog: &catalog,
        accept_language: None,
        options: &options,
        observer: None,
        basic: false,
        prepared: None,
        tally: None,
    };
    let answer = match command {
        ResolveCommand::Gateway {
            code,
            http_status,
            params,
            locale,
            profile,
        } => resolve::gateway(
            &ctx,
            "",
            &pb::ResolveGatewayErrorRequest {
                code: code.clone(),
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
            code,
            reason,
            params,
            locale,
        } => {
            let number = code.trim().parse::<i32>().ok().or_else(|| {
                Code::from_str_name(&code.trim().to_ascii_uppercase()).map(|c| c as i32)
            });
            let Some(number) = number else {
                return fail(&format!(
                    "--code must be a gRPC code name or number 0-16, got {code:?}"
                ));
            };
            resolve::grpc(
                &ctx,
                "",
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
        Ok(resolution) => match crate::json::to_json(&resolution, "errmap.v1.Resolution") {
            Some(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            None => fail("cannot render the resolution as JSON"),
        },
        Err(err) => {
            let status = err.into_status();
            fail(&format!("{:?}: {}", status.code(), status.message()))
        }
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("errmap: {message}");
    ExitCode::FAILURE
}
