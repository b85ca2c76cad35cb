//! Unpadded base64url (RFC 4648 §5) with the strict decoding of the Python
//! reference: alphabet only, no padding, and only the canonical string for
//! each byte string (non-zero unused trailing bits are refused).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Encode `data` without `=` padding.
pub fn encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextets = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for &s in &sextets[..chunk.len() + 1] {
            out.push(char::from(ALPHABET[s as usize]));
        }
    }
    out
}

fn value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// Why `text` is refused, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A character outside `[A-Za-z0-9_-]`, or a length that no byte string has.
    NotBase64url,
    /// Decodes, but is not the string `encode` gives for those bytes.
    NotCanonical,
}

/// Decode `text`; only the canonical unpadded form is accepted.
pub fn decode(text: &str) -> Result<Vec<u8>, Refusal> {
    let bytes = text.as_bytes();
    if bytes.len() % 4 == 1 {
        return Err(Refusal::NotBase64url);
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3 + 2);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c).ok_or(Refusal::NotBase64url)? << (18 - 6 * i);
        }
        let full = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&full[..chunk.len() - 1]);
    }
    // Unused trailing bits would let two strings decode to the same bytes.
    if encode(&out) != text {
        return Err(Refusal::NotCanonical);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors_without_padding() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain.as_bytes()), coded);
            assert_eq!(decode(coded), Ok(plain.as_bytes().to_vec()));
        }
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn refuses_padding_alphabet_length_and_trailing_bits() {
        assert_eq!(decode("Zg=="), Err(Refusal::NotBase64url));
        assert_eq!(decode("Zm9v+"), Err(Refusal::NotBase64url));
        assert_eq!(decode("Zm9vY"), Err(Refusal::NotBase64url));
        assert_eq!(decode("Zh"), Err(Refusal::NotCanonical));
        assert_eq!(decode("Zm9"), Err(Refusal::NotCanonical));
    }
}
