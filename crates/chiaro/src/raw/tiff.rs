//! TIFF structure.
