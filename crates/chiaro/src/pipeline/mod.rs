//! Recipes and the executor that runs them.

pub mod develop;
pub mod recipe;

pub use develop::{Developed, OutputSpec, develop};
pub use recipe::{Recipe, Stage};
