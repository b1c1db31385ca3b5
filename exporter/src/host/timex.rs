//! The `timex` collector: the kernel's clock discipline state from
//! `adjtimex(2)` (offset, errors, synchronisation status, PPS counters).
//! It reads the live kernel, whatever `--path.procfs` says.

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, Scrape};
use crate::metrics::Snapshot;

/// `STA_NANO`: offsets are in nanoseconds rather than microseconds.
const STA_NANO: i32 = 0x2000;
/// `TIME_ERROR`: the clock is not synchronised.
const TIME_ERROR: i32 = 5;
/// Scaled ppm: 16-bit fraction of parts per million.
const PPM16FRAC: f64 = 1_000_000.0 * 65536.0;

/// Turns the kernel's values into the metrics.
pub fn encode(t: &homelab_sys::Timex, out: &mut Snapshot) {
    let divisor = if t.status & STA_NANO != 0 { 1e9 } else { 1e6 };
    let g = |out: &mut Snapshot, name: &'static str, help: &'static str, v: f64| out.gauge(name, help, &[], v);
    g(out, "node_timex_sync_status", "Is clock synchronized to a reliable server (1 = yes, 0 = no).", if t.state == TIME_ERROR { 0.0 } else { 1.0 });
    g(out, "node_timex_offset_seconds", "Time offset in between local system and reference clock.", t.offset as f64 / divisor);
    g(out, "node_timex_frequency_adjustment_ratio", "Local clock frequency adjustment.", 1.0 + t.freq as f64 / PPM16FRAC);
    g(out, "node_timex_maxerror_seconds", "Maximum error in seconds.", t.maxerror as f64 / 1e6);
    g(out, "node_timex_estimated_error_seconds", "Estimated error in seconds.", t.esterror as f64 / 1e6);
    g(out, "node_timex_status", "Value of the status array bits.", t.status as f64);
    g(out, "node_timex_loop_time_constant", "Phase-locked loop time constant.", t.constant as f64);
    g(out, "node_timex_tick_seconds", "Seconds between clock ticks.", t.tick as f64 / 1e6);
    g(out, "node_timex_pps_frequency_hertz", "Pulse per second frequency.", t.ppsfreq as f64 / PPM16FRAC);
    g(out, "node_timex_pps_jitter_seconds", "Pulse per second jitter.", t.jitter as f64 / divisor);
    g(out, "node_timex_pps_shift_seconds", "Pulse per second interval duration.", t.shift as f64);
    g(out, "node_timex_pps_stability_hertz", "Pulse per second stability, average of recent frequency changes.", t.stabil as f64 / PPM16FRAC);
    g(out, "node_timex_tai_offset_seconds", "International Atomic Time (TAI) offset.", t.tai as f64);
    out.counter("node_timex_pps_jitter_total", "Pulse per second count of jitter limit exceeded events.", &[], t.jitcnt as f64);
    out.counter("node_timex_pps_calibration_total", "Pulse per second count of calibration intervals.", &[], t.calcnt as f64);
    out.counter("node_timex_pps_error_total", "Pulse per second count of calibration errors.", &[], t.errcnt as f64);
    out.counter("node_timex_pps_stability_exceeded_total", "Pulse per second count of stability limit exceeded events.", &[], t.stbcnt as f64);
}

struct Timex;

impl HostCollector for Timex {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let t = homelab_sys::adjtimex().map_err(|e| Error::io("adjtimex(2)", e))?;
        encode(&t, out);
        Ok(())
    }
}

/// Builds the collector.
pub fn build(_: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Timex)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynchronised_clock_and_nano_offsets() {
        let t = homelab_sys::Timex { state: TIME_ERROR, status: STA_NANO, offset: 1_500_000_000, tick: 10000, ..Default::default() };
        let mut s = Snapshot::new();
        encode(&t, &mut s);
        let v = |n: &str| s.families.iter().find(|f| f.name == n).map(|f| f.samples[0].value);
        assert_eq!(v("node_timex_sync_status"), Some(0.0));
        assert_eq!(v("node_timex_offset_seconds"), Some(1.5));
        assert_eq!(v("node_timex_tick_seconds"), Some(0.01));
    }
}
