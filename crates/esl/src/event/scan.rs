//! Finding the bytes that delimit an event's headers (unescaped `"` in JSON, `:` and
//! `\n` in plain) 64 bytes at a time, as bit masks.
//!
//! Headers are short (a JSON event has a quote every 7 bytes on average), so the cost
//! of parsing is dominated by how each delimiter is found. A block is compared whole
//! (the compiler turns the byte loop into SIMD compares where the target has them) and packed into
//! one `u64` per byte class; walking the delimiters is then a `trailing_zeros` per
//! delimiter, with no per-byte loop and no `unsafe`.

/// Bytes per block (one bit each in a mask).
pub(super) const BLOCK: usize = 64;

/// Multiplying a word of 0/1 bytes by this gathers the eight bits into its top byte
/// (bit `i` from byte `i`; every partial product is a distinct bit, so nothing
/// carries).
const GATHER: u64 = 0x0102_0408_1020_4080;

/// Packs a block of 0/1 bytes into a mask, one multiply per eight bytes (no
/// `movemask` is reachable without `unsafe`).
#[inline(always)]
fn pack(class: &[u8; BLOCK]) -> u64 {
    let mut mask = 0u64;
    for (k, w) in class.chunks_exact(8).enumerate() {
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        mask |= (w.wrapping_mul(GATHER) >> 56) << (8 * k);
    }
    mask
}

/// The mask of the bytes equal to `x` in `block` (compared whole: SIMD compares
/// wherever the target has them).
#[inline(always)]
fn classify(block: &[u8; BLOCK], x: u8) -> u64 {
    let mut class = [0u8; BLOCK];
    for (c, &b) in class.iter_mut().zip(block) {
        *c = (b == x) as u8;
    }
    pack(&class)
}

/// Masks of the `"` and the `\\` in `block`; the second is computed only when there is
/// one (rare), else it is zero.
#[inline(always)]
fn classify_json(block: &[u8; BLOCK]) -> (u64, u64) {
    let any_backslash = block.iter().fold(false, |a, &b| a | (b == b'\\'));
    let backslashes = if any_backslash {
        classify(block, b'\\')
    } else {
        0
    };
    (classify(block, b'"'), backslashes)
}

/// The mask of the bytes equal to `x` or `y` in `block`.
#[inline(always)]
fn classify_either(block: &[u8; BLOCK], x: u8, y: u8) -> u64 {
    let mut class = [0u8; BLOCK];
    for (c, &b) in class.iter_mut().zip(block) {
        *c = ((b == x) | (b == y)) as u8;
    }
    pack(&class)
}

/// `f` on the block of `b` starting at `at`, zero-padded past the end.
#[inline(always)]
fn block_at<T>(b: &[u8], at: usize, f: impl Fn(&[u8; BLOCK]) -> T) -> T {
    match b
        .get(at..at + BLOCK)
        .and_then(|c| <&[u8; BLOCK]>::try_from(c).ok())
    {
        Some(c) => f(c),
        None => {
            let mut pad = [0u8; BLOCK];
            let rest = b.get(at..).unwrap_or_default();
            pad[..rest.len()].copy_from_slice(rest);
            f(&pad)
        }
    }
}

/// The unescaped `"` of a JSON text, in order: every `"` not preceded by an odd run
/// of `\` (exactly the quotes a string scanner that skips the byte after each `\`
/// stops at, given the same string starts).
pub(super) struct JsonQuotes<'a> {
    b: &'a [u8],
    /// Offset of the current block.
    base: usize,
    /// Quotes of the current block not yet returned.
    quotes: u64,
    /// The first byte of the next block is escaped by a `\` ending this one.
    carry: bool,
    /// A `\` was seen so far.
    pub(super) escapes: bool,
}

impl<'a> JsonQuotes<'a> {
    pub(super) fn new(b: &'a [u8]) -> Self {
        let (quotes, carry, escapes) = block_quotes(b, 0, false);
        JsonQuotes {
            b,
            base: 0,
            quotes,
            carry,
            escapes,
        }
    }

    /// The position of the next unescaped quote.
    #[inline(always)]
    pub(super) fn next(&mut self) -> Option<usize> {
        while self.quotes == 0 {
            if self.base + BLOCK >= self.b.len() {
                return None;
            }
            self.base += BLOCK;
            // Values in and out (no `&mut self` escapes), so the scanner's state
            // stays in registers in the caller's loop.
            let (quotes, carry, escapes) = block_quotes(self.b, self.base, self.carry);
            self.quotes = quotes;
            self.carry = carry;
            self.escapes |= escapes;
        }
        let p = self.base + self.quotes.trailing_zeros() as usize;
        self.quotes &= self.quotes - 1;
        Some(p)
    }
}

