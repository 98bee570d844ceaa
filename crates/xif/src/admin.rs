//! `xif admin import|backup|restore`: thin adapters over `xif_store::admin`.
use std::path::PathBuf;
use std::process::ExitCode;

use crate::ui::Ui;

/// `xif admin`.
#[derive(clap::Subcommand, Debug)]
pub enum AdminCmd {
    /// Copy an SQLite data directory (users, tokens, extensions with every version and package,
    /// settings, publish logs, console sessions, entity tables and records) into an empty
    /// PostgreSQL database, in one transaction. Secret settings stay sealed: start the new server
    /// with the same secret key (the data directory's `secret.key`, copy it beside the new
    /// server's data, or --secret-key-file).
    Import {
        /// The SQLite data directory (the server must not be running on it).
        #[arg(long, value_name = "DATA_DIR")]
        from: PathBuf,
        /// The empty PostgreSQL database, `postgres://USER@HOST/DATABASE`.
        #[arg(long, env = "XIF_DATABASE_URL", value_name = "URL")]
        database: String,
    },
    /// Write a consistent copy of a server's state (it may be running) into a new folder: on
    /// SQLite an online backup of the database, the packages and `secret.key`; on PostgreSQL a
    /// `pg_dump` and `secret.key`.
    Backup {
        /// The server's data directory.
        #[arg(long, env = "XIF_DATA", value_name = "DIR", default_value = "xif-data")]
        data: PathBuf,
        /// The server's database URL (default: SQLite in the data directory).
        #[arg(long, env = "XIF_DATABASE_URL", value_name = "URL")]
        database: Option<String>,
        /// The folder to write (new or empty).
        #[arg(long, value_name = "OUT")]
        to: PathBuf,
        /// The folder of `pg_dump` (default: PATH, then /usr/lib/postgresql/*/bin).
        #[arg(long, value_name = "DIR")]
        pg_bin: Option<PathBuf>,
    },
    /// Bring a backup back into an empty data directory (and, for a PostgreSQL backup, into an
    /// empty database, with `pg_restore`).
    Restore {
        /// The backup folder (`xif admin backup --to`).
        #[arg(long, value_name = "OUT")]
        from: PathBuf,
        /// The data directory to fill (new or empty).
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// The empty database to restore a PostgreSQL backup into.
        #[arg(long, env = "XIF_DATABASE_URL", value_name = "URL")]
        database: Option<String>,
        /// The folder of `pg_restore` (default: PATH, then /usr/lib/postgresql/*/bin).
        #[arg(long, value_name = "DIR")]
        pg_bin: Option<PathBuf>,
    },
}

pub fn run(cmd: AdminCmd, ui: &Ui) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match cmd {
        AdminCmd::Import { from, database } => {
            let report = rt.block_on(xif_store::admin::import(&from, &database))?;
            ui.status("Imported", &report.summary());
            ui.status(
                "Note",
                "secret settings were copied sealed: start the server on PostgreSQL with the same secret key \
                 (this data directory's secret.key, or the --secret-key-file / XIF_SECRET_KEY it used)",
            );
        }
        AdminCmd::Backup { data, database, to, pg_bin } => {
            let source = xif_store::admin::Source { data_dir: data.clone(), database_url: database, pg_bin };
            let report = rt.block_on(xif_store::admin::backup(&source, &to))?;
            let what = if report.engine == "sqlite" {
                format!("the SQLite database and {} packages", report.packages)
            } else {
                "a pg_dump of the database (packages included)".into()
            };
            ui.status("Backed up", &format!("{what} into {}", to.display()));
            if !report.secret_key {
                ui.warn(&format!(
                    "{} has no secret.key: keep a copy of the server's secret key (--secret-key-file or XIF_SECRET_KEY) with this backup, or its secret settings cannot be read",
                    data.display()
                ));
            }
        }
        AdminCmd::Restore { from, data, database, pg_bin } => {
            let target = xif_store::admin::Source { data_dir: data.clone(), database_url: database, pg_bin };
            let report = rt.block_on(xif_store::admin::restore(&from, &target))?;
            ui.status("Restored", &format!("the {} backup {} into {}", report.engine, from.display(), data.display()));
            if !report.secret_key {
                ui.warn("the backup has no secret.key: start the server with the secret key the old one used");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
