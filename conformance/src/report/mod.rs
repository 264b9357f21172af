//! Renders a [`RunReport`](crate::verdict::RunReport): live console progress and the JUnit, JSON
//! and HTML files, all written even when scenarios fail.
