//! Messages whose encoding errmap does by hand, mapped into the generated
//! code in place of prost's structs (`extern_path` in `build.rs`). The wire
//! format is exactly the `.proto`'s; what changes is the work per call:
//!
//! - The three resolve responses can carry their encoding ready-made, so an
//!   answer prepared when the catalog loaded is sent as one copy of bytes
//!   instead of being rebuilt, field by field, for every call.
//! - `BatchResolveRequest` keeps each query as the bytes it arrived as, and
//!   the service decodes them one at a time into a single reused message, so
//!   a batch of a thousand does not allocate a thousand requests.
//!
//! Clients see ordinary messages: the public fields are the `.proto`'s, and
//! decoding a response fills them as prost would.

use bytes::{Buf, BufMut, Bytes};
use errmap_core::pb::errmap::v1::{BatchQuery, BatchResult, Resolution};
use prost::encoding::{self, DecodeContext, WireType};
use prost::{DecodeError, Message};
use std::fmt;

/// Defines a response whose one field (number 1) is a `Resolution`.
macro_rules! resolution_response {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Default)]
        pub struct $name {
            /// The answer.
            pub resolution: Option<Resolution>,
            /// The whole message, encoded; when set it is what is sent.
            prepared: Bytes,
        }

        impl $name {
            pub fn new(resolution: Resolution) -> Self {
                Self {
                    resolution: Some(resolution),
                    prepared: Bytes::new(),
                }
            }

            /// A response sent as these bytes: an encoded `$name`, which is
            /// field 1 holding an encoded `Resolution`.
            pub fn prepared(encoded: Bytes) -> Self {
                Self {
                    resolution: None,
                    prepared: encoded,
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut s = f.debug_struct(stringify!($name));
                s.field("resolution", &self.resolution);
                if !self.prepared.is_empty() {
                    s.field("prepared_bytes", &self.prepared.len());
                }
                s.finish()
            }
        }

        impl Message for $name {
            fn encode_raw(&self, buf: &mut impl BufMut) {
                if !self.prepared.is_empty() {
                    buf.put_slice(&self.prepared);
                } else if let Some(resolution) = &self.resolution {
                    encoding::message::encode(1, resolution, buf);
                }
            }

            fn merge_field(
                &mut self,
                tag: u32,
                wire_type: WireType,
                buf: &mut impl Buf,
                ctx: DecodeContext,
            ) -> Result<(), DecodeError> {
                if tag == 1 {
                    let resolution = self.resolution.get_or_insert_with(Default::default);
                    encoding::message::merge(wire_type, resolution, buf, ctx)
                } else {
                    encoding::skip_field(wire_type, tag, buf, ctx)
                }
            }

            fn encoded_len(&self) -> usize {
                if !self.prepared.is_empty() {
                    self.prepared.len()
                } else {
                    self.resolution
                        .as_ref()
                        .map_or(0, |r| encoding::message::encoded_len(1, r))
                }
            }

            fn clear(&mut self) {
                *self = Self::default();
            }
        }
    };
}

resolution_response!(
    /// `errmap.v1.ResolveGatewayErrorResponse`.
    ResolveGatewayErrorResponse
);
resolution_response!(
    /// `errmap.v1.ResolveGrpcStatusResponse`.
    ResolveGrpcStatusResponse
);

/// `errmap.v1.BatchResolveRequest`. A client fills `queries`; a decoded
/// request holds them, still encoded, in `received` instead.
#[derive(Clone, PartialEq, Default, Debug)]
pub struct BatchResolveRequest {
    /// The queries, as a client builds them.
    pub queries: Vec<BatchQuery>,
    /// The `ResolutionView`.
    pub view: i32,
    /// The queries of a decoded request, each still an encoded
    /// `BatchQuery` (sent after `queries` when encoding).
    pub received: Received,
}

/// Encoded queries, back to back in one buffer: copying a few dozen bytes
/// is cheaper than counting references to slices of the request.
#[derive(Clone, PartialEq, Default, Debug)]
pub struct Received {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Received {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Adds a query that is already encoded, such as one relayed from
    /// another request, as it is.
    pub fn push(&mut self, encoded: &[u8]) {
        self.bytes.extend_from_slice(encoded);
        self.ends.push(self.bytes.len());
    }

    /// Each query's encoding, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(start, end)| self.bytes.get(start..end).unwrap_or_default())
    }

    /// Reads one length-delimited field from `buf`, straight into the
    /// shared buffer (prost's own `bytes` merge would first cut a
    /// reference-counted slice for each query).
    fn merge(&mut self, wire_type: WireType, buf: &mut impl Buf) -> Result<(), DecodeError> {
        encoding::check_wire_type(WireType::LengthDelimited, wire_type)?;
        let len = encoding::decode_varint(buf)?;
        let Some(len) = usize::try_from(len)
            .ok()
            .filter(|&len| len <= buf.remaining())
        else {
            // prost keeps its error kinds to itself; this is the message its
            // own decoder gives for the same fault.
            #[allow(deprecated)]
            return Err(DecodeError::new("buffer underflow"));
        };
        let start = self.bytes.len();
        self.bytes.resize(start + len, 0);
        buf.copy_to_slice(&mut self.bytes[start..]);
        self.ends.push(self.bytes.len());
        Ok(())
    }
}

