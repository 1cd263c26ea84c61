//! Identifiers that must be valid before they enter the system: resident ID numbers
//! (GB 11643-1999), mainland mobile numbers and vehicle identification numbers (ISO 3779).

use std::fmt;

use chrono::NaiveDate;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("is empty")]
    Empty,
    #[error("must be {expected} characters, got {got}")]
    Length { expected: usize, got: usize },
    #[error("has an invalid character {0:?}")]
    Character(char),
    #[error("check character is {found}, expected {expected}")]
    CheckCharacter { found: char, expected: char },
    #[error("birth date {0} is not a real date")]
    BirthDate(String),
    #[error("is not a mainland China mobile number (11 digits starting 13-19)")]
    Mobile,
}

/// A resident identity card number: 17 digits and a check character, with a real birth date.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResidentId(String);

const ID_WEIGHTS: [usize; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

impl ResidentId {
    /// Validates a resident ID number (a lower-case `x` check character is accepted and normalised).
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let text = text.trim().to_ascii_uppercase();
        if text.is_empty() {
            return Err(IdError::Empty);
        }
        let chars: Vec<char> = text.chars().collect();
        let got = chars.len();
        let Ok([first17 @ .., last]) = <[char; 18]>::try_from(chars) else {
            return Err(IdError::Length { expected: 18, got });
        };
        if let Some(&bad) = first17.iter().find(|c| !c.is_ascii_digit()) {
            return Err(IdError::Character(bad));
        }
        if !(last.is_ascii_digit() || last == 'X') {
            return Err(IdError::Character(last));
        }
        // Eighteen ASCII characters now, so these byte ranges fall on character boundaries.
        let (Some(birth), Some(digits17)) = (text.get(6..14), text.get(..17)) else {
            return Err(IdError::Length { expected: 18, got });
        };
        if NaiveDate::parse_from_str(birth, "%Y%m%d").is_err() {
            return Err(IdError::BirthDate(birth.to_string()));
        }
        let expected = Self::check_character(digits17);
        if last != expected {
            return Err(IdError::CheckCharacter {
                found: last,
                expected,
            });
        }
        Ok(ResidentId(text))
    }

    /// The check character for 17 leading digits (the caller guarantees they are digits).
    pub fn check_character(first17: &str) -> char {
        let sum: usize = first17
            .bytes()
            .zip(ID_WEIGHTS)
            .map(|(b, w)| usize::from(b.wrapping_sub(b'0')) * w)
            .sum();
        // `sum % 11` is below 11, the length of the fixed-size ID_CHECK.
        #[allow(clippy::indexing_slicing)]
        let check = ID_CHECK[sum % 11];
        char::from(check)
    }

    /// The birth date encoded in the number.
    pub fn birth_date(&self) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(self.0.get(6..14)?, "%Y%m%d").ok()
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The masked form shown on screens and in logs: `110105********002X`.
    pub fn masked(&self) -> String {
        // Always 18 ASCII characters (checked by `parse`), so both ranges are present.
        let (head, tail) = (self.0.get(..6), self.0.get(14..));
        format!(
            "{}********{}",
            head.unwrap_or_default(),
            tail.unwrap_or_default()
        )
    }
}

impl fmt::Display for ResidentId {
    /// Displays the masked form; use [`ResidentId::as_str`] where the full number is authorised.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// A mainland China mobile number, normalised to 11 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mobile(String);

impl Mobile {
    /// Validates a mobile number; `+86`/`86` prefixes, spaces and dashes are normalised away.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let compact: String = text
            .trim()
            .chars()
            .filter(|c| *c != ' ' && *c != '-')
            .collect();
        if compact.is_empty() {
            return Err(IdError::Empty);
        }
        let digits = compact
            .strip_prefix("+86")
            .or_else(|| {
                if compact.len() == 13 {
                    compact.strip_prefix("86")
                } else {
                    None
                }
            })
            .unwrap_or(&compact);
        let bytes = digits.as_bytes();
        let valid = bytes.len() == 11
            && bytes.iter().all(u8::is_ascii_digit)
            && matches!(bytes, [b'1', b'3'..=b'9', ..]);
        if !valid {
            return Err(IdError::Mobile);
        }
        Ok(Mobile(digits.to_string()))
    }

    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The masked form: `138****8000`.
    pub fn masked(&self) -> String {
        // Always 11 ASCII digits (checked by `parse`), so both ranges are present.
        let (head, tail) = (self.0.get(..3), self.0.get(7..));
        format!(
            "{}****{}",
            head.unwrap_or_default(),
            tail.unwrap_or_default()
        )
    }
}

/// A vehicle identification number with a valid check digit (position 9).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vin(String);

const VIN_WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];

fn vin_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => c.to_digit(10),
        'A'..='H' => Some(u32::from(c) - u32::from('A') + 1),
        'J'..='N' => Some(u32::from(c) - u32::from('J') + 1),
        'P' => Some(7),
        'R' => Some(9),
        'S'..='Z' => Some(u32::from(c) - u32::from('S') + 2),
        _ => None,
    }
}

impl Vin {
    /// Validates a VIN (upper-cased first).
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let text = text.trim().to_ascii_uppercase();
        if text.is_empty() {
            return Err(IdError::Empty);
        }
        let chars: Vec<char> = text.chars().collect();
        let got = chars.len();
        let Ok(chars) = <[char; 17]>::try_from(chars) else {
            return Err(IdError::Length { expected: 17, got });
        };
        let mut sum = 0;
        for (c, w) in chars.iter().zip(VIN_WEIGHTS) {
            sum += vin_value(*c).ok_or(IdError::Character(*c))? * w;
        }
        let expected = Self::check_digit_for(sum);
        if chars[8] != expected {
            return Err(IdError::CheckCharacter {
                found: chars[8],
                expected,
            });
        }
        Ok(Vin(text))
    }

    fn check_digit_for(sum: u32) -> char {
        match sum % 11 {
            10 => 'X',
            d => char::from_digit(d, 10).unwrap_or('0'),
        }
    }

    /// Completes 17 characters (position 9 a placeholder) with their check digit; `None` if a
    /// character is not allowed in a VIN.
    pub fn with_check_digit(draft: &str) -> Option<Vin> {
        let chars: Vec<char> = draft.chars().collect();
        let mut chars = <[char; 17]>::try_from(chars).ok()?;
        chars[8] = '0';
        let mut sum = 0;
        for (c, w) in chars.iter().zip(VIN_WEIGHTS) {
            sum += vin_value(*c)? * w;
        }
        chars[8] = Self::check_digit_for(sum);
        Some(Vin(chars.into_iter().collect()))
    }

    /// The 17 characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Vin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A bank account number (还款账户): 10 to 30 digits, spaces between groups allowed; the digits.
pub fn bank_account(text: &str) -> Result<String, String> {
    let digits: String = text.chars().filter(|c| *c != ' ').collect();
    if (10..=30).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(format!("{text:?} is not a bank account (10 to 30 digits)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        let id = ResidentId::parse("11010519491231002x").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(
            Mobile::parse("13800138000").unwrap().masked(),
            "138****8000"
        );
        assert_eq!(
            Mobile::parse("8613800138000").unwrap().as_str(),
            "13800138000"
        );
    }

    #[test]
    fn vin_completion() {
        let vin = Vin::with_check_digit("1M8GDM9A0KP042788").unwrap();
        assert_eq!(vin.as_str(), "1M8GDM9AXKP042788");
        assert!(Vin::with_check_digit("1M8GDM9A0KO042788").is_none());
    }
}
