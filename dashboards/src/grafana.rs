//! A small builder for Grafana dashboard JSON: the handful of panel kinds
//! the generated dashboards use (stat, time series, bar gauge, table),
//! Prometheus queries, template variables and the grid layout.
//!
//! Every object is written with the fields Grafana's published JSON schema
//! (schemaVersion 41/42) requires of it, so the output validates as it is
//! and imports without a migration step.

use serde_json::{json, Map, Value};

/// Grafana's dashboard schema version the JSON is written for.
pub const SCHEMA_VERSION: u32 = 41;
/// Width of the dashboard grid in columns.
const GRID_WIDTH: u32 = 24;

/// The data source every query and query variable uses: the dashboard's
/// `datasource` variable, so one import works with any Prometheus.
fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

/// One PromQL query of a panel.
#[derive(Debug, Clone)]
pub struct Query {
    expr: String,
    legend: String,
    instant: bool,
    table: bool,
}

impl Query {
    /// A range query drawn over time, its series named by `legend`
    /// (Grafana's `{{label}}` template).
    pub fn range(expr: impl Into<String>, legend: impl Into<String>) -> Self {
        Self {
            expr: expr.into(),
            legend: legend.into(),
            instant: false,
            table: false,
        }
    }

    /// An instant query: the latest value of each series.
    pub fn instant(expr: impl Into<String>, legend: impl Into<String>) -> Self {
        Self {
            expr: expr.into(),
            legend: legend.into(),
            instant: true,
            table: false,
        }
    }

    /// An instant query returned as a table (one row per series, a column
    /// per label).
    pub fn table(expr: impl Into<String>) -> Self {
        Self {
            expr: expr.into(),
            legend: String::new(),
            instant: true,
            table: true,
        }
    }

    fn to_json(&self, index: usize) -> Value {
        let ref_id = char::from(b'A' + (index % 26) as u8).to_string();
        json!({
            "datasource": datasource(),
            "editorMode": "code",
            "expr": self.expr,
            "format": if self.table { "table" } else { "time_series" },
            "instant": self.instant,
            "legendFormat": if self.legend.is_empty() { "__auto" } else { self.legend.as_str() },
            "range": !self.instant,
            "refId": ref_id,
        })
    }
}

/// The visualisations used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A single big value per series, coloured by thresholds.
    Stat,
    /// Lines over time.
    TimeSeries,
    /// Horizontal bars, one per series, coloured by thresholds.
    BarGauge,
    /// Rows of labels and values.
    Table,
}

impl Kind {
    /// Grafana's panel plugin id.
    pub fn plugin(self) -> &'static str {
        match self {
            Kind::Stat => "stat",
            Kind::TimeSeries => "timeseries",
            Kind::BarGauge => "bargauge",
            Kind::Table => "table",
        }
    }
}

/// Colours of threshold steps and value mappings.
pub const GREEN: &str = "green";
/// Warning colour.
pub const ORANGE: &str = "orange";
/// Failure colour.
pub const RED: &str = "red";
/// Neutral colour.
pub const BLUE: &str = "blue";

/// One panel before layout.
#[derive(Debug, Clone)]
pub struct Panel {
    kind: Kind,
    title: String,
    description: String,
    unit: String,
    width: u32,
    height: u32,
    min: Option<f64>,
    max: Option<f64>,
    decimals: Option<u32>,
    /// Threshold steps above the base colour: (value, colour).
    steps: Vec<(f64, &'static str)>,
    base: &'static str,
    mappings: Vec<Value>,
    queries: Vec<Query>,
    stacked: bool,
    no_value: Option<String>,
    hidden_columns: Vec<&'static str>,
}

impl Panel {
    fn new(kind: Kind, title: impl Into<String>, width: u32, height: u32) -> Self {
        Self {
            kind,
            title: title.into(),
            description: String::new(),
            unit: String::new(),
            width,
            height,
            min: None,
            max: None,
            decimals: None,
            steps: Vec::new(),
            base: GREEN,
            mappings: Vec::new(),
            queries: Vec::new(),
            stacked: false,
            no_value: None,
            hidden_columns: Vec::new(),
        }
    }

    /// A stat panel `width` columns wide and 4 rows high.
    pub fn stat(title: impl Into<String>, width: u32) -> Self {
        Self::new(Kind::Stat, title, width, 4)
    }

    /// A time series panel, 12 columns by 8 rows unless resized.
    pub fn timeseries(title: impl Into<String>) -> Self {
        Self::new(Kind::TimeSeries, title, 12, 8)
    }

