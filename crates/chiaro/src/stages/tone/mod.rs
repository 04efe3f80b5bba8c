//! Global tone mapping from scene-referred to display-referred light.

pub mod curve;
