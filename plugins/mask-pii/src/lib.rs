//! `mask-pii`: masks payment card numbers and e-mail addresses in message bodies.
//!
//! * A card number is a run of 13–19 digits, optionally grouped by single spaces or
//!   dashes, that passes the Luhn check; all its digits but the last `keep_last` become
//!   the mask character (`4111 1111 1111 1111` → `**** **** **** 1111`).
//! * An e-mail address keeps the first character of its local part and its domain
//!   (`jane.doe@example.com` → `j*******@example.com`).
//!
//! Bodies are scanned as bytes, so bodies that are not UTF-8 are masked too and never
//! corrupted. A body with nothing to mask is passed on unchanged (nothing is copied).
//!
//! Configuration: `mask` (one ASCII character, default `*`), `keep_last` (0–8, default
//! 4), `cards` and `emails` (`true`/`false`, default `true`). Counters: `cards_masked`,
//! `emails_masked`.

use sluice_sdk::{Config, ConfigError, Error, Message, Output, Transform, Transformed};

/// The plugin.
pub struct MaskPii {
    mask: u8,
    keep_last: usize,
    cards: bool,
    emails: bool,
}

impl Transform for MaskPii {
    fn init(config: &Config) -> Result<Self, ConfigError> {
        config.only(&["mask", "keep_last", "cards", "emails"])?;
        let mask = match config.get("mask").unwrap_or("*").as_bytes() {
            [b] if b.is_ascii_graphic() => *b,
            _ => return Err(ConfigError::key("mask", "`mask` must be one printable ASCII character")),
        };
        let keep_last: usize = config.parse_or("keep_last", 4)?;
        if keep_last > 8 {
            return Err(ConfigError::key("keep_last", "`keep_last` may be at most 8"));
        }
        Ok(Self { mask, keep_last, cards: config.parse_or("cards", true)?, emails: config.parse_or("emails", true)? })
    }

    fn transform<'a>(&'a self, msg: &Message<'a>) -> Result<Transformed<'a>, Error> {
        let (body, cards, emails) = self.mask_body(msg.body());
        match body {
            None => Ok(Transformed::Unchanged),
            Some(body) => {
                if cards > 0 {
                    sluice_sdk::counter_add("cards_masked", cards);
                }
                if emails > 0 {
                    sluice_sdk::counter_add("emails_masked", emails);
                }
                Ok(Output::new().body(body).into())
            }
        }
    }
}

impl MaskPii {
    /// The masked body (`None` when nothing matched) and the counts of cards and e-mails.
    pub fn mask_body(&self, body: &[u8]) -> (Option<Vec<u8>>, u64, u64) {
        let mut out: Option<Vec<u8>> = None;
        let (mut cards, mut emails) = (0, 0);
        if self.cards {
            for (start, end) in card_spans(body) {
                let buf = out.get_or_insert_with(|| body.to_vec());
                let digits = buf[start..end].iter().filter(|b| b.is_ascii_digit()).count();
                let mut seen = 0;
                for b in &mut buf[start..end] {
                    if b.is_ascii_digit() {
                        seen += 1;
                        if seen <= digits - self.keep_last.min(digits) {
                            *b = self.mask;
                        }
                    }
                }
                cards += 1;
            }
        }
        if self.emails {
            for (start, end) in email_local_parts(body) {
                let buf = out.get_or_insert_with(|| body.to_vec());
                for b in &mut buf[start + 1..end] {
                    *b = self.mask;
                }
                emails += 1;
            }
        }
        (out, cards, emails)
    }
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Byte ranges of card numbers.
fn card_spans(s: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if !s[i].is_ascii_digit() || (i > 0 && s[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        // A run of digits with single separators between digits.
        let start = i;
        let mut digits = Vec::with_capacity(19);
        let mut end = i;
        while i < s.len() {
            if s[i].is_ascii_digit() {
                digits.push(s[i]);
                i += 1;
                end = i;
            } else if (s[i] == b' ' || s[i] == b'-') && i + 1 < s.len() && s[i + 1].is_ascii_digit() && !digits.is_empty() {
                i += 1;
            } else {
                break;
            }
        }
        let bounded = end >= s.len() || !s[end].is_ascii_alphanumeric();
        if bounded && (13..=19).contains(&digits.len()) && luhn(&digits) {
            spans.push((start, end));
        }
        i = end.max(start + 1);
    }
    spans
}

fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// Byte ranges of the local parts of e-mail addresses.
fn email_local_parts(s: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    for (at, _) in s.iter().enumerate().filter(|(_, b)| **b == b'@') {
        let mut start = at;
        while start > 0 && is_local(s[start - 1]) {
            start -= 1;
        }
        while start < at && s[start] == b'.' {
            start += 1;
        }
        let mut end = at + 1;
        while end < s.len() && (s[end].is_ascii_alphanumeric() || s[end] == b'.' || s[end] == b'-') {
            end += 1;
        }
        let domain = &s[at + 1..end];
        let domain = domain.strip_suffix(b".").unwrap_or(domain);
        let tld_ok = domain
            .rsplit(|b| *b == b'.')
            .next()
            .is_some_and(|t| t.len() >= 2 && t.iter().all(u8::is_ascii_alphabetic));
        if at > start && domain.contains(&b'.') && tld_ok {
            spans.push((start, at));
        }
    }
    spans
}

sluice_sdk::export_transform!(MaskPii);

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::testing::{TestMessage as M, TestOutcome as O, run_transform};

    fn masked(cfg: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        match run_transform::<MaskPii>(cfg, &[M::new(body.to_vec())]).unwrap().remove(0) {
            O::Replaced(mut o) => o.remove(0).body.unwrap(),
            O::Unchanged => body.to_vec(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn masks_cards_and_emails() {
        assert_eq!(masked(&[], b"card 4111 1111 1111 1111 ok"), b"card **** **** **** 1111 ok");
        assert_eq!(masked(&[], b"4111-1111-1111-1111"), b"****-****-****-1111");
        assert_eq!(masked(&[], b"{\"pan\":\"5500005555555559\"}"), b"{\"pan\":\"************5559\"}");
        assert_eq!(masked(&[], b"mail jane.doe@example.com now"), b"mail j*******@example.com now");
        assert_eq!(masked(&[("mask", "#"), ("keep_last", "0")], b"4111111111111111"), b"################");
    }

    #[test]
    fn leaves_other_numbers_and_non_utf8_alone() {
        let out = run_transform::<MaskPii>(&[], &[M::new("order 1234567890123 total 12"), M::new("a@b"), M::new("")]).unwrap();
        assert_eq!(out, [O::Unchanged, O::Unchanged, O::Unchanged], "not Luhn-valid, not an address, empty");
        let mut body = vec![0xff, b' '];
        body.extend_from_slice(b"x@example.org");
        assert_eq!(masked(&[], &body), [&[0xff, b' '][..], b"x@example.org"].concat(), "one-letter local part keeps its letter");
        let mut body = vec![0xfe];
        body.extend_from_slice(b" 4111111111111111");
        assert_eq!(masked(&[], &body), [&[0xfe][..], b" ************1111"].concat());
    }

    #[test]
    fn refuses_bad_config() {
        assert!(run_transform::<MaskPii>(&[("mask", "ab")], &[]).is_err());
        assert!(run_transform::<MaskPii>(&[("cards", "yes")], &[]).is_err());
    }
}
