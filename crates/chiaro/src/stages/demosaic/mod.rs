//! Demosaicing.
