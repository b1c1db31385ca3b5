//! Integration tests of the exporter.
