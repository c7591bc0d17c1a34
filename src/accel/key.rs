//! Signature keys: a tree's structure, each array's shape and dtype, and the values of plain
//! inputs. Array values are never part of a key.

use crate::array::DType;
use crate::trace::{Leaf, Tree};
use std::hash::{Hash, Hasher};

/// One visited piece of an argument tree, as far as the cache is concerned.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KeyItem {
    Array(DType, Vec<usize>),
    /// An array carrying an error: never cached, but keyed so the call can report it.
    Failed,
    F64(u64),
    F32(u32),
    I64(i64),
    Usize(usize),
    Bool(bool),
    Str(String),
    Open(&'static str, usize),
    Close,
}

impl KeyItem {
    /// The item for humans: `f64[2, 3]`, `2.5`, `true`, `"name"`.
    fn text(&self) -> String {
        match self {
            KeyItem::Array(d, s) => {
                let dims: Vec<String> = s.iter().map(|d| d.to_string()).collect();
                format!("{d}[{}]", dims.join(", "))
            }
            KeyItem::Failed => "an array carrying an error".into(),
            KeyItem::F64(b) => format!("{:?}", f64::from_bits(*b)),
            KeyItem::F32(b) => format!("{:?}f32", f32::from_bits(*b)),
            KeyItem::I64(v) => format!("{v}i64"),
            KeyItem::Usize(v) => format!("{v}usize"),
            KeyItem::Bool(v) => format!("{v}"),
            KeyItem::Str(s) => format!("{s:?}"),
            KeyItem::Open(kind, n) => format!("{kind} of {n}"),
            KeyItem::Close => "end".into(),
        }
    }
}

/// The cache key of a call.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Signature(pub Vec<KeyItem>);

impl Signature {
    /// The key of `args`.
    pub fn of<A: Tree>(args: &A) -> Signature {
        let mut items = Vec::new();
        args.visit(&mut |leaf| {
            items.push(match leaf {
                Leaf::Array(a) => match a.data() {
                    Ok(d) => KeyItem::Array(d.dtype(), d.shape().to_vec()),
                    Err(_) => KeyItem::Failed,
                },
                Leaf::F64(v) => KeyItem::F64(v.to_bits()),
                Leaf::F32(v) => KeyItem::F32(v.to_bits()),
                Leaf::I64(v) => KeyItem::I64(v),
                Leaf::Usize(v) => KeyItem::Usize(v),
                Leaf::Bool(v) => KeyItem::Bool(v),
                Leaf::Str(s) => KeyItem::Str(s.to_string()),
                Leaf::Open(kind, n) => KeyItem::Open(kind, n),
                Leaf::Close => KeyItem::Close,
            })
        });
        Signature(items)
    }

    /// The hash of `args`' key, computed as the leaves are visited (nothing allocated), or
    /// `None` when an array carries an error. Equal keys hash equally.
    pub fn hash_of<A: Tree>(args: &A) -> Option<u64> {
        let mut h = FxHasher::default();
        let mut failed = false;
        args.visit(&mut |leaf| match leaf {
            Leaf::Array(a) => match a.dtype_and_shape() {
                Some((dtype, shape)) => {
                    h.write_u64(1 + dtype as u64);
                    h.write_usize(shape.len());
                    shape.iter().for_each(|&d| h.write_usize(d));
                }
                None => failed = true,
            },
            Leaf::F64(v) => (8, v.to_bits()).hash(&mut h),
            Leaf::F32(v) => (9, v.to_bits()).hash(&mut h),
            Leaf::I64(v) => (10, v).hash(&mut h),
            Leaf::Usize(v) => (11, v).hash(&mut h),
            Leaf::Bool(v) => (12, v).hash(&mut h),
            Leaf::Str(s) => (13, s).hash(&mut h),
            Leaf::Open(kind, n) => (14, kind, n).hash(&mut h),
            Leaf::Close => h.write_u64(15),
        });
        (!failed).then(|| h.finish())
    }

    /// True when `args` has exactly this key (compared leaf by leaf, nothing allocated).
    pub fn matches<A: Tree>(&self, args: &A) -> bool {
        let mut items = self.0.iter();
        let mut same = true;
        args.visit(&mut |leaf| {
            if !same {
                return;
            }
            same = match (leaf, items.next()) {
                (Leaf::Array(a), Some(KeyItem::Array(d, s))) => {
                    a.dtype_and_shape().is_some_and(|(dtype, shape)| dtype == *d && shape == s.as_slice())
                }
                (Leaf::F64(v), Some(KeyItem::F64(b))) => v.to_bits() == *b,
                (Leaf::F32(v), Some(KeyItem::F32(b))) => v.to_bits() == *b,
                (Leaf::I64(v), Some(KeyItem::I64(w))) => v == *w,
                (Leaf::Usize(v), Some(KeyItem::Usize(w))) => v == *w,
                (Leaf::Bool(v), Some(KeyItem::Bool(w))) => v == *w,
                (Leaf::Str(v), Some(KeyItem::Str(w))) => v == w.as_str(),
                (Leaf::Open(k, n), Some(KeyItem::Open(k2, n2))) => k == *k2 && n == *n2,
                (Leaf::Close, Some(KeyItem::Close)) => true,
                _ => false,
            };
        });
        same && items.next().is_none()
    }

    /// `(in0: f64[2], 2.5, true)`: the signature for humans.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let mut k = 0;
        for item in &self.0 {
            if let KeyItem::Array(..) = item {
                parts.push(format!("in{k}: {}", item.text()));
                k += 1;
            } else if !matches!(item, KeyItem::Failed | KeyItem::Open(..) | KeyItem::Close) {
                parts.push(item.text());
            }
        }
        format!("({})", parts.join(", "))
    }

    /// How many items two keys share, position by position (a cheap nearness measure).
    fn shared(&self, other: &Signature) -> usize {
        self.0.iter().zip(&other.0).filter(|(a, b)| a == b).count()
    }

    /// Why `self` missed: what differs from the nearest of `cached`, in words.
    pub fn explain_miss<'a>(&self, cached: impl Iterator<Item = &'a Signature>) -> Option<String> {
        let nearest = cached.max_by_key(|c| self.shared(c))?;
        if nearest.0.len() != self.0.len() {
            return Some(format!(
                "the argument structure differs from the nearest cached signature {}",
                nearest.describe()
            ));
        }
        let mut array_index = 0;
        let mut reasons = Vec::new();
        for (mine, theirs) in self.0.iter().zip(&nearest.0) {
            if mine != theirs {
                reasons.push(match (mine, theirs) {
                    (KeyItem::Array(d1, _), KeyItem::Array(d2, _)) if d1 != d2 => {
                        format!("input array {array_index} has dtype {d1}, the cached one {d2}")
                    }
                    (KeyItem::Array(_, s1), KeyItem::Array(_, s2)) => {
                        format!("input array {array_index} has shape {s1:?}, the cached one {s2:?}")
                    }
                    _ => format!("a plain input is {}, the cached one {}", mine.text(), theirs.text()),
                });
            }
            if matches!(mine, KeyItem::Array(..)) {
                array_index += 1;
            }
        }
        Some(reasons.join("; "))
    }
}

/// The Fx hash (rustc's): a multiply-rotate per word, much cheaper than SipHash for the short
/// keys of a cache hit. Keys are not attacker-controlled, so no DoS resistance is needed.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
    fn write_u8(&mut self, v: u8) {
        self.write_u64(v as u64);
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64);
    }
}
