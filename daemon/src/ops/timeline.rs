//! Undo and redo, resolved the way editors do: an undo takes back the last
//! painting ops, a redo re-applies them, and any new op forgets what could have
//! been redone. Undo past the start of the history (the editor took back
//! something recorded before this history began) takes back nothing more.

use super::pb::{self, op::Kind};

/// The ops that are in effect after the whole history, in painting order.
pub fn effective(ops: &[pb::Op]) -> Vec<&pb::Op> {
    effective_indices(ops).into_iter().map(|i| &ops[i]).collect()
}

/// Like [`effective`], as indices into `ops`.
pub fn effective_indices(ops: &[pb::Op]) -> Vec<usize> {
    let mut done: Vec<usize> = Vec::with_capacity(ops.len());
    let mut undone: Vec<usize> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match &op.kind {
            Some(Kind::Undo(u)) => {
                for _ in 0..u.count.unwrap_or(1) {
                    match done.pop() {
                        Some(o) => undone.push(o),
                        None => break,
                    }
                }
            }
            Some(Kind::Redo(r)) => {
                for _ in 0..r.count.unwrap_or(1) {
                    match undone.pop() {
                        Some(o) => done.push(o),
                        None => break,
                    }
                }
            }
            _ => {
                undone.clear();
                done.push(i);
            }
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(n: f32) -> pb::Op {
        pb::Op { kind: Some(Kind::Fill(pb::Fill { x: n, ..Default::default() })) }
    }
    fn undo(n: u32) -> pb::Op {
        pb::Op { kind: Some(Kind::Undo(pb::Undo { count: Some(n) })) }
    }
    fn redo(n: u32) -> pb::Op {
        pb::Op { kind: Some(Kind::Redo(pb::Redo { count: Some(n) })) }
    }
    fn xs(ops: &[pb::Op]) -> Vec<f32> {
        effective(ops)
            .into_iter()
            .map(|o| match &o.kind {
                Some(Kind::Fill(f)) => f.x,
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn undo_takes_back_and_redo_restores() {
        assert_eq!(xs(&[fill(1.), fill(2.), fill(3.), undo(2)]), vec![1.]);
        assert_eq!(xs(&[fill(1.), fill(2.), fill(3.), undo(2), redo(1)]), vec![1., 2.]);
    }

    #[test]
    fn a_new_op_forgets_the_redo_stack() {
        assert_eq!(xs(&[fill(1.), fill(2.), undo(1), fill(3.), redo(1)]), vec![1., 3.]);
    }

    #[test]
    fn undo_past_the_start_and_extra_redo_are_harmless() {
        assert_eq!(xs(&[fill(1.), undo(5), redo(9)]), vec![1.]);
        assert_eq!(xs(&[undo(1), fill(1.)]), vec![1.]);
    }
}
