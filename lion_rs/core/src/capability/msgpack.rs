//! The canonical MessagePack of a capability chain, and a strict decoder for
//! exactly that shape.
//!
//! The decoder accepts what the Python reference's typed `msgspec` decode
//! accepts (any integer or string width, any array width, but the right kinds
//! in the right places and no trailing bytes); canonical form is then checked
//! by re-encoding and comparing, as the reference does.

use std::collections::BTreeSet;

use super::Capability;

/// One link as it appears on the wire, before rights become a set.
pub type RawLink = (String, String, String, Vec<String>, i128, Option<String>);

/// The decoded payload: name, version and links.
pub type RawPayload = (String, i128, Vec<RawLink>);

/// The smallest and largest integers MessagePack can hold.
pub const INT_MIN: i128 = i64::MIN as i128;
pub const INT_MAX: i128 = u64::MAX as i128;

fn put_len(out: &mut Vec<u8>, len: usize, fix: u8, fix_max: usize, wide: [u8; 3]) {
    if len <= fix_max {
        out.push(fix | len as u8);
    } else if wide[0] != 0 && len <= 0xff {
        out.push(wide[0]);
        out.push(len as u8);
    } else if len <= 0xffff {
        out.push(wide[1]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(wide[2]);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn put_array(out: &mut Vec<u8>, len: usize) {
    put_len(out, len, 0x90, 15, [0, 0xdc, 0xdd]);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len(), 0xa0, 31, [0xd9, 0xda, 0xdb]);
    out.extend_from_slice(s.as_bytes());
}

/// The shortest form of `n`; None if MessagePack cannot hold it.
fn put_int(out: &mut Vec<u8>, n: i128) -> Option<()> {
    if !(INT_MIN..=INT_MAX).contains(&n) {
        return None;
    }
    if n >= 0 {
        let u = n as u64;
        if u <= 0x7f {
            out.push(u as u8);
        } else if u <= 0xff {
            out.extend_from_slice(&[0xcc, u as u8]);
        } else if u <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else {
        let i = n as i64;
        if i >= -32 {
            out.push(i as u8);
        } else if i >= -0x80 {
            out.extend_from_slice(&[0xd0, i as u8]);
        } else if i >= -0x8000 {
            out.push(0xd1);
            out.extend_from_slice(&(i as i16).to_be_bytes());
        } else if i >= -0x8000_0000 {
            out.push(0xd2);
            out.extend_from_slice(&(i as i32).to_be_bytes());
        } else {
            out.push(0xd3);
            out.extend_from_slice(&i.to_be_bytes());
        }
    }
    Some(())
}

/// The canonical payload of `chain`; None if an expiry does not fit MessagePack.
pub fn encode_chain(name: &str, version: i128, chain: &[Capability]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(16 + chain.len() * 96);
    put_array(&mut out, 3);
    put_str(&mut out, name);
    put_int(&mut out, version)?;
    put_array(&mut out, chain.len());
    for cap in chain {
        put_array(&mut out, 6);
        put_str(&mut out, &cap.id);
        put_str(&mut out, &cap.holder);
        put_str(&mut out, &cap.resource);
        put_array(&mut out, cap.rights.len());
        for right in &cap.rights {
            put_str(&mut out, right);
        }
        put_int(&mut out, cap.expiry)?;
        match &cap.parent {
            Some(parent) => put_str(&mut out, parent),
            None => out.push(0xc0),
        }
    }
    Some(out)
}

/// A cursor over the payload; every failure is the same "malformed" refusal.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

type Step<T> = Result<T, ()>;

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Step<u8> {
        let b = *self.data.get(self.pos).ok_or(())?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Step<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(())?;
        let slice = self.data.get(self.pos..end).ok_or(())?;
        self.pos = end;
        Ok(slice)
    }

    fn uint(&mut self, width: usize) -> Step<u64> {
        Ok(self
            .take(width)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn array(&mut self) -> Step<usize> {
        match self.byte()? {
            b @ 0x90..=0x9f => Ok(usize::from(b & 0x0f)),
            0xdc => Ok(self.uint(2)? as usize),
            0xdd => Ok(self.uint(4)? as usize),
            _ => Err(()),
        }
    }

    fn fixed_array(&mut self, len: usize) -> Step<()> {
        if self.array()? == len {
            Ok(())
        } else {
            Err(())
        }
    }

    fn str_after(&mut self, tag: u8) -> Step<String> {
        let len = match tag {
            0xa0..=0xbf => usize::from(tag & 0x1f),
            0xd9 => self.uint(1)? as usize,
            0xda => self.uint(2)? as usize,
            0xdb => self.uint(4)? as usize,
            _ => return Err(()),
        };
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| ())
    }

    fn str(&mut self) -> Step<String> {
        let tag = self.byte()?;
        self.str_after(tag)
    }

    fn optional_str(&mut self) -> Step<Option<String>> {
        match self.byte()? {
            0xc0 => Ok(None),
            tag => self.str_after(tag).map(Some),
        }
    }

    fn int(&mut self) -> Step<i128> {
        let tag = self.byte()?;
        Ok(match tag {
            0x00..=0x7f => i128::from(tag),
            0xe0..=0xff => i128::from(tag as i8),
            0xcc => i128::from(self.uint(1)?),
            0xcd => i128::from(self.uint(2)?),
            0xce => i128::from(self.uint(4)?),
            0xcf => i128::from(self.uint(8)?),
            0xd0 => i128::from(self.uint(1)? as u8 as i8),
            0xd1 => i128::from(self.uint(2)? as u16 as i16),
            0xd2 => i128::from(self.uint(4)? as u32 as i32),
            0xd3 => i128::from(self.uint(8)? as i64),
            _ => return Err(()),
        })
    }

    /// Elements are read one by one, so a claimed length never allocates ahead of the data.
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Step<T>) -> Step<Vec<T>> {
        let len = self.array()?;
        let mut items = Vec::with_capacity(len.min(self.data.len() - self.pos));
        for _ in 0..len {
            items.push(item(self)?);
        }
        Ok(items)
    }

    fn link(&mut self) -> Step<RawLink> {
        self.fixed_array(6)?;
        Ok((
            self.str()?,
            self.str()?,
            self.str()?,
            self.list(Self::str)?,
            self.int()?,
            self.optional_str()?,
        ))
    }
}

/// Decode `[name, version, [link, ...]]`; Err if anything else, or trailing bytes.
pub fn decode_payload(data: &[u8]) -> Result<RawPayload, ()> {
    let mut r = Reader { data, pos: 0 };
    r.fixed_array(3)?;
    let name = r.str()?;
    let version = r.int()?;
    let links = r.list(Reader::link)?;
    if r.pos != data.len() {
        return Err(());
    }
    Ok((name, version, links))
}

/// A raw link as a capability (rights become a set; canonical form is checked by the caller).
pub fn to_capability(link: RawLink) -> Capability {
    let (id, holder, resource, rights, expiry, parent) = link;
    Capability {
        id,
        holder,
        resource,
        rights: rights.into_iter().collect::<BTreeSet<_>>(),
        expiry,
        parent,
    }
}
