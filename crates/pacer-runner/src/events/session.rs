//! A worker's pytest session as pytest sees it: what the worker says when
//! it starts ([`Hello`], with pytest's parsed options) and when its session
//! ends ([`Bye`]). The runner hands these to reporters as they are; the wire
//! (`protocol.rs`) carries them in this same shape.

use serde::Deserialize;

/// A worker's first message: its interpreter, pytest and plugins, and what
/// pytest made of the command line; the first worker's stands for all.
#[derive(Debug, Clone, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    pub worker: String,
    pub pid: u32,
    pub python: String,
    pub platform: String,
    pub pytest: String,
    pub pluggy: String,
    pub rootdir: String,
    pub configfile: Option<String>,
    pub plugins: Vec<String>,
    /// pytest's own reading of its command line, addopts and ini.
    #[serde(default)]
    pub options: PytestOptions,
    /// pytest's header lines after the platform line (`pytest_report_header`
    /// of every plugin: rootdir, configfile, testpaths, plugins, and the
    /// project's own), in the order pytest prints them.
    #[serde(default)]
    pub header_lines: Vec<String>,
    /// `sys.executable`, which pytest's platform line names with `-v`.
    #[serde(default)]
    pub executable: Option<String>,
    /// Where pytest was started; node ids are shown relative to it.
    #[serde(default)]
    pub invocation_dir: Option<String>,
    /// Live logging (`log_cli`) is on: pytest then prints per-test lines as
    /// with `-v`, and each phase's records in a `live log` block.
    #[serde(default)]
    pub log_cli: bool,
    /// pytest's parsed options that shape its terminal output.
    #[serde(default)]
    pub terminal: Option<PytestTerminal>,
    /// pytest's JUnit settings as the worker parsed them.
    #[serde(default)]
    pub junit: Option<Box<JunitOptions>>,
    /// It holds the whole collection already (forked from the worker that
    /// collected it).
    #[serde(default)]
    pub whole: bool,
    /// pytest-randomly's seed, the one every worker of the run shares
    /// (`xdist.controller_input`); absent without pytest-randomly. Kept in
    /// the JSON report so that `pacer replay` and `pacer bisect` reuse it.
    #[serde(default)]
    pub randomly_seed: Option<u64>,
}

/// The options pytest parsed (with the project's plugins, `addopts` and ini
/// loaded) that pacer acts on for the whole run. pytest's parser decides
/// what the command line means; pacer never parses pytest's flags itself.
/// The worker neutralises the ones pacer takes over (maxfail, `--lf`/`--ff`,
/// the JUnit path, xdist's `-n`), so that no worker applies them to its share.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct PytestOptions {
    /// `-v` counts up, `-q` down.
    pub verbose: i32,
    /// pytest's resolved `-r` characters (`getreportopt`).
    pub reportchars: String,
    pub tbstyle: String,
    /// `-x` is 1; 0 is none.
    pub maxfail: usize,
    /// `fd`, `sys`, `no` (`-s`) or `tee-sys`. With `no`, pacer shows the
    /// workers' output live (`session/tune.rs` in the binary, `RunConfig::live_output`).
    pub capture: String,
    pub collectonly: bool,
    pub lf: bool,
    pub ff: bool,
    /// `--lfnf`: `all` or `none`.
    pub lfnf: String,
    /// pytest's cache folder; `None` with `-p no:cacheprovider`.
    pub cache_dir: Option<String>,
    pub durations: Option<i64>,
    pub durations_min: Option<f64>,
    pub continue_on_collection_errors: bool,
    /// xdist's `-n`: a number, `auto` or `logical`.
    pub numprocesses: Option<String>,
    pub maxprocesses: Option<usize>,
    /// xdist's `--dist`.
    pub dist: Option<String>,
    /// pytest's `--junitxml`, absolute.
    pub xmlpath: Option<String>,
    /// `--pdb` or `--trace`: a debugger wants the terminal.
    pub pdb: bool,
    /// The positional arguments pytest found (paths, node ids).
    pub file_or_dir: Vec<String>,
    /// pytest-xdist's `--tx`, `--px` or `--rsyncdir`: remote workers.
    pub remote: bool,
    /// pytest-xdist's `-f` / `--looponfail`.
    pub looponfail: bool,
}

impl Default for PytestOptions {
    fn default() -> Self {
        PytestOptions {
            verbose: 0,
            reportchars: "fE".into(),
            tbstyle: "auto".into(),
            maxfail: 0,
            capture: "fd".into(),
            collectonly: false,
            lf: false,
            ff: false,
            lfnf: "all".into(),
            cache_dir: None,
            durations: None,
            durations_min: None,
            continue_on_collection_errors: false,
            numprocesses: None,
            maxprocesses: None,
            dist: None,
            xmlpath: None,
            pdb: false,
            file_or_dir: Vec::new(),
            remote: false,
            looponfail: false,
        }
    }
}

/// What pytest's own parser made of the options that shape its terminal
/// output (command line, `addopts`, plugins), as the worker saw them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PytestTerminal {
    /// `config.option.verbose`, before `log_cli` raises it.
    pub verbose: i32,
    /// `getreportopt(config)`: `-r` resolved, `w` unless `--disable-warnings`.
    pub reportchars: Option<String>,
    pub tbstyle: String,
    pub showcapture: String,
    pub no_header: bool,
    pub no_summary: bool,
    /// `--color`: `yes`, `no` or `auto`.
    #[serde(default)]
    pub color: String,
}

/// pytest's JUnit XML settings, from wherever pytest took them (the command
/// line, `addopts`, `PYTEST_ADDOPTS`, the ini file). Workers never write the
/// file: pacer does, from every worker's results.
#[derive(Debug, Clone, Deserialize)]
pub struct JunitOptions {
    /// `--junitxml`, absolute; `None` when not asked for.
    pub xmlpath: Option<String>,
    /// `--junitprefix`: put before every test's classname.
    #[serde(default)]
    pub prefix: Option<String>,
    /// `junit_family`: `xunit2` (pytest's default) or `xunit1` (`legacy` too).
    pub family: String,
    /// `junit_suite_name`.
    pub suite_name: String,
}

/// A worker's last word, sent from `pytest_sessionfinish`, once plugins
/// wrapped around the test loop (pytest-cov) have finished.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Bye {
    /// `config.workeroutput` as JSON text: what xdist-aware plugins on the
    /// worker hand to their controller side.
    #[serde(default)]
    pub workeroutput: Option<String>,
    /// pytest-cov's options as the worker parsed them (JSON text), when
    /// pytest-cov is active there: pacer then plays its controller.
    #[serde(default)]
    pub cov: Option<String>,
}
