//! The Summarize action. This file is yours: `xif update-source` never changes it.
use std::str::FromStr as _;

use rust_decimal::Decimal;

use crate::types::*;

/// Count, sum, mean, minimum and maximum of one column (named by its header), as exact
/// decimals; empty fields are counted apart. The mean has at most 6 digits after the point.
pub fn summarize(text: String, column: String, delimiter: String) -> Result<SummarizeOutput, ActionError> {
    let mut reader = csv::ReaderBuilder::new().delimiter(crate::delimiter(&delimiter)?).from_reader(text.as_bytes());
    let headers = reader.headers()?.clone();
    let Some(index) = headers.iter().position(|h| h == column) else {
        let known: Vec<&str> = headers.iter().collect();
        return Err(format!("no column {column:?}; the columns are {known:?}").into());
    };
    let (mut count, mut blank) = (0i32, 0i32);
    let (mut sum, mut min, mut max) = (Decimal::ZERO, None::<Decimal>, None::<Decimal>);
    for record in reader.records() {
        let record = record?;
        let line = crate::line_of(&text, &record)?;
        let field = record.get(index).unwrap_or("").trim();
        if field.is_empty() {
            blank += 1;
            continue;
        }
        let value =
            Decimal::from_str(field).map_err(|e| format!("line {line}: {column} is {field:?}, not a number ({e})"))?;
        sum = sum.checked_add(value).ok_or_else(|| format!("line {line}: the sum of {column} overflows"))?;
        count += 1;
        min = Some(min.map_or(value, |m| m.min(value)));
        max = Some(max.map_or(value, |m| m.max(value)));
    }
    let mean = if count == 0 { Decimal::ZERO } else { (sum / Decimal::from(count)).round_dp(6).normalize() };
    Ok(SummarizeOutput {
        count,
        blank,
        sum: sum.to_string(),
        mean: mean.to_string(),
        min: min.unwrap_or_default().to_string(),
        max: max.unwrap_or_default().to_string(),
    })
}
