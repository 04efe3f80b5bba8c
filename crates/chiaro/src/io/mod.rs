//! Output encoders, ICC profiles, EXIF and atomic writes.
