//! Frames, recipes and the executor that runs them.
//!
//! [`prepare()`] turns a decoded raw into a [`Frame`]; [`render()`] runs a [`Recipe`] (stages
//! as data, each implementing [`stage::Stage`], looked up in a [`Registry`]) on a frame;
//! [`develop()`] does both.

pub mod develop;
pub mod frame;
pub mod hdr;
pub mod recipe;
pub mod registry;
pub mod render;
pub mod stage;

pub use develop::{Developed, OutputSpec, RenderInfo, develop};
pub use frame::{Frame, prepare};
pub use recipe::Recipe;
pub use registry::Registry;
pub use render::{Rendering, render};
pub use stage::{Signal, Stage};
