//! `apprentice style`: a painter's style from their histories, compared with another's.

use apprentice_e2e::{apprentice, examples_dir, stderr};

#[test]
fn a_history_is_its_own_style_and_differs_from_another_painters() {
    let still_life = examples_dir().join("still-life.jsonl");
    let hello = examples_dir().join("hello.jsonl");
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let same = apprentice(&["style", &s(&still_life), "--against", &s(&still_life)]);
    assert!(same.status.success(), "{}", stderr(&same));
    let text = String::from_utf8_lossy(&same.stdout);
    assert!(text.contains("| all | 0.000 |"), "{text}");
    assert!(text.contains("coarse to fine"), "{text}");
    let other = apprentice(&["style", &s(&still_life), "--against", &s(&hello)]);
    let text = String::from_utf8_lossy(&other.stdout);
    let all: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("| all | "))
        .unwrap()
        .trim_end_matches(" |")
        .parse()
        .unwrap();
    assert!(all > 0.1, "{text}");
    let bad = apprentice(&["style", "/no/such.jsonl"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("/no/such.jsonl"), "{}", stderr(&bad));
}
