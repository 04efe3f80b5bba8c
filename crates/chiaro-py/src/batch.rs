//! The batch path: `chiaro.develop_many` and each task of `chiaro.ray.develop` run a
//! [`Batch`] (the library's `chiaro::batch::Job`).

use std::path::PathBuf;

use pyo3::prelude::*;

use crate::{Error, py_err, worker};

/// One file of a batch as Python sees it: (input, output, status, reason, notes), status
/// `done`, `skipped`, `failed` or `cancelled`; the reason of a failure names the file.
type FileRow = (PathBuf, PathBuf, &'static str, Option<String>, Vec<String>);

fn row(r: chiaro::batch::FileReport) -> FileRow {
    use chiaro::batch::Outcome;
    let (status, reason, notes) = match r.outcome {
        Outcome::Done(notes) => (
            "done",
            None,
            notes
                .into_iter()
                .map(|(s, n)| format!("{s}: {n}"))
                .collect(),
        ),
        Outcome::Skipped => ("skipped", None, vec![]),
        Outcome::Failed(e) => ("failed", Some(e.to_string()), vec![]),
        Outcome::Cancelled => ("cancelled", None, vec![]),
    };
    (r.input, r.output, status, reason, notes)
}

/// The raw files `inputs` name: files as given, folders replaced by the raw files in them
/// (sorted; with `recursive`, their subfolders' too).
#[pyfunction]
pub(crate) fn _expand_inputs(inputs: Vec<PathBuf>, recursive: bool) -> PyResult<Vec<PathBuf>> {
    chiaro::batch::expand_inputs(&inputs, recursive).map_err(py_err)
}

/// A batch job (`chiaro::batch::Job`) built once from `chiaro::batch::DevelopOptions` as
/// JSON, every option checked; it keeps what it loads (lensfun's database) for every run,
/// which matters for a Ray worker that runs many small groups.
#[pyclass(module = "chiaro", name = "_Batch", frozen)]
pub(crate) struct Batch {
    job: chiaro::batch::Job,
    options: chiaro::batch::DevelopOptions,
}

#[pymethods]
impl Batch {
    #[new]
    fn new(py: Python<'_>, options_json: &str) -> PyResult<Batch> {
        let options = chiaro::batch::DevelopOptions::from_json(options_json).map_err(py_err)?;
        let reader = chiaro::batch::Reader(Some(worker(py)?));
        let job = chiaro::batch::Job::new(&options, None, reader).map_err(py_err)?;
        Ok(Batch { job, options })
    }

    /// The output path each input gets in `out_dir` (two inputs that would share one are an
    /// error).
    fn plan(&self, inputs: Vec<PathBuf>, out_dir: PathBuf) -> PyResult<Vec<PathBuf>> {
        self.job
            .outputs_in(&self.options, &inputs, &out_dir)
            .map_err(py_err)
    }

    /// Develops `inputs` into `out_dir` on a pool of `jobs` threads (0: all cores) with the
    /// GIL released; a row per file (see [`FileRow`]) and the seconds taken. Ctrl-C cancels
    /// the files not yet started, lets those in flight finish or stop before their atomic
    /// rename, then raises `KeyboardInterrupt`.
    fn run(
        &self,
        py: Python<'_>,
        inputs: Vec<PathBuf>,
        out_dir: PathBuf,
        jobs: usize,
    ) -> PyResult<(Vec<FileRow>, f64)> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let outputs = self
            .job
            .outputs_in(&self.options, &inputs, &out_dir)
            .map_err(py_err)?;
        std::fs::create_dir_all(&out_dir)
            .map_err(|e| py_err(chiaro::Error::io(e).with_path(&out_dir)))?;
        let cancel = AtomicBool::new(false);
        let job = &self.job;
        let finished = (std::sync::Mutex::new(false), std::sync::Condvar::new());
        let (report, interrupted) = std::thread::scope(|scope| {
            let worker = scope.spawn(|| {
                let report = job.run(&inputs, &outputs, jobs, &cancel, &|_| {});
                if let Ok(mut done) = finished.0.lock() {
                    *done = true;
                }
                finished.1.notify_all();
                report
            });
            // Python's signal handlers run only on this thread, between waits; the wait ends
            // as soon as the batch does.
            let mut interrupted = None;
            let tick = std::time::Duration::from_millis(50);
            let wait = || {
                let done = finished.0.lock().ok()?;
                let (done, _) = finished.1.wait_timeout_while(done, tick, |d| !*d).ok()?;
                Some(*done)
            };
            while !worker.is_finished() {
                if py.detach(wait) == Some(true) {
                    break;
                }
                if interrupted.is_none()
                    && let Err(e) = py.check_signals()
                {
                    cancel.store(true, Ordering::SeqCst);
                    interrupted = Some(e);
                }
            }
            (worker.join(), interrupted)
        });
        if let Some(e) = interrupted {
            return Err(e);
        }
        let report = report
            .map_err(|_| Error::new_err("a batch worker thread panicked"))?
            .map_err(py_err)?;
        let seconds = report.seconds;
        Ok((report.files.into_iter().map(row).collect(), seconds))
    }
}
