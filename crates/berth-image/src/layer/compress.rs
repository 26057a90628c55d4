//! Recognising a layer's compression by its magic bytes.

use std::io::{BufRead, BufReader, Read};

use super::LayerError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

impl Compression {
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Compression::Xz
        } else {
            Compression::None
        }
    }
}

/// Wraps `r` in a decompressor chosen by its first bytes (plain tar, gzip or zstd).
pub fn decompress<'a, R: Read + 'a>(r: R) -> Result<Box<dyn Read + 'a>, LayerError> {
    let mut br = BufReader::with_capacity(64 * 1024, r);
    let head = br.fill_buf().map_err(LayerError::Tar)?;
    match Compression::detect(head) {
        Compression::None => Ok(Box::new(br)),
        Compression::Gzip => Ok(Box::new(flate2::read::MultiGzDecoder::new(br))),
        Compression::Zstd => {
            let d = ruzstd::decoding::StreamingDecoder::new(br)
                .map_err(|e| LayerError::Tar(std::io::Error::other(format!("zstd: {e}"))))?;
            Ok(Box::new(d))
        }
        other => Err(LayerError::UnsupportedCompression(
            format!("{other:?}").to_lowercase(),
        )),
    }
}
