//! Prints to stdout and stderr.
use crate::types::*;

/// Prints the message to stdout and a second line to stderr.
pub fn print(message: String) -> Result<(), ActionError> {
    println!("{message}");
    eprintln!("to stderr: {message}");
    Ok(())
}
