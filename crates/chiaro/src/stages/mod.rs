//! The stages of a development, one module each, in pipeline order:
//! black/white normalisation, DNG opcodes, white balance, demosaic, highlight
//! reconstruction, colour (camera -> output space), exposure, tone curve, orientation.

pub mod black_level;
pub mod defects;
pub mod demosaic;
pub mod highlights;
pub mod opcodes;
pub mod orientation;
pub mod tone;
pub mod white_balance;
