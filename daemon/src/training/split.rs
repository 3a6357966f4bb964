//! The held-out split of a folder of histories: decided by each file's name,
//! so that any subset of a folder (say, the pictures of a mixed folder kept for
//! reinforcement) keeps the same split, and the crops of one photograph stay on
//! one side.

use crate::painters::rng::Rng;

/// About one history in this many is held out.
pub const HELD_OUT_ONE_IN: u64 = 10;

/// What decides a file's side: its name without the extension, and for
/// photograph crops (`photo-NAME-007`) without the crop number, so that
/// overlapping crops of one picture never straddle the split (and augmented
/// characters, `hanzi-4E00-a2`, without the copy number).
fn split_key(name: &str) -> &str {
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    // A picture painted by search (`search-photo-NAME-007`) goes with the teacher's painting of it.
    let stem = stem.strip_prefix(super::SEARCH).and_then(|s| s.strip_prefix('-')).unwrap_or(stem);
    match stem.rsplit_once('-') {
        Some((photo, crop)) if stem.starts_with("photo-") && crop.bytes().all(|b| b.is_ascii_digit()) => {
            photo
        }
        // An augmented copy of a character (`hanzi-4E00-a2`) goes with the character.
        Some((character, copy))
            if stem.starts_with("hanzi-")
                && copy.len() > 1
                && copy.starts_with('a')
                && copy[1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            character
        }
        _ => stem,
    }
}

/// A hash of a file name, the same on every machine and every run.
pub fn name_hash(name: &str) -> u64 {
    fnv1a(name.as_bytes())
}

/// FNV-1a: a hash that is the same on every machine and every run.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Whether each of `names` is held out. When the hash holds out none of two or
/// more (a small folder), the last by name is; when it holds out all, the first
/// is trained on.
pub fn held_out(names: &[&str]) -> Vec<bool> {
    let mut held: Vec<bool> = names
        .iter()
        .map(|n| Rng::new(fnv1a(split_key(n).as_bytes())).next_u64() % HELD_OUT_ONE_IN == 0)
        .collect();
    if names.len() >= 2 {
        if !held.contains(&true) {
            let last = (0..names.len()).max_by_key(|&i| names[i]).expect("two or more");
            held[last] = true;
        }
        if !held.contains(&false) {
            let first = (0..names.len()).min_by_key(|&i| names[i]).expect("two or more");
            held[first] = false;
        }
    }
    held
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_one_in_ten_is_held_out() {
        let names: Vec<String> = (0..5000).map(|i| format!("scene-{i:05}.binpb")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let share = held_out(&refs).iter().filter(|&&h| h).count() as f64 / names.len() as f64;
        assert!((0.08..0.12).contains(&share), "{share}");
    }

    #[test]
    fn a_history_keeps_its_side_whatever_else_is_in_the_folder() {
        let all: Vec<String> = (0..200).map(|i| format!("scene-{i:05}.binpb")).collect();
        let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let whole = held_out(&all_refs);
        // Every third file, as a subset folder would hold them.
        let some: Vec<&str> = all_refs.iter().copied().step_by(3).collect();
        let part = held_out(&some);
        for (k, i) in (0..all.len()).step_by(3).enumerate() {
            assert_eq!(part[k], whole[i], "{}", all[i]);
        }
    }

    #[test]
    fn the_crops_of_one_photograph_stay_on_one_side() {
        let names: Vec<String> =
            ["astronaut", "coffee", "chelsea", "moon", "coins", "camera", "page", "text"]
                .iter()
                .flat_map(|p| (0..8).map(move |j| format!("photo-{p}-{j:03}.binpb")))
                .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let held = held_out(&refs);
        for photo in held.chunks(8) {
            assert!(photo.iter().all(|&h| h == photo[0]), "{held:?}");
        }
        assert_eq!(split_key("photo-astronaut-003.binpb"), "photo-astronaut");
        assert_eq!(split_key("scene-00003.binpb"), "scene-00003");
    }

    #[test]
    fn a_picture_painted_by_search_is_on_the_side_of_the_teachers_painting_of_it() {
        assert_eq!(split_key("search-photo-astronaut-003.binpb"), "photo-astronaut");
        assert_eq!(split_key("search-scene-00003.binpb"), "scene-00003");
        let names: Vec<String> = (0..200).map(|i| format!("scene-{i:05}.binpb")).collect();
        let searched: Vec<String> = names.iter().map(|n| format!("search-{n}")).collect();
        let held = held_out(&names.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(held, held_out(&searched.iter().map(String::as_str).collect::<Vec<_>>()));
        assert!(held.contains(&true));
    }

    #[test]
    fn a_small_folder_holds_out_one_and_trains_on_the_rest() {
        for n in 2..12 {
            let names: Vec<String> = (0..n).map(|i| format!("h{i}.jsonl")).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let held = held_out(&refs);
            assert!(held.contains(&true) && held.contains(&false), "{n}: {held:?}");
        }
        assert_eq!(held_out(&["only.jsonl"]).len(), 1);
    }
}