impl BatchResolveRequest {
    /// A request for these queries, in the default (full) view.
    pub fn new(queries: Vec<BatchQuery>) -> Self {
        Self {
            queries,
            ..Self::default()
        }
    }

    /// How many queries the request holds, in either form.
    pub fn len(&self) -> usize {
        self.queries.len() + self.received.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Message for BatchResolveRequest {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        for query in &self.queries {
            encoding::message::encode(1, query, buf);
        }
        for query in self.received.iter() {
            encoding::encode_key(1, WireType::LengthDelimited, buf);
            encoding::encode_varint(query.len() as u64, buf);
            buf.put_slice(query);
        }
        if self.view != 0 {
            encoding::int32::encode(2, &self.view, buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            1 => self.received.merge(wire_type, buf),
            2 => encoding::int32::merge(wire_type, &mut self.view, buf, ctx),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        let built: usize = self
            .queries
            .iter()
            .map(|q| encoding::message::encoded_len(1, q))
            .sum();
        let received: usize = self
            .received
            .iter()
            .map(|q| encoding::key_len(1) + encoding::encoded_len_varint(q.len() as u64) + q.len())
            .sum();
        let view = if self.view != 0 {
            encoding::int32::encoded_len(2, &self.view)
        } else {
            0
        };
        built + received + view
    }

    fn clear(&mut self) {
        *self = Self::default();
    }
}

/// `errmap.v1.BatchResolveResponse`. The service sends it as bytes built
/// result by result ([`BatchResolveResponse::builder`]); a client decodes
/// it into `results` and `catalog_version`.
#[derive(Clone, PartialEq, Default, Debug)]
pub struct BatchResolveResponse {
    /// The results, `results[i]` answering `queries[i]`.
    pub results: Vec<BatchResult>,
    /// The version of the catalog that answered every query of the batch.
    pub catalog_version: String,
    prepared: Bytes,
}

impl BatchResolveResponse {
    /// Starts an encoded response for about `results` results.
    pub fn builder(results: usize) -> BatchBuilder {
        BatchBuilder {
            buf: Vec::with_capacity(results * 64 + 64),
        }
    }
}

/// Appends results to an encoded `BatchResolveResponse`.
#[derive(Debug)]
pub struct BatchBuilder {
    buf: Vec<u8>,
}

impl BatchBuilder {
    /// Appends a result prepared ahead, given as an encoded `BatchResult`.
    pub fn push_encoded(&mut self, result: &[u8]) {
        encoding::encode_key(1, WireType::LengthDelimited, &mut self.buf);
        encoding::encode_varint(result.len() as u64, &mut self.buf);
        self.buf.extend_from_slice(result);
    }

    /// Appends a result built for this query.
    pub fn push(&mut self, result: &BatchResult) {
        encoding::message::encode(1, result, &mut self.buf);
    }

    /// Ends the response with the catalog's version.
    pub fn finish(mut self, catalog_version: &str) -> BatchResolveResponse {
        if !catalog_version.is_empty() {
            encoding::string::encode(2, &catalog_version.to_owned(), &mut self.buf);
        }
        BatchResolveResponse {
            results: Vec::new(),
            catalog_version: String::new(),
            prepared: Bytes::from(self.buf),
        }
    }
}

impl Message for BatchResolveResponse {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.prepared);
        for result in &self.results {
            encoding::message::encode(1, result, buf);
        }
        if !self.catalog_version.is_empty() {
            encoding::string::encode(2, &self.catalog_version, buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        match tag {
            1 => encoding::message::merge_repeated(wire_type, &mut self.results, buf, ctx),
            2 => encoding::string::merge(wire_type, &mut self.catalog_version, buf, ctx),
            _ => encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        let results: usize = self
            .results
            .iter()
            .map(|r| encoding::message::encoded_len(1, r))
            .sum();
        let version = if self.catalog_version.is_empty() {
            0
        } else {
            encoding::string::encoded_len(2, &self.catalog_version)
        };
        self.prepared.len() + results + version
    }

    fn clear(&mut self) {
        *self = Self::default();
    }
}

/// Field 1 holding `message`, encoded: the form both a resolve response and
/// a `BatchResult` give a resolution, so one prepared encoding serves both.
pub fn field_one(message: &impl Message) -> Bytes {
    let mut buf = Vec::with_capacity(message.encoded_len() + 6);
    encoding::message::encode(1, message, &mut buf);
    Bytes::from(buf)
}
