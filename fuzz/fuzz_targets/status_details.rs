//! Any bytes as grpc-status-details-bin: the decoder answers with a status
//! or with an InvalidField error naming the field, and never panics.

#![no_main]

use errmap::pb::google::rpc::Status;
use errmap::present::error_info;
use errmap::engine::validate::details;
use errmap::engine::{EngineError, Prefix};
use errmap::service::error::status_proto;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    match details(Prefix::ROOT, data, None) {
        Ok(None) => assert!(data.is_empty(), "non-empty bytes gave no status"),
        Ok(Some(status)) => {
            // Unknown fields are dropped on decoding, so one more trip
            // through the wire format changes nothing.
            let again = Status::decode(status.encode_to_vec().as_slice())
                .expect("a decoded status re-encodes to decodable bytes");
            assert_eq!(again, status);
            // The service reads the ErrorInfo next; that must not panic
            // either, whatever the details hold.
            let _ = error_info(&status);
        }
        Err(EngineError::InvalidField { field, description }) => {
            assert_eq!(field, "status_details_bin", "{description}");
            assert!(!description.is_empty());
            // Batch items carry the error as a status message.
            let _ = status_proto(&EngineError::InvalidField { field, description });
        }
        Err(other) => panic!("unexpected error kind: {other:?}"),
    }
    // Both forms at once are refused, whatever the bytes.
    if !data.is_empty() {
        let both = details(
            Prefix::query(0, "grpc_status"),
            data,
            Some(&Status::default()),
        );
        assert!(
            matches!(
                &both,
                Err(EngineError::InvalidField { field, .. })
                    if field == "queries[0].grpc_status.status_details_bin"
            ),
            "{both:?}"
        );
    }
});
