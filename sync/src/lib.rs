//! Mail store.
