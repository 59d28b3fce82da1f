//! Register-level models of the encoder blocks and the software encoders behind them.
pub mod h264;
pub mod ve;
