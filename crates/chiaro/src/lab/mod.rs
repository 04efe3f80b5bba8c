//! Image-quality lab: metrics and synthetic test data.
