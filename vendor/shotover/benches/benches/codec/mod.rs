pub mod cassandra;
pub mod kafka;
