//! The inventory model and the Prometheus rule, promtool test and Alertmanager generators (not written yet).
