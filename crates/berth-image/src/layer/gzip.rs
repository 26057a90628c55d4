//! Compressing a layer for a registry quickly: gzip written as one member per MiB of input,
//! each deflated at the fastest level, or stored when its bytes look incompressible
//! (already compressed or random data, which deflate would only slow down and grow). Any
//! gzip reader takes the members as one stream (RFC 1952 allows several; Go's, zlib's and
//! flate2's multi-member readers all do).

use std::io::{self, Write};

use flate2::write::GzEncoder;
use flate2::Compression;

/// Input bytes per gzip member.
const MEMBER: usize = 1 << 20;

/// Estimated bits of information per byte above which a chunk is stored, not deflated:
/// random or compressed data measures ~7.99, text ~4.5, executables ~6.
const STORE_ABOVE_BITS: f64 = 7.9;

/// A writer of gzip members (see the module); [`LayerGzip::finish`] writes the last one.
pub struct LayerGzip<W: Write> {
    inner: W,
    buf: Vec<u8>,
    members: usize,
}

impl<W: Write> LayerGzip<W> {
    pub fn new(inner: W) -> LayerGzip<W> {
        LayerGzip {
            inner,
            buf: Vec::with_capacity(MEMBER),
            members: 0,
        }
    }

    /// Writes what is buffered (at least one member, so an empty layer is a valid gzip
    /// stream) and gives back the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.buf.is_empty() || self.members == 0 {
            self.write_member()?;
        }
        Ok(self.inner)
    }

    fn write_member(&mut self) -> io::Result<()> {
        let level = if bits_per_byte(&self.buf) > STORE_ABOVE_BITS {
            Compression::none()
        } else {
            Compression::fast()
        };
        let mut gz = GzEncoder::new(&mut self.inner, level);
        gz.write_all(&self.buf)?;
        gz.finish()?;
        self.buf.clear();
        self.members += 1;
        Ok(())
    }
}

impl<W: Write> Write for LayerGzip<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = b.len().min(MEMBER - self.buf.len());
        self.buf.extend_from_slice(&b[..n]);
        if self.buf.len() == MEMBER {
            self.write_member()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Shannon entropy of a sample of `data`'s bytes (every 7th), in bits per byte.
fn bits_per_byte(data: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for &b in data.iter().step_by(7) {
        counts[b as usize] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(b)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn pseudo_random(n: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn random_is_stored_text_is_deflated_and_both_come_back() {
        let random = pseudo_random(3 * MEMBER + 12345);
        let text: Vec<u8> = b"a line of a text file in a layer\n"
            .iter()
            .copied()
            .cycle()
            .take(2 * MEMBER + 7)
            .collect();
        assert!(bits_per_byte(&random) > STORE_ABOVE_BITS);
        assert!(bits_per_byte(&text) < 5.0);
        for (data, max_ratio) in [(&random, 1.001), (&text, 0.05)] {
            let mut w = LayerGzip::new(Vec::new());
            // uneven writes cross member boundaries
            for c in data.chunks(100_003) {
                w.write_all(c).unwrap();
            }
            let gz = w.finish().unwrap();
            assert!(
                (gz.len() as f64) < data.len() as f64 * max_ratio,
                "{} -> {}",
                data.len(),
                gz.len()
            );
            assert_eq!(&gunzip(&gz), data);
        }
    }

    #[test]
    fn an_empty_layer_is_one_empty_member() {
        let gz = LayerGzip::new(Vec::new()).finish().unwrap();
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        assert!(gunzip(&gz).is_empty());
    }
}
