//! The gateway's JSON error body, as its SDKs read it:
//! `{"requestId": "…", "error": {"code": 403, "status": "CODE", "message": "…"}}`.

use crate::echo;
use serde::{Deserialize, Serialize};

/// The largest body `ResolveGatewayError` reads.
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Serialize)]
struct Body<'a> {
    #[serde(rename = "requestId")]
    request_id: &'a str,
    error: ErrorPart<'a>,
}

#[derive(Debug, Serialize)]
struct ErrorPart<'a> {
    code: i32,
    status: &'a str,
    message: &'a str,
}

/// Renders the body the gateway would send for this error.
pub fn render(request_id: &str, http_status: i32, code: &str, message: &str) -> String {
    let body = Body {
        request_id,
        error: ErrorPart {
            code: http_status,
            status: code,
            message,
        },
    };
    serde_json::to_string(&body).unwrap_or_default()
}

/// What a gateway error body says, as far as it can be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// `error.status`: the gateway's string code.
    pub code: Option<String>,
    /// `error.code`: the HTTP status, as written.
    pub http_status: Option<i64>,
    /// `requestId`.
    pub request_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct InBody {
    #[serde(rename = "requestId")]
    request_id: Option<serde_json::Value>,
    error: Option<InError>,
}

#[derive(Debug, Deserialize)]
struct InError {
    code: Option<serde_json::Value>,
    status: Option<serde_json::Value>,
}

/// Reads a gateway error body. Anything unreadable is an `Err` saying why,
/// for the caller to fall back on the HTTP status.
pub fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    let body: InBody = serde_json::from_slice(bytes).map_err(|e| {
        let why = e.to_string();
        format!(
            "the body is not a gateway error body ({})",
            echo::text(&why)
        )
    })?;
    let error = body
        .error
        .ok_or_else(|| "the body has no \"error\" object".to_owned())?;
    let code = match error.status {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s),
        _ => None,
    };
    let http_status = match error.code {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    if code.is_none() && http_status.is_none() {
        return Err("the body's \"error\" has neither \"status\" nor \"code\"".to_owned());
    }
    let request_id = match body.request_id {
        Some(serde_json::Value::String(s)) => Some(s),
        _ => None,
    };
    Ok(Parsed {
        code,
        http_status,
        request_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_parses_back() {
        let text = render("req-1", 403, "APIGW_NONCE_CONFLICT", "重复访问");
        assert_eq!(
            text,
            r#"{"requestId":"req-1","error":{"code":403,"status":"APIGW_NONCE_CONFLICT","message":"重复访问"}}"#
        );
        let parsed = parse(text.as_bytes()).expect("parses");
        assert_eq!(parsed.code.as_deref(), Some("APIGW_NONCE_CONFLICT"));
        assert_eq!(parsed.http_status, Some(403));
        assert_eq!(parsed.request_id.as_deref(), Some("req-1"));
    }

    #[test]
    fn unreadable_bodies_say_why() {
        assert!(parse(b"<html>502</html>").is_err());
        assert!(parse(br#"{"requestId":"x","err"#).is_err());
        assert!(parse(br#"{"requestId":"x"}"#).is_err());
        assert!(parse(br#"{"error":{"message":"m"}}"#).is_err());
        assert!(parse(&[0xff, 0xfe, 0x00]).is_err());
    }
}