/// The unescaped quotes of the block at `at`, given whether its first byte is
/// escaped; whether the next block's first byte is; whether the block has a `\\`.
fn block_quotes(b: &[u8], at: usize, carry: bool) -> (u64, bool, bool) {
    let (quotes, backslashes) = block_at(b, at, classify_json);
    if backslashes == 0 && !carry {
        return (quotes, false, false);
    }
    let (escaped, carry) = escaped(backslashes, carry);
    (quotes & !escaped, carry, backslashes != 0)
}

/// The bytes of a block escaped by a `\`, given its backslashes and whether its first
/// byte is escaped by the previous block; and whether the next block's first byte is.
#[cold]
fn escaped(mut backslashes: u64, carry_in: bool) -> (u64, bool) {
    let mut escaped = 0u64;
    let mut carry = false;
    if carry_in {
        escaped |= 1;
        backslashes &= !1;
    }
    while backslashes != 0 {
        let p = backslashes.trailing_zeros();
        backslashes &= backslashes - 1;
        if p == 63 {
            carry = true;
        } else {
            let next = 1u64 << (p + 1);
            escaped |= next;
            // An escaped `\` escapes nothing.
            backslashes &= !next;
        }
    }
    (escaped, carry)
}

/// The positions of `:` and `\n` in a plain event, in order: each line's first colon
/// and its end.
pub(super) struct LineMarks<'a> {
    b: &'a [u8],
    base: usize,
    marks: u64,
}

impl<'a> LineMarks<'a> {
    pub(super) fn new(b: &'a [u8]) -> Self {
        LineMarks {
            b,
            base: 0,
            marks: line_marks(b, 0),
        }
    }

    /// The position of the next `:` or `\n`.
    #[inline(always)]
    pub(super) fn next(&mut self) -> Option<usize> {
        while self.marks == 0 {
            if self.base + BLOCK >= self.b.len() {
                return None;
            }
            self.base += BLOCK;
            self.marks = line_marks(self.b, self.base);
        }
        let p = self.base + self.marks.trailing_zeros() as usize;
        self.marks &= self.marks - 1;
        Some(p)
    }
}

fn line_marks(b: &[u8], at: usize) -> u64 {
    block_at(b, at, |c| classify_either(c, b':', b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_quotes(s: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'\\' => i += 2,
                b'"' => {
                    out.push(i);
                    i += 1;
                }
                _ => i += 1,
            }
        }
        out
    }

    #[test]
    fn unescaped_quotes_match_a_byte_by_byte_scan() {
        let mut samples: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\"".to_vec(),
            br#"{"a":"b","ccccccccccccccc":"\\d"}"#.to_vec(),
            br#""\"" "\\" "\\\"" "\\\\""#.to_vec(),
            b"\"\"\"\"\"\"\"\"\"\x22\x23\x21\xa2\x5c".to_vec(),
        ];
        // Backslash runs across a block boundary.
        for run in 0..5 {
            for at in 58..66 {
                let mut s = vec![b'x'; 130];
                for k in 0..run {
                    s[at + k] = b'\\';
                }
                s[at + run] = b'"';
                s[129] = b'"';
                samples.push(s);
            }
        }
        for s in samples {
            let mut q = JsonQuotes::new(&s);
            let got: Vec<usize> = std::iter::from_fn(|| q.next()).collect();
            assert_eq!(got, naive_quotes(&s), "{:?}", String::from_utf8_lossy(&s));
        }
    }

    #[test]
    fn line_marks_match_a_byte_by_byte_scan() {
        let mut s = Vec::new();
        for i in 0..40 {
            s.extend_from_slice(format!("Name-{i}: {}:{}\n", "v".repeat(i * 3), i).as_bytes());
        }
        for len in [0, 1, 63, 64, 65, s.len()] {
            let s = &s[..len];
            let mut m = LineMarks::new(s);
            let got: Vec<usize> = std::iter::from_fn(|| m.next()).collect();
            let want: Vec<usize> = (0..s.len())
                .filter(|&i| s[i] == b':' || s[i] == b'\n')
                .collect();
            assert_eq!(got, want);
        }
    }
}