    /// A horizontal bar gauge, 12 columns by 8 rows unless resized.
    pub fn bargauge(title: impl Into<String>) -> Self {
        Self::new(Kind::BarGauge, title, 12, 8)
    }

    /// A table, the full width by 8 rows unless resized.
    pub fn table(title: impl Into<String>) -> Self {
        Self::new(Kind::Table, title, GRID_WIDTH, 8)
    }

    /// Sets the size in grid columns (of 24) and rows.
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = width.clamp(1, GRID_WIDTH);
        self.height = height.max(1);
        self
    }

    /// The tooltip text.
    pub fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Grafana unit id (`s`, `bytes`, `percentunit`, `celsius`, ...).
    pub fn unit(mut self, unit: &str) -> Self {
        self.unit = unit.to_owned();
        self
    }

    /// Axis or gauge bounds.
    pub fn range(mut self, min: f64, max: f64) -> Self {
        self.min = Some(min);
        self.max = Some(max);
        self
    }

    /// Lower bound only.
    pub fn min(mut self, min: f64) -> Self {
        self.min = Some(min);
        self
    }

    /// Decimals shown.
    pub fn decimals(mut self, n: u32) -> Self {
        self.decimals = Some(n);
        self
    }

    /// Colour below the first step.
    pub fn base(mut self, colour: &'static str) -> Self {
        self.base = colour;
        self
    }

    /// Adds a threshold step: from `value` up, the panel turns `colour`.
    pub fn step(mut self, value: f64, colour: &'static str) -> Self {
        self.steps.push((value, colour));
        self
    }

    /// Shows `text` in `colour` for the exact value `value`.
    pub fn map_value(mut self, value: &str, text: &str, colour: &'static str) -> Self {
        let index = self.mappings.len();
        self.mappings.push(json!({
            "type": "value",
            "options": {value: {"text": text, "color": colour, "index": index}},
        }));
        self
    }

    /// Text shown when the query returns nothing.
    pub fn no_value(mut self, text: &str) -> Self {
        self.no_value = Some(text.to_owned());
        self
    }

    /// Stacks the series of a time series panel.
    pub fn stacked(mut self) -> Self {
        self.stacked = true;
        self
    }

    /// Hides a column of a table panel (e.g. `Time`).
    pub fn hide_column(mut self, name: &'static str) -> Self {
        self.hidden_columns.push(name);
        self
    }

    /// Adds a query.
    pub fn query(mut self, q: Query) -> Self {
        self.queries.push(q);
        self
    }

    /// The PromQL expressions of this panel.
    pub fn expressions(&self) -> impl Iterator<Item = &str> {
        self.queries.iter().map(|q| q.expr.as_str())
    }

    fn thresholds(&self) -> Value {
        let mut steps = vec![json!({"value": null, "color": self.base})];
        steps.extend(
            self.steps
                .iter()
                .map(|(v, c)| json!({"value": v, "color": c})),
        );
        json!({"mode": "absolute", "steps": steps})
    }

    fn field_defaults(&self) -> Value {
        let mut d = Map::new();
        let colour = match self.kind {
            Kind::TimeSeries => "palette-classic",
            _ => "thresholds",
        };
        d.insert("color".into(), json!({"mode": colour}));
        d.insert("thresholds".into(), self.thresholds());
        d.insert("mappings".into(), Value::Array(self.mappings.clone()));
        if !self.unit.is_empty() {
            d.insert("unit".into(), json!(self.unit));
        }
        if let Some(min) = self.min {
            d.insert("min".into(), json!(min));
        }
        if let Some(max) = self.max {
            d.insert("max".into(), json!(max));
        }
        if let Some(n) = self.decimals {
            d.insert("decimals".into(), json!(n));
        }
        if let Some(text) = &self.no_value {
            d.insert("noValue".into(), json!(text));
        }
        match self.kind {
            Kind::TimeSeries => {
                d.insert(
                    "custom".into(),
                    json!({
                        "drawStyle": "line",
                        "lineInterpolation": "linear",
                        "lineWidth": 1,
                        "fillOpacity": if self.stacked { 30 } else { 10 },
                        "gradientMode": "none",
                        "showPoints": "never",
                        "spanNulls": false,
                        "axisPlacement": "auto",
                        "stacking": {"mode": if self.stacked { "normal" } else { "none" }, "group": "A"},
                        "thresholdsStyle": {"mode": "off"},
                    }),
                );
            }
            Kind::Table => {
                d.insert("custom".into(), json!({"align": "auto", "inspect": false}));
            }
            Kind::Stat | Kind::BarGauge => {}
        }
        Value::Object(d)
    }

