//! Recipes and the executor.
