//! The one system call homelab-exporter needs that no safe crate offers:
//! `adjtimex(2)` in read-only mode, for the `timex` collector (kernel clock
//! synchronisation state). Everything else in the workspace forbids unsafe
//! code; this crate holds the single `unsafe` block, reviewed here.
#![deny(missing_docs)]
// `c_long` fields are i64 on 64-bit targets but i32 on armv7: the casts are needed there.
#![allow(clippy::unnecessary_cast)]

/// The kernel's clock discipline state, as `adjtimex(2)` returns it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timex {
    /// Return value: clock state (TIME_OK = 0 ... TIME_ERROR = 5).
    pub state: i32,
    /// Time offset (ns when STA_NANO is set, else µs).
    pub offset: i64,
    /// Frequency offset, scaled ppm (16-bit fraction).
    pub freq: i64,
    /// Maximum error (µs).
    pub maxerror: i64,
    /// Estimated error (µs).
    pub esterror: i64,
    /// Status flags (STA_*).
    pub status: i32,
    /// PLL time constant.
    pub constant: i64,
    /// Clock precision (µs).
    pub precision: i64,
    /// Clock frequency tolerance (ppm, scaled).
    pub tolerance: i64,
    /// Microseconds (or ns) of the current time.
    pub time_usec: i64,
    /// Microseconds between clock ticks.
    pub tick: i64,
    /// PPS frequency (scaled ppm).
    pub ppsfreq: i64,
    /// PPS jitter.
    pub jitter: i64,
    /// PPS interval duration (seconds, log2).
    pub shift: i32,
    /// PPS stability.
    pub stabil: i64,
    /// PPS count of jitter limit exceeded events.
    pub jitcnt: i64,
    /// PPS count of calibration intervals.
    pub calcnt: i64,
    /// PPS count of calibration errors.
    pub errcnt: i64,
    /// PPS count of stability limit exceeded events.
    pub stbcnt: i64,
    /// TAI offset in seconds.
    pub tai: i32,
}

/// Reads the clock state without changing it (`modes = 0`).
pub fn adjtimex() -> std::io::Result<Timex> {
    // SAFETY: `timex` is a plain C struct for which all-zero bytes are a valid
    // value; with `modes == 0` the kernel only writes into the struct we own,
    // which lives for the whole call.
    let (ret, tx) = unsafe {
        let mut tx: libc::timex = std::mem::zeroed();
        tx.modes = 0;
        (libc::adjtimex(&mut tx), tx)
    };
    if ret < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Timex {
        state: ret,
        offset: tx.offset as i64,
        freq: tx.freq as i64,
        maxerror: tx.maxerror as i64,
        esterror: tx.esterror as i64,
        status: tx.status,
        constant: tx.constant as i64,
        precision: tx.precision as i64,
        tolerance: tx.tolerance as i64,
        time_usec: tx.time.tv_usec as i64,
        tick: tx.tick as i64,
        ppsfreq: tx.ppsfreq as i64,
        jitter: tx.jitter as i64,
        shift: tx.shift,
        stabil: tx.stabil as i64,
        jitcnt: tx.jitcnt as i64,
        calcnt: tx.calcnt as i64,
        errcnt: tx.errcnt as i64,
        stbcnt: tx.stbcnt as i64,
        tai: tx.tai,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_clock_state() {
        let t = super::adjtimex().unwrap();
        assert!((0..=5).contains(&t.state), "{t:?}");
        assert!(t.tick > 0, "{t:?}");
    }
}
