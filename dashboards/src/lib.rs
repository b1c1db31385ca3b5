//! Grafana dashboard and provisioning generation from the inventory (not written yet).
