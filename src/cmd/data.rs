//! `shinpan data list` and `shinpan data fetch`.

use serde_json::json;

use crate::cli::DataCommand;
use crate::data::{FileState, SETS, default_dir, fetch, find, set_dir, status};
use crate::error::UsageError;
use crate::report::Format;
use crate::report::markup::table;

pub async fn data(c: DataCommand) -> anyhow::Result<()> {
    match c {
        DataCommand::List(a) => {
            let dir = a.data_dir.unwrap_or_else(default_dir);
            if a.format == Format::Json {
                let sets: Vec<_> = SETS
                    .iter()
                    .map(|s| {
                        let files: Vec<_> = status(&dir, s)
                            .into_iter()
                            .map(|(f, st)| {
                                json!({"name": f.name, "url": f.url, "sha256": f.sha256,
                                       "bytes": f.bytes, "fetched": st == FileState::Verified})
                            })
                            .collect();
                        json!({"name": s.name, "version": s.version, "title": s.title,
                               "source": s.source, "licence": s.licence,
                               "variants": s.variants.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
                               "dir": set_dir(&dir, s), "files": files})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&sets)?);
                return Ok(());
            }
            let mut tables = Vec::new();
            for s in SETS {
                let rows = status(&dir, s)
                    .into_iter()
                    .map(|(f, st)| {
                        vec![
                            f.name.to_string(),
                            f.bytes.map(|b| b.to_string()).unwrap_or_else(|| "-".into()),
                            f.sha256
                                .unwrap_or("(not pinned: recorded at the first fetch)")
                                .to_string(),
                            match st {
                                FileState::Verified => "fetched".into(),
                                FileState::Missing => "-".into(),
                                FileState::Changed(_) => "CHANGED".into(),
                            },
                        ]
                    })
                    .collect();
                let variants: Vec<&str> = s.variants.iter().map(|(v, _)| *v).collect();
                let mut t = table(
                    format!("{} {} (@{})", s.name, s.version, variants.join(", @")),
                    vec!["file", "bytes", "sha256", "here"],
                    rows,
                    s.title,
                );
                // Source and licence go under the title in every format.
                t.alert = Some(format!("source {} · licence: {}", s.source, s.licence));
                tables.push(t);
            }
            let text = if a.format == Format::Md {
                crate::report::markdown::document("shinpan data", &tables)
            } else {
                crate::report::table::render(&tables)
            };
            print!("{text}");
            println!("data directory: {}", dir.display());
            Ok(())
        }
        DataCommand::Fetch(a) => {
            let dir = a.data_dir.unwrap_or_else(default_dir);
            let names: Vec<&str> = if a.names.iter().any(|n| n == "all") {
                SETS.iter().map(|s| s.name).collect()
            } else {
                a.names.iter().map(String::as_str).collect()
            };
            let mut sets = Vec::new();
            for n in names {
                let known: Vec<&str> = SETS.iter().map(|s| s.name).collect();
                sets.push(find(n).ok_or_else(|| {
                    UsageError(format!(
                        "data fetch {n}: unknown set; known: {}",
                        known.join(", ")
                    ))
                })?);
            }
            for s in sets {
                let f = fetch(&dir, s, a.mirror.as_deref()).await?;
                let bytes: u64 = f.downloaded.iter().map(|(_, b)| b).sum();
                eprintln!(
                    "shinpan: {} {}: {} file(s) downloaded ({bytes} bytes), {} already there, in {:.2}s → {}",
                    s.name,
                    s.version,
                    f.downloaded.len(),
                    f.kept,
                    f.elapsed.as_secs_f64(),
                    f.dir.display()
                );
                if f.converted > 0 {
                    eprintln!(
                        "shinpan: {}: {} llm-jp-eval task file(s) written under {} (use --tasks {})",
                        s.name,
                        f.converted,
                        f.dir.join("evaluation").display(),
                        s.name
                    );
                }
            }
            Ok(())
        }
    }
}
