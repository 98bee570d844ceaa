//! Computes something from each input.
use std::str::FromStr;

use rust_decimal::Decimal as Exact;

use crate::types::*;

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn day_of_year(d: &Date) -> i32 {
    const CUM: [i32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    CUM[(d.month - 1) as usize] + d.day as i32 + i32::from(d.month > 2 && is_leap(d.year as i64))
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn dec(s: &str) -> Result<Exact, ActionError> {
    Exact::from_str(s).map_err(|e| ActionError::new(format!("bad decimal {s:?}: {e}")))
}

/// Computes something from each input.
#[allow(clippy::too_many_arguments)]
pub fn compute(
    words: String,
    int: i32,
    long: i64,
    dec_in: Decimal,
    flag: bool,
    day: Date,
    at: Time,
    when: DateTime,
    data: Vec<u8>,
    baskets: Vec<Basket>,
    nested: Vec<Vec<i32>>,
) -> Result<ComputeOutput, ActionError> {
    let d = dec(&dec_in)?;
    let mut total = Exact::ZERO;
    let mut baskets_out = Vec::new();
    for b in baskets {
        let mut items = Vec::new();
        for mut item in b.items {
            total = total.checked_add(dec(&item.price)?).ok_or_else(|| ActionError::new("total overflows"))?;
            item.name = item.name.to_uppercase();
            item.tags.sort();
            items.push(item);
        }
        baskets_out.push(Basket { owner: b.owner.chars().rev().collect(), items });
    }
    let millis = days_from_civil(when.year as i64, when.month as i64, when.day as i64) * 86_400_000
        + (when.hour as i64 * 3600 + when.minute as i64 * 60 + when.second as i64) * 1000
        + when.millisecond as i64;
    let mut reversed = data.clone();
    reversed.reverse();
    Ok(ComputeOutput {
        upper: words.to_uppercase(),
        chars: words.chars().count() as i32,
        int_negated: -(int as i64),
        long_half: long / 2,
        dec_negated: (-d).to_string(),
        dec_scale: d.scale() as i32,
        not_flag: !flag,
        day_of_year: day_of_year(&day),
        seconds: at.hour as i32 * 3600 + at.minute as i32 * 60 + at.second as i32,
        when_millis: millis,
        when_same: when,
        data_len: data.len() as i64,
        data_sum: data.iter().map(|b| *b as i64).sum(),
        data_reversed: reversed,
        total: total.to_string(),
        baskets_out,
        nested_sums: nested.iter().map(|v| v.iter().map(|x| *x as i64).sum()).collect(),
    })
}