    fn options(&self) -> Value {
        let reduce = json!({"calcs": ["lastNotNull"], "fields": "", "values": false});
        match self.kind {
            Kind::Stat => json!({
                "colorMode": "background",
                "graphMode": "none",
                "justifyMode": "auto",
                "orientation": "auto",
                "percentChangeColorMode": "standard",
                "reduceOptions": reduce,
                "showPercentChange": false,
                "textMode": "auto",
                "wideLayout": true,
            }),
            Kind::TimeSeries => json!({
                "legend": {"calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": true},
                "tooltip": {"mode": "multi", "sort": "desc"},
            }),
            Kind::BarGauge => json!({
                "displayMode": "gradient",
                "legend": {"calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": false},
                "maxVizHeight": 300,
                "minVizHeight": 16,
                "minVizWidth": 8,
                "namePlacement": "auto",
                "orientation": "horizontal",
                "reduceOptions": reduce,
                "showUnfilled": true,
                "sizing": "auto",
                "valueMode": "color",
            }),
            Kind::Table => json!({
                "cellHeight": "sm",
                "footer": {"countRows": false, "reducer": ["sum"], "show": false},
                "frameIndex": 0,
                "showHeader": true,
            }),
        }
    }

    fn to_json(&self, id: u32, x: u32, y: u32) -> Value {
        let targets: Vec<Value> = self
            .queries
            .iter()
            .enumerate()
            .map(|(i, q)| q.to_json(i))
            .collect();
        let mut p = json!({
            "type": self.kind.plugin(),
            "id": id,
            "title": self.title,
            "description": self.description,
            "datasource": datasource(),
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "targets": targets,
            "options": self.options(),
            "fieldConfig": {"defaults": self.field_defaults(), "overrides": []},
        });
        if self.kind == Kind::Table {
            // Instant table queries come back as one frame per query with a
            // Time and a Value column; merge them and drop what nobody reads.
            let mut exclude = Map::new();
            exclude.insert("Time".into(), json!(true));
            exclude.insert("__name__".into(), json!(true));
            for c in &self.hidden_columns {
                exclude.insert((*c).into(), json!(true));
            }
            p["transformations"] = json!([
                {"id": "merge", "options": {}},
                {"id": "organize", "options": {"excludeByName": exclude}},
            ]);
        }
        p
    }
}

/// A query template variable over a label's values.
#[derive(Debug, Clone)]
pub struct Variable {
    name: &'static str,
    label: &'static str,
    metric: String,
    label_name: &'static str,
    multi: bool,
}

impl Variable {
    /// `label_values(<metric>, <label_name>)`, one value at a time.
    pub fn single(
        name: &'static str,
        label: &'static str,
        metric: impl Into<String>,
        label_name: &'static str,
    ) -> Self {
        Self {
            name,
            label,
            metric: metric.into(),
            label_name,
            multi: false,
        }
    }

    /// Like `single`, but several values (and All, meaning every value) may be chosen.
    pub fn multi(
        name: &'static str,
        label: &'static str,
        metric: impl Into<String>,
        label_name: &'static str,
    ) -> Self {
        Self {
            multi: true,
            ..Self::single(name, label, metric, label_name)
        }
    }

    /// The selector whose label values the variable lists.
    pub fn selector(&self) -> &str {
        &self.metric
    }

    fn to_json(&self) -> Value {
        let query = format!("label_values({}, {})", self.metric, self.label_name);
        let mut v = json!({
            "type": "query",
            "name": self.name,
            "label": self.label,
            "datasource": datasource(),
            "query": query,
            "definition": query,
            "refresh": 2,
            "sort": 7,
            "hide": 0,
            "multi": self.multi,
            "includeAll": self.multi,
            "options": [],
            "regex": "",
        });
        if self.multi {
            v["allValue"] = json!(".*");
        }
        v
    }
}

/// A dashboard being laid out: panels flow left to right and wrap at the
/// grid's width; `row` starts a titled row on a new line.
#[derive(Debug)]
pub struct Board {
    uid: &'static str,
    title: String,
    description: String,
    variables: Vec<Variable>,
    panels: Vec<Value>,
    expressions: Vec<String>,
    next_id: u32,
    x: u32,
    y: u32,
    line_height: u32,
}

