//! Any text as a Kubernetes YAML stream for `errmap inject`: the document
//! splitter accounts for every byte, and injecting never panics; what it
//! writes reads back, is left alone by a second injection, and uninjects.

#![no_main]

use errmap::app::inject::sidecar::{Mode, Sidecar, DEFAULT_IMAGE};
use errmap::app::inject::{split, transform, Action, Tally};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

/// Built once: the sidecar is the fixed backdrop, not the input.
static INJECT: LazyLock<Action> = LazyLock::new(|| {
    let sidecar = Sidecar::new(Mode::Native, DEFAULT_IMAGE, Some("errmap-catalog"), &[])
        .expect("the default sidecar is valid");
    Action::Inject(sidecar)
});

fuzz_target!(|data: &[u8]| {
    // Streams are read as UTF-8; anything else is refused before splitting.
    let Ok(stream) = std::str::from_utf8(data) else {
        return;
    };

    let documents = split::split(stream);
    let joined: String = documents.iter().map(|d| d.text).collect();
    assert_eq!(joined, stream, "the documents make up the stream");
    let mut offset = 0;
    for document in &documents {
        assert!(!document.text.is_empty(), "no empty document");
        let line = 1 + stream[..offset].matches('\n').count();
        assert_eq!(document.line, line, "each document knows its first line");
        offset += document.text.len();
        if !document.has_content {
            continue;
        }
        // Around content that is written anew: whole lines before it, and
        // only comments and end markers after it.
        let (head, tail) = split::frame(document.text);
        assert!(head.is_empty() || head.ends_with('\n'), "{head:?}");
        assert!(
            tail.lines().all(|l| l.starts_with('#') || l.starts_with("...")),
            "the tail holds comments and end markers only: {tail:?}"
        );
    }

    let mut tally = Tally::default();
    let Ok(once) = transform(stream, "fuzz", &INJECT, &mut tally) else {
        return;
    };
    let mut again = Tally::default();
    let twice = transform(&once, "fuzz", &INJECT, &mut again)
        .expect("what inject writes, inject reads");
    assert_eq!(twice, once, "injecting twice is injecting once");
    assert_eq!(again.changed, 0);
    assert_eq!(again.objects, tally.objects);

    let mut undone = Tally::default();
    transform(&once, "fuzz", &Action::Uninject, &mut undone)
        .expect("what inject writes, uninject reads");
    assert!(undone.changed >= tally.changed, "every injection is undone");
});
