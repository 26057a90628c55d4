//! Stream framing of attach, logs and exec: dockerd's 8-byte multiplexing header.
//!
//! Without a TTY, stdout and stderr share one connection; each chunk is prefixed by
//! `[stream, 0, 0, 0, len_be32]` where stream is 0 stdin, 1 stdout, 2 stderr.

/// Which standard stream a chunk belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdStream {
    Stdin = 0,
    Stdout = 1,
    Stderr = 2,
}

/// Appends one multiplexed frame for `data` to `out`.
pub fn encode_frame(stream: StdStream, data: &[u8], out: &mut Vec<u8>) {
    out.reserve(8 + data.len());
    out.push(stream as u8);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
}

/// Returns one multiplexed frame for `data`.
pub fn frame(stream: StdStream, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(stream, data, &mut out);
    out
}

/// Content type of an attach/logs/exec stream for a given API version and TTY setting.
pub fn content_type(multiplexed: bool, version_at_least_1_42: bool) -> &'static str {
    if multiplexed && version_at_least_1_42 {
        "application/vnd.docker.multiplexed-stream"
    } else {
        "application/vnd.docker.raw-stream"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_docker_header() {
        let f = frame(StdStream::Stderr, b"oops\n");
        assert_eq!(&f[..8], &[2, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(&f[8..], b"oops\n");
    }
}
