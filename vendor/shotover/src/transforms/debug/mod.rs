#[cfg(feature = "alpha-transforms")]
pub mod force_parse;
#[cfg(feature = "alpha-transforms")]
pub mod log_to_file;
pub mod printer;
pub mod returner;
