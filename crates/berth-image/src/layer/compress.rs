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

/// The most an xz stream may make the decoder allocate (KiB).
const XZ_MEMORY_LIMIT_KIB: u32 = 256 * 1024;

/// Wraps `r` in a decompressor chosen by its first bytes (plain tar, gzip, zstd, bzip2 or xz).
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
        Compression::Bzip2 => Ok(Box::new(bzip2::read::MultiBzDecoder::new(br))),
        // A dictionary larger than xz -9's (64 MiB) several times over is refused rather
        // than allocated.
        Compression::Xz => Ok(Box::new(lzma_rust2::XzReader::new_mem_limit(
            br,
            true,
            XZ_MEMORY_LIMIT_KIB,
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// `data` through a compressor command (`bzip2 -c`, `xz -c`).
    fn compress_with(cmd: &str, data: &[u8]) -> Vec<u8> {
        let mut child = Command::new(cmd)
            .arg("-c")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd} (apt install bzip2 xz-utils): {e}"));
        let mut stdin = child.stdin.take().unwrap();
        let owned = data.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&owned).unwrap());
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        assert!(out.status.success());
        out.stdout
    }

    #[test]
    fn bzip2_and_xz_are_recognised_and_decompressed() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for (cmd, kind) in [("bzip2", Compression::Bzip2), ("xz", Compression::Xz)] {
            let packed = compress_with(cmd, &data);
            assert_eq!(Compression::detect(&packed), kind);
            let mut out = Vec::new();
            decompress(&packed[..])
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, data, "{cmd}");
            // A damaged stream is an error, not a short read.
            let mut bad = packed.clone();
            let mid = bad.len() / 2;
            bad[mid] ^= 0xff;
            let mut sink = Vec::new();
            assert!(
                decompress(&bad[..])
                    .and_then(|mut r| r.read_to_end(&mut sink).map_err(LayerError::Tar))
                    .is_err(),
                "{cmd}"
            );
        }
    }
}
