//! The translations a listener and a route allow, and the per-route
//! settings Envoy passes as the stream's metadata.

use crate::locale::Locale;
use crate::pb::errmap::v1::Profile;
use tonic::metadata::MetadataMap;

/// The gRPC service Envoy's ext_proc filter calls, as health checks and
/// reflection name it.
pub const SERVICE_NAME: &str = "envoy.service.ext_proc.v3.ExternalProcessor";

/// The largest error body errmap asks Envoy for: the largest gateway body
/// the engine reads. A response announcing more (`content-length`), or
/// arriving with more, passes unchanged.
pub const DEFAULT_MAX_BODY: usize = crate::gateway_body::MAX_BODY;

/// Stream metadata (`grpc_initial_metadata` of Envoy's per-route
/// `ExtProcPerRoute` overrides, or the filter's `grpc_service.
/// initial_metadata`) naming the translations a route allows; it can only
/// narrow `--ext-proc-translate`.
pub const TRANSLATE_METADATA: &str = "x-errmap-translate";
/// Stream metadata naming the route's default locale (the request's
/// `accept-language` still wins).
pub const LOCALE_METADATA: &str = "x-errmap-locale";
/// Stream metadata naming the profile for gateway bodies that carry an
/// HTTP status but no known code: `google` or `grpc-proxy`.
pub const PROFILE_METADATA: &str = "x-errmap-profile";
/// Stream metadata naming the client's kind, `grpc` or `http`, where
/// Envoy sends neither the request's headers nor attributes that carry
/// them: the shipped matcher knows the request's `content-type` and says
/// so, which spares Envoy evaluating attributes for every failing call
/// (BENCHMARKS.md, "What Envoy spends"). The request's own `content-type`,
/// when Envoy sends it, wins.
pub const CLIENT_METADATA: &str = "x-errmap-client";

/// Which translations are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Directions {
    /// gRPC error to gRPC client: `grpc-status-details-bin` added.
    pub grpc_details: bool,
    /// gRPC error (trailers-only) to another client: gateway status and body.
    pub grpc_to_http: bool,
    /// Gateway error body to gRPC client: gRPC status and details.
    pub http_to_grpc: bool,
}

impl Directions {
    pub const ALL: Directions = Directions {
        grpc_details: true,
        grpc_to_http: true,
        http_to_grpc: true,
    };
    pub const NONE: Directions = Directions {
        grpc_details: false,
        grpc_to_http: false,
        http_to_grpc: false,
    };

    /// The names, as the flag and the metadata spell them.
    pub const NAMES: [&'static str; 3] = ["grpc-details", "grpc-to-http", "http-to-grpc"];

    /// Parses `all`, `none`, or a comma-separated list of [`Self::NAMES`].
    pub fn parse(value: &str) -> Result<Directions, String> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("all") {
            return Ok(Directions::ALL);
        }
        if value.eq_ignore_ascii_case("none") || value.is_empty() {
            return Ok(Directions::NONE);
        }
        let mut directions = Directions::NONE;
        // Compared without case and without a lowered copy: the shipped
        // wiring sends this on every stream.
        for name in value.split(',').map(str::trim) {
            let flag = if name.eq_ignore_ascii_case("grpc-details") {
                &mut directions.grpc_details
            } else if name.eq_ignore_ascii_case("grpc-to-http") {
                &mut directions.grpc_to_http
            } else if name.eq_ignore_ascii_case("http-to-grpc") {
                &mut directions.http_to_grpc
            } else {
                return Err(format!(
                    "must be \"all\", \"none\" or a comma-separated list of {}; got {:?}",
                    Self::NAMES.join(", "),
                    crate::echo::cut(name, crate::echo::MAX_ECHO)
                ));
            };
            *flag = true;
        }
        Ok(directions)
    }

