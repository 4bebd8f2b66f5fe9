//! `sasf`: the command line of the SASF toolkit. Every real operation is a call into
//! `sasf-core`; this crate parses arguments, opens files and pipes, and prints.
//!
//! Exit codes: 0 success; 1 the SASF input failed verification; 2 the command could
//! not run (bad arguments, unreadable input, missing key, bad WAV or metadata, I/O, an
//! output refused to protect data). A closed stdout is not a failure: exit 0.
#![forbid(unsafe_code)]

mod catalog;
mod cli;
mod commands;
mod flac;
mod io;
mod output;
mod reportfile;
mod retention_log;
mod retention_policy;
mod serve;

use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches};

use cli::{Cli, Command, KeysCommand, ReportCommand};

fn run(cli: Cli) -> Result<ExitCode> {
    let name = match &cli.command {
        Command::Keygen { .. } => Some("keygen"),
        Command::Man { .. } => Some("man"),
        Command::Completions { .. } => Some("completions"),
        _ => None,
    };
    if let Some(name) = name {
        let given: Vec<&str> = [
            (cli.quiet, "-q/--quiet"),
            (cli.fsync, "--fsync"),
            (cli.threads.is_some(), "-j/--threads"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
        if !given.is_empty() {
            anyhow::bail!("{} means nothing to `sasf {name}`", given.join(", "));
        }
    }
    let q = cli.quiet;
    io::set_threads(cli.threads);
    io::set_fsync(cli.fsync);
    match cli.command {
        Command::Keygen {
            output,
            x25519,
            signing,
        } => commands::keygen::run(&output, x25519, signing)?,
        Command::Pack {
            input,
            output,
            meta,
            encrypt,
            recipients,
            key_area,
            signing_key,
            chunk_seconds,
            retention_days,
            no_verify,
            verify_all,
            bind_context,
            force,
            key,
        } => commands::pack::run(
            &input,
            &output,
            meta.as_deref(),
            encrypt,
            chunk_seconds,
            retention_days,
            no_verify,
            verify_all,
            bind_context,
            force,
            &key,
            &commands::pack::Access {
                recipients,
                key_area,
                signing_key,
            },
            q,
        )?,
        Command::Verify {
            files,
            recursive,
            files_from,
            report,
            shard,
            shard_count,
            json,
            source: Some(source),
            key,
            ..
        } => {
            if recursive
                || files_from.is_some()
                || report.is_some()
                || shard.is_some()
                || shard_count.is_some()
            {
                anyhow::bail!(
                    "--source checks one excerpt against its source: -r, --files-from, \
                     --report, --shard and --shard-count are for batch verification"
                );
            }
            return commands::cut::verify_source(&files, &source, json, &key);
        }
        Command::Verify {
            files,
            recursive,
            files_from,
            report,
            shard,
            shard_count,
            json,
            silent,
            audio_hash,
            source: None,
            key,
        } => {
            let batch = commands::verify::Batch {
                recursive,
                files_from,
                report,
                shard,
                shard_count,
                quiet: q,
            };
            return commands::verify::run(&files, json, silent || q, audio_hash, &key, &batch);
        }
        Command::Report(ReportCommand::Merge { reports, json }) => {
            return commands::report::merge(&reports, json)
        }
        Command::Info { file, json, key } => commands::info::run(&file, json, &key)?,
        Command::Index { archive, key } => return commands::index::run(&archive, &key, q),
        Command::Search { archive, args } => return commands::search::run(&archive, &args),
        Command::Retention(cmd) => return commands::retention::run(cmd, q),
        Command::Serve { archive, args } => return serve::run(archive.as_deref(), &args),
        Command::Extract {
            file,
            meta,
            audio,
            force,
            pcm16,
            range,
            key,
        } => commands::extract::run(
            &file,
            &meta,
            audio.as_deref(),
            pcm16,
            &range,
            &key,
            force,
            q,
        )?,
        Command::Convert {
            file,
            output,
            force,
            pcm16,
            no_markers,
            labels,
            speakers,
            range,
            key,
        } => commands::convert::run(
            &file,
            &output,
            &commands::convert::WavPlan {
                pcm16,
                markers: !no_markers,
                speakers,
                labels,
                flac: commands::convert::is_flac(&output),
            },
            &range,
            &key,
            force,
            q,
        )?,
        Command::Recover {
            file,
            output,
            in_place,
            allow_auth_failure,
            force,
            key,
        } => {
            return match output {
                Some(o) if !in_place => {
                    commands::recover::run(&file, &o, allow_auth_failure, force, &key)
                }
                _ => commands::recover::in_place(&file, &key),
            }
        }
        Command::Annotate(args) => commands::annotate::run(&args)?,
        Command::History {
            file,
            json,
            annotator,
            key,
        } => commands::history::run(&file, json, &annotator, &key)?,
        Command::Keys(k) => match k {
            KeysCommand::List { file, json } => commands::keys::list(&file, json)?,
            KeysCommand::Add { file, new, key } => commands::keys::add(&file, &new, &key)?,
            KeysCommand::Remove {
                file,
                id,
                remove_key_file,
                key,
            } => commands::keys::remove(&file, &id, &remove_key_file, &key)?,
            KeysCommand::Rotate {
                file,
                id,
                remove_key_file,
                new,
                key,
            } => commands::keys::rotate(
                &file,
                id.as_deref(),
                remove_key_file.as_deref(),
                &new,
                &key,
            )?,
        },
        Command::Sign {
            file,
            signing_key,
            key,
        } => commands::sign::run(&file, &signing_key, &key)?,
        Command::Merge(args) => commands::merge::run(&args)?,
        Command::Redact(args) => commands::redact::run(&args)?,
        Command::Cut(args) => commands::cut::run(&args)?,
        Command::Session(args) => commands::session::run(&args)?,
        Command::Completions { shell } => {
            // Into memory first: clap_complete panics when its writer fails.
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "sasf", &mut buf);
            std::io::Write::write_all(&mut std::io::stdout().lock(), &buf)?;
        }
        Command::Man { output } => write_man_pages(&output)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The exit status section every page carries.
const EXIT_STATUS: &str = ".SH \"EXIT STATUS\"
.TP
0
Success (and a closed stdout, as in \\fBsasf ... | head\\fR).
.TP
1
A SASF input failed verification: corrupt, tampered, truncated, malformed, unsupported,
or not opened by the key given.
.TP
2
The command could not run: bad arguments, a missing or unreadable file, a missing key,
an unsupported or malformed WAV or metadata document, an I/O error, or an output that
exists without \\fB\\-f\\fR or is an input.
";

/// Writes sasf.1 and one page per command into `dir`, which must exist (a typo'd
/// path is not silently created). Each command's page is `sasf-NAME(1)` with the
/// synopsis `sasf NAME …`, the global options where they mean something, the notes
/// from its help, the exit status, and SEE ALSO.
fn write_man_pages(dir: &std::path::Path) -> Result<()> {
    if !dir.is_dir() {
        anyhow::bail!(
            "{}: no such directory (create it first: sasf man writes into an existing directory)",
            dir.display()
        );
    }
    let root = Cli::command().disable_help_subcommand(true);
    let root_built = {
        let mut c = root.clone();
        c.build();
        c
    };
    // The global options, as their own section.
    let globals: Vec<clap::Arg> = root_built
        .get_arguments()
        .filter(|a| a.get_help_heading() == Some(cli::GLOBAL))
        .cloned()
        .collect();
    let subs: Vec<String> = root
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    let see_also = |except: &str| {
        let mut v: Vec<String> = std::iter::once("sasf".to_string())
            .chain(subs.iter().map(|n| format!("sasf-{n}")))
            .filter(|n| n != except)
            .map(|n| format!("\\fB{n}\\fR(1)"))
            .collect();
        v.dedup();
        format!(".SH \"SEE ALSO\"\n{}\n", v.join(", "))
    };
    let render = |cmd: clap::Command, page: &str, sub: bool| -> Result<Vec<u8>> {
        let man = clap_mangen::Man::new(cmd.clone()).title(page);
        let mut buf = Vec::new();
        man.render_title(&mut buf)?;
        // NAME by hand: `sasf-verify \- about`, the page's own name, so that mandb,
        // whatis and apropos index it (the synopsis says `sasf verify`, as typed).
        let about = cmd
            .get_about()
            .map(|a| a.to_string())
            .unwrap_or_default()
            .replace('\\', "\\\\")
            .replace('-', "\\-");
        buf.extend_from_slice(
            format!(".SH NAME\n{} \\- {about}\n", page.replace('-', "\\-")).as_bytes(),
        );
        man.render_synopsis_section(&mut buf)?;
        man.render_description_section(&mut buf)?;
        // Only the command's own options here (not the globals, shown apart).
        let own = cmd.clone().mut_args(|a| {
            if a.get_help_heading() == Some(cli::GLOBAL) {
                a.hide(true)
            } else {
                a
            }
        });
        clap_mangen::Man::new(own).render_options_section(&mut buf)?;
        if !sub || !cli::NO_GLOBALS.contains(&cmd.get_name().trim_start_matches("sasf ")) {
            let g = clap::Command::new("sasf")
                .disable_help_flag(true)
                .disable_version_flag(true)
                .args(globals.clone());
            clap_mangen::Man::new(g).render_options_section(&mut buf)?;
        }
        if !sub {
            man.render_subcommands_section(&mut buf)?;
        }
        if cmd.get_after_help().is_some() || cmd.get_after_long_help().is_some() {
            let mut extra = Vec::new();
            man.render_extra_section(&mut extra)?;
            let extra = String::from_utf8_lossy(&extra).replacen(".SH EXTRA", ".SH NOTES", 1);
            buf.extend_from_slice(extra.as_bytes());
        }
        buf.extend_from_slice(EXIT_STATUS.as_bytes());
        buf.extend_from_slice(see_also(page).as_bytes());
        Ok(buf)
    };
    let mut pages = vec![("sasf".to_string(), render(root.clone(), "sasf", false)?)];
    for sub in root.get_subcommands() {
        let page = format!("sasf-{}", sub.get_name());
        // The synopsis names the command as it is typed: `sasf verify`, not a binary.
        let cmd = sub
            .clone()
            .name(format!("sasf {}", sub.get_name()))
            .bin_name(format!("sasf {}", sub.get_name()));
        pages.push((page.clone(), render(cmd, &page, true)?));
    }
    for (name, buf) in pages {
        std::fs::write(dir.join(format!("{name}.1")), buf)?;
    }
    Ok(())
}

/// True when the error is a closed stdout (e.g. `sasf info x | head`): not a failure.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<sasf_core::Error>().is_some_and(|s| {
                matches!(s.kind(), sasf_core::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
            })
    })
}

/// The command line, with the global options hidden from the help of the subcommands
/// they mean nothing to (`cli::NO_GLOBALS`, which refuse them).
fn command() -> clap::Command {
    let mut cmd = Cli::command();
    cmd.build();
    for name in cli::NO_GLOBALS {
        cmd = cmd.mut_subcommand(name, |sub| {
            sub.mut_args(|a| {
                if a.get_help_heading() == Some(cli::GLOBAL) {
                    a.hide(true)
                } else {
                    a
                }
            })
        });
    }
    cmd
}

fn main() -> ExitCode {
    output::install_signal_cleanup();
    let cli = match command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let verification = e.chain().any(|c| {
                c.downcast_ref::<sasf_core::Error>()
                    .is_some_and(|s| s.is_verification_failure())
            });
            // A message may quote file names or strings from a file: shown escaped.
            io::note(format_args!(
                "sasf: {}",
                io::escape_controls(&format!("{e:#}"))
            ));
            ExitCode::from(if verification { 1 } else { 2 })
        }
    }
}
