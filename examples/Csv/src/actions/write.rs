//! The Write action. This file is yours: `xif update-source` never changes it.
use crate::types::*;

/// Writes records as CSV text, quoting fields only where needed unless QuoteAll.
pub fn write(
    headers: Vec<String>,
    rows: Vec<Row>,
    delimiter: String,
    quote_all: bool,
) -> Result<WriteOutput, ActionError> {
    let style = if quote_all { csv::QuoteStyle::Always } else { csv::QuoteStyle::Necessary };
    let mut writer =
        csv::WriterBuilder::new().delimiter(crate::delimiter(&delimiter)?).quote_style(style).from_writer(Vec::new());
    if !headers.is_empty() {
        writer.write_record(&headers)?;
    }
    for row in &rows {
        writer.write_record(&row.fields)?;
    }
    let bytes = writer.into_inner()?;
    Ok(WriteOutput { text: String::from_utf8(bytes)? })
}
