//! Cross-cutting tests of the merkle module.
