//! The stages of a development, one module each, in pipeline order.

pub mod demosaic;
pub mod opcodes;