    /// Only the translations both allow.
    pub fn and(self, other: Directions) -> Directions {
        Directions {
            grpc_details: self.grpc_details && other.grpc_details,
            grpc_to_http: self.grpc_to_http && other.grpc_to_http,
            http_to_grpc: self.http_to_grpc && other.http_to_grpc,
        }
    }
}

impl std::fmt::Display for Directions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let on: Vec<&str> = [self.grpc_details, self.grpc_to_http, self.http_to_grpc]
            .iter()
            .zip(Self::NAMES)
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
        match on.len() {
            0 => f.write_str("none"),
            3 => f.write_str("all"),
            _ => f.write_str(&on.join(",")),
        }
    }
}

/// The listener's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The translations on for every route (`--ext-proc-translate`).
    pub directions: Directions,
    /// The largest error body asked for and read (`--ext-proc-max-body`).
    pub max_body: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            directions: Directions::ALL,
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

/// One stream's settings: the listener's, narrowed by the route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub directions: Directions,
    /// The locale when the request's `accept-language` names none.
    pub default_locale: Locale,
    /// The table for a gateway body with a bare HTTP status.
    pub profile: Profile,
    /// Whether the client speaks gRPC, as [`CLIENT_METADATA`] says; `None`
    /// when it says nothing.
    pub grpc_client: Option<bool>,
}

impl Route {
    /// The settings of a stream whose metadata is `metadata`, starting from
    /// the listener's `settings` and `default_locale`. A value that does
    /// not parse is ignored (and logged), so a typo in a route's setting
    /// never fails its traffic.
    pub fn from_metadata(
        settings: &Settings,
        default_locale: Locale,
        metadata: &MetadataMap,
    ) -> Route {
        let [translate, locale, profile, client] = settings_in(metadata.as_ref());
        let mut route = Route {
            directions: settings.directions,
            default_locale,
            profile: Profile::Unspecified,
            grpc_client: None,
        };
        if let Some(value) = translate {
            match Directions::parse(value) {
                Ok(allowed) => route.directions = route.directions.and(allowed),
                Err(why) => tracing::debug!("ignoring {TRANSLATE_METADATA}: {why}"),
            }
        }
        if let Some(value) = locale {
            match Locale::from_tag(value.trim()) {
                Some(locale) => route.default_locale = locale,
                None => tracing::debug!("ignoring {LOCALE_METADATA}: not zh-CN or en-US"),
            }
        }
        if let Some(value) = profile {
            match value.trim().to_ascii_lowercase().as_str() {
                "google" => route.profile = Profile::Google,
                "grpc-proxy" => route.profile = Profile::GrpcProxy,
                _ => tracing::debug!("ignoring {PROFILE_METADATA}: not google or grpc-proxy"),
            }
        }
        if let Some(value) = client.map(str::trim) {
            if value.eq_ignore_ascii_case("grpc") {
                route.grpc_client = Some(true);
            } else if value.eq_ignore_ascii_case("http") {
                route.grpc_client = Some(false);
            } else {
                tracing::debug!("ignoring {CLIENT_METADATA}: not grpc or http");
            }
        }
        route
    }
}

