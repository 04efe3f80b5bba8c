//! lensfun's database for a batch: read at most once, when a file first needs it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::lensfun::Database;
use crate::pipeline::{Frame, Recipe};
use crate::stages::lens::{LensCorrection, LensSource};

/// A folder given, or the installed database.
pub struct LensDb {
    dir: Option<PathBuf>,
    db: OnceLock<Option<Database>>,
}

impl LensDb {
    /// The folder `dir` (read now, so a bad one is an error before any file) or the
    /// installed database.
    pub fn new(dir: Option<&Path>) -> Result<Self> {
        let db = OnceLock::new();
        if let Some(d) = dir {
            let loaded = Database::load_dir(d).map_err(|e| {
                Error::new(e.kind(), format!("--lens-db: {}", e.message())).with_path(d)
            })?;
            if loaded.lenses.is_empty() {
                return Err(Error::parameter("--lens-db: no lenses in its XML files").with_path(d));
            }
            let _ = db.set(Some(loaded));
        }
        Ok(LensDb {
            dir: dir.map(Path::to_path_buf),
            db,
        })
    }

    fn get(&self) -> Option<&Database> {
        self.db.get_or_init(Database::system).as_ref()
    }

    /// `recipe` with its lens stage resolved for `frame` when that stage wants lensfun's
    /// correction and has none yet (a recipe that carries one, as a sidecar does, keeps it);
    /// what the lens stage will do, or why lensfun gave nothing; and whether that is worth a
    /// warning (lensfun was asked for by name and gave nothing).
    pub fn resolve(&self, recipe: &Recipe, frame: &Frame) -> (Recipe, String, bool) {
        let mut recipe = recipe.clone();
        let Some(lens) = recipe.get_mut::<LensCorrection>() else {
            return (recipe, "lens: no correction (no lens stage)".into(), false);
        };
        // A correction the recipe carries (a sidecar's) counts for the shot it was looked up
        // for; on any other it is looked up again.
        let carried = lens.lensfun.as_ref().is_some_and(|c| c.fits(frame.exif()));
        if carried || !lens.wants_lensfun(frame) {
            if carried {
                let c = frame.crop();
                lens.picture = Some([c.x, c.y, c.width, c.height]);
            }
            let said = lens.describe(frame);
            return (recipe, said, false);
        }
        let asked = lens.source == LensSource::Lensfun;
        // Not this shot's: never applied.
        lens.lensfun = None;
        let said = match self.get() {
            Some(db) => lens.resolve(frame, db),
            None => format!(
                "lens: no correction: no lensfun database {}",
                match &self.dir {
                    Some(d) => format!("in {}", d.display()),
                    None => "installed (Debian: liblensfun-data-v1; or --lens-db DIR)".into(),
                }
            ),
        };
        let warn = asked && lens.lensfun.is_none();
        (recipe, said, warn)
    }
}
