//! Any bytes as a gateway error body: the parser answers Ok or Err and
//! never panics. The same bytes, read as structured fields, check that a
//! rendered body parses back to what went in.

#![no_main]

use errmap::gateway_body::{parse, render};
use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

fn check_raw(data: &[u8]) {
    let Ok(parsed) = parse(data) else {
        return;
    };
    assert!(
        parsed.code.is_some() || parsed.http_status.is_some(),
        "Ok with neither a code nor a status: {parsed:?}"
    );
    if let Some(code) = &parsed.code {
        assert!(!code.trim().is_empty(), "a blank code was kept: {parsed:?}");
    }
    // What was read renders to a body that reads the same again.
    if let (Some(code), Some(status)) = (&parsed.code, parsed.http_status) {
        if let Ok(status) = i32::try_from(status) {
            let request_id = parsed.request_id.as_deref().unwrap_or_default();
            let text = render(request_id, status, code, "m");
            let back = parse(text.as_bytes()).expect("a rendered body parses");
            assert_eq!(back.code.as_ref(), Some(code));
            assert_eq!(back.http_status, Some(i64::from(status)));
            assert_eq!(back.request_id.as_deref(), Some(request_id));
        }
    }
}

fn check_round_trip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok((request_id, status, code, message)) =
        <(String, i32, String, String)>::arbitrary(&mut u)
    else {
        return;
    };
    let text = render(&request_id, status, &code, &message);
    let back = parse(text.as_bytes())
        .unwrap_or_else(|why| panic!("rendered body {text:?} does not parse: {why}"));
    // A blank code is read as no code at all; the status is always there.
    let expected_code = Some(code).filter(|c| !c.trim().is_empty());
    assert_eq!(back.code, expected_code, "{text}");
    assert_eq!(back.http_status, Some(i64::from(status)), "{text}");
    assert_eq!(back.request_id, Some(request_id), "{text}");
}

fuzz_target!(|data: &[u8]| {
    check_raw(data);
    check_round_trip(data);
});
