//! Account addresses: the domain and local-part of a mailbox that nmail
//! hosts.
//!
//! These are the names nmail itself creates folders for, so they are
//! stricter than what RFC 5321 allows on the wire: a hosted local-part is a
//! lower-case dot-atom of letters, digits and `.`, `_`, `-` (no `+`, which is
//! the sub-address delimiter), and a domain is a lower-case LDH host name.
//! Letters and digits beyond ASCII (`김철수`) are allowed for mail that
//! arrives with SMTPUTF8 (RFC 6531); such names are kept in Unicode NFKC
//! and lower case, so the same name typed two ways (NFD from a Mac,
//! full-width `ＫＩＭ` from a Korean IME) is one account, as the domain
//! side gets from UTS #46.
//! Matching against them is case-insensitive, as every mail server in
//! practice does, although RFC 5321 §2.4 lets the local-part be
//! case-sensitive.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Why a name cannot be a hosted domain or account.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AddressError {
    /// The domain is not a host name of letters, digits and hyphens.
    #[error("{0:?} is not a valid domain name")]
    Domain(String),
    /// The local-part has characters a hosted account may not use.
    #[error(
        "{0:?} is not a valid account name (use letters, digits, '.', '_' or '-'; \
         no leading, trailing or double dot)"
    )]
    LocalPart(String),
    /// No `@` between local-part and domain.
    #[error("{0:?} is not an address of the form name@domain")]
    NoAt(String),
}

/// A hosted domain, lower case, e.g. `example.com`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(String);

impl DomainName {
    /// Validates and lower-cases `s`. An internationalised name (a Korean
    /// `회사.한국`, say) is kept in its ASCII form, the A-labels of RFC 5890
    /// (`xn--vf4b131b.xn--3e0b707e`), which is what DNS, SMTP without
    /// SMTPUTF8 and folder names can carry; an `xn--` label must decode.
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        let bad = || AddressError::Domain(s.to_string());
        // One trailing dot is the root (an absolute name); more is not a name.
        let trimmed = s.strip_suffix('.').unwrap_or(s);
        let d = if trimmed.is_ascii() {
            trimmed.to_ascii_lowercase()
        } else {
            idna::domain_to_ascii_strict(trimmed).map_err(|_| bad())?
        };
        if d.split('.').any(|l| l.starts_with("xn--")) && idna::domain_to_unicode(&d).1.is_err() {
            return Err(bad());
        }
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if d.is_empty() || d.len() > 253 || !d.split('.').all(label_ok) {
            return Err(bad());
        }
        Ok(DomainName(d))
    }

    /// The name for people to read: U-labels where the name is
    /// internationalised (`회사.한국`), else the name itself.
    pub fn to_unicode(&self) -> String {
        match idna::domain_to_unicode(&self.0) {
            (u, Ok(())) => u,
            _ => self.0.clone(),
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DomainName {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The local-part of a hosted account, lower case, e.g. `bob`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalPart(String);

impl LocalPart {
    /// Validates `s` and brings it to its one form: lower case, and NFKC
    /// where it is not ASCII (lower-casing can undo composition, hence the
    /// NFC after it).
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        let l = if s.is_ascii() {
            s.to_ascii_lowercase()
        } else {
            let compat = icu_normalizer::ComposingNormalizerBorrowed::new_nfkc().normalize(s);
            icu_normalizer::ComposingNormalizerBorrowed::new_nfc()
                .normalize(&compat.to_lowercase())
                .into_owned()
        };
        // RFC 5321 §4.5.3.1.1: at most 64 octets.
        let ok = !l.is_empty()
            && l.len() <= 64
            && !l.starts_with('.')
            && !l.ends_with('.')
            && !l.contains("..")
            && l.chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || matches!(c, '.' | '_' | '-')
                    || (!c.is_ascii() && c.is_alphanumeric())
            });
        if ok {
            Ok(LocalPart(l))
        } else {
            Err(AddressError::LocalPart(s.to_string()))
        }
    }

    /// The local-part as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A hosted account's address, `local@domain`, lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    local: LocalPart,
    domain: DomainName,
}

impl Address {
    /// Joins a local-part and a domain.
    pub fn new(local: LocalPart, domain: DomainName) -> Self {
        Address { local, domain }
    }

    /// Parses `local@domain`, splitting at the last `@`.
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        let (l, d) = s
            .rsplit_once('@')
            .ok_or_else(|| AddressError::NoAt(s.to_string()))?;
        Ok(Address {
            local: LocalPart::parse(l)?,
            domain: DomainName::parse(d)?,
        })
    }

    /// The local-part.
    pub fn local(&self) -> &LocalPart {
        &self.local
    }

    /// The domain.
    pub fn domain(&self) -> &DomainName {
        &self.domain
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local.0, self.domain.0)
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let a = Address::parse("Bob.Smith@Example.COM").unwrap();
        assert_eq!(a.to_string(), "bob.smith@example.com");
        for bad in [
            "bob",
            "@example.com",
            "bob@",
            ".bob@example.com",
            "bob.@example.com",
            "b..ob@example.com",
            "bob+tag@example.com",
            "bo/b@example.com",
            "bob@exa_mple.com",
            "bob@-example.com",
            "bob@example..com",
            "../x@example.com",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad} accepted");
        }
        assert!(DomainName::parse("localhost").is_ok());
        assert!(DomainName::parse("xn--3e0b707e.kr").is_ok());
    }

    #[test]
    fn non_ascii_account_names_are_one_form() {
        let a = LocalPart::parse("김철수").unwrap();
        assert_eq!(a.as_str(), "김철수");
        // The same syllables decomposed (as a Mac writes file names) and
        // a capital letter: one account.
        let nfd = "\u{1100}\u{1175}\u{11B7}철수";
        assert_eq!(LocalPart::parse(nfd).unwrap(), a);
        assert_eq!(LocalPart::parse("José").unwrap().as_str(), "josé");
        // Full-width letters from an IME are the ASCII name.
        assert_eq!(LocalPart::parse("ＫＩＭ").unwrap().as_str(), "kim");
        assert_eq!(
            LocalPart::parse("ＫＩＭ").unwrap(),
            LocalPart::parse("kim").unwrap()
        );
        assert_eq!(
            Address::parse("받는이@예시.kr").unwrap().to_string(),
            "받는이@xn--vv4b11d.kr"
        );
        // Symbols, spaces, controls and over-long names are not names.
        for bad in ["김 철수", "김★", "a\u{200b}b", "한\u{7f}", &"가".repeat(22)] {
            assert!(LocalPart::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(LocalPart::parse(&"가".repeat(21)).is_ok());
    }

    #[test]
    fn internationalised_domains_are_kept_as_a_labels() {
        let d = DomainName::parse("회사.한국").unwrap();
        assert_eq!(d.as_str(), "xn--vf4b131b.xn--3e0b707e");
        assert_eq!(d.to_unicode(), "회사.한국");
        // The same name typed in either form, or in capitals, is one domain.
        assert_eq!(DomainName::parse("XN--VF4B131B.xn--3e0b707e").unwrap(), d);
        let a = Address::parse("bob@회사.한국").unwrap();
        assert_eq!(a.to_string(), "bob@xn--vf4b131b.xn--3e0b707e");
        assert_eq!(
            DomainName::parse("example.com").unwrap().to_unicode(),
            "example.com"
        );
        // Not names: undecodable A-labels, a space, a slash, an empty label.
        for bad in [
            "xn--zz--.com",
            "xn--a.com",
            "회사 .한국",
            "회/사.한국",
            "..한국",
            "example.com..",
        ] {
            assert!(DomainName::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
