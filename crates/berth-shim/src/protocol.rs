//! The shim protocol: length-prefixed frames on the shim's Unix socket.
//!
//! Every frame is `[kind: u8][len: u32 big-endian][payload: len bytes]`. See
//! `docs/shim-protocol.md`. The same codec serves the synchronous shim and the async daemon.

/// Upper bound of one frame's payload; output is cut into frames no larger than this.
pub const MAX_FRAME: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    // client -> shim
    /// Bytes for the process's stdin.
    Stdin(Vec<u8>),
    /// Close the process's stdin.
    CloseStdin,
    /// Terminal size: rows, columns.
    Resize(u16, u16),
    /// Start the process (the init waits for it after create; an exec is made now).
    Start,
    /// Send a signal to the process.
    Signal(i32),
    // shim -> client
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// The process runs with this pid (host pid namespace).
    Started(i32),
    /// The process exited with this code (128+signal when killed).
    Exited(i32),
    /// Starting failed; the message says why, the code is docker's (126, 127, 125).
    Error(i32, String),
}

impl Frame {
    pub fn encode(&self) -> Vec<u8> {
        let (kind, payload): (u8, Vec<u8>) = match self {
            Frame::Stdin(d) => (1, d.clone()),
            Frame::CloseStdin => (2, vec![]),
            Frame::Resize(h, w) => (3, [h.to_be_bytes(), w.to_be_bytes()].concat()),
            Frame::Start => (4, vec![]),
            Frame::Signal(s) => (5, s.to_be_bytes().to_vec()),
            Frame::Stdout(d) => (11, d.clone()),
            Frame::Stderr(d) => (12, d.clone()),
            Frame::Started(pid) => (13, pid.to_be_bytes().to_vec()),
            Frame::Exited(code) => (14, code.to_be_bytes().to_vec()),
            Frame::Error(code, msg) => (15, [&code.to_be_bytes()[..], msg.as_bytes()].concat()),
        };
        let mut out = Vec::with_capacity(5 + payload.len());
        out.push(kind);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// Takes one complete frame off the front of `buf`, if there is one.
    pub fn decode(buf: &mut Vec<u8>) -> Result<Option<Frame>, String> {
        if buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
        if len > MAX_FRAME {
            return Err(format!("shim frame of {len} bytes exceeds {MAX_FRAME}"));
        }
        if buf.len() < 5 + len {
            return Ok(None);
        }
        let kind = buf[0];
        let payload: Vec<u8> = buf[5..5 + len].to_vec();
        buf.drain(..5 + len);
        let int = |p: &[u8]| -> Result<i32, String> {
            p.get(..4)
                .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or_else(|| format!("shim frame kind {kind}: short payload"))
        };
        let frame = match kind {
            1 => Frame::Stdin(payload),
            2 => Frame::CloseStdin,
            3 if payload.len() == 4 => Frame::Resize(
                u16::from_be_bytes([payload[0], payload[1]]),
                u16::from_be_bytes([payload[2], payload[3]]),
            ),
            4 => Frame::Start,
            5 => Frame::Signal(int(&payload)?),
            11 => Frame::Stdout(payload),
            12 => Frame::Stderr(payload),
            13 => Frame::Started(int(&payload)?),
            14 => Frame::Exited(int(&payload)?),
            15 => Frame::Error(
                int(&payload)?,
                String::from_utf8_lossy(&payload[4..]).into_owned(),
            ),
            _ => return Err(format!("unknown shim frame kind {kind}")),
        };
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_partial_frames() {
        let frames = vec![
            Frame::Stdin(b"hi".to_vec()),
            Frame::CloseStdin,
            Frame::Resize(24, 80),
            Frame::Start,
            Frame::Signal(15),
            Frame::Stdout(b"out".to_vec()),
            Frame::Stderr(vec![]),
            Frame::Started(42),
            Frame::Exited(137),
            Frame::Error(127, "not found".into()),
        ];
        let mut wire: Vec<u8> = frames.iter().flat_map(|f| f.encode()).collect();
        let mut buf = Vec::new();
        let mut got = Vec::new();
        // Feed byte by byte: decode must wait for whole frames.
        while !wire.is_empty() {
            buf.push(wire.remove(0));
            while let Some(f) = Frame::decode(&mut buf).unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got, frames);
    }

    #[test]
    fn rejects_unknown_and_oversized() {
        let mut buf = vec![99, 0, 0, 0, 0];
        assert!(Frame::decode(&mut buf).is_err());
        let mut buf = vec![11, 0xff, 0xff, 0xff, 0xff];
        assert!(Frame::decode(&mut buf).is_err());
    }
}
