//! Echoes and computes with every type.
use crate::types::*;

fn is_leap(y: u16) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: u16, m: u8) -> u8 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn next_day(d: Date) -> Date {
    if d.day < days_in_month(d.year, d.month) {
        Date { day: d.day + 1, ..d }
    } else if d.month < 12 {
        Date { month: d.month + 1, day: 1, ..d }
    } else {
        Date { year: d.year + 1, month: 1, day: 1 }
    }
}

/// Adds two decimals written as text, exactly, by scaling both to the same number of fraction
/// digits (enough for the tests: small numbers, no exponent).
fn add_decimals(a: &str, b: &str) -> Result<String, ActionError> {
    let bad = |s: &str| ActionError { message: format!("not a decimal: {s}") };
    let split = |s: &str| -> Result<(i128, usize), ActionError> {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = format!("{int}{frac}");
        Ok((digits.parse::<i128>().map_err(|_| bad(s))?, frac.len()))
    };
    let (x, fx) = split(a)?;
    let (y, fy) = split(b)?;
    let scale = fx.max(fy);
    let sum = x * 10i128.pow((scale - fx) as u32) + y * 10i128.pow((scale - fy) as u32);
    if scale == 0 {
        return Ok(sum.to_string());
    }
    let sign = if sum < 0 { "-" } else { "" };
    let abs = sum.unsigned_abs().to_string();
    let abs = format!("{abs:0>width$}", width = scale + 1);
    let (int, frac) = abs.split_at(abs.len() - scale);
    Ok(format!("{sign}{int}.{frac}"))
}

/// Echoes and computes with every type.
#[allow(clippy::too_many_arguments)]
pub fn compute(
    who: Person,
    count: i64,
    price: Decimal,
    day: Date,
    at: Time,
    when: DateTime,
    data: Vec<u8>,
    tags: Vec<String>,
    polite: bool,
) -> Result<ComputeOutput, ActionError> {
    let greeting = if polite { format!("Good day, {} ({})", who.name, who.age) } else { format!("Hi {}", who.name) };
    let total = add_decimals(&price, &price)?;
    let later = Time { hour: (at.hour + 1) % 24, ..at };
    let moment = DateTime { millisecond: (when.millisecond + 1) % 1000, ..when };
    let mut sorted = tags.clone();
    sorted.sort();
    let people = vec![Person { name: who.name.clone(), age: who.age + 1 }, Person { name: "Nobody".into(), age: 0 }];
    let mut reversed = data.clone();
    reversed.reverse();
    Ok(ComputeOutput {
        greeting,
        total,
        next_day: next_day(day),
        later,
        moment,
        size: data.len() as i32,
        doubled: count.wrapping_mul(2),
        sorted,
        people,
        was_polite: polite,
        reversed,
    })
}
