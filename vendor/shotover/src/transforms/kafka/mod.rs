pub mod sink_cluster;
pub mod sink_single;
