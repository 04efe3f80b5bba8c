//! DNG opcode lists (DNG 1.7 spec, chapter 7). Placeholder type until the module lands.

/// One parsed opcode.
#[derive(Debug, Clone, PartialEq)]
pub enum Opcode {}
