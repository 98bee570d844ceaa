//! The Parse action. This file is yours: `xif update-source` never changes it.
use crate::types::*;

/// Splits CSV text into its header and its records.
pub fn parse(text: String, delimiter: String, has_headers: bool, flexible: bool) -> Result<ParseOutput, ActionError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(crate::delimiter(&delimiter)?)
        .has_headers(has_headers)
        .flexible(flexible)
        .from_reader(text.as_bytes());
    let headers = if has_headers { reader.headers()?.iter().map(String::from).collect() } else { Vec::new() };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record?;
        rows.push(Row { line: crate::line_of(&text, &record)?, fields: record.iter().map(String::from).collect() });
    }
    Ok(ParseOutput { headers, count: i32::try_from(rows.len())?, rows })
}
