//! The plain-data model a collector fills during a scrape: metric families,
//! samples and labels. Nothing here does I/O; the encoder turns a list of
//! snapshots into exposition text.

use std::borrow::Cow;

use smallvec::SmallVec;

/// A metric or label name: usually a `&'static str` written beside the
/// collector, owned only when it comes from data (vmstat keys, textfiles).
pub type Name = Cow<'static, str>;

/// The label pairs of a sample. Up to two are kept in the sample itself:
/// most host samples have one (`device`, `cpu`) or two (`cpu`, `mode`),
/// and a separate allocation for each sample's pairs was a sixth of a
/// scrape's allocations, each one a turn of the static build's allocator
/// lock.
pub type Labels = SmallVec<[(Name, String); 2]>;

/// The Prometheus metric type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A value that only goes up (resets on restart).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// No type information (textfiles without a `# TYPE` line).
    Untyped,
    /// A summary: samples carry `_sum`, `_count` or a `quantile` label.
    Summary,
    /// A histogram: samples carry `_bucket` (with `le`), `_sum` or `_count`.
    Histogram,
}

impl Kind {
    /// The word for this type in the 0.0.4 text format.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Untyped => "untyped",
            Kind::Summary => "summary",
            Kind::Histogram => "histogram",
        }
    }
}

/// One sample: an optional name suffix (`_bucket`, `_sum`, `_count` for
/// summaries and histograms), label pairs, and a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Appended to the family name; empty for counters and gauges.
    pub suffix: &'static str,
    /// Label pairs in the order the collector gave them.
    pub labels: Labels,
    /// The value.
    pub value: f64,
    /// Optional timestamp in milliseconds (textfiles only).
    pub timestamp_ms: Option<i64>,
}

/// A metric family: name, help, type and its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Full metric name, e.g. `node_load1`.
    pub name: Name,
    /// Help text: says where the value comes from.
    pub help: Name,
    /// Metric type.
    pub kind: Kind,
    /// The samples.
    pub samples: Vec<Sample>,
}

impl Family {
    /// Adds a sample with these labels.
    pub fn add(&mut self, labels: &[(&'static str, &str)], value: f64) -> &mut Self {
        self.samples.push(Sample {
            suffix: "",
            labels: labels
                .iter()
                .map(|(k, v)| (Cow::Borrowed(*k), (*v).to_owned()))
                .collect(),
            value,
            timestamp_ms: None,
        });
        self
    }

    /// Adds a sample whose label names are owned (data-driven label names).
    pub fn add_owned(&mut self, labels: impl Into<Labels>, value: f64) -> &mut Self {
        self.samples.push(Sample { suffix: "", labels: labels.into(), value, timestamp_ms: None });
        self
    }
}

/// What one collector gathered during one scrape.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Families in the order they were added; the encoder sorts and merges
    /// families that share a name.
    pub families: Vec<Family>,
}

impl Snapshot {
    /// An empty snapshot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a new family and returns it for samples. Two families with
    /// the same name (from a loop, say) are merged when encoded.
    ///
    /// When one of the last [`Snapshot::REUSE_WINDOW`] families has this
    /// name already, that family is returned instead: collectors that emit
    /// one sample per call (`gauge`, `counter`) in a loop over devices then
    /// fill one family, not one family (and one allocation) per sample that
    /// the encoder would merge anyway. Its help and type stay the first
    /// call's, as when merging.
    ///
    /// Names are matched by address, not by text: a collector passes the
    /// same `&'static str` (or the same [`static_name`]) each time, and
    /// comparing text here was a byte-by-byte `bcmp` per family in the
    /// static build. A name that matches only by text (an owned one) gets
    /// a family of its own, which merging joins as before.
    ///
    /// [`static_name`]: crate::host::util::static_name
    pub fn family(&mut self, name: impl Into<Name>, help: impl Into<Name>, kind: Kind) -> &mut Family {
        let name = name.into();
        let start = self.families.len().saturating_sub(Self::REUSE_WINDOW);
        let same = |f: &Family| f.name.as_ptr() == name.as_ptr() && f.name.len() == name.len();
        let index = match self.families[start..].iter().rposition(same) {
            Some(i) => start + i,
            None => {
                self.families.push(Family { name, help: help.into(), kind, samples: Vec::new() });
                self.families.len() - 1
            }
        };
        &mut self.families[index]
    }

    /// How many of the newest families [`Snapshot::family`] looks through.
    pub const REUSE_WINDOW: usize = 24;

    /// One gauge sample with these labels.
    pub fn gauge(&mut self, name: impl Into<Name>, help: impl Into<Name>, labels: &[(&'static str, &str)], value: f64) {
        self.family(name, help, Kind::Gauge).add(labels, value);
    }

    /// One counter sample with these labels.
    pub fn counter(&mut self, name: impl Into<Name>, help: impl Into<Name>, labels: &[(&'static str, &str)], value: f64) {
        self.family(name, help, Kind::Counter).add(labels, value);
    }

    /// Number of samples over all families.
    pub fn sample_count(&self) -> usize {
        self.families.iter().map(|f| f.samples.len()).sum()
    }
}
