#![forbid(unsafe_code)]
pub mod pb;