/// The text of the first value of [`TRANSLATE_METADATA`],
/// [`LOCALE_METADATA`], [`PROFILE_METADATA`] and [`CLIENT_METADATA`] in
/// `headers`, in that order, from one pass over them: a lookup by a name
/// given as text parses and hashes the name, and the four cost about 1,400
/// instructions a stream, where the pass costs little more than comparing
/// each of Envoy's few header names with the common prefix.
fn settings_in(headers: &http::HeaderMap) -> [Option<&str>; 4] {
    const PREFIX: &str = "x-errmap-";
    const NAMES: [&str; 4] = [
        TRANSLATE_METADATA,
        LOCALE_METADATA,
        PROFILE_METADATA,
        CLIENT_METADATA,
    ];
    let mut found = [None; 4];
    for (name, value) in headers {
        if !name.as_str().starts_with(PREFIX) {
            continue;
        }
        if let Some(slot) = NAMES.iter().position(|known| *known == name.as_str()) {
            if found[slot].is_none() {
                found[slot] = Some(value.to_str().ok());
            }
        }
    }
    found.map(Option::flatten)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_parse_and_print() {
        assert_eq!(Directions::parse("all"), Ok(Directions::ALL));
        assert_eq!(Directions::parse(" none "), Ok(Directions::NONE));
        let some = Directions::parse("grpc-details, HTTP-TO-GRPC").expect("parses");
        assert_eq!(
            some,
            Directions {
                grpc_details: true,
                grpc_to_http: false,
                http_to_grpc: true
            }
        );
        assert_eq!(some.to_string(), "grpc-details,http-to-grpc");
        assert_eq!(Directions::ALL.to_string(), "all");
        let err = Directions::parse("grpc-details,sideways").expect_err("refused");
        assert!(err.contains("\"sideways\""), "{err}");
    }

    #[test]
    fn a_route_narrows_and_never_widens() {
        let settings = Settings {
            directions: Directions::parse("grpc-details,http-to-grpc").expect("parses"),
            ..Settings::default()
        };
        let route_of =
            |metadata: &MetadataMap| Route::from_metadata(&settings, Locale::ZhCn, metadata);
        let mut metadata = MetadataMap::new();
        metadata.insert(
            TRANSLATE_METADATA,
            "grpc-to-http,http-to-grpc".parse().expect("ascii"),
        );
        metadata.insert(LOCALE_METADATA, "en-US".parse().expect("ascii"));
        metadata.insert(PROFILE_METADATA, "grpc-proxy".parse().expect("ascii"));
        metadata.insert(CLIENT_METADATA, " GRPC ".parse().expect("ascii"));
        let route = route_of(&metadata);
        assert_eq!(
            route.directions,
            Directions {
                grpc_details: false,
                grpc_to_http: false,
                http_to_grpc: true
            }
        );
        assert_eq!(route.default_locale, Locale::EnUs);
        assert_eq!(route.profile, Profile::GrpcProxy);
        assert_eq!(route.grpc_client, Some(true));
        metadata.insert(CLIENT_METADATA, "http".parse().expect("ascii"));
        assert_eq!(route_of(&metadata).grpc_client, Some(false));

        // Unreadable settings leave the listener's.
        let mut bad = MetadataMap::new();
        bad.insert(TRANSLATE_METADATA, "everything".parse().expect("ascii"));
        bad.insert(LOCALE_METADATA, "fr-FR".parse().expect("ascii"));
        bad.insert(PROFILE_METADATA, "aws".parse().expect("ascii"));
        bad.insert(CLIENT_METADATA, "grpc-web".parse().expect("ascii"));
        let route = route_of(&bad);
        assert_eq!(route.directions, settings.directions);
        assert_eq!(route.default_locale, Locale::ZhCn);
        assert_eq!(route.profile, Profile::Unspecified);
        assert_eq!(route.grpc_client, None);
    }

    #[test]
    fn a_settings_first_value_counts_and_other_names_are_passed_over() {
        let mut headers = http::HeaderMap::new();
        headers.append("x-errmap-locales", "en-US".parse().expect("ascii"));
        headers.append("x-errmap", "en-US".parse().expect("ascii"));
        headers.append(LOCALE_METADATA, "en-US".parse().expect("ascii"));
        headers.append(LOCALE_METADATA, "zh-CN".parse().expect("ascii"));
        headers.append(
            CLIENT_METADATA,
            http::HeaderValue::from_bytes(b"gr\xc3\xbcpc").expect("obs-text"),
        );
        headers.append(CLIENT_METADATA, "grpc".parse().expect("ascii"));
        assert_eq!(
            settings_in(&headers),
            // A first value that is not text is no value, as `get` has it.
            [None, Some("en-US"), None, None]
        );
    }
}