impl Board {
    /// An empty dashboard with a stable `uid`.
    pub fn new(
        uid: &'static str,
        title: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self {
            uid,
            title: title.into(),
            description: description.into(),
            variables: Vec::new(),
            panels: Vec::new(),
            expressions: Vec::new(),
            next_id: 1,
            x: 0,
            y: 0,
            line_height: 0,
        }
    }

    /// The dashboard's uid.
    pub fn uid(&self) -> &'static str {
        self.uid
    }

    /// Adds a template variable after `datasource`.
    pub fn variable(&mut self, v: Variable) {
        self.variables.push(v);
    }

    fn new_line(&mut self) {
        self.y += self.line_height;
        self.x = 0;
        self.line_height = 0;
    }

    /// Starts a row titled `title` on a new line.
    pub fn row(&mut self, title: impl Into<String>) {
        if self.x > 0 {
            self.new_line();
        }
        let id = self.take_id();
        self.panels.push(json!({
            "type": "row",
            "id": id,
            "title": title.into(),
            "collapsed": false,
            "panels": [],
            "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": self.y},
        }));
        self.y += 1;
    }

    fn take_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Places `panel` after the previous one, on a new line if it does not fit.
    pub fn add(&mut self, panel: Panel) {
        if self.x + panel.width > GRID_WIDTH {
            self.new_line();
        }
        let id = self.take_id();
        self.expressions
            .extend(panel.expressions().map(str::to_owned));
        self.panels.push(panel.to_json(id, self.x, self.y));
        self.x += panel.width;
        self.line_height = self.line_height.max(panel.height);
        if self.x >= GRID_WIDTH {
            self.new_line();
        }
    }

    /// Every PromQL expression of the dashboard's panels, then the
    /// selectors its variables list label values of.
    pub fn expressions(&self) -> Vec<String> {
        let mut out = self.expressions.clone();
        out.extend(self.variables.iter().map(|v| v.selector().to_owned()));
        out
    }

    /// The dashboard JSON.
    pub fn to_json(&self) -> Value {
        let mut list = vec![json!({
            "type": "datasource",
            "name": "datasource",
            "label": "Data source",
            "query": "prometheus",
            "refresh": 1,
            "hide": 0,
            "options": [],
            "regex": "",
        })];
        list.extend(self.variables.iter().map(Variable::to_json));
        json!({
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["homelab"],
            "timezone": "browser",
            "editable": true,
            "graphTooltip": 1,
            "time": {"from": "now-6h", "to": "now"},
            "refresh": "1m",
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "fiscalYearStartMonth": 0,
            "liveNow": false,
            "annotations": {"list": [{
                "builtIn": 1,
                "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                "enable": true,
                "hide": true,
                "iconColor": "rgba(0, 211, 255, 1)",
                "name": "Annotations & Alerts",
                "type": "dashboard",
            }]},
            "links": [{
                "title": "Homelab dashboards",
                "type": "dashboards",
                "icon": "external link",
                "tooltip": "",
                "tags": ["homelab"],
                "asDropdown": true,
                "targetBlank": false,
                "includeVars": false,
                "keepTime": true,
            }],
            "templating": {"list": list},
            "panels": self.panels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_flow_left_to_right_and_wrap_at_the_grid_width() {
        let mut b = Board::new("homelab-test", "Test", "");
        b.add(Panel::stat("a", 8));
        b.add(Panel::stat("b", 8));
        b.add(Panel::timeseries("c")); // 12 wide: does not fit after 16
        b.row("Row");
        b.add(Panel::stat("d", 6));
        let j = b.to_json();
        let pos: Vec<(u64, u64)> = j["panels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["gridPos"]["x"].as_u64().unwrap(),
                    p["gridPos"]["y"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(pos, vec![(0, 0), (8, 0), (0, 4), (0, 12), (0, 13)]);
        let ids: Vec<u64> = j["panels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn thresholds_start_at_minus_infinity_and_queries_get_distinct_ref_ids() {
        let p = Panel::stat("x", 4)
            .step(10.0, ORANGE)
            .step(20.0, RED)
            .query(Query::instant("up", ""))
            .query(Query::range("up", "{{node}}"));
        let j = p.to_json(7, 0, 0);
        let steps = &j["fieldConfig"]["defaults"]["thresholds"]["steps"];
        assert_eq!(steps[0]["value"], Value::Null);
        assert_eq!(steps[2]["value"], json!(20.0));
        assert_eq!(j["targets"][0]["refId"], "A");
        assert_eq!(j["targets"][1]["refId"], "B");
        assert_eq!(j["targets"][0]["instant"], true);
        assert_eq!(j["targets"][1]["legendFormat"], "{{node}}");
    }
}
